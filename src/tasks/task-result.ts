import type { TaskErrorInfo } from '../core/errors.js';
import type { TaskStatus } from './task-status.js';

/** What every result holds, however the task ended. */
export interface TaskResultBase {
  readonly id: string;
  readonly type: string;
  /** Attempts made: 0 when it failed validation or was cancelled before running. */
  readonly attempts: number;
  /** When execute() began (or, for a task cancelled while pending, when it was cancelled). */
  readonly startedAt: string;
  readonly finishedAt: string;
  readonly durationMs: number;
  /** Facts a task type reports about how it ran (a storage read: `{ cache: 'hit' | 'miss' }`). */
  readonly details?: Readonly<Record<string, unknown>>;
}

/**
 * A completed task's result as a queue keeps it once the task has ended:
 * `data` only when it is plain JSON of at most 64 KiB (a write's or a list's
 * result), otherwise absent with `details.dataRetained: false`.
 */
export interface RetainedCompletedResult<TData = unknown> extends TaskResultBase {
  readonly status: typeof TaskStatus.COMPLETED;
  readonly success: true;
  readonly data?: TData;
  readonly error?: undefined;
}

/** The result of a task that completed: `data` is what it produced. */
export interface CompletedTaskResult<TData = unknown> extends RetainedCompletedResult<TData> {
  readonly data: TData;
}

/** The result of a task that failed (cancellation included): `error` says why. */
export interface FailedTaskResult extends TaskResultBase {
  readonly status: typeof TaskStatus.FAILED;
  readonly success: false;
  readonly data?: undefined;
  readonly error: TaskErrorInfo;
}

/**
 * What `execute()` resolves with, success or failure alike: plain data
 * (times are ISO strings) except `data`, whatever the task returned (for a
 * storage read in stream form, a Readable). `success` tells which it is:
 * checked, `data` (completed) or `error` (failed) is known to be there.
 */
export type TaskResult<TData = unknown> = CompletedTaskResult<TData> | FailedTaskResult;

/** A result as a queue keeps it after the task ended: a completed one's `data` may have been dropped. */
export type RetainedTaskResult<TData = unknown> = RetainedCompletedResult<TData> | FailedTaskResult;
