// What the dashboard reads from the API: a task's row, its detail, its events.

export type Status = 'pending' | 'running' | 'completed' | 'failed';

export const STATUSES: readonly Status[] = ['pending', 'running', 'completed', 'failed'];

/** A task as GET /tasks lists it and /events sends it. */
export interface TaskRow {
  id: string;
  type: string;
  priority: number;
  status: Status;
  attempts: number;
  submittedAt: string;
  operation?: string;
  path?: string;
  retryOf?: string;
  startedAt?: string;
  finishedAt?: string;
  durationMs?: number;
  bytesDone?: number;
  bytesTotal?: number;
  error?: { code: string; message: string };
}

/** A value left out of a config's view. */
export interface OmittedField {
  field: string;
  kind: string;
  bytes?: number;
}

/** GET /tasks/:id: the row, the orchestrator's view, the result, the config without data, the retry lineage. */
export interface TaskDetail extends TaskRow {
  dependsOn?: string[];
  result?: {
    status: Status;
    data?: unknown;
    error?: { code: string; message: string; retryable: boolean };
    details?: Record<string, unknown>;
  };
  config?: { type: string; priority?: number; dependsOn?: string[]; metadata?: Record<string, unknown>; omitted?: OmittedField[] };
  retriedAs?: string;
}

/** One entry of GET /tasks/:id/events. */
export interface LoggedEvent {
  event: string;
  at: string;
  [field: string]: unknown;
}

export function isFinished(status: Status): boolean {
  return status === 'completed' || status === 'failed';
}
