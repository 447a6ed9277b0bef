import { isoTime } from '../core/clock.js';
import { ErrorCode, TaskforgeError, toErrorInfo } from '../core/errors.js';
import type { TaskResult } from '../tasks/task-result.js';
import { TaskStatus } from '../tasks/task-status.js';

/** The type of an end made without its task (a queue that lost the task lost its type too), until its submitter's handle names it. */
export const UNKNOWN_TASK_TYPE = 'unknown';

/** A FAILED result for a task that ends without running (or without a result of its own), after `attempts` attempts. */
export function failedWithoutRunning(task: { readonly id: string; readonly type: string }, attempts: number, error: TaskforgeError, now = Date.now()): TaskResult {
  const at = isoTime(now);
  return {
    id: task.id,
    type: task.type,
    status: TaskStatus.FAILED,
    success: false,
    error: toErrorInfo(error),
    attempts,
    startedAt: at,
    finishedAt: at,
    durationMs: 0,
  };
}

/** The error of a task that did not run because a task it depends on did not complete (`code` UNKNOWN: it is no longer known). */
export function dependencyFailed(id: string, dependency: { readonly id: string; readonly code: string }): TaskforgeError {
  const how = dependency.code === 'UNKNOWN' ? 'is no longer known' : `did not complete (${dependency.code})`;
  return new TaskforgeError(ErrorCode.DEPENDENCY_FAILED, `task '${id}' did not run: its dependency '${dependency.id}' ${how}`, {
    details: { dependency: dependency.id, dependencyCode: dependency.code },
  });
}

/**
 * The end told in place of one the queue could not store: FAILED with the
 * storing error (NO_SPACE for a full disk, else BACKEND_UNAVAILABLE), saying
 * how the task itself ended. Its data is dropped with the end.
 */
export function endNotStored(result: TaskResult, error: unknown): TaskResult {
  const sqliteCode = (error as { code?: unknown } | undefined)?.code;
  const code = error instanceof TaskforgeError ? error.code : sqliteCode === 'SQLITE_FULL' ? ErrorCode.NO_SPACE : ErrorCode.BACKEND_UNAVAILABLE;
  const reason = error instanceof Error ? error.message : String(error);
  // The queue's name may be a host path (sqlite:/srv/…): it goes to the log, not into the result.
  const failure = new TaskforgeError(code, `the end of task '${result.id}' (${result.status}) could not be stored in its queue: ${reason}`, {
    cause: error,
    retryable: false,
    details: { endedAs: result.status, ...(result.error === undefined ? {} : { taskError: result.error.code }) },
  });
  const { data: _notStored, ...rest } = result;
  return { ...rest, status: TaskStatus.FAILED, success: false, error: toErrorInfo(failure) };
}

/** Whether an end is one the queue could not store (see endNotStored). */
export function isEndNotStored(result: TaskResult): boolean {
  return result.error?.details?.['endedAs'] !== undefined && (result.error.code === ErrorCode.NO_SPACE || result.error.code === ErrorCode.BACKEND_UNAVAILABLE);
}
