import { isoTime } from '../core/clock.js';
import type { TaskCancelEvent, TaskCleanupEvent, TaskErrorEvent, TaskEventBase, TaskProgressEvent, TaskRetryEvent, TaskStartEvent } from '../tasks/task-events.js';
import type { TaskResult } from '../tasks/task-result.js';

/** `submit`: a task was accepted and queued. */
export interface TaskSubmitEvent extends TaskEventBase {
  readonly priority: number;
  readonly dependsOn?: readonly string[];
  /** A storage task's operation and path (what a dashboard shows of it), when its config names them. */
  readonly operation?: string;
  readonly path?: string;
  /** When the queue took it (ISO 8601): the `submittedAt` its views give. */
  readonly submittedAt?: string;
}

/** The submit event of a task, with a storage config's operation and path. */
export function submitEvent(task: { readonly id: string; readonly type: string; readonly priority: number; readonly dependsOn?: readonly string[] | undefined; readonly config: unknown; readonly submittedAt: number }): TaskSubmitEvent {
  return {
    id: task.id,
    type: task.type,
    priority: task.priority,
    ...(task.dependsOn === undefined ? {} : { dependsOn: task.dependsOn }),
    ...storageFacts(task.config),
    submittedAt: isoTime(task.submittedAt),
  };
}

/** A storage config's operation and path, as given (what a dashboard shows of it); nothing for any other config. */
export function storageFacts(config: unknown): { operation?: string; path?: string } {
  const metadata = (config as { metadata?: { operation?: unknown; path?: unknown } } | null | undefined)?.metadata;
  const { operation, path } = metadata ?? {};
  return typeof operation === 'string' && typeof path === 'string' ? { operation, path } : {};
}

/**
 * Every task's lifecycle, as the orchestrator sees it; each payload carries
 * the task's `id` and `type`. `complete` and `error` carry the final result
 * (with attempts a crash cut off counted), after the task's cleanup ran.
 */
export interface OrchestratorEvents {
  submit: TaskSubmitEvent;
  start: TaskStartEvent;
  retry: TaskRetryEvent;
  progress: TaskProgressEvent;
  cancel: TaskCancelEvent;
  complete: TaskResult;
  error: TaskErrorEvent;
  cleanup: TaskCleanupEvent;
}
