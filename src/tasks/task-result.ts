import type { TaskErrorInfo } from '../core/errors.js';
import type { FinalTaskStatus } from './task-status.js';

/**
 * What `execute()` resolves with, success or failure alike. It is plain data
 * (times are ISO strings) except `data`, which holds whatever the task
 * returned (for a storage read in stream form, a Readable).
 */
export interface TaskResult<TData = unknown> {
  readonly id: string;
  readonly type: string;
  readonly status: FinalTaskStatus;
  readonly success: boolean;
  /** What the task produced; present when it succeeded. */
  readonly data?: TData;
  /** Why it failed; present when it failed. */
  readonly error?: TaskErrorInfo;
  /** Attempts made: 0 when it failed validation or was cancelled before running. */
  readonly attempts: number;
  /** When execute() began (or, for a task cancelled while pending, when it was cancelled). */
  readonly startedAt: string;
  readonly finishedAt: string;
  readonly durationMs: number;
  /** Facts a task type reports about how it ran (a storage read: `{ cache: 'hit' | 'miss' }`). */
  readonly details?: Readonly<Record<string, unknown>>;
}
