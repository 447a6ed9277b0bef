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

/**
 * Codes that mean the caller's input or configuration is wrong, wherever
 * they are found (before the task ran, or when the backend met a symlink out
 * of the root or an object under a key nobody configured): the README's one
 * rule, exit 2.
 */
const INPUT_ERROR_CODES: ReadonlySet<string> = new Set(['VALIDATION_ERROR', 'PATH_OUTSIDE_ROOT', 'UNSUPPORTED_OPTION', 'KEY_NOT_FOUND']);

/** 1, or 2 for a failure that is the caller's input or configuration. */
export function exitCodeOfError(code: string | undefined): ExitCode {
  return INPUT_ERROR_CODES.has(code ?? '') ? ExitCode.USAGE : ExitCode.TASK_FAILED;
}

/** 0, or the exit code of the task's failure. */
export function exitCodeOf(result: TaskResult): ExitCode {
  return result.success ? ExitCode.OK : exitCodeOfError(result.error.code);
}

/** A usage or config error: its message goes to stderr and the command exits 2. */
export class UsageError extends Error {
  override readonly name = 'UsageError';
}
