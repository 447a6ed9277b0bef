import { TaskforgeError } from '../core/errors.js';
import { fromSystemError } from '../core/system-errors.js';
import type { ListPage, StorageBackend } from '../storage/backend.js';
import { defaultKeyring } from '../storage/codec/default-keyring.js';
import { encodeContainer } from '../storage/codec/encoder.js';
import type { Keyring } from '../storage/codec/keyring.js';
import { decodeStoredObject } from '../storage/object-reader.js';
import { decodeObject, metadataFor, toByteSource } from '../storage/content.js';
import { defaultBackend } from '../storage/default-backend.js';
import { BaseTask, type AttemptContext, type TaskContext } from './base-task.js';
import { attemptOptionsOf, type AttemptOptions } from './task-config.js';
import { DEFAULT_LIST_LIMIT, type StorageTaskConfig } from './storage-task-config.js';
import { prepareStorageTask, type EncodingPlan, type PreparedStorageTask } from './storage-task-prepare.js';
import { zstdAvailable } from '../storage/codec/zstd.js';

/** What a storage task is given besides its config. */
export interface StorageTaskContext extends TaskContext {
  /** Where objects live. Default: the filesystem under `TASKFORGE_STORAGE_ROOT` or `./taskforge-data`. */
  readonly backend?: StorageBackend;
  /** The encryption keys. Default: from `TASKFORGE_KEYRING` or `TASKFORGE_ENCRYPTION_KEY`, read when needed. */
  readonly keyring?: Keyring;
}

/** `data` of a completed write. */
export interface WriteResultData {
  readonly path: string;
  /** Bytes stored. */
  readonly size: number;
  readonly modifiedAt: string;
  /** The stored object's version (changes with every write). */
  readonly version: string;
}

/** `data` of a completed delete. */
export interface DeleteResultData {
  readonly path: string;
  /** False when nothing was there (delete is idempotent). */
  readonly deleted: boolean;
}

/** `data` of a completed list: one page. */
export type ListResultData = ListPage;

/**
 * `data` of a completed storage task: for a read, the value in the form
 * written or asked (`Buffer`, `string`, a JSON value, or a `Readable`); for
 * the others, {@link WriteResultData}, {@link DeleteResultData} or
 * {@link ListResultData}.
 */
export type StorageResultData = unknown;

/**
 * The spec's storage task: read, write, delete or list one path on a
 * storage backend, with the lifecycle of {@link BaseTask}.
 */
export class StorageTask extends BaseTask<StorageResultData, PreparedStorageTask> {
  readonly #backend: StorageBackend;
  readonly #keyring: () => Keyring | undefined;

  constructor(config: StorageTaskConfig, context: StorageTaskContext = {}) {
    super(config, context);
    this.#backend = context.backend ?? defaultBackend();
    const given = context.keyring;
    this.#keyring = given === undefined ? defaultKeyring : () => given;
  }

  /** The backend this task works on. */
  get backend(): StorageBackend {
    return this.#backend;
  }

  protected override validateConfig(raw: unknown): PreparedStorageTask {
    return prepareStorageTask(raw, this.id, { keyring: this.#keyring });
  }

  protected override attemptOptions(prepared: PreparedStorageTask): AttemptOptions {
    return attemptOptionsOf(prepared.config);
  }

  protected override async executeTask(signal: AbortSignal, { config: prepared }: AttemptContext<PreparedStorageTask>): Promise<StorageResultData> {
    const { path } = prepared;
    const { operation, options = {} } = prepared.config.metadata;
    switch (operation) {
      case 'read':
        return this.#call('read', path, async () => {
          const opened = await this.#backend.read(path, { signal });
          const total = opened.info.size;
          const stored = counted(opened.body as AsyncIterable<Buffer>, (done) => {
            this.reportProgress(done, total);
          });
          const decoded = await decodeStoredObject(
            { metadata: opened.info.metadata, body: stored },
            {
              path,
              keyring: this.#keyring,
              requireEncryption: options.encryption === true,
              ...(options.maxBytes === undefined ? {} : { maxBytes: options.maxBytes }),
            },
          );
          return decodeObject(decoded, path, options.as, signal);
        });
      case 'write':
        return this.#write(prepared, signal);
      case 'delete': {
        const { deleted } = await this.#call('delete', path, () => this.#backend.delete(path, { signal, recursive: options.recursive ?? false }));
        return { path, deleted } satisfies DeleteResultData;
      }
      case 'list':
        return this.#call('list', path, () =>
          this.#backend.list(path, {
            signal,
            recursive: options.recursive ?? false,
            limit: options.limit ?? DEFAULT_LIST_LIMIT,
            ...(prepared.after === undefined ? {} : { after: prepared.after }),
          }),
        );
    }
  }

  async #write(prepared: PreparedStorageTask, signal: AbortSignal): Promise<WriteResultData> {
    const { path } = prepared;
    const source = prepared.source ?? toByteSource(prepared.config.metadata.data);
    const data = counted(source.body, (done) => {
      this.reportProgress(done, source.size);
    });
    const encoding = prepared.encoding === undefined ? undefined : await withAvailableCompression(prepared.encoding);
    // A container records the content kind in its header; a plain object, beside it.
    const body = encoding === undefined ? data : encodeContainer(data, { kind: source.kind, path, ...encoding });
    try {
      const info = await this.#call('write', path, () =>
        this.#backend.write(path, body, {
          signal,
          overwrite: prepared.config.metadata.options?.overwrite ?? true,
          metadata: encoding === undefined ? metadataFor(source.kind) : {},
        }),
      );
      return { path, size: info.size, modifiedAt: info.modifiedAt.toISOString(), version: info.version };
    } catch (error) {
      const coded = signal.aborted ? error : this.toTaskError(error);
      if (source.oneShot && source.started()) {
        // A stream cannot be read twice: whatever went wrong, there is no retry.
        source.discard(coded instanceof Error ? coded : new Error(String(coded)));
        if (coded instanceof TaskforgeError && coded.retryable) {
          throw new TaskforgeError(coded.code, `${coded.message} (not retried: the data stream was already read)`, {
            retryable: false,
            cause: coded.cause,
            ...(coded.details === undefined ? {} : { details: coded.details }),
          });
        }
      }
      throw coded;
    }
  }

  /** Every backend call goes through here, so system errors become coded errors naming the path. */
  async #call<T>(operation: string, path: string, run: () => Promise<T>): Promise<T> {
    try {
      return await run();
    } catch (error) {
      throw fromSystemError(error, { operation, path });
    }
  }
}

/** The plan, with the default compression swapped for its fallback when zstd is not installed. */
async function withAvailableCompression(plan: EncodingPlan): Promise<EncodingPlan> {
  const { compressionFallback, ...rest } = plan;
  if (compressionFallback === undefined || rest.compression?.algorithm !== 'zstd' || (await zstdAvailable())) return rest;
  return { ...rest, compression: compressionFallback };
}

/** Passes chunks through, telling `onBytes` the running total. */
async function* counted<T extends Uint8Array>(source: AsyncIterable<T>, onBytes: (bytesDone: number) => void): AsyncGenerator<T, void, undefined> {
  let bytesDone = 0;
  for await (const chunk of source) {
    bytesDone += chunk.byteLength;
    onBytes(bytesDone);
    yield chunk;
  }
}
