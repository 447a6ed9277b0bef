import { controlCharacterIn } from '../core/control-characters.js';
import { parseOrThrow } from '../core/validation.js';
import { taskConfigSchema, type ValidTaskConfig } from './task-config.js';
import { TASK_TYPE_PATTERN } from './task-type.js';

/**
 * The config every task has, checked: the config itself when it is plainly
 * valid, else what {@link taskConfigSchema} makes of it (VALIDATION_ERROR
 * naming every bad field, the task named by `id`). A config is checked when it is submitted and
 * again when its task runs, so the common shapes are recognised here
 * without the schema (about a tenth of its cost, for the 300,000-task loop);
 * anything else, right or wrong, is the schema's to judge and to word.
 */
export function validTaskConfig(raw: unknown, id: string): ValidTaskConfig {
  // (The message's subject is made only for the schema: a string per check is garbage of every task.)
  return isPlainlyValidTaskConfig(raw) ? raw : parseOrThrow(taskConfigSchema, raw, `task '${id}'`);
}

/**
 * True for a plain object with no field but a valid `type`, `id` and
 * `priority` and a `metadata` object without `options`: shapes the schema
 * accepts as they are. False leaves the config to the schema, which may
 * still accept it (dependencies, options) or refuse it.
 */
export function isPlainlyValidTaskConfig(raw: unknown): raw is ValidTaskConfig {
  if (!hasPlainTopFields(raw)) return false;
  const { type, metadata } = raw as { type?: unknown; metadata?: unknown };
  if (typeof type !== 'string' || !TASK_TYPE_PATTERN.test(type)) return false;
  return metadata === undefined || (isPlainObject(metadata) && (metadata as { options?: unknown }).options === undefined);
}

/** Whether `raw` is a plain object whose fields are `type`, `metadata` and a valid `id` and `priority`, or fewer. */
export function hasPlainTopFields(raw: unknown): raw is object {
  if (!isPlainObject(raw)) return false;
  for (const key in raw) {
    const value = (raw as Record<string, unknown>)[key];
    if (key === 'id') {
      if (value !== undefined && (typeof value !== 'string' || value.length === 0 || value.length > 256 || controlCharacterIn(value) !== undefined)) return false;
    } else if (key === 'priority') {
      if (value !== undefined && (typeof value !== 'number' || !Number.isFinite(value))) return false;
    } else if (key !== 'type' && key !== 'metadata') {
      return false;
    }
  }
  return true;
}

/** An object literal's kind of object (no class instance, array or exotic): its own fields are all there is. */
export function isPlainObject(value: unknown): value is object {
  if (typeof value !== 'object' || value === null) return false;
  const prototype: unknown = Object.getPrototypeOf(value);
  return prototype === Object.prototype || prototype === null;
}
