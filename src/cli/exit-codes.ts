import type { TaskResult } from '../tasks/task-result.js';

/** What the taskforge command exits with. */
export const ExitCode = {
  /** Every task succeeded. */
  OK: 0,
  /** A task failed (NOT_FOUND, INTEGRITY_ERROR, TIMEOUT...). */
  TASK_FAILED: 1,
  /** The command line or a config was wrong; nothing ran. */
  USAGE: 2,
} as const;

export type ExitCode = (typeof ExitCode)[keyof typeof ExitCode];

/** Codes a task reports, before any attempt, for input that could never work: the caller's mistake. */
const INPUT_ERROR_CODES: ReadonlySet<string> = new Set(['VALIDATION_ERROR', 'PATH_OUTSIDE_ROOT', 'UNSUPPORTED_OPTION', 'KEY_NOT_FOUND']);

/** 0, 1, or 2 when a task failed on its input before doing anything. */
export function exitCodeOf(result: TaskResult): ExitCode {
  if (result.success) return ExitCode.OK;
  return result.attempts === 0 && INPUT_ERROR_CODES.has(result.error?.code ?? '') ? ExitCode.USAGE : ExitCode.TASK_FAILED;
}

/** A usage or config error: its message goes to stderr and the command exits 2. */
export class UsageError extends Error {
  override readonly name = 'UsageError';
}
