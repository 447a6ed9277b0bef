import { Readable } from 'node:stream';
import { ErrorCode, TaskforgeError } from '../core/errors.js';
import { adoptDataStream, releaseDataStream } from '../storage/data-stream.js';
import { privateCopy } from '../core/small-copies.js';
import { fromSystemError } from '../core/system-errors.js';
import { readAhead } from '../core/read-ahead.js';
import type { OpenedObject, StorageBackend } from '../storage/backend.js';
import { defaultKeyring } from '../storage/codec/default-keyring.js';
import { encodeContainer } from '../storage/codec/encoder.js';
import type { KeyBinding } from '../storage/codec/decoder.js';
import type { Keyring } from '../storage/codec/keyring.js';
import { decodeStoredObject } from '../storage/object-reader.js';
import { bytesToForm, chosenForm, collectBytes, decodeObject, metadataFor, onlyChunk, type ReadValue } from '../storage/content.js';
import { defaultReadCache, type CachedObject, type ReadCache } from '../storage/read-cache.js';
import { defaultBackend } from '../storage/default-backend.js';
import { inTree, openPackedFile, treeFolder } from './tree-lookup.js';
import { readIndex, type IndexEntry } from './tree-index.js';
import { listWithTrees } from './tree-listing-merge.js';
import { BaseTask, type AttemptContext, type TaskContext } from './base-task.js';
import { attemptOptionsOf, type AttemptOptions } from './task-config.js';
import { DEFAULT_LIST_LIMIT, wantsEncryption, type ReadForm, type StorageOperation } from './storage-task-config.js';
import type { DeleteResultData, StorageResultData, StorageTaskConfigFor, WriteResultData } from './storage-result.js';
import { prepareStorageTask, withAvailableCompression, writeSource, type PreparedStorageTask } from './storage-task-prepare.js';

/** How far a streamed write's source is read ahead of its encoding and writing: a few writes' worth. */
const READ_AHEAD_BYTES = 4 * 1024 * 1024;
/** A source is read ahead only past its first MiB: a small file or stream costs no reader of its own. */
const READ_AHEAD_AFTER_BYTES = 1024 * 1024;

/** What a storage task is given besides its config. */
export interface StorageTaskContext extends TaskContext {
  /** Where objects live. Default: the filesystem under `TASKFORGE_STORAGE_ROOT` or `./taskforge-data`. */
  readonly backend?: StorageBackend;
  /** The encryption keys. Default: from `TASKFORGE_KEYRING` or `TASKFORGE_ENCRYPTION_KEY`, read when needed. */
  readonly keyring?: Keyring;
  /** The read cache, which writes and deletes invalidate. Default: the process-wide one (`TASKFORGE_CACHE_BYTES`, 64 MiB). */
  readonly cache?: ReadCache;
  /**
   * Called right before a write or a delete commits; when it rejects,
   * nothing is committed and the attempt fails with its error. A Redis
   * worker passes a check that it still holds the task's lock (fencing).
   */
  readonly beforeCommit?: () => Promise<void>;
}

/**
 * The spec's storage task: read, write, delete or list one path on a
 * storage backend, with the lifecycle of {@link BaseTask}.
 *
 * Its result's `data` is typed by the config: `new StorageTask({ …,
 * metadata: { operation: 'write', … } })` is a `StorageTask<'write'>`,
 * whose data is a {@link WriteResultData}; a read's data follows its `as`
 * option. A config typed only as `StorageTaskConfig` gives any of them.
 *
 * @typeParam TOperation the config's operation.
 * @typeParam TForm a read's `as` option; absent (the default), the form that was written.
 */
export class StorageTask<TOperation extends StorageOperation = StorageOperation, TForm extends ReadForm | undefined = undefined> extends BaseTask<
  StorageResultData<TOperation, TForm>,
  PreparedStorageTask
> {
  // Each operation reads the attempt's signal from its context, a read only once it goes to the backend.
  static override readonly ignoresSignal: boolean = true;
  /**
   * Its work stops on its own bounds after an abort: an S3 commit already
   * sent is waited for 10 s (commitGraceMs), an upload stopped is removed
   * within 10 s, the S3 client gives up on a silent server after 60 s. Given
   * up only past those, its account of how it stopped (stored or not, parts
   * left) is the one given; a backend of the user's that ignores its signal
   * is still bounded.
   */
  static override readonly abortGraceMs: number = 75_000;

  readonly #backend: StorageBackend;
  readonly #keyring: () => Keyring | undefined;
  readonly #cache: ReadCache;
  readonly #beforeCommit: (() => Promise<void>) | undefined;

  constructor(config: StorageTaskConfigFor<TOperation, TForm>, context: StorageTaskContext = {}) {
    super(config, context);
    this.#backend = context.backend ?? defaultBackend();
    this.#beforeCommit = context.beforeCommit;
    const given = context.keyring;
    this.#keyring = given === undefined ? defaultKeyring : () => given;
    this.#cache = context.cache ?? defaultReadCache();
    const data = (config as { readonly metadata?: { readonly data?: unknown } } | null | undefined)?.metadata?.data;
    if (data instanceof Readable) {
      // Taken in charge now: an error while the task waits is reported by it, and a stream it never reads is closed at its end.
      adoptDataStream(data);
      const release = (): void => {
        releaseDataStream(data);
      };
      this.once('complete', release).once('error', release);
    }
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

  protected override executeTask(_unread: AbortSignal, attempt: AttemptContext<PreparedStorageTask>): Promise<StorageResultData<TOperation, TForm>> {
    // The config's operation and `as`, which the type arguments were taken from, decide what comes back.
    return this.#run(attempt) as Promise<StorageResultData<TOperation, TForm>>;
  }

  async #run(attempt: AttemptContext<PreparedStorageTask>): Promise<StorageResultData> {
    const { config: prepared } = attempt;
    const { path } = prepared;
    const { operation, options = {} } = prepared.config.metadata;
    // A read asks for the attempt's signal only once it goes to the backend: a cache hit makes none.
    if (operation === 'read') return this.#call('read', path, () => this.#read(prepared, attempt));
    const { signal } = attempt;
    switch (operation) {
      case 'write':
        return this.#write(prepared, signal);
      case 'delete': {
        const recursive = options.recursive ?? false;
        await this.#refuseInTree(path, recursive, signal);
        try {
          const { deleted } = await this.#call('delete', path, async () => {
            await this.#beforeCommit?.();
            return this.#backend.delete(path, { signal, recursive });
          });
          return { path, deleted } satisfies DeleteResultData;
        } finally {
          // Even a failed delete may have removed part of a tree.
          this.#cache.invalidate(this.#backend, path, recursive);
        }
      }
      case 'list':
        return this.#call('list', path, () =>
          listWithTrees(
            this.#backend,
            path,
            { signal, recursive: options.recursive ?? false, limit: options.limit ?? DEFAULT_LIST_LIMIT, ...(prepared.after === undefined ? {} : { after: prepared.after }) },
            { keyring: this.#keyring, requireEncryption: false, signal },
          ),
        );
    }
  }

  async #write(prepared: PreparedStorageTask, signal: AbortSignal): Promise<WriteResultData> {
    const { path } = prepared;
    const source = prepared.source ?? writeSource(prepared.config.metadata, path);
    const counting = counted(source.body, (done, last) => {
      // (A file's size is known once it is opened.)
      this.reportProgress(done, source.size ?? source.openedSize?.(), last);
    });
    // A stream or a file is read ahead while what was read is encoded and written; bytes in memory need not be.
    const data = source.size === undefined ? readAhead(counting, READ_AHEAD_BYTES, READ_AHEAD_AFTER_BYTES) : counting;
    const encoding = prepared.encoding === undefined ? undefined : await withAvailableCompression(prepared.encoding);
    // A container records the content kind in its header; a plain object, beside it.
    const body = encoding === undefined ? data : encodeContainer(data, { kind: source.kind, path, ...encoding });
    try {
      const info = await this.#call('write', path, () =>
        this.#backend.write(path, body, {
          signal,
          overwrite: prepared.config.metadata.options?.overwrite ?? true,
          metadata: encoding === undefined ? metadataFor(source.kind) : {},
          ...(this.#beforeCommit === undefined ? {} : { beforeCommit: this.#beforeCommit }),
        }),
      );
      this.#cache.invalidate(this.#backend, path);
      this.setResultDetails({ bytesWritten: info.size });
      const facts = source.facts?.();
      return { path, size: info.size, modifiedAt: info.modifiedAt.toISOString(), version: info.version, ...(facts === undefined ? {} : { source: facts }) };
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

  /**
   * A read served from memory without any I/O: `cache: { ttlMs }` and an
   * entry checked less than ttlMs ago. It completes without an attempt's
   * signal and timer, so that a hot cached read costs microseconds.
   */
  protected override completeSynchronously(prepared: PreparedStorageTask): { readonly data: StorageResultData<TOperation, TForm> } | undefined {
    const { operation, options = {} } = prepared.config.metadata;
    if (operation !== 'read' || typeof options.cache !== 'object') return undefined;
    const entry = this.#usableEntry(prepared);
    if (entry === undefined || Date.now() - entry.validatedAt >= options.cache.ttlMs) return undefined;
    return { data: this.#serveFromCache(entry, prepared) as StorageResultData<TOperation, TForm> };
  }

  async #read(prepared: PreparedStorageTask, attempt: { readonly signal: AbortSignal }): Promise<ReadValue> {
    const { path } = prepared;
    const options = prepared.config.metadata.options ?? {};
    const useCache = options.cache !== undefined && options.cache !== false;
    if (useCache) {
      const entry = this.#usableEntry(prepared);
      if (entry !== undefined) {
        const ttlMs = typeof options.cache === 'object' ? options.cache.ttlMs : 0;
        const fresh = Date.now() - entry.validatedAt < ttlMs || (await this.#isCurrent(path, entry.version, attempt));
        if (fresh) {
          entry.validatedAt = Date.now();
          return this.#serveFromCache(entry, prepared);
        }
        // Changed or gone: the entry must not outlive the object it described.
        this.#cache.invalidate(this.#backend, path);
      }
      this.#cache.recordMiss();
    }
    const { signal } = attempt;
    // Taken before the object is opened: a write that lands meanwhile keeps what this read decodes out of the cache.
    const ticket = this.#cache.ticket();
    const opened = await this.#open(path, wantsEncryption(options), signal);
    const total = opened.info.size;
    this.setResultDetails(useCache ? { cache: 'miss', bytesRead: total } : { bytesRead: total });
    const stored = counted(opened.bytes === undefined ? (opened.body as AsyncIterable<Buffer>) : onlyChunk(opened.bytes), (done, last) => {
      this.reportProgress(done, total, last);
    });
    const decoded = await decodeStoredObject(
      { metadata: opened.info.metadata, body: stored },
      {
        path,
        keyring: this.#keyring,
        requireEncryption: wantsEncryption(options) || opened.mustBeEncrypted === true,
        ...(options.maxBytes === undefined ? {} : { maxBytes: options.maxBytes }),
      },
    );
    this.setResultDetails({ ...(useCache ? { cache: 'miss' } : {}), bytesRead: total, kind: decoded.kind });
    // A stream is handed over as it flows; only reads that hold the whole object fill the cache.
    if (!useCache || chosenForm(decoded.kind, options.as) === 'stream') return decodeObject(decoded, path, options.as, signal);
    const bytes = await collectBytes(decoded.body, signal);
    // An object the cache will not hold costs nothing more than a read without cache.
    if (!this.#cache.holds(bytes.byteLength)) return bytesToForm(bytes, decoded.kind, path, options.as);
    this.#cache.set(this.#backend, path, { version: opened.info.version, kind: decoded.kind, bytes, key: decoded.key, validatedAt: Date.now() }, ticket);
    // The caller gets its own copy: changing it must not change what the next read is served.
    return bytesToForm(Buffer.from(bytes), decoded.kind, path, options.as);
  }

  /**
   * Throws, before anything is deleted, when `path` is a file or a folder
   * of a tree stored above it (its index records it, or with `recursive`
   * something under it): deleted alone, it would leave the index naming
   * what is gone, and a restore would fail. An object of the tree's folder
   * that the index does not name is deleted as any object. Where the index
   * cannot be read (an encrypted tree, no key), nothing is deleted either.
   * The whole tree (its own folder) is deleted as any folder.
   */
  async #refuseInTree(path: string, recursive: boolean, signal: AbortSignal): Promise<void> {
    const prefix = await treeFolder(this.#backend, path, signal, true);
    if (prefix === undefined) return;
    let index: ReadonlyMap<string, IndexEntry>;
    try {
      ({ entries: index } = await readIndex({ backend: this.#backend, prefix, options: {}, keyring: this.#keyring(), signal }));
    } catch (error) {
      const coded = error instanceof TaskforgeError ? error : fromSystemError(error, { operation: 'read', path: prefix });
      throw new TaskforgeError(
        coded.code,
        `delete of '${path}' failed: it is inside the tree stored at '${prefix}', whose index cannot be read (${coded.code}: ${coded.message}): give its key, so that no file or folder of the tree is deleted behind its index`,
        { cause: error, details: { path, tree: prefix } },
      );
    }
    const relative = inTree(prefix, path) ?? '';
    const entry = index.get(relative);
    const holdsBelow = recursive && [...index.keys()].some((recorded) => recorded.startsWith(`${relative}/`));
    if (entry === undefined && !holdsBelow) return;
    const what = entry === undefined || entry.kind === 'directory' ? 'a folder' : entry.kind === 'symlink' ? 'a link' : 'a file';
    throw new TaskforgeError(
      ErrorCode.UNSUPPORTED_OPTION,
      `delete of '${path}' failed: it is ${what} of the tree stored at '${prefix}', whose index records it: deleted alone it would leave the index naming what is gone (a restore would fail). Store the tree again without it (write --recursive --delete), or delete the whole tree`,
      { details: { path, tree: prefix } },
    );
  }

  /** The object at `path`; where none is, a file of a stored tree that went into a pack, if a tree above `path` holds one there. */
  async #open(path: string, requireEncryption: boolean, signal: AbortSignal): Promise<OpenedObject> {
    try {
      return await this.#backend.read(path, { signal });
    } catch (error) {
      if (fromSystemError(error, { operation: 'read', path }).code !== ErrorCode.NOT_FOUND) throw error;
      const packed = await openPackedFile(this.#backend, path, { keyring: this.#keyring, requireEncryption, signal });
      if (packed === undefined) throw error;
      return packed;
    }
  }

  /** Whether the object at `path` is still the one read with `version` (the attempt's signal is made if the backend reads it). */
  #isCurrent(path: string, version: string, attempt: { readonly signal: AbortSignal }): Promise<boolean> {
    if (this.#backend.isCurrent !== undefined) return this.#backend.isCurrent(path, version, attempt);
    return this.#backend.stat(path, { signal: attempt.signal }).then((info) => info?.version === version);
  }

  /**
   * The cached entry for this read, if it may serve it: only when the
   * backend would give this task the same answer (its keyring holds the
   * entry's key, encryption and size rules met). Otherwise the read goes to
   * the backend, which gives the error it owes.
   */
  #usableEntry(prepared: PreparedStorageTask): CachedObject | undefined {
    const options = prepared.config.metadata.options ?? {};
    const entry = this.#cache.peek(this.#backend, prepared.path);
    if (entry === undefined) return undefined;
    if (entry.key === undefined) {
      // A read that requires encryption goes to the backend for a plain entry, and is refused there.
      if (wantsEncryption(options)) return undefined;
    } else if (!this.#holdsKey(entry.key)) {
      return undefined;
    }
    if (options.maxBytes !== undefined && entry.bytes.byteLength > options.maxBytes) return undefined;
    return entry;
  }

  /** True when this task's keyring holds the very key `binding` names (same id, same key bytes). */
  #holdsKey(binding: KeyBinding): boolean {
    let keyring: Keyring | undefined;
    try {
      keyring = this.#keyring();
    } catch {
      // A keyring the environment names but that cannot be read: the backend path reports why.
      return false;
    }
    return keyring?.fingerprintOf(binding.id) === binding.fingerprint;
  }

  #serveFromCache(entry: CachedObject, prepared: PreparedStorageTask): ReadValue {
    this.#cache.recordHit();
    this.setResultDetails({ cache: 'hit', kind: entry.kind });
    return bytesToForm(privateCopy(entry.bytes), entry.kind, prepared.path, prepared.config.metadata.options?.as);
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

/** Passes chunks through, telling `onBytes` the running total. */
async function* counted<T extends Uint8Array>(source: AsyncIterable<T>, onBytes: (bytesDone: number, last: boolean) => void): AsyncGenerator<T, void, undefined> {
  let bytesDone = 0;
  for await (const chunk of source) {
    bytesDone += chunk.byteLength;
    onBytes(bytesDone, false);
    yield chunk;
  }
  // The last count is told whatever the interval: a stream's total is known only now.
  onBytes(bytesDone, true);
}
