import type { ValidStorageTaskConfig } from './storage-task-config.js';
import { hasPlainTopFields, isPlainObject } from './task-config-check.js';

const OPERATIONS: ReadonlySet<unknown> = new Set(['read', 'write', 'delete', 'list']);
/** The longest path and file name the schema takes. */
const MAX_PATH = 4096;
const MAX_TIMEOUT_MS = 2_147_483_647;
const MAX_RETRIES = 100;
/** The forms a read may ask for (`as`). */
const READ_FORMS: ReadonlySet<unknown> = new Set(['buffer', 'text', 'json', 'stream']);

/** The boolean options the fast check knows, and the operations each applies to (as the schema's rules say). */
const BOOLEAN_OPTIONS: Readonly<Record<string, readonly string[]>> = {
  overwrite: ['write'],
  encryption: ['read', 'write'],
  compression: ['write'],
  recursive: ['delete', 'list'],
  cache: ['read'],
};

/**
 * True for the storage configs a program or a batch writes most: a plain
 * object with `type: 'storage'`, an optional id and priority, and metadata
 * with an operation, a path, string or byte data (or a file) for a write,
 * and options among the booleans (`cache: true` of a read included),
 * a read's form (`as`: what a restore of a tree asks for every file) and
 * `timeout`/`retries`. These the schema
 * accepts as they are, so a storage task checks them without it (twice per
 * task: when it is submitted and when it runs). False leaves the config to
 * the schema, which may still accept it (JSON data, a stream, compression
 * settings, a cursor) or refuse it with its errors. A property
 * test holds this to the schema.
 */
export function isPlainlyValidStorageConfig(raw: unknown): raw is ValidStorageTaskConfig {
  if (!hasPlainTopFields(raw)) return false;
  const { type, metadata } = raw as { type?: unknown; metadata?: unknown };
  return type === 'storage' && isPlainlyValidMetadata(metadata);
}

function isPlainlyValidMetadata(metadata: unknown): boolean {
  if (!isPlainObject(metadata)) return false;
  const { operation, path, data, file, options } = metadata as Record<string, unknown>;
  for (const key in metadata) if (key !== 'operation' && key !== 'path' && key !== 'data' && key !== 'file' && key !== 'options') return false;
  if (!OPERATIONS.has(operation) || !isName(path)) return false;
  if (operation === 'write') {
    if (data === undefined ? !isName(file) : file !== undefined || !(typeof data === 'string' || data instanceof Uint8Array)) return false;
  } else if (data !== undefined || file !== undefined) {
    return false;
  }
  return options === undefined || isPlainlyValidOptions(options, operation as string);
}

function isPlainlyValidOptions(options: unknown, operation: string): boolean {
  if (!isPlainObject(options)) return false;
  for (const key in options) {
    const value = (options as Record<string, unknown>)[key];
    if (value === undefined) continue;
    if (key === 'timeout') {
      if (!isWholeIn(value, MAX_TIMEOUT_MS)) return false;
    } else if (key === 'retries') {
      if (!isWholeIn(value, MAX_RETRIES)) return false;
    } else if (key === 'as') {
      if (operation !== 'read' || !READ_FORMS.has(value)) return false;
    } else if (typeof value !== 'boolean' || !(BOOLEAN_OPTIONS[key]?.includes(operation) ?? false)) {
      return false;
    }
  }
  return true;
}

function isName(value: unknown): boolean {
  return typeof value === 'string' && value.length > 0 && value.length <= MAX_PATH;
}

function isWholeIn(value: unknown, max: number): boolean {
  return typeof value === 'number' && Number.isSafeInteger(value) && value >= 0 && value <= max;
}
