import { closeSync, constants, createWriteStream, fchmodSync, futimesSync, lstatSync, openSync, renameSync, rmSync, writeSync } from 'node:fs';
import { chmod, lstat, lutimes, mkdir, readlink, rename, rm, symlink, utimes } from 'node:fs/promises';
import { join, resolve } from 'node:path';
import { setImmediate as yieldToEventLoop } from 'node:timers/promises';
import type { Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { ErrorCode, TaskforgeError } from '../../core/errors.js';
import { makeFolders } from '../../core/make-folders.js';
import { codeOfErrno, errnoOf, fromSystemError, LOCAL_FILE_WORDS, systemErrorReason } from '../../core/system-errors.js';
import type { StorageBackend } from '../../storage/backend.js';
import { writeAll } from '../../storage/backends/durable-file.js';
import { removeDeadWritersFiles } from '../../storage/backends/filesystem-sweep.js';
import { openFd } from '../../storage/backends/fd-calls.js';
import { temporaryName } from '../../storage/backends/temporary-file.js';
import type { Keyring } from '../../storage/codec/keyring.js';
import { childPath, parseStoragePath } from '../../storage/storage-path.js';
import { StorageTask } from '../../tasks/storage-task.js';
import { readIndex, type IndexEntry, type PackRef } from '../../tasks/tree-index.js';
import { findTree, inTree } from '../../tasks/tree-lookup.js';
import { sameTime, timeToSet } from '../../storage/file-times.js';
import { DEFAULT_TREE_CONCURRENCY, Gate, LARGE_FILE_BYTES, LARGE_FILES_AT_ONCE } from './tree-limits.js';
import { listStoredAndTrees } from './tree-listing.js';
import { PackReader } from './pack-reader.js';
import { TreeTally, type FileOutcome, type TreeProgress, type TreeSummary } from './tree-tally.js';

/** What restoreTree restores, from where, to where. */
export interface RestoreTreeOptions {
  /** The storage path the tree was stored under. */
  readonly prefix: string;
  /** The local directory it is restored into (made when missing). */
  readonly destination: string;
  readonly backend: StorageBackend;
  readonly keyring?: Keyring;
  /** Refuse objects (and an index) that are not encrypted: ENCRYPTION_REQUIRED. */
  readonly encrypted?: boolean;
  /** Files restored at once (default 32), of which at most 8 over 1 MiB. */
  readonly concurrency?: number;
  readonly signal?: AbortSignal;
  readonly onFile?: (outcome: FileOutcome) => void;
  readonly onProgress?: (progress: TreeProgress) => void;
}

/** An entry to restore: as its tree's index records it, and whether that tree is encrypted (every object and pack of it must be). */
type RestoreEntry = IndexEntry & { readonly mustBeEncrypted?: true };
type FileEntry = Extract<RestoreEntry, { kind: 'file' }>;
type PackedEntry = FileEntry & { readonly pack: PackRef };

/** How long the restore of packed files holds the event loop before it gives it a turn. */
const SLICE_MS = 5;

/**
 * Puts a stored tree back into a local directory: every file's content,
 * mode and mtime, every folder (empty ones too) with its mode and mtime,
 * and every link as a link with its target, never followed. A file already
 * there with the recorded size, mtime and mode is left alone. A file that
 * replaces one is written to a temporary file beside it and renamed into
 * place, so the old one is never half-replaced; in a folder this run made,
 * a file from a pack is written in place at once (see writeNewSync).
 * Nothing is written through a link and no folder is removed: a folder of
 * the destination that is a link or a file fails with each entry under it,
 * and the rest is restored. A tree stored without an index (by single
 * writes) is restored from a listing, its files with default modes.
 */
export async function restoreTree(options: RestoreTreeOptions): Promise<TreeSummary> {
  const prefix = parseStoragePath(options.prefix);
  const destination = resolve(options.destination);
  const signal = options.signal ?? new AbortController().signal;
  const tally = new TreeTally(options.onFile, options.onProgress);
  const { entries, packPrefix, unopened } = await entriesToRestore(options, prefix, signal);
  const requireEncryption = options.encrypted === true;
  if (entries.size === 0 && unopened.length === 0) throw new TaskforgeError(ErrorCode.NOT_FOUND, `restore of '${prefix}' failed: nothing is stored there`, { details: { path: prefix } });
  const folders = new SafeFolders(destination);
  await folders.make('');
  const files: [string, FileEntry][] = [];
  const links: [string, RestoreEntry & { kind: 'symlink' }][] = [];
  const directories: [string, RestoreEntry & { kind: 'directory' }][] = [];
  for (const [path, entry] of entries) {
    checkRelative(path);
    if (entry.kind === 'file') files.push([path, entry]);
    else if (entry.kind === 'symlink') links.push([path, entry]);
    else directories.push([path, entry]);
  }
  // (An object stored by a single write has no size recorded: its bytes are counted as they come.)
  for (const [, entry] of files) tally.seen(Math.max(0, entry.size));
  const packed = inPackOrder(files.filter((item): item is [string, PackedEntry] => item[1].pack !== undefined));
  const own = files.filter(([, entry]) => entry.pack === undefined);
  const packs = new PackReader({ backend: options.backend, prefix: packPrefix, keyring: options.keyring, signal, refs: packed.map(([, entry]) => entry.pack) });
  // The first pack is asked for before the folders, whose calls would go to the thread pool ahead of its read.
  const [first] = packed;
  if (first !== undefined) packs.prefetch(first[1].pack.name);
  // Every folder at once, each waiting only for the one above it, while files are written (each file waits for its own
  // folder): making a thousand folders took a tenth of a restore, the event loop idle. A folder that cannot be made
  // (a file or a link in its place) is failed, and so is each entry in it; the rest of the tree is restored.
  const made = new Set<string>();
  const foldersMade = Promise.all(
    directories.map(async ([path]) => {
      try {
        await folders.make(path);
        made.add(path);
      } catch (error) {
        // (A folder below one that failed fails with the same error: it is told once, at the folder that failed.)
        const failedAt = error instanceof TaskforgeError ? error.details?.['path'] : undefined;
        if (failedAt === undefined || failedAt === path) tally.failed(path, childPath(prefix, path), restoreFailure(childPath(prefix, path), error));
      }
    }),
  );
  const context: RestoreContext = { options, prefix, destination, folders, tally, signal, stops: new Stops(signal), requireEncryption };
  // A tree below whose index the keys given cannot open: none of its files is restored, and it is told once, as failed
  // (one of the run's files: its count is in the encrypted index).
  for (const [path, error] of unopened) {
    tally.seen(0);
    tally.failed(path, childPath(prefix, path), error);
  }
  const largeFiles = new Gate(LARGE_FILES_AT_ONCE);
  let next = 0;
  // Files stored as objects of their own: `concurrency` at once, each read and written through the thread pool.
  const worker = async (): Promise<void> => {
    while (!signal.aborted) {
      const item = own[next];
      next += 1;
      if (item === undefined) return;
      const large = (item[1].size < 0 ? item[1].stored.size : item[1].size) > LARGE_FILE_BYTES;
      if (large) await largeFiles.enter();
      try {
        await restoreFile(item[0], item[1], context);
      } finally {
        if (large) largeFiles.leave();
      }
    }
  };
  await Promise.all([restorePacked(packed, packs, context), ...Array.from({ length: Math.max(1, options.concurrency ?? DEFAULT_TREE_CONCURRENCY) }, worker)]);
  await foldersMade;
  if (!signal.aborted) {
    await Promise.all(links.map(async ([path, link]) => restoreLink(path, link, { prefix, destination, folders, tally })));
    // Deepest first, a level at a time: a folder made unreadable by its mode must not stop the times of those below it being set.
    // (Setting a folder's mode or time changes nothing in the folder above it.)
    for (const level of byDepthDeepestFirst(directories.filter(([path]) => made.has(path)))) {
      await Promise.all(
        level.map(async ([path, entry]) => {
          const host = join(destination, ...path.split('/'));
          await chmod(host, entry.mode);
          await utimes(host, timeToSet(entry.mtimeMs), timeToSet(entry.mtimeMs));
        }),
      );
    }
  }
  return tally.summary(signal.aborted);
}

interface RestoreContext {
  readonly options: RestoreTreeOptions;
  readonly prefix: string;
  readonly destination: string;
  readonly folders: SafeFolders;
  readonly tally: TreeTally;
  readonly signal: AbortSignal;
  readonly stops: Stops;
  /** Asked for (`encrypted`); an entry of an encrypted tree is required to be encrypted whatever is asked. */
  readonly requireEncryption: boolean;
}

/**
 * A signal per file, each aborted when the run's signal is: one listener
 * on the run's signal, however many files (a listener per file would pile
 * up on it, past Node's warning).
 */
class Stops {
  readonly #active = new Set<AbortController>();

  constructor(signal: AbortSignal) {
    signal.addEventListener(
      'abort',
      () => {
        for (const controller of this.#active) controller.abort(signal.reason);
      },
      { once: true },
    );
  }

  /** Runs one file's copy with a signal of its own. */
  async run<T>(work: (signal: AbortSignal) => Promise<T>): Promise<T> {
    const controller = new AbortController();
    this.#active.add(controller);
    try {
      return await work(controller.signal);
    } finally {
      this.#active.delete(controller);
    }
  }
}

async function restoreFile(path: string, entry: FileEntry, context: RestoreContext): Promise<void> {
  const { options, folders, tally, signal } = context;
  const { storagePath, host, parent, temporary: temporaryBeside } = placeOf(path, context);
  try {
    const fresh = await folders.make(parent);
    if (!fresh && isInPlace(host, entry)) {
      tally.unchanged(path, storagePath, entry.size);
      return;
    }
    // Small files are read whole and written with one call; larger ones stream (a stream's machinery costs more than a small file's bytes).
    const small = isSmall(entry);
    const read = await new StorageTask(
      { type: 'storage', metadata: { operation: 'read', path: storagePath, options: { as: small ? 'buffer' : 'stream', ...(context.requireEncryption || entry.mustBeEncrypted === true ? { encryption: true } : {}) } } },
      { backend: options.backend, ...(options.keyring === undefined ? {} : { keyring: options.keyring }) },
    ).execute();
    if (!read.success) {
      tally.failed(path, storagePath, read.error);
      return;
    }
    if (!fresh) await folders.sweep(parent);
    const temporary = temporaryBeside();
    let bytes = 0;
    try {
      if (read.data instanceof Buffer) {
        bytes = read.data.byteLength;
        await writeWhole(temporary, read.data, entry);
      } else {
        const body = read.data as Readable;
        body.on('data', (chunk: Buffer) => (bytes += chunk.length));
        await context.stops.run((stop) => pipeline(body, createWriteStream(temporary, { flags: 'wx', mode: 0o600 }), { signal: stop }));
        await chmod(temporary, entry.mode);
        await utimes(temporary, timeToSet(entry.mtimeMs), timeToSet(entry.mtimeMs));
      }
      await rename(temporary, host);
    } catch (error) {
      await rm(temporary, { force: true });
      throw error;
    }
    tally.stored(path, storagePath, bytes, entry.stored.size, 'restored');
  } catch (error) {
    if (signal.aborted) return;
    tally.failed(path, storagePath, restoreFailure(storagePath, error));
  }
}

/** A file read whole: up to LARGE_FILE_BYTES as recorded. One of unknown size (an object stored by a single write) streams, however large it is. */
function isSmall(entry: FileEntry): boolean {
  return entry.size >= 0 && entry.size <= LARGE_FILE_BYTES;
}

/** Where an entry of the tree goes: its storage path, its path on this host, its folder, and a new temporary name beside it. */
function placeOf(path: string, context: Pick<RestoreContext, 'prefix' | 'destination'>): { storagePath: string; host: string; parent: string; temporary: () => string } {
  const parent = parentOf(path);
  return {
    storagePath: childPath(context.prefix, path),
    host: join(context.destination, ...path.split('/')),
    parent,
    temporary: () => join(context.destination, ...parent.split('/').filter(Boolean), temporaryName()),
  };
}

/** Entries grouped by how deep they are, the deepest group first. */
function byDepthDeepestFirst<T>(entries: readonly (readonly [string, T])[]): (readonly [string, T])[][] {
  const levels: (readonly [string, T])[][] = [];
  for (const entry of entries) {
    const depth = entry[0] === '' ? 0 : entry[0].split('/').length;
    (levels[depth] ??= []).push(entry);
  }
  // (The array has holes where no entry is that deep: Object.values skips them, in order.)
  return Object.values(levels).reverse();
}

/**
 * The files that are in packs, one after another, pack by pack in the
 * order of their place in it: a pack is read once (the next one read while
 * this one's files are written) and let go after its last file. Each file
 * is written with calls made at once, on this thread, in slices of
 * SLICE_MS: creating 5,000 small files took 0.3-0.47 s that way here,
 * against 0.52-0.61 s with 32 at once through the thread pool, whose every
 * trip cost this thread 60-110 µs of its own (a wake-up of a pool thread
 * on a machine of two cores) where the calls themselves cost less.
 */
async function restorePacked(packed: readonly [string, PackedEntry][], packs: PackReader, context: RestoreContext): Promise<void> {
  let sliceStarted = performance.now();
  for (const [index, [path, entry]] of packed.entries()) {
    if (context.signal.aborted) return;
    // The next pack is read ahead only while files are being written (a run over a restored tree reads none).
    const following = packed[index + 1]?.[1].pack.name;
    const wrote = await restorePackedFile(path, entry, packs, context);
    if (wrote && following !== undefined && following !== entry.pack.name) packs.prefetch(following);
    if (performance.now() - sliceStarted >= SLICE_MS) {
      await yieldToEventLoop();
      sliceStarted = performance.now();
    }
  }
}

/** Packed files by pack, and in a pack by their place in it. */
function inPackOrder(packed: [string, PackedEntry][]): [string, PackedEntry][] {
  return packed.sort(([, a], [, b]) => (a.pack.name !== b.pack.name ? (a.pack.name < b.pack.name ? -1 : 1) : a.pack.offset - b.pack.offset));
}

/** Restores one packed file; true when it read its pack for it. */
async function restorePackedFile(path: string, entry: PackedEntry, packs: PackReader, context: RestoreContext): Promise<boolean> {
  const { folders, tally, signal } = context;
  const { storagePath, host, parent, temporary } = placeOf(path, context);
  try {
    const fresh = await folders.make(parent);
    if (!fresh && isInPlace(host, entry)) {
      packs.skip(entry.pack);
      tally.unchanged(path, storagePath, entry.size);
      return false;
    }
    const bytes = await packs.read(entry.pack, storagePath, entry.size, context.requireEncryption || entry.mustBeEncrypted === true);
    if (fresh) writeNewSync(host, bytes, entry);
    else {
      await folders.sweep(parent);
      placeWholeSync(temporary(), host, bytes, entry);
    }
    tally.stored(path, storagePath, bytes.byteLength, entry.stored.size, 'restored');
  } catch (error) {
    if (!signal.aborted) tally.failed(path, storagePath, restoreFailure(storagePath, error));
  }
  return true;
}

/** Why the restore of `storagePath` failed, coded (a system error by its errno: EISDIR is IS_A_DIRECTORY, ENOSPC NO_SPACE). */
function restoreFailure(storagePath: string, error: unknown, what = ''): { code: ErrorCode; message: string } {
  const code = error instanceof TaskforgeError ? error.code : (codeOfErrno(errnoOf(error)) ?? ErrorCode.IO_ERROR);
  return { code, message: `restore of ${what}'${storagePath}' failed: ${error instanceof Error ? error.message : String(error)}` };
}

/**
 * Whether a file with the entry's size, mtime (as far as a restore can set
 * one) and mode is at `host`; IS_A_DIRECTORY when a folder is there (a
 * restore removes no folder: said before the file is written out, not by
 * the rename after).
 */
function isInPlace(host: string, entry: FileEntry): boolean {
  let present;
  try {
    present = lstatSync(host);
  } catch {
    return false;
  }
  if (present.isDirectory()) throw folderInPlace(host);
  return present.isFile() && present.size === entry.size && sameTime(present.mtimeMs, entry.mtimeMs) && (present.mode & 0o7777) === entry.mode;
}

/** Writes `bytes` to a new temporary file with the entry's mode and mtime, and renames it to `host`: never half a file at `host`. */
function placeWholeSync(temporary: string, host: string, bytes: Buffer, entry: FileEntry): void {
  writeNewSync(temporary, bytes, entry);
  try {
    renameSync(temporary, host);
  } catch (error) {
    rmSync(temporary, { force: true });
    throw error;
  }
}

/**
 * A new file at `host` (never one that was there: O_EXCL, and never through
 * a link) holding `bytes`, with the entry's mode and mtime; removed again
 * when a call fails. In a folder the restore made itself this is the whole
 * write: there is nothing there a half-written file could stand for, and a
 * temporary name and a rename cost a tenth of a restore of small files. The
 * calls are made at once, so a stop (Ctrl-C) comes before or after a file,
 * never in it; a killed process can leave the file it was writing short,
 * with the time of the kill, which the next restore replaces.
 */
function writeNewSync(host: string, bytes: Buffer, entry: FileEntry): void {
  const fd = openSync(host, constants.O_WRONLY | constants.O_CREAT | constants.O_EXCL | constants.O_NOFOLLOW, 0o600);
  try {
    try {
      for (let done = 0; done < bytes.byteLength; ) done += writeSync(fd, bytes, done, bytes.byteLength - done);
      fchmodSync(fd, entry.mode);
      futimesSync(fd, timeToSet(entry.mtimeMs), timeToSet(entry.mtimeMs));
    } finally {
      closeSync(fd);
    }
  } catch (error) {
    rmSync(host, { force: true });
    throw error;
  }
}

/**
 * A new file holding `bytes`, with the entry's mode and mtime: one open, one
 * write. The mode, the times and the close change only the open file's
 * inode in memory, so they are made synchronously (see durable-file.ts).
 * The create and the write go to the thread pool, as a backend's do
 * (path-calls.ts): a restore makes a whole new tree, whose creates cost the
 * kernel 100-300 µs each here, and made at once they took the event loop's
 * p99 delay from 11 to 25 ms for no gain in time.
 */
async function writeWhole(temporary: string, bytes: Buffer, entry: FileEntry): Promise<void> {
  const fd = await openFd(temporary, constants.O_WRONLY | constants.O_CREAT | constants.O_EXCL, 0o600);
  try {
    await writeAll(fd, [bytes]);
    fchmodSync(fd, entry.mode);
    futimesSync(fd, timeToSet(entry.mtimeMs), timeToSet(entry.mtimeMs));
  } finally {
    closeSync(fd);
  }
}

async function restoreLink(path: string, link: IndexEntry & { kind: 'symlink' }, context: Pick<RestoreContext, 'prefix' | 'destination' | 'folders' | 'tally'>): Promise<void> {
  const { folders, tally } = context;
  const { target } = link;
  const { storagePath, host } = placeOf(path, context);
  try {
    await folders.make(parentOf(path));
    const present = await lstat(host).catch(() => undefined);
    if (present?.isSymbolicLink() === true && (await readlink(host)) === target) {
      if (link.mtimeMs !== undefined && !sameTime(present.mtimeMs, link.mtimeMs)) await lutimes(host, timeToSet(link.mtimeMs), timeToSet(link.mtimeMs));
      tally.linked(path, storagePath, target);
      return;
    }
    if (present?.isDirectory() === true) throw folderInPlace(host);
    if (present !== undefined) await rm(host);
    await symlink(target, host);
    // The link's own time, never its target's (lutimes does not follow it).
    if (link.mtimeMs !== undefined) await lutimes(host, timeToSet(link.mtimeMs), timeToSet(link.mtimeMs));
    tally.linked(path, storagePath, target);
  } catch (error) {
    tally.failed(path, storagePath, restoreFailure(storagePath, error, 'the link '));
  }
}

/**
 * What to restore: the tree stored at `prefix`; else the part under
 * `prefix` of a tree stored above it (a folder of it: its packs are the
 * tree's); else, stored without an index, the objects under `prefix`.
 */
async function entriesToRestore(options: RestoreTreeOptions, prefix: string, signal: AbortSignal): Promise<EntriesToRestore> {
  const requireEncryption = options.encrypted === true;
  const own = await readIndex({ backend: options.backend, prefix, options: { encryption: requireEncryption }, keyring: options.keyring, signal }).catch((error: unknown) => {
    // The prefix is an object: there is no folder to restore (the index's own name is not the user's business).
    if (error instanceof TaskforgeError && error.code === ErrorCode.NOT_A_DIRECTORY) throw notAFolder(prefix, 'a file');
    throw error;
  });
  if (own.entries.size > 0) return { entries: marked(own.entries, own.encrypted), packPrefix: prefix, unopened: [] };
  const tree = await findTree(options.backend, prefix, { keyring: () => options.keyring, requireEncryption, signal }, true);
  const base = tree === undefined ? undefined : inTree(tree.prefix, prefix);
  if (tree !== undefined && base !== undefined) {
    const part = new Map<string, IndexEntry>();
    for (const [path, entry] of tree.index) {
      if (path === base) part.set('', entry);
      else if (path.startsWith(`${base}/`)) part.set(path.slice(base.length + 1), entry);
    }
    const top = part.get('');
    if (top?.kind === 'file' || top?.kind === 'symlink') throw notAFolder(prefix, top.kind === 'file' ? 'a file of the tree' : 'a link of the tree');
    if (part.size > 0) return { entries: marked(part, tree.encrypted), packPrefix: tree.prefix, unopened: [] };
  }
  return fromListing(options, prefix, signal);
}

/** What a restore restores: its entries by path relative to the restore's prefix, the folder their packs' names are relative to, and the trees below whose index could not be opened. */
interface EntriesToRestore {
  readonly entries: ReadonlyMap<string, RestoreEntry>;
  readonly packPrefix: string;
  readonly unopened: readonly (readonly [string, TaskforgeError])[];
}

/** A tree's entries, each marked when the tree is encrypted: its index is, so every object and pack of it must be (a plain one put in place is refused, asked or not). */
function marked(entries: ReadonlyMap<string, IndexEntry>, encrypted: boolean): ReadonlyMap<string, RestoreEntry> {
  if (!encrypted) return entries;
  return new Map([...entries].map(([path, entry]) => [path, { ...entry, mustBeEncrypted: true as const }]));
}

function notAFolder(prefix: string, what: 'a file' | 'a file of the tree' | 'a link of the tree'): TaskforgeError {
  // (A tree's link is no object: it comes back with a restore of the folder it is in.)
  const instead = what === 'a link of the tree' ? 'restore the folder it is in' : 'read it without --recursive';
  return new TaskforgeError(ErrorCode.NOT_A_DIRECTORY, `restore of '${prefix}' failed: it is ${what}, not a folder (${instead})`, { details: { path: prefix } });
}

function folderInPlace(host: string): TaskforgeError {
  return new TaskforgeError(ErrorCode.IS_A_DIRECTORY, `a folder is in its place at '${host}' (a restore removes no folder)`);
}

/**
 * What is stored under a prefix that is no tree: its objects, as files with
 * the default mode and the time of now (a tree stored without an index, by
 * single writes), and the trees stored below it, each as its index records
 * it (modes, times, links, and the files in its packs, whose names become
 * relative to `prefix`). A tree inside another is restored over it: what
 * both name is the inner one's. A tree whose index the keys given cannot
 * open is left out whole, and told.
 */
async function fromListing(options: RestoreTreeOptions, prefix: string, signal: AbortSignal): Promise<EntriesToRestore> {
  const { backend, keyring } = options;
  const { objects, treeFolders } = await listStoredAndTrees(backend, prefix, signal);
  const entries = new Map<string, RestoreEntry>();
  const now = Date.now();
  for (const [path, object] of objects) {
    entries.set(path, { kind: 'file', size: -1, mtimeMs: now, mode: 0o644, stored: { size: object.size, modifiedAt: new Date(now).toISOString() } });
  }
  const shallowestFirst = [...treeFolders].sort((a, b) => a.split('/').length - b.split('/').length);
  const indexes = await Promise.all(
    shallowestFirst.map(async (folder) => {
      try {
        return await readIndex({ backend, prefix: childPath(prefix, folder), options: { encryption: options.encrypted === true }, keyring, signal });
      } catch (error) {
        if (error instanceof TaskforgeError && error.code === ErrorCode.KEY_NOT_FOUND) return error;
        throw error;
      }
    }),
  );
  const unopened: [string, TaskforgeError][] = [];
  shallowestFirst.forEach((folder, at) => {
    const index = indexes[at];
    if (index === undefined) return;
    if (index instanceof TaskforgeError) {
      unopened.push([folder, index]);
      for (const path of entries.keys()) if (path.startsWith(`${folder}/`)) entries.delete(path);
      return;
    }
    for (const [path, entry] of marked(index.entries, index.encrypted)) {
      const moved = entry.kind === 'file' && entry.pack !== undefined ? { ...entry, pack: { ...entry.pack, name: `${folder}/${entry.pack.name}` } } : entry;
      entries.set(path === '' ? folder : `${folder}/${path}`, moved);
    }
  });
  return { entries, packPrefix: prefix, unopened };
}

/** A path from an index, which may have been tampered with: refused unless it is a plain relative path inside the tree. */
function checkRelative(path: string): void {
  const parsed = parseStoragePath(`/${path}`);
  if (parsed !== `/${path}`) throw new TaskforgeError(ErrorCode.PATH_OUTSIDE_ROOT, `the tree index names '${path}', which is not a plain path inside the tree`, { details: { path } });
}

/**
 * The folders of a restore, made as it goes: each one checked, once, to be
 * a real folder and not a link, so that nothing is ever written through a
 * link that was in the destination (or that a tampered index put there).
 */
class SafeFolders {
  readonly #root: string;
  readonly #made = new Map<string, Promise<boolean>>();
  readonly #swept = new Map<string, Promise<void>>();

  constructor(root: string) {
    this.#root = root;
  }

  /**
   * Removes, once per run, the temporary files that a killed restore left
   * in a folder that was there before this run: called before a file is
   * written into it (a killed restore was writing files that are therefore
   * not in place now), so a run that writes nothing there reads no folder.
   */
  sweep(path: string): Promise<void> {
    let swept = this.#swept.get(path);
    if (swept === undefined) {
      // (Housekeeping: a folder that cannot be read for it fails nothing; the write that follows says what is wrong, if anything.)
      swept = removeDeadWritersFiles(path === '' ? this.#root : join(this.#root, ...path.split('/'))).then(
        () => undefined,
        () => undefined,
      );
      this.#swept.set(path, swept);
    }
    return swept;
  }

  /**
   * Makes the folder (and those above it) once per run. Resolves true when
   * this run created it: then nothing in it predates the run, and a file
   * restored into it needs no check of what is there.
   */
  make(path: string): Promise<boolean> {
    let made = this.#made.get(path);
    if (made === undefined) {
      made = this.#make(path);
      this.#made.set(path, made);
    }
    return made;
  }

  async #make(path: string): Promise<boolean> {
    if (path !== '') await this.make(parentOf(path));
    const host = path === '' ? this.#root : join(this.#root, ...path.split('/'));
    const created =
      path === ''
        ? await makeDestination(host)
        : await mkdir(host).then(
            () => true,
            (error: unknown) => {
              if ((error as NodeJS.ErrnoException).code !== 'EEXIST') throw error;
              return false;
            },
          );
    if (created) return true;
    const stats = await lstat(host);
    if (!stats.isDirectory()) throw new TaskforgeError(ErrorCode.NOT_A_DIRECTORY, `restore into '${path === '' ? this.#root : path}' refused: it is ${stats.isSymbolicLink() ? 'a link' : 'not a folder'}, and nothing is written through one`, { details: { path } });
    return false;
  }
}

/** Makes the destination and the folders above it that are missing (see makeFolders); true when it made the destination. A failure is a coded error naming it. */
async function makeDestination(destination: string): Promise<boolean> {
  try {
    return await makeFolders(destination);
  } catch (error) {
    const { code } = fromSystemError(error, { operation: 'mkdir', path: destination });
    throw new TaskforgeError(code, `restore into '${destination}' failed: the folder cannot be made there: ${systemErrorReason(error, LOCAL_FILE_WORDS)}`, { cause: error, details: { path: destination } });
  }
}

/** The folder a relative path is in: '' for the tree's top. */
function parentOf(path: string): string {
  const slash = path.lastIndexOf('/');
  return slash < 0 ? '' : path.slice(0, slash);
}
