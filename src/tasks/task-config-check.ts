import { parseOrThrow } from '../core/validation.js';
import { taskConfigSchema, type ValidTaskConfig } from './task-config.js';
import { TASK_TYPE_PATTERN } from './task-type.js';

/**
 * The config every task has, checked: the config itself when it is plainly
 * valid, else what {@link taskConfigSchema} makes of it (VALIDATION_ERROR
 * naming every bad field). A config is checked when it is submitted and
 * again when its task runs, so the common shapes are recognised here
 * without the schema (about a tenth of its cost, for the 300,000-task loop);
 * anything else, right or wrong, is the schema's to judge and to word.
 */
export function validTaskConfig(raw: unknown, subject: string): ValidTaskConfig {
  return isPlainlyValidTaskConfig(raw) ? raw : parseOrThrow(taskConfigSchema, raw, subject);
}

/**
 * True for a plain object with no field but a valid `type`, `id` and
 * `priority` and a `metadata` object without `options`: shapes the schema
 * accepts as they are. False leaves the config to the schema, which may
 * still accept it (dependencies, options) or refuse it.
 */
export function isPlainlyValidTaskConfig(raw: unknown): raw is ValidTaskConfig {
  if (!isPlainObject(raw)) return false;
  let hasType = false;
  for (const key in raw) {
    const value = (raw as Record<string, unknown>)[key];
    switch (key) {
      case 'type':
        if (typeof value !== 'string' || !TASK_TYPE_PATTERN.test(value)) return false;
        hasType = true;
        break;
      case 'id':
        if (value !== undefined && (typeof value !== 'string' || value.length === 0 || value.length > 256)) return false;
        break;
      case 'priority':
        if (value !== undefined && (typeof value !== 'number' || !Number.isFinite(value))) return false;
        break;
      case 'metadata':
        if (value !== undefined && !(isPlainObject(value) && (value as { options?: unknown }).options === undefined)) return false;
        break;
      default:
        return false;
    }
  }
  return hasType;
}

/** An object literal's kind of object (no class instance, array or exotic): its own fields are all there is. */
export function isPlainObject(value: unknown): value is object {
  if (typeof value !== 'object' || value === null) return false;
  const prototype: unknown = Object.getPrototypeOf(value);
  return prototype === Object.prototype || prototype === null;
}
