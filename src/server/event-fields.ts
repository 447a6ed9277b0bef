import type { OrchestratorEvents } from '../orchestrator/orchestrator-events.js';
import type { TaskResult } from '../tasks/task-result.js';

/** The lifecycle events the server follows, in the order a task goes through them. */
export const FEED_EVENTS = ['submit', 'start', 'retry', 'progress', 'cancel', 'complete', 'error'] as const;

export type FeedEventName = (typeof FEED_EVENTS)[number];

/**
 * An event's own fields as the server passes them on (/events, a task's
 * event log): a result's data and a full result stay out (they may be
 * large, or bytes), and an error is its code, message and retryable flag.
 */
export function fieldsOf(name: keyof OrchestratorEvents, payload: OrchestratorEvents[keyof OrchestratorEvents]): Record<string, unknown> {
  if (name === 'complete') {
    const result = payload as TaskResult;
    return { id: result.id, type: result.type, status: result.status, attempts: result.attempts, durationMs: result.durationMs };
  }
  if (name === 'error') {
    const { id, type, error, result } = payload as OrchestratorEvents['error'];
    return { id, type, error: { code: error.code, message: error.message, retryable: error.retryable }, attempts: result.attempts };
  }
  if (name === 'retry') {
    const { error, ...rest } = payload as OrchestratorEvents['retry'];
    return { ...rest, error: { code: error.code, message: error.message, retryable: error.retryable } };
  }
  return { ...payload };
}
