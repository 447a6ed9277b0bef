import { TaskforgeError, toErrorInfo, type TaskErrorInfo } from '../core/errors.js';
import { parseOrThrow } from '../core/validation.js';
import { defaultKeyring } from '../storage/codec/default-keyring.js';
import type { Keyring } from '../storage/codec/keyring.js';
import { checkStorageTask } from './storage-task-prepare.js';
import { taskConfigSchema, type TaskConfig } from './task-config.js';
import type { ValidStorageTaskConfig } from './storage-task-config.js';
import { TaskType } from './task-type.js';

/** The outcome of validating a config without running it. */
export type ValidationResult<T> = { readonly ok: true; readonly config: T } | { readonly ok: false; readonly error: TaskErrorInfo };

/** What a validation may be given besides the config. */
export interface ValidateOptions {
  /**
   * The keys a write with `encryption: true` would use. Default: the same as
   * a task's, `TASKFORGE_KEYRING` or `TASKFORGE_ENCRYPTION_KEY`.
   */
  readonly keyring?: Keyring;
}

/**
 * Checks a storage task config exactly as execute() would, without touching
 * storage: `{ ok: true, config }` or `{ ok: false, error }` with the code
 * (VALIDATION_ERROR, PATH_OUTSIDE_ROOT, UNSUPPORTED_OPTION, KEY_NOT_FOUND
 * for an encrypted write with no key) and every bad field. Keys come from
 * the same sources as a task's.
 */
export function validateStorageTaskConfig(config: unknown, options: ValidateOptions = {}): ValidationResult<ValidStorageTaskConfig> {
  const { keyring } = options;
  return attempt(() => checkStorageTask(config, idOf(config), { keyring: keyring === undefined ? defaultKeyring : () => keyring }).config);
}

/**
 * Checks any task config: storage configs in full, other types against the
 * fields every task has (their own metadata is their task class's to check).
 */
export function validateTaskConfig(config: unknown, options: ValidateOptions = {}): ValidationResult<TaskConfig> {
  const type = config !== null && typeof config === 'object' ? (config as { type?: unknown }).type : undefined;
  if (type === TaskType.STORAGE) return validateStorageTaskConfig(config, options);
  return attempt(() => parseOrThrow(taskConfigSchema, config, `task '${idOf(config)}'`));
}

function attempt<T>(validate: () => T): ValidationResult<T> {
  try {
    return { ok: true, config: validate() };
  } catch (error) {
    if (error instanceof TaskforgeError) return { ok: false, error: toErrorInfo(error) };
    throw error;
  }
}

function idOf(config: unknown): string {
  const id = config !== null && typeof config === 'object' ? (config as { id?: unknown }).id : undefined;
  return typeof id === 'string' ? id : '(no id)';
}
