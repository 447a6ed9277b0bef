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

/**
 * The CANCELLED error of a task cancelled while it waited, after `attempts`
 * attempts: none ("before it ran"), or runs cut off (its worker or process
 * died, and the task waited to run again), with the reason asked, if any.
 */
export function cancelledWhileWaiting(id: string, attempts: number, reason: string | undefined): TaskforgeError {
  const because = reason === undefined ? '' : `: ${reason}`;
  const when = attempts === 0 ? 'before it ran' : 'while it waited to run again (its last run was cut off: its worker or process stopped or died)';
  return new TaskforgeError(ErrorCode.CANCELLED, `task '${id}' was cancelled ${when}${because}`);
}

/** A dependency that did not complete: its id and code, and the task where its chain failed first (itself, unless it ended DEPENDENCY_FAILED). */
export interface FailedDependency {
  readonly id: string;
  readonly code: string;
  readonly root: string;
  readonly rootCode: string;
}

/** The dependency `id` that ended with `error` (undefined: it is no longer known), with the root of its chain. */
export function failedDependency(id: string, error: { readonly code: string; readonly details?: Readonly<Record<string, unknown>> } | undefined): FailedDependency {
  const code = error?.code ?? 'UNKNOWN';
  const root = error?.details?.['root'];
  const rootCode = error?.details?.['rootCode'];
  // (One that ended DEPENDENCY_FAILED names its own root; an older end that names none is its own.)
  if (code === ErrorCode.DEPENDENCY_FAILED && typeof root === 'string' && typeof rootCode === 'string') return { id, code, root, rootCode };
  return { id, code, root: id, rootCode: code };
}

/** The error of a task that did not run because a task it depends on did not complete (`code` UNKNOWN: it is no longer known). */
export function dependencyFailed(id: string, dependency: FailedDependency): TaskforgeError {
  const how = dependency.code === 'UNKNOWN' ? 'is no longer known' : `did not complete (${dependency.code})`;
  const root = dependency.root === dependency.id ? '' : `: the chain failed first at '${dependency.root}' (${dependency.rootCode})`;
  return new TaskforgeError(ErrorCode.DEPENDENCY_FAILED, `task '${id}' did not run: its dependency '${dependency.id}' ${how}${root}`, {
    details: { dependency: dependency.id, dependencyCode: dependency.code, root: dependency.root, rootCode: dependency.rootCode },
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
