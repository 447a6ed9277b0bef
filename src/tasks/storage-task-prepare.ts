import { ErrorCode, TaskforgeError } from '../core/errors.js';
import { parseOrThrow } from '../core/validation.js';
import { toByteSource, type ByteSource } from '../storage/content.js';
import { fileByteSource } from '../storage/file-source.js';
import { decodeCursor } from '../storage/list-pager.js';
import { parseStoragePath, ROOT_PATH } from '../storage/storage-path.js';
import { compressionChoice, type CompressionChoice } from '../storage/codec/chunk-compression.js';
import { zstdAvailable } from '../storage/codec/zstd.js';
import type { Keyring } from '../storage/codec/keyring.js';
import { isPlainlyValidStorageConfig } from './storage-config-check.js';
import { storageTaskConfigSchema, wantsEncryption, type StorageOptions, type ValidStorageTaskConfig } from './storage-task-config.js';

/** A storage config after validation, with its parts made ready once for every attempt. */
export interface PreparedStorageTask {
  readonly config: ValidStorageTaskConfig;
  /** The normalised storage path. */
  readonly path: string;
  /** list: the path the cursor resumes after. */
  readonly after?: string;
  /** write: the data as bytes. */
  readonly source?: ByteSource;
  /** write: how to encode the object; absent for a plain write. */
  readonly encoding?: EncodingPlan;
}

/** How a write encodes its object into a container. */
export interface EncodingPlan {
  readonly compression?: CompressionChoice;
  /** For `compression: true`: what to use when the default's package is not installed. */
  readonly compressionFallback?: CompressionChoice;
  readonly encryption?: { readonly keyId: string; readonly key: Buffer };
}

/** What preparing a task may need besides its config. */
export interface PrepareContext {
  /**
   * The keys for `encryption: true`, asked for only when a write needs them
   * (a bad key in the environment must not fail plain writes); a write that
   * asks for encryption without one fails here, before anything is stored.
   */
  readonly keyring?: () => Keyring | undefined;
}

/**
 * `compression: true` means zstd level 1: on half random, half text data
 * it stores at 285 MB/s with AES-GCM here, at a ratio of 0.64, where gzip-1
 * manages 70-105 MB/s for 0.65 and brotli-4 40-50 MB/s for 0.64
 * (`npm run bench`). Where the optional zstd-napi package is missing, gzip-1.
 */
export const DEFAULT_COMPRESSION = { algorithm: 'zstd', level: 1 } as const;
const FALLBACK_COMPRESSION = { algorithm: 'gzip', level: 1 } as const;

/**
 * Validates a storage task config before anything touches storage: the
 * schema (VALIDATION_ERROR naming every bad field), the path
 * (PATH_OUTSIDE_ROOT), options this build cannot honour
 * (UNSUPPORTED_OPTION), the list cursor; and turns write data into bytes once.
 */
export function prepareStorageTask(raw: unknown, taskId: string, context: PrepareContext = {}): PreparedStorageTask {
  const checked = checkStorageTask(raw, taskId, context);
  if (checked.config.metadata.operation !== 'write') return checked;
  // The new field first: V8 copies `{ key, ...object }` in tens of ns, `{ ...object, key }` in near a microsecond.
  return { source: writeSource(checked.config.metadata, checked.path), ...checked };
}

/** What prepareStorageTask checks, without turning write data into bytes (a check before submitting needs no copy of it). */
export function checkStorageTask(raw: unknown, taskId: string, context: PrepareContext = {}): Omit<PreparedStorageTask, 'source'> {
  const { config, path } = checkStorageConfig(raw, taskId);
  const { operation, options = {} } = config.metadata;
  const encoding = operation === 'write' ? encodingPlan(options, path, context, taskId) : undefined;
  return {
    config,
    path,
    ...(options.cursor === undefined ? {} : { after: decodeCursor(options.cursor) }),
    ...(encoding === undefined ? {} : { encoding }),
  };
}

/**
 * The config's fields and its path, checked as its task will check them,
 * but not its keys (those are the process's that runs it: a submitter may
 * hold none): what an orchestrator checks of a storage config at submit.
 */
export function checkStorageConfig(raw: unknown, taskId: string): { readonly config: ValidStorageTaskConfig; readonly path: string } {
  const config = isPlainlyValidStorageConfig(raw) ? raw : parseOrThrow(storageTaskConfigSchema, raw, `storage task '${taskId}'`);
  const path = parseStoragePath(config.metadata.path);
  if (config.metadata.operation === 'delete' && path === ROOT_PATH) throw badPath(taskId, config.metadata.path, 'refusing to delete the storage root');
  // (A path ending in '/' names a folder: stored at the path without it, the object would not be where it was asked to go.)
  if (config.metadata.operation === 'write' && path !== ROOT_PATH && config.metadata.path.endsWith('/')) {
    throw badPath(taskId, config.metadata.path, `a write needs the object's own name, and a path ending in '/' names a folder (give '${path}', or '${path}/NAME' to write into it)`);
  }
  return { config, path };
}

function badPath(taskId: string, raw: string, message: string): TaskforgeError {
  const field = { field: 'metadata.path', message, received: `string ${JSON.stringify(raw)}` };
  return new TaskforgeError(ErrorCode.VALIDATION_ERROR, `invalid storage task '${taskId}': ${field.field}: ${field.message} (got ${field.received})`, { details: { fields: [field] } });
}

/** A write's data as bytes: its `file`, read when the write runs, or its `data`. */
export function writeSource(metadata: { readonly data?: unknown; readonly file?: string | undefined }, path: string): ByteSource {
  return metadata.file === undefined ? toByteSource(metadata.data, path) : fileByteSource(metadata.file, path);
}

/** How a write with `options` encodes its object (undefined: stored plain); KEY_NOT_FOUND when it asks for encryption without a key. */
export function encodingPlan(options: StorageOptions, path: string, context: PrepareContext, taskId: string): EncodingPlan | undefined {
  const compression = options.compression === true ? DEFAULT_COMPRESSION : options.compression === false ? undefined : options.compression;
  if (compression === undefined && !wantsEncryption(options)) return undefined;
  let encryption: EncodingPlan['encryption'];
  if (wantsEncryption(options)) {
    const keyring = context.keyring?.();
    if (keyring === undefined) {
      throw new TaskforgeError(
        ErrorCode.KEY_NOT_FOUND,
        `storage task '${taskId}': write of '${path}' asks for encryption and no key is configured (set TASKFORGE_ENCRYPTION_KEY or TASKFORGE_KEYRING, or give the task a keyring); nothing was stored`,
        { details: { path } },
      );
    }
    const chosen = typeof options.encryption === 'object' ? namedKey(keyring, options.encryption.keyId, path, taskId) : keyring.activeKey();
    encryption = { keyId: chosen.id, key: chosen.key };
  }
  return {
    ...(compression === undefined ? {} : { compression: compressionChoice(compression.algorithm, compression.level) }),
    ...(options.compression === true ? { compressionFallback: FALLBACK_COMPRESSION } : {}),
    ...(encryption === undefined ? {} : { encryption }),
  };
}

/** The key a write names (`encryption: { keyId }`), from the keyring; KEY_NOT_FOUND when it holds no such key. */
function namedKey(keyring: Keyring, keyId: string, path: string, taskId: string): { readonly id: string; readonly key: Buffer } {
  if (!keyring.keyIds.includes(keyId)) {
    throw new TaskforgeError(
      ErrorCode.KEY_NOT_FOUND,
      `storage task '${taskId}': write of '${path}' asks for key '${keyId}', which the keyring does not hold (it holds ${keyring.keyIds.map((id) => `'${id}'`).join(', ')}); nothing was stored`,
      { details: { path, keyId } },
    );
  }
  return { id: keyId, key: keyring.key(keyId, path) };
}

/** The plan with the compression this installation has: `compression: true` falls back to gzip where zstd-napi is missing. */
export async function withAvailableCompression(plan: EncodingPlan): Promise<EncodingPlan> {
  const { compressionFallback, ...rest } = plan;
  if (compressionFallback === undefined || rest.compression?.algorithm !== 'zstd' || (await zstdAvailable())) return rest;
  return { ...rest, compression: compressionFallback };
}
