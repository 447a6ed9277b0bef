import { stat } from 'node:fs/promises';
import { join, resolve, sep } from 'node:path';
import { ErrorCode, TaskforgeError } from '../../core/errors.js';
import { fromSystemError } from '../../core/system-errors.js';
import { Orchestrator } from '../orchestrator.js';
import { isSharedQueue } from '../orchestrator-options.js';
import type { TaskQueue } from '../task-queue.js';
import type { TaskHandle } from '../task-handle.js';
import type { StorageOptions } from '../../tasks/storage-task-config.js';
import type { WriteResultData } from '../../tasks/storage-result.js';
import type { TaskResult } from '../../tasks/task-result.js';
import type { StorageBackend } from '../../storage/backend.js';
import { FileSystemBackend } from '../../storage/backends/filesystem.js';
import type { Keyring } from '../../storage/codec/keyring.js';
import { childPath, parseStoragePath } from '../../storage/storage-path.js';
import { readIndex, saveIndex, type IndexAccess, type IndexEntry } from '../../tasks/tree-index.js';
import { wantsEncryption } from '../../tasks/storage-task-config.js';
import { listStored, type StoredObject } from './tree-listing.js';
import { TreeTally, type FileOutcome, type TreeProgress, type TreeSummary } from './tree-tally.js';
import { DEFAULT_TREE_CONCURRENCY, Gate, LARGE_FILE_BYTES, LARGE_FILES_AT_ONCE } from './tree-limits.js';
import { mtimeOf, sameOptionalTime, sameTime } from '../../storage/file-times.js';
import { walkTree } from './tree-walk.js';
import { PACKED_FILE_BYTES, PackWriter } from './tree-pack.js';
import { encodingPlan, withAvailableCompression } from '../../tasks/storage-task-prepare.js';

/** What storeTree stores, where, and how. */
export interface StoreTreeOptions {
  /** The local directory whose tree is stored. */
  readonly source: string;
  /** The storage path the tree goes under: `source/a/b.txt` is stored at `prefix/a/b.txt`. */
  readonly prefix: string;
  readonly backend: StorageBackend;
  /** The keys, for `encryption`. */
  readonly keyring?: Keyring;
  /** How each file is stored (and the tree's index with it). */
  readonly options?: Pick<StorageOptions, 'compression' | 'encryption' | 'timeout' | 'retries'>;
  /**
   * Files stored at once (default 32), of which at most 8 over 1 MiB; also
   * the most files open at once. On a shared queue, where the workers set
   * how many run, it bounds the files handed over and not yet done, to
   * twice this number.
   */
  readonly concurrency?: number;
  /**
   * The queue the writes (and deletes) go through: a queue object or a URL,
   * as the Orchestrator takes them. Default: run here, in memory. On a
   * shared queue (`redis://…`) the workers run them and this process only
   * hands them over and hears their ends: the workers must see `source` at
   * the same path (the same machine, or a shared mount) and store into the
   * same backend with the same keys as this process, which keeps the index.
   */
  readonly queue?: TaskQueue | string;
  /** Delete stored objects under `prefix` whose file is gone from `source` (default false: they are kept, and restored). */
  readonly deleteMissing?: boolean;
  /** Stops the run: files being stored are cut off (nothing half-stored), and the index keeps what was stored. */
  readonly signal?: AbortSignal;
  /** Told of every entry's outcome, as it is known. */
  readonly onFile?: (outcome: FileOutcome) => void;
  /** Told of the counts after every outcome. */
  readonly onProgress?: (progress: TreeProgress) => void;
}

/** How often, at most, the index is saved while a run stores files: an interrupted or crashed run keeps what it stored. */
const SAVE_EVERY_MS = 2000;
/** The share of a run's time the index's saves may take: a larger tree's index, slower to save, is saved less often. */
const SAVE_COST_SHARE = 0.02;

/**
 * Stores every file under a local directory at `prefix`, and records the
 * tree in an index beside them (sizes, mtimes, modes, links, folders).
 * Files up to PACKED_FILE_BYTES go into packs (see tree-pack.ts), each
 * reported stored once its pack is durable; larger ones (and every file on
 * a shared queue) are objects of their own, each durable when its task
 * completes. A file whose size, mtime and mode match the index, and whose
 * object (or pack) is still there, is not read again: a second run over an
 * unchanged tree reads no file content and writes nothing. Symbolic links
 * are recorded as links, never followed; FIFOs, sockets, devices and names
 * taskforge reserves are skipped, each with an outcome saying so. A file
 * that changes while it is read fails (SOURCE_CHANGED) and its old object,
 * if any, stays.
 */
export async function storeTree(options: StoreTreeOptions): Promise<TreeSummary> {
  const prefix = parseStoragePath(options.prefix);
  const source = resolve(options.source);
  const signal = options.signal ?? new AbortController().signal;
  const storageOptions = options.options ?? {};
  // (The index is saved also after an interruption, to keep what was stored: its access does not stop with the run.)
  const access: IndexAccess = { backend: options.backend, prefix, options: storageOptions, keyring: options.keyring, signal: new AbortController().signal };
  const tally = new TreeTally(options.onFile, options.onProgress);
  // Made first, so that whatever fails from here on closes its queue (a Redis connection left open would hold the process).
  const writes = new WriteWindow(options, prefix, signal);
  let before: Map<string, IndexEntry>;
  let stored: Map<string, StoredObject>;
  let top: IndexEntry;
  let packs: PackWriter | undefined;
  let presentPacks: Set<string>;
  try {
    top = await sourceDirectory(source);
    // On a shared queue the workers store each file; packs are filled here, by this process.
    packs = isSharedQueue(options.queue ?? 'memory') ? undefined : await packWriter(options, prefix, signal);
    const index = await readIndex(access);
    // Once encrypted, a tree stays so: a run that forgot --encrypt would rewrite its index, names and all, and its changed files in the clear.
    if (index.encrypted && !wantsEncryption(storageOptions)) throw storedEncrypted(prefix);
    before = index.entries;
    stored = before.size === 0 ? new Map<string, StoredObject>() : await listStored(options.backend, prefix, signal);
    presentPacks = await packsPresent(options.backend, prefix, before, signal);
  } catch (error) {
    await writes.close();
    throw error;
  }
  // The tree's own folder is its entry '' (indexes made before it was kept have none): a restore gives its mode and mtime to the destination.
  const after = new Map<string, IndexEntry>([['', top]]);
  let changed = !sameEntry(before.get(''), top);
  // (A save while files are still being stored keeps every entry of the old index: deletions are for the end.)
  const saver = new PeriodicSave(async () => saveIndex(access, mergedIndex(before, after, false)));
  let gone: string[] = [];
  try {
    for await (const entry of walkTree(source, { exclude: storeInside(options.backend, source) })) {
      if (signal.aborted) break;
      if (entry.kind === 'skipped') {
        tally.skipped(entry.path, childPath(prefix, entry.path), entry.reason);
        continue;
      }
      if (entry.kind === 'failed') {
        tally.failed(entry.path, childPath(prefix, entry.path), entry);
        if (entry.keep === true) keepStored(before, after, entry.path);
        continue;
      }
      if (entry.kind !== 'file') {
        const recorded: IndexEntry = entry.kind === 'directory' ? { kind: 'directory', mtimeMs: entry.mtimeMs, mode: entry.mode } : { kind: 'symlink', target: entry.target, mtimeMs: entry.mtimeMs };
        after.set(entry.path, recorded);
        if (!sameEntry(before.get(entry.path), recorded)) changed = true;
        if (entry.kind === 'symlink') tally.linked(entry.path, childPath(prefix, entry.path), entry.target);
        continue;
      }
      tally.seen(entry.size);
      const previous = before.get(entry.path);
      const object = stored.get(entry.path);
      if (
        previous?.kind === 'file' &&
        previous.size === entry.size &&
        sameTime(previous.mtimeMs, entry.mtimeMs) &&
        previous.mode === entry.mode &&
        (previous.pack === undefined ? object?.size === previous.stored.size : presentPacks.has(previous.pack.name))
      ) {
        after.set(entry.path, previous);
        tally.unchanged(entry.path, childPath(prefix, entry.path), entry.size);
        continue;
      }
      changed = true;
      if (packs !== undefined && entry.size <= PACKED_FILE_BYTES) {
        const path = childPath(prefix, entry.path);
        await packs.add(join(source, ...entry.path.split('/')), path, entry.size, (outcome) => {
          if (!outcome.stored) {
            if (signal.aborted && outcome.error.code === ErrorCode.CANCELLED) {
              tally.cutOff(path, outcome.error);
              return;
            }
            tally.failed(entry.path, path, outcome.error);
            if (previous !== undefined) after.set(entry.path, previous);
            return;
          }
          const read = outcome.source;
          after.set(entry.path, { kind: 'file', size: read.size, mtimeMs: read.mtimeMs, mode: read.mode, stored: { size: outcome.pack.length, modifiedAt: outcome.modifiedAt }, pack: outcome.pack });
          tally.stored(entry.path, path, read.size, outcome.pack.length);
          saver.due();
        });
        continue;
      }
      await writes.add(entry.path, join(source, ...entry.path.split('/')), entry.size, (result) => {
        const path = childPath(prefix, entry.path);
        if (!result.success) {
          // Cut off by the interruption: not stored, and not a failure of the file's.
          if (signal.aborted && result.error.code === ErrorCode.CANCELLED) {
            tally.cutOff(path, result.error);
            return;
          }
          tally.failed(entry.path, path, result.error);
          // The write committed nothing: the old object, if any, is what the index describes.
          if (previous !== undefined) after.set(entry.path, previous);
          return;
        }
        const written = result.data as WriteResultData;
        const read = written.source ?? { size: entry.size, mtimeMs: entry.mtimeMs, mode: entry.mode };
        after.set(entry.path, { kind: 'file', size: read.size, mtimeMs: read.mtimeMs, mode: read.mode, stored: { size: written.size, modifiedAt: written.modifiedAt } });
        tally.stored(entry.path, path, read.size, written.size);
        saver.due();
      });
    }
    await Promise.all([writes.drain(), packs?.finish()]);
    if (options.deleteMissing === true && !signal.aborted) {
      gone = [...stored.keys()].filter((path) => !after.has(path));
      if (gone.length > 0 || [...before.keys()].some((path) => !after.has(path))) changed = true;
      // A packed file that is gone goes with the index entry; its pack, once no file uses it, after the index is saved.
      for (const [path, entry] of before) if (entry.kind === 'file' && entry.pack !== undefined && !after.has(path) && !stored.has(path)) tally.deleted(path, childPath(prefix, path));
    }
  } finally {
    await Promise.all([writes.close(), packs?.settle()]);
    await saver.stop();
  }
  // An unchanged tree writes nothing, not even its index.
  let saved = before;
  if (changed) {
    saved = mergedIndex(before, after, options.deleteMissing === true);
    await saveIndex(access, saved);
  }
  // The objects of files gone from the source go only once the index that no longer names them is durable: a crash
  // in between leaves objects no index names (the next run with deleteMissing removes them), never an index naming
  // deleted objects. (Deleted here, not as tasks: a storage task refuses to delete what a tree's index names.)
  await deleteGone(options.backend, prefix, gone, signal, tally);
  // Only once the index that no longer needs them is durable: what a crash leaves is unused space, never a dangling entry.
  // (Unchanged too: an object written at a packed file's path since, which a read would give in its place, goes.)
  await removeUnused(options.backend, prefix, before, saved, stored);
  return tally.summary(signal.aborted);
}

/** Objects of the gone files deleted at once, at most. */
const DELETES_AT_ONCE = 8;

/** Deletes the objects of files gone from the source (paths relative to the tree), a few at once, each told deleted or failed; an interruption stops them. */
async function deleteGone(backend: StorageBackend, prefix: string, gone: readonly string[], signal: AbortSignal, tally: TreeTally): Promise<void> {
  let next = 0;
  // (A function, not the property read: an await in between may have aborted it.)
  const stopped = (): boolean => signal.aborted;
  const deleteNext = async (): Promise<void> => {
    for (let path = gone[next]; path !== undefined && !stopped(); path = gone[next]) {
      next += 1;
      const storagePath = childPath(prefix, path);
      try {
        await backend.delete(storagePath, { signal, recursive: false });
        tally.deleted(path, storagePath);
      } catch (error) {
        if (stopped()) return;
        tally.failed(path, storagePath, fromSystemError(error, { operation: 'delete', path: storagePath }));
      }
    }
  };
  await Promise.all(Array.from({ length: Math.min(DELETES_AT_ONCE, gone.length) }, deleteNext));
}

/** The index after a run: what it found, and, unless deleting, what it did not find but is still stored (a later restore puts it back). */
/** The store's own folder when it is inside the tree stored: left out, or every run would store the last one's objects again, nested one level deeper. */
function storeInside(backend: StorageBackend, source: string): ReadonlyMap<string, string> {
  if (!(backend instanceof FileSystemBackend)) return new Map();
  const root = backend.rootDirectory;
  return root.startsWith(`${source}${sep}`) ? new Map([[root, "the store's own folder (the tree is stored into it)"]]) : new Map();
}

/** Keeps the old index's entries at and under `path` (a folder that could not be read: not gone). */
function keepStored(before: ReadonlyMap<string, IndexEntry>, after: Map<string, IndexEntry>, path: string): void {
  for (const [recorded, entry] of before) if (recorded === path || recorded.startsWith(`${path}/`)) after.set(recorded, entry);
}

function mergedIndex(before: ReadonlyMap<string, IndexEntry>, after: ReadonlyMap<string, IndexEntry>, deleteMissing: boolean): Map<string, IndexEntry> {
  if (deleteMissing) return new Map(after);
  const merged = new Map(before);
  for (const [path, entry] of after) merged.set(path, entry);
  return merged;
}

/** The pack writer of a run in this process: each file encoded as the run's options say, with the run's keys (KEY_NOT_FOUND now, before anything is stored, when encryption has no key). */
async function packWriter(options: StoreTreeOptions, prefix: string, signal: AbortSignal): Promise<PackWriter> {
  const plan = encodingPlan(options.options ?? {}, prefix, { keyring: () => options.keyring }, 'tree store');
  const encoding = plan === undefined ? undefined : await withAvailableCompression(plan);
  return new PackWriter({
    backend: options.backend,
    prefix,
    signal,
    encoding: {
      ...(encoding?.compression === undefined ? {} : { compression: encoding.compression }),
      ...(encoding?.encryption === undefined ? {} : { encryption: encoding.encryption }),
    },
  });
}

/** The packs the index names that are stored, whole: a file in a pack that is gone or cut short is stored again. */
async function packsPresent(backend: StorageBackend, prefix: string, index: ReadonlyMap<string, IndexEntry>, signal: AbortSignal): Promise<Set<string>> {
  const needed = new Map<string, number>();
  for (const entry of index.values()) {
    if (entry.kind === 'file' && entry.pack !== undefined) needed.set(entry.pack.name, Math.max(needed.get(entry.pack.name) ?? 0, entry.pack.offset + entry.pack.length));
  }
  const present = new Set<string>();
  for (const [name, end] of needed) {
    const info = await backend.stat(childPath(prefix, name), { signal }).catch(() => undefined);
    if (info !== undefined && info.size >= end) present.add(name);
  }
  return present;
}

/**
 * Removes what the saved index no longer names: packs none of whose files
 * it keeps, and any object at a packed file's path (its own object from
 * before it went into a pack, or one written there since by anyone): read
 * at that path, it would be given in place of the tree's file.
 */
async function removeUnused(backend: StorageBackend, prefix: string, before: ReadonlyMap<string, IndexEntry>, saved: ReadonlyMap<string, IndexEntry>, stored: ReadonlyMap<string, StoredObject>): Promise<void> {
  const signal = new AbortController().signal;
  const kept = new Set<string>();
  for (const entry of saved.values()) if (entry.kind === 'file' && entry.pack !== undefined) kept.add(entry.pack.name);
  const unused = new Set<string>();
  for (const entry of before.values()) if (entry.kind === 'file' && entry.pack !== undefined && !kept.has(entry.pack.name)) unused.add(entry.pack.name);
  for (const [path, entry] of saved) if (entry.kind === 'file' && entry.pack !== undefined && stored.has(path)) unused.add(path);
  for (const name of unused) await backend.delete(childPath(prefix, name), { signal, recursive: false }).catch(() => undefined);
}

function sameEntry(a: IndexEntry | undefined, b: IndexEntry): boolean {
  if (a?.kind !== b.kind) return false;
  if (a.kind === 'symlink' || b.kind === 'symlink') return a.kind === 'symlink' && b.kind === 'symlink' && a.target === b.target && sameOptionalTime(a.mtimeMs, b.mtimeMs);
  return sameTime(a.mtimeMs, b.mtimeMs) && a.mode === b.mode;
}

/** The source folder as the index records a folder; VALIDATION_ERROR when it is missing or not a folder. */
async function sourceDirectory(source: string): Promise<IndexEntry> {
  let stats;
  try {
    stats = await stat(source, { bigint: true });
  } catch {
    throw new TaskforgeError(ErrorCode.VALIDATION_ERROR, `source: no such directory '${source}'`, { details: { field: 'source', value: source } });
  }
  if (!stats.isDirectory()) throw new TaskforgeError(ErrorCode.VALIDATION_ERROR, `source: '${source}' is not a directory`, { details: { field: 'source', value: source } });
  return { kind: 'directory', mtimeMs: mtimeOf(stats), mode: Number(stats.mode) & 0o7777 };
}

/**
 * The writes of one run, through an orchestrator of this
 * process: at most `concurrency` at once, and at most twice that many
 * submitted and waiting, so that a tree of any size holds bounded memory
 * and descriptors.
 */
class WriteWindow {
  readonly #orchestrator: Orchestrator;
  readonly #options: StoreTreeOptions;
  readonly #prefix: string;
  readonly #signal: AbortSignal;
  readonly #limit: number;
  readonly #pending = new Set<Promise<void>>();
  /** On a shared queue, the tasks handed over and not yet ended: an interruption cancels them on their workers. */
  readonly #handedOver = new Set<string>();
  readonly #shared: boolean;
  /** Files over LARGE_FILE_BYTES handed over and not yet done. */
  readonly #largeFiles = new Gate(LARGE_FILES_AT_ONCE);

  constructor(options: StoreTreeOptions, prefix: string, signal: AbortSignal) {
    const concurrency = options.concurrency ?? DEFAULT_TREE_CONCURRENCY;
    const queue = options.queue ?? 'memory';
    const shared = isSharedQueue(queue);
    this.#orchestrator = new Orchestrator({
      queue,
      concurrency: shared ? 0 : concurrency,
      context: { backend: options.backend, ...(options.keyring === undefined ? {} : { keyring: options.keyring }) },
    });
    this.#options = options;
    this.#prefix = prefix;
    this.#signal = signal;
    this.#shared = shared;
    this.#limit = concurrency * 2;
    // Interrupted: files waiting are not begun, and those being stored are cut off (their temporary files removed),
    // here or, on a shared queue, on the workers that run them.
    signal.addEventListener(
      'abort',
      () => {
        const cancels = [...this.#handedOver].map(async (id) => this.#orchestrator.cancel(id, 'the tree store was interrupted').catch(() => undefined));
        void Promise.all(cancels)
          .then(async () => this.#orchestrator.shutdown({ timeoutMs: 0 }))
          .catch(() => undefined);
      },
      { once: true },
    );
  }

  /** Hands over the write of one file of `size` bytes; resolves once it is handed over (not done), which may wait for room. */
  async add(relative: string, file: string, size: number, then: (result: TaskResult) => void): Promise<void> {
    const storageOptions = { overwrite: true, ...this.#options.options, ...this.#pinnedKey() };
    const write = { type: 'storage', metadata: { operation: 'write', path: childPath(this.#prefix, relative), file, options: storageOptions } } as const;
    if (size <= LARGE_FILE_BYTES) {
      await this.#submit(write, then);
      return;
    }
    await this.#largeFiles.enter();
    let handedOver = false;
    try {
      handedOver = await this.#submit(write, (result) => {
        this.#largeFiles.leave();
        then(result);
      });
    } finally {
      if (!handedOver) this.#largeFiles.leave();
    }
  }

  /**
   * On a shared queue, an encrypted write names this process's active key:
   * a worker whose keyring lacks it fails the file with KEY_NOT_FOUND rather
   * than store it under a key of its own, which this process (it keeps the
   * index and restores) could not read.
   */
  #pinnedKey(): { encryption?: { keyId: string } } {
    const { keyring } = this.#options;
    if (!this.#shared || keyring === undefined || this.#options.options?.encryption !== true) return {};
    return { encryption: { keyId: keyring.activeKeyId } };
  }

  async drain(): Promise<void> {
    await Promise.all(this.#pending);
  }

  async close(): Promise<void> {
    await this.drain();
    await this.#orchestrator.shutdown();
  }

  /** Submits one task, once there is room; false when an interruption came first (then `then` is never called). */
  async #submit(config: { type: 'storage'; metadata: object }, then: (result: TaskResult) => void): Promise<boolean> {
    while (this.#pending.size >= this.#limit) await Promise.race(this.#pending);
    let handle: TaskHandle;
    try {
      handle = await this.#orchestrator.submit(config as never);
    } catch (error) {
      // Shut down by an interruption between two submits: this file is simply not stored.
      if (this.#signal.aborted) return false;
      throw error;
    }
    if (this.#shared) this.#handedOver.add(handle.id);
    const settled = handle.result.then((result) => {
      this.#handedOver.delete(handle.id);
      then(result);
    });
    const tracked = settled.finally(() => this.#pending.delete(tracked));
    this.#pending.add(tracked);
    return true;
  }
}

/**
 * Saves while work goes on, one save at a time: at most every
 * SAVE_EVERY_MS, and never more often than SAVE_COST_SHARE of the time
 * allows. The index is saved whole, so its cost grows with the tree: at
 * 60,000 files a save every 2 s took 5.5% of the run.
 */
class PeriodicSave {
  readonly #save: () => Promise<void>;
  #last = Date.now();
  #interval = SAVE_EVERY_MS;
  #saving: Promise<void> | undefined;

  constructor(save: () => Promise<void>) {
    this.#save = save;
  }

  due(): void {
    if (this.#saving !== undefined || Date.now() - this.#last < this.#interval) return;
    const started = Date.now();
    this.#saving = this.#save()
      .catch(() => undefined)
      .finally(() => {
        this.#last = Date.now();
        this.#interval = Math.max(SAVE_EVERY_MS, (this.#last - started) / SAVE_COST_SHARE);
        this.#saving = undefined;
      });
  }

  async stop(): Promise<void> {
    await this.#saving;
  }
}

function storedEncrypted(prefix: string): TaskforgeError {
  return new TaskforgeError(
    ErrorCode.ENCRYPTION_REQUIRED,
    `store of the tree '${prefix}' refused: it is stored encrypted, and this run would store it in the clear (its index, with every name, and its changed files); store it with encryption (--encrypt), or delete it first to store it plain; nothing was stored`,
    { details: { path: prefix } },
  );
}
