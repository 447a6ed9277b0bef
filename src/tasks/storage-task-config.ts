import { Readable } from 'node:stream';
import { z } from 'zod';
import { findJsonProblem, type JsonProblem } from '../core/json-value.js';
import { COMPRESSION_LEVELS } from '../storage/codec/chunk-compression.js';
import { isAsyncIterable } from '../storage/content.js';
import { attemptOptionsSchema, taskConfigSchema } from './task-config.js';
import { TaskType } from './task-type.js';

/** The four storage operations. */
export const StorageOperation = {
  READ: 'read',
  WRITE: 'write',
  DELETE: 'delete',
  LIST: 'list',
} as const;

export type StorageOperation = (typeof StorageOperation)[keyof typeof StorageOperation];

/** The forms a read can return. */
export const ReadForm = {
  BUFFER: 'buffer',
  TEXT: 'text',
  JSON: 'json',
  STREAM: 'stream',
} as const;

export type ReadForm = (typeof ReadForm)[keyof typeof ReadForm];

/** The largest page a `list` returns. */
export const MAX_LIST_LIMIT = 100_000;
/** The page size of a `list` that gives no `limit`. */
export const DEFAULT_LIST_LIMIT = 1_000;

/**
 * `metadata.options`: the spec's five, then the per-operation options. Each
 * applies only to the operations named on it; using it elsewhere is an error.
 */
export const storageOptionsSchema = attemptOptionsSchema.extend({
  /**
   * write: compress before storing. `true` picks the default (zstd level 1, or gzip level 1 where zstd is not built),
   * or name the algorithm and level. Reads decompress whatever they find.
   */
  compression: z
    .union([
      z.boolean(),
      z.strictObject({
        algorithm: z.enum(['gzip', 'brotli', 'zstd']),
        level: z.int().optional(),
      }),
    ])
    .optional(),
  /**
   * write: encrypt with the keyring's active key, or with the key named by
   * `{ keyId }` (KEY_NOT_FOUND, nothing stored, when the keyring does not
   * hold it: a worker with other keys refuses rather than store what its
   * submitter cannot read); read: refuse a plain object. Default false.
   */
  encryption: z.union([z.boolean(), z.strictObject({ keyId: z.string().min(1) })]).optional(),
  /** read: fail with LIMIT_EXCEEDED past this many decoded bytes. Default: no limit. */
  maxBytes: z.int().min(1).optional(),
  /**
   * read: serve from the in-process cache. `true` checks the object's version
   * with the backend on every read (a change by anyone is seen at once);
   * `{ ttlMs }` trusts an entry for that long after it was last checked.
   * Writes and deletes through this process always invalidate at once.
   */
  cache: z.union([z.boolean(), z.strictObject({ ttlMs: z.int().min(0).max(86_400_000) })]).optional(),
  /** read: the form of the result. Default: the form that was written. */
  as: z.enum(ReadForm).optional(),
  /** write: replace an existing object. Default true; false gives ALREADY_EXISTS. */
  overwrite: z.boolean().optional(),
  /** delete: remove a directory and all below it; list: walk subdirectories. Default false. */
  recursive: z.boolean().optional(),
  /** list: entries per page, 1 to 100,000. Default 1,000. */
  limit: z.int().min(1).max(MAX_LIST_LIMIT).optional(),
  /** list: the `cursor` of the previous page, to get the next one. */
  cursor: z.string().min(1).optional(),
}).strict();

const OPTION_OPERATIONS: Readonly<Partial<Record<keyof StorageOptions, readonly StorageOperation[]>>> = {
  compression: ['write'],
  encryption: ['read', 'write'],
  maxBytes: ['read'],
  as: ['read'],
  overwrite: ['write'],
  recursive: ['delete', 'list'],
  limit: ['list'],
  cursor: ['list'],
  cache: ['read'],
};

const OPTION_RULES = Object.entries(OPTION_OPERATIONS) as [keyof StorageOptions, readonly StorageOperation[]][];

/** `metadata` of a storage task. */
export const storageMetadataSchema = z
  .strictObject({
    /** What to do. */
    operation: z.enum(StorageOperation),
    /** A virtual POSIX path under the backend's root, e.g. `/data/file.txt`. */
    path: z.string().min(1, 'expected a non-empty path').max(4096),
    /** write: a string, bytes, a JSON value, a Node Readable or an async iterable of bytes. */
    data: z.unknown().optional(),
    /** write, instead of data: a local file whose bytes to store, read when the write runs (a host path, relative to the working directory). */
    file: z.string().min(1, 'expected a non-empty file name').max(4096).optional(),
    /** How to do it. */
    options: storageOptionsSchema.optional(),
  })
  .superRefine((metadata, context) => {
    if (metadata.file !== undefined && metadata.operation !== 'write') {
      context.addIssue({ code: 'custom', path: ['file'], message: `file is only for write, not ${metadata.operation}` });
    }
    if (metadata.operation === 'write') {
      if (metadata.data !== undefined && metadata.file !== undefined) {
        context.addIssue({ code: 'custom', path: ['file'], message: 'give the data once: data or file, not both' });
      } else if (metadata.data === undefined && metadata.file === undefined) {
        context.addIssue({ code: 'custom', path: ['data'], message: 'a write needs data (or a file)' });
      } else if (metadata.data !== undefined) {
        const problem = dataProblem(metadata.data);
        if (problem !== undefined) context.addIssue({ code: 'custom', path: ['data', ...problem.path], message: problem.message });
      }
    } else if (metadata.data !== undefined) {
      context.addIssue({ code: 'custom', path: ['data'], message: `data is only for write, not ${metadata.operation}` });
    }
    const compression = metadata.options?.compression;
    if (typeof compression === 'object' && compression.level !== undefined) {
      const { min, max } = COMPRESSION_LEVELS[compression.algorithm];
      if (compression.level < min || compression.level > max) {
        context.addIssue({ code: 'custom', path: ['options', 'compression', 'level'], message: `${compression.algorithm} levels run from ${min} to ${max}` });
      }
    }
    if (metadata.options === undefined) return;
    for (const [key, operations] of OPTION_RULES) {
      const value = metadata.options[key];
      if (value !== undefined && !operations.includes(metadata.operation)) {
        context.addIssue({
          code: 'custom',
          path: ['options', key],
          message: `${key} applies to ${operations.join(' and ')}, not ${metadata.operation}`,
        });
      }
    }
  });

/** The config of a storage task: the spec's shape. */
export const storageTaskConfigSchema = taskConfigSchema.extend({
  type: z.literal(TaskType.STORAGE),
  metadata: storageMetadataSchema,
});

export type StorageOptions = z.input<typeof storageOptionsSchema>;

/** Whether `options` ask for encryption (`true`, or a key named). */
export function wantsEncryption(options: Pick<StorageOptions, 'encryption'>): boolean {
  return options.encryption === true || typeof options.encryption === 'object';
}
export type StorageMetadata = z.input<typeof storageMetadataSchema>;
export type StorageTaskConfig = z.input<typeof storageTaskConfigSchema>;
/** A storage config after validation. */
export type ValidStorageTaskConfig = z.output<typeof storageTaskConfigSchema>;

function dataProblem(data: unknown): JsonProblem | undefined {
  if (typeof data === 'string' || data instanceof Uint8Array || data instanceof Readable) return undefined;
  if (isAsyncIterable(data)) return undefined;
  return findJsonProblem(data);
}
