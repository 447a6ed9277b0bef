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
  const fields = plainTopFields(raw);
  if (fields === undefined) return false;
  const { type, metadata } = fields;
  if (typeof type !== 'string' || !TASK_TYPE_PATTERN.test(type)) return false;
  return metadata === undefined || (isPlainObject(metadata) && (metadata as { options?: unknown }).options === undefined);
}

/**
 * The `type` and `metadata` of a plain object whose other fields are a valid
 * `id` and `priority` or absent; undefined for anything else (another field,
 * a bad id or priority, not a plain object). The rest is the caller's to check.
 */
export function plainTopFields(raw: unknown): { readonly type: unknown; readonly metadata: unknown } | undefined {
  if (!isPlainObject(raw)) return undefined;
  for (const key in raw) {
    const value = (raw as Record<string, unknown>)[key];
    if (key === 'id') {
      if (value !== undefined && (typeof value !== 'string' || value.length === 0 || value.length > 256)) return undefined;
    } else if (key === 'priority') {
      if (value !== undefined && (typeof value !== 'number' || !Number.isFinite(value))) return undefined;
    } else if (key !== 'type' && key !== 'metadata') {
      return undefined;
    }
  }
  const { type, metadata } = raw as { type?: unknown; metadata?: unknown };
  return { type, metadata };
}

/** An object literal's kind of object (no class instance, array or exotic): its own fields are all there is. */
export function isPlainObject(value: unknown): value is object {
  if (typeof value !== 'object' || value === null) return false;
  const prototype: unknown = Object.getPrototypeOf(value);
  return prototype === Object.prototype || prototype === null;
}
