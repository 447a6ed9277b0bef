import { Readable } from 'node:stream';
import { isAsyncIterable } from '../storage/content.js';
import type { TaskConfig } from '../tasks/task-config.js';

/** A value left out of a config's view: where it was, what kind of value, and its size when known. */
export interface OmittedField {
  readonly field: string;
  readonly kind: 'text' | 'bytes' | 'json' | 'stream';
  /** UTF-8 bytes of text, length of bytes, bytes of the JSON; absent for a stream. */
  readonly bytes?: number;
}

/** A task's config as the API shows it: what is known not to be data, and the rest named in `omitted`. */
export interface ConfigView {
  readonly type: string;
  readonly priority?: number;
  readonly dependsOn?: readonly string[];
  readonly metadata?: Readonly<Record<string, unknown>>;
  readonly omitted?: readonly OmittedField[];
}

/** Options every task type understands; their values are numbers, never data. */
const LIFECYCLE_OPTIONS = ['timeout', 'retries'] as const;
/** What a storage config says besides its data: the operation, the path and options (flags and numbers). */
const STORAGE_FIELDS = ['operation', 'path', 'options'] as const;

/**
 * A config without its data, for a task's detail. A storage task shows its
 * operation, path and options, and names its `data` with its kind and size.
 * A custom type's metadata is its own to define, and may hold anything (a
 * payload, a credential): only `options.timeout` and `options.retries` are
 * shown, every other field is named and sized, never shown.
 */
export function configView(config: TaskConfig): ConfigView {
  const omitted: OmittedField[] = [];
  const metadata = config.metadata as Readonly<Record<string, unknown>> | undefined;
  let shown: Record<string, unknown> | undefined;
  if (metadata !== undefined) {
    shown = {};
    for (const [key, value] of Object.entries(metadata)) {
      if (config.type === 'storage' && (STORAGE_FIELDS as readonly string[]).includes(key)) {
        shown[key] = value;
      } else if (key === 'options' && value !== null && typeof value === 'object' && !Array.isArray(value)) {
        const options = lifecycleOptions(value as Record<string, unknown>, omitted);
        if (Object.keys(options).length > 0) shown[key] = options;
      } else {
        omitted.push(describe(`metadata.${key}`, value));
      }
    }
  }
  return {
    type: config.type,
    ...(config.priority === undefined ? {} : { priority: config.priority }),
    ...(config.dependsOn === undefined ? {} : { dependsOn: config.dependsOn }),
    ...(shown === undefined ? {} : { metadata: shown }),
    ...(omitted.length === 0 ? {} : { omitted }),
  };
}

function lifecycleOptions(options: Record<string, unknown>, omitted: OmittedField[]): Record<string, unknown> {
  const shown: Record<string, unknown> = {};
  for (const [key, value] of Object.entries(options)) {
    if ((LIFECYCLE_OPTIONS as readonly string[]).includes(key) && typeof value === 'number') shown[key] = value;
    else omitted.push(describe(`metadata.options.${key}`, value));
  }
  return shown;
}

function describe(field: string, value: unknown): OmittedField {
  if (typeof value === 'string') return { field, kind: 'text', bytes: Buffer.byteLength(value) };
  if (value instanceof Uint8Array) return { field, kind: 'bytes', bytes: value.byteLength };
  if (value instanceof Readable || isAsyncIterable(value)) return { field, kind: 'stream' };
  let json: string | undefined;
  try {
    json = JSON.stringify(value);
  } catch {
    json = undefined;
  }
  return json === undefined ? { field, kind: 'json' } : { field, kind: 'json', bytes: Buffer.byteLength(json) };
}
