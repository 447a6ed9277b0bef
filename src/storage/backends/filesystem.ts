import type { BigIntStats, Dir } from 'node:fs';
import { closeSync, constants, createReadStream, fstatSync, openSync } from 'node:fs';
import { opendir, realpath, rm, stat, unlink } from 'node:fs/promises';
import { basename, dirname, join } from 'node:path';
import { Readable } from 'node:stream';
import { throwIfAborted } from '../../core/abort.js';
import { ErrorCode, TaskforgeError } from '../../core/errors.js';
import { KeyedMutex } from '../../core/keyed-mutex.js';
import { errnoOf } from '../../core/system-errors.js';
import type { EntryType, ListEntry, ListOptions, ListPage, ObjectInfo, ObjectMetadata, OpenedObject, StorageBackend, WriteOptions } from '../backend.js';
import { encodeCursor, PageCollector } from '../list-pager.js';
import { isListedName, isStorageName } from '../storage-name.js';
import { childPath, ROOT_PATH } from '../storage-path.js';
import { FileSystemRoot, type Parent } from './filesystem-root.js';
import { fileIdentity, readSidecar, removeSidecar, writeSidecar } from './filesystem-sidecar.js';
import { alreadyExists, isDirectory, notFound } from './tree-errors.js';
import { sweepLeftovers, type SweepReport } from './filesystem-sweep.js';
import { temporaryName } from './temporary-file.js';
import { DirectorySnapshots, type SnapshotEntry } from './directory-snapshots.js';
import { DirectorySyncs } from './directory-syncs.js';
import { writeDurableFile } from './durable-file.js';
import { openFd, readFd } from './fd-calls.js';
import { MetadataAttributes } from './filesystem-xattr.js';
import { POOLED_CALLS } from './path-calls.js';

/** Options of {@link FileSystemBackend}. */
export interface FileSystemBackendOptions {
  /** The directory that holds every object; created on the first write. */
  readonly root: string;
  /**
   * Where an object's metadata (the content kind of a plain text or JSON
   * object) is kept. `attributes` (the default): an extended attribute of the
   * object's own file, made durable by the object's own fsync; where the file
   * system or the installation has none, a sidecar file. `sidecars`: always a
   * `.taskforge-meta-NAME` file beside the object, for stores copied by tools
   * that drop extended attributes. Reads find either.
   */
  readonly metadataIn?: 'attributes' | 'sidecars';
}

/** Read streams move 256 KiB at a time (one container frame): few syscalls and hops, bounded memory. */
const READ_CHUNK_BYTES = 256 * 1024;
/**
 * Objects up to this size are read whole, into a buffer of their size, and
 * their descriptor closed before the body is handed over: a restore of many
 * small files is this path, where a stream and its 256 KiB buffer cost more
 * than the read.
 */
const WHOLE_READ_BYTES = 256 * 1024;
/** A temporary file untouched this long belongs to a writer that is gone. */
const DEFAULT_SWEEP_AGE_MS = 15 * 60 * 1000;
/** Stats run this many at a time when a list page is filled in. */
const STAT_BATCH = 64;


interface Candidate {
  readonly path: string;
  readonly name: string;
  readonly hostPath: string;
}

/**
 * Objects as files under a root directory. Writes are atomic and durable: a
 * temporary file in the same directory, fsync, rename, fsync of the
 * directory, so a reader or a crash sees the old object or the new one,
 * whole. Symlinks that lead out of the root are refused; taskforge's own
 * temporary and metadata files (`.taskforge-*`) never show in a listing.
 */
export class FileSystemBackend implements StorageBackend {
  readonly name: string;
  /** Backends on one root directory see the same files. */
  readonly identity: string;
  readonly #root: FileSystemRoot;

  /** The directory that holds every object (resolved, not created). */
  get rootDirectory(): string {
    return this.#root.directory;
  }
  /** Writes and deletes of one path through this backend go one at a time, so their metadata stays paired. */
  readonly #pathLocks = new KeyedMutex();
  /** Directory syncs shared by writes that finish together in one directory (group commit). */
  readonly #directorySyncs = new DirectorySyncs();
  readonly #attributes: MetadataAttributes;
  /** Directories listed page by page are read once while they stay unchanged. */
  readonly #snapshots = new DirectorySnapshots();

  constructor(options: FileSystemBackendOptions) {
    // (An empty root would be the working directory, unasked: a setting read from an unset variable, most likely.)
    if (options.root === '') throw new TaskforgeError(ErrorCode.VALIDATION_ERROR, "root: expected a folder (got ''; '.' is the working directory)", { details: { field: 'root' } });
    this.#root = new FileSystemRoot(options.root);
    this.#attributes = options.metadataIn === 'sidecars' ? new MetadataAttributes(() => Promise.resolve(undefined)) : new MetadataAttributes();
    this.name = `fs:${this.#root.directory}`;
    this.identity = this.name;
  }

  /** The absolute root directory. */
  get root(): string {
    return this.#root.directory;
  }

  /**
   * Removes temporary files that crashed or killed writers left behind, and
   * metadata files whose object is gone: they never show in a listing, but
   * they take disk space. A temporary file of a writer of this machine that
   * no longer runs goes at once; one whose writer runs is kept; any other
   * once not modified for `olderThanMs` (default 15 minutes).
   */
  async sweepLeftovers(options: { readonly olderThanMs?: number } = {}): Promise<SweepReport> {
    const root = await this.#root.real(false);
    if (root === undefined) return { temporaryFiles: 0, orphanedMetadata: 0, bytesFreed: 0, kept: 0 };
    return sweepLeftovers(root, options.olderThanMs ?? DEFAULT_SWEEP_AGE_MS);
  }

  async stat(path: string): Promise<ObjectInfo | undefined> {
    const located = await this.#root.locate(path);
    if (located !== undefined) {
      try {
        // fstat and the attribute through the descriptor: in memory, synchronously (see durable-file.ts).
        const stats = fstatSync(located.fd, { bigint: true });
        if (stats.isDirectory()) throw isDirectory('stat', path);
        if (!stats.isFile()) return undefined;
        return infoOf(stats, await this.#metadataOf(located.real, stats, located.fd));
      } finally {
        closeSync(located.fd);
      }
    }
    let hostPath: string;
    let stats: BigIntStats;
    try {
      hostPath = await this.#root.target(path);
      stats = await stat(hostPath, { bigint: true });
    } catch (error) {
      if (errnoOf(error) === 'ENOENT') return undefined;
      throw error;
    }
    if (stats.isDirectory()) throw isDirectory('stat', path);
    if (!stats.isFile()) return undefined;
    return infoOf(stats, await this.#metadataOf(hostPath, stats));
  }

  /**
   * One stat of the path as given, links followed, and no containment
   * check: what it compares with is the identity (inode, size, mtime in ns)
   * of a file that a contained read returned. A match means that very file,
   * unchanged, whatever route leads to it now, so serving what was read
   * from it reveals nothing from outside the root; any other answer, or an
   * error, is false, and the caller's read decides. (A containment check
   * first would cost a second lookup per cache hit.)
   */
  isCurrent(path: string, version: string): Promise<boolean> {
    const hostPath = this.#root.unresolved(path);
    if (hostPath === undefined) return Promise.resolve(false);
    // (At once on a local disk, see path-calls.ts: the check is one lookup in memory.)
    return this.#root.calls.stat(hostPath).then(
      (stats) => stats?.isFile() === true && fileIdentity(stats) === version,
      () => false,
    );
  }

  async read(path: string, options?: { readonly whole?: boolean }): Promise<OpenedObject> {
    const { fd, hostPath } = await this.#openForRead(path);
    let handedOver = false;
    try {
      // fstat and close synchronously: they touch only the open file's inode (see durable-file.ts).
      const stats = fstatSync(fd, { bigint: true });
      if (stats.isDirectory()) throw isDirectory('read', path);
      // A FIFO, socket or device is no object (a listing leaves it out too).
      if (!stats.isFile()) throw notFound('read', path);
      const info = infoOf(stats, await this.#metadataOf(hostPath, stats, fd));
      // (A pack of a tree, read whole, is one read into a buffer of its size: a stream's pieces joined were a copy of every pack.)
      if (info.size <= WHOLE_READ_BYTES || options?.whole === true) {
        const bytes = await readWhole(fd, info.size);
        // The stream is made only for a caller that asks for it: most take the bytes.
        return {
          info,
          bytes,
          get body() {
            return bodyOf(bytes);
          },
        };
      }
      const body = createReadStream(hostPath, { fd, highWaterMark: READ_CHUNK_BYTES, autoClose: true });
      handedOver = true;
      return { info, body };
    } finally {
      if (!handedOver) closeSync(fd);
    }
  }

  write(path: string, body: AsyncIterable<Uint8Array>, options: WriteOptions): Promise<ObjectInfo> {
    if (path === ROOT_PATH) return Promise.reject(isDirectory('write', path));
    return this.#pathLocks.run(path, () => this.#write(path, body, options));
  }

  delete(path: string, options: { readonly signal: AbortSignal; readonly recursive: boolean }): Promise<{ deleted: boolean }> {
    return this.#pathLocks.run(path, () => this.#delete(path, options));
  }

  async list(path: string, options: ListOptions): Promise<ListPage> {
    const root = await this.#root.real(false);
    if (root === undefined && path === ROOT_PATH) return { entries: [] };
    const hostPath = await this.#root.target(path);
    const stats = await stat(hostPath, { bigint: true });
    if (!stats.isDirectory()) {
      throw new TaskforgeError(ErrorCode.NOT_A_DIRECTORY, `list of '${path}' failed: it is a file, not a directory`, { details: { path } });
    }
    if (!options.recursive) {
      const entries = await this.#snapshots.entries(hostPath, stats, options.signal);
      if (entries !== undefined) return this.#pageOf(root ?? hostPath, hostPath, path, entries, options);
    }
    const collector = new PageCollector<Candidate>(options.limit, options.after);
    await this.#walk(root ?? hostPath, hostPath, path, collector, options);
    const { items, hasMore } = collector.finish();
    const entries = await describeEntries(items, options.signal);
    const last = items.at(-1);
    return hasMore && last !== undefined ? { entries, cursor: encodeCursor(last.path) } : { entries };
  }

  /** One page of a directory's entries, from its sorted snapshot: found by the cursor, not by walking it again. */
  async #pageOf(root: string, hostDirectory: string, directoryPath: string, entries: readonly SnapshotEntry[], options: ListOptions): Promise<ListPage> {
    // The paths share the directory's prefix, so their order is that of the names.
    let index = firstAfter(entries, directoryPath, options.after);
    const items: Candidate[] = [];
    let hasMore = false;
    for (; index < entries.length; index += 1) {
      throwIfAborted(options.signal);
      const entry = entries[index];
      if (entry === undefined) break;
      const hostPath = join(hostDirectory, entry.name);
      if (entry.kind === 'symlink' && (await symlinkTargetType(root, hostPath, this.#root)) === undefined) continue;
      if (items.length === options.limit) {
        hasMore = true;
        break;
      }
      items.push({ path: childPath(directoryPath, entry.name), name: entry.name, hostPath });
    }
    const described = await describeEntries(items, options.signal);
    const last = items.at(-1);
    return hasMore && last !== undefined ? { entries: described, cursor: encodeCursor(last.path) } : { entries: described };
  }

  async #write(path: string, body: AsyncIterable<Uint8Array>, options: WriteOptions): Promise<ObjectInfo> {
    const parent = await this.#root.parentOf(path, true);
    try {
      return await this.#writeIn(parent, path, body, options);
    } finally {
      parent.release();
    }
  }

  async #writeIn(parent: Parent, path: string, body: AsyncIterable<Uint8Array>, options: WriteOptions): Promise<ObjectInfo> {
    const calls = this.#root.calls;
    // Every name below is reached through the parent held (see FileSystemRoot.parentOf).
    const hostPath = join(parent.directory, parent.name);
    const hasMetadata = Object.keys(options.metadata).length > 0;
    // An overwrite needs nothing from what is there now (rename onto a
    // directory fails by itself), and every syscall counts for small writes.
    const current = options.overwrite ? undefined : await calls.lstat(hostPath);
    if (current?.isDirectory() === true) throw isDirectory('write', path);
    if (current !== undefined && !options.overwrite) throw alreadyExists(path);
    const temporary = join(parent.directory, temporaryName());
    let committed = false;
    try {
      const { stats, recorded } = await writeDurableFile(temporary, body, options, this.#attributes, calls);
      throwIfAborted(options.signal);
      await options.beforeCommit?.();
      if (!recorded && hasMetadata) {
        const replaced = current ?? (await calls.lstat(hostPath));
        await writeSidecar(hostPath, fileIdentity(stats), options.metadata, replaced?.isFile() === true ? fileIdentity(replaced) : undefined);
        // The sidecar took a sync: asked again, so that as little as possible falls between check and rename.
        await options.beforeCommit?.();
      }
      if (options.overwrite) {
        await calls.rename(temporary, hostPath);
      } else {
        // link() fails if the name exists, which makes the check and the
        // commit one atomic step even against other processes.
        await calls.link(temporary, hostPath).catch((error: unknown) => {
          throw errnoOf(error) === 'EEXIST' ? alreadyExists(path) : error;
        });
        await calls.unlink(temporary);
      }
      committed = true;
      // (With the metadata in an attribute, an old sidecar is never read again: the attribute is found first.)
      if (!recorded && !hasMetadata) await removeSidecar(hostPath);
      // The entry is durable once its folder is, and every folder made for it is in the folder above.
      if (parent.made.length === 0) await this.#directorySyncs.sync(parent.real);
      else await Promise.all([parent.real, ...parent.made].map(async (folder) => this.#directorySyncs.sync(folder)));
      return infoOf(stats, options.metadata);
    } finally {
      if (!committed) await calls.unlink(temporary).catch(() => undefined);
    }
  }

  /**
   * A descriptor open for reading on the file `path` leads to, inside the
   * root. Where the root can locate it (Linux), that is one trip through the
   * thread pool and the descriptor is of the very file checked; elsewhere
   * the path is resolved first and opened with O_NOFOLLOW, so that a link
   * swapped in since is refused rather than followed. A plain fd, not a
   * FileHandle: fs.ReadStream on an fd reads about 20% faster than
   * FileHandle.createReadStream, which goes through promises per chunk.
   */
  async #openForRead(path: string): Promise<{ fd: number; hostPath: string }> {
    const located = await this.#root.locate(path);
    if (located === undefined) {
      const hostPath = await this.#root.target(path);
      return { fd: await openFd(hostPath, constants.O_RDONLY | constants.O_NOFOLLOW | constants.O_NONBLOCK), hostPath };
    }
    try {
      // Opened again through /proc: the same file, now for reading, with no
      // path looked up again (in memory, so synchronously). O_NONBLOCK: a
      // FIFO placed in the root must not hold the thread; it is no regular file.
      return { fd: openSync(`/proc/self/fd/${String(located.fd)}`, constants.O_RDONLY | constants.O_NONBLOCK), hostPath: located.real };
    } finally {
      closeSync(located.fd);
    }
  }

  /** The metadata of the file at `hostPath`: its attribute, else a sidecar that names it, else none. */
  async #metadataOf(hostPath: string, stats: BigIntStats, fd?: number): Promise<ObjectMetadata> {
    return (await this.#attributes.read(hostPath, fd)) ?? (await readSidecar(hostPath, fileIdentity(stats)));
  }

  async #delete(path: string, options: { readonly signal: AbortSignal; readonly recursive: boolean }): Promise<{ deleted: boolean }> {
    throwIfAborted(options.signal);
    let parent: Parent;
    try {
      // Its folder held, as a write's is (FileSystemRoot.parentOf): the entry removed is in the very folder checked.
      parent = path === ROOT_PATH ? await this.#rootAsEntry() : await this.#root.parentOf(path, false);
    } catch (error) {
      if (errnoOf(error) === 'ENOENT') return { deleted: false };
      throw error;
    }
    try {
      const deleted = await this.#deleteEntry(path, join(parent.directory, parent.name), options);
      if (deleted) await this.#directorySyncs.sync(parent.real);
      return { deleted };
    } finally {
      parent.release();
    }
  }

  /** The root as an entry of the folder above it, by its real path: it has no folder above it to hold. */
  async #rootAsEntry(): Promise<Parent> {
    const hostPath = await this.#root.entry(ROOT_PATH, false);
    return {
      directory: dirname(hostPath),
      real: dirname(hostPath),
      name: basename(hostPath),
      made: [],
      release: () => {
        // Nothing is held.
      },
    };
  }

  /** Removes what is at `hostPath` (a link itself, never what it leads to); false when nothing is there. */
  async #deleteEntry(path: string, hostPath: string, options: { readonly recursive: boolean }): Promise<boolean> {
    const stats = await POOLED_CALLS.lstat(hostPath);
    if (stats === undefined) return false;
    if (stats.isDirectory()) {
      if (!options.recursive) throw isDirectory('delete', path, ' (use recursive to remove it)');
      // rm removes symlinks found inside rather than following them.
      await rm(hostPath, { recursive: true });
    } else {
      await unlink(hostPath);
      await removeSidecar(hostPath);
    }
    return true;
  }

  async #walk(root: string, hostDirectory: string, directoryPath: string, collector: PageCollector<Candidate>, options: ListOptions): Promise<void> {
    let directory: Dir;
    try {
      directory = await opendir(hostDirectory, { bufferSize: 256 });
    } catch (error) {
      // A subdirectory removed while the walk was under way is simply gone.
      if (errnoOf(error) === 'ENOENT' && directoryPath !== ROOT_PATH) return;
      throw error;
    }
    for await (const dirent of directory) {
      throwIfAborted(options.signal);
      if (!isListedName(dirent.name, options.recursive && options.treeIndexes)) continue;
      const path = childPath(directoryPath, dirent.name);
      const hostPath = join(hostDirectory, dirent.name);
      let type: EntryType | undefined;
      if (dirent.isDirectory()) type = 'directory';
      else if (dirent.isFile()) type = 'file';
      else if (dirent.isSymbolicLink()) {
        if (!collector.wants(path)) continue;
        type = await symlinkTargetType(root, hostPath, this.#root);
      }
      // (A folder that takes a tree index's name is no index: hidden, as every reserved name.)
      if (type === undefined || (type === 'directory' && !isStorageName(dirent.name))) continue;
      collector.add({ path, name: dirent.name, hostPath });
      // Symlinked directories are listed but not entered: a link to an
      // ancestor would otherwise loop for ever.
      if (type === 'directory' && dirent.isDirectory() && options.recursive && collector.wantsDescendantsOf(path)) {
        await this.#walk(root, hostPath, path, collector, options);
      }
    }
  }
}

/** The first `size` bytes of the open file (fewer if it has shrunk since its size was taken). */
async function readWhole(fd: number, size: number): Promise<Buffer> {
  const bytes = Buffer.allocUnsafe(size);
  let filled = 0;
  while (filled < size) {
    const { bytesRead } = await readFd(fd, bytes, filled, size - filled, filled);
    if (bytesRead === 0) break;
    filled += bytesRead;
  }
  return filled < size ? bytes.subarray(0, filled) : bytes;
}

/** A body that hands over bytes already read. */
function bodyOf(bytes: Buffer): Readable {
  const body = new Readable({
    read() {
      // Nothing to fetch: every byte was pushed when the body was made.
    },
  });
  if (bytes.byteLength > 0) body.push(bytes);
  body.push(null);
  return body;
}

/** The type a symlink leads to, or undefined when it leads out of the root or nowhere. */
async function symlinkTargetType(root: string, hostPath: string, fsRoot: FileSystemRoot): Promise<EntryType | undefined> {
  try {
    const real = await realpath(hostPath);
    if (!fsRoot.contains(root, real)) return undefined;
    const stats = await stat(real);
    return stats.isDirectory() ? 'directory' : stats.isFile() ? 'file' : undefined;
  } catch {
    return undefined;
  }
}

/** The index of the first entry whose path sorts after `after` (0 without one). */
function firstAfter(entries: readonly SnapshotEntry[], directoryPath: string, after: string | undefined): number {
  if (after === undefined) return 0;
  let low = 0;
  let high = entries.length;
  while (low < high) {
    const middle = (low + high) >>> 1;
    if (childPath(directoryPath, entries[middle]?.name ?? '') <= after) low = middle + 1;
    else high = middle;
  }
  return low;
}

async function describeEntries(items: readonly Candidate[], signal: AbortSignal): Promise<ListEntry[]> {
  const entries: ListEntry[] = [];
  for (let start = 0; start < items.length; start += STAT_BATCH) {
    throwIfAborted(signal);
    const batch = items.slice(start, start + STAT_BATCH);
    const described = await Promise.all(
      batch.map(async (item): Promise<ListEntry | undefined> => {
        try {
          // stat follows a symlink, which the walk has checked stays inside the root. The time is cut to the
          // millisecond as a write's result and a stat's (`stats.mtime` would round it: a listing a ms ahead).
          const stats = await stat(item.hostPath);
          const type: EntryType = stats.isDirectory() ? 'directory' : 'file';
          return { name: item.name, path: item.path, type, size: type === 'file' ? stats.size : 0, modifiedAt: new Date(Math.trunc(stats.mtimeMs)).toISOString() };
        } catch (error) {
          if (errnoOf(error) === 'ENOENT') return undefined; // deleted since the walk saw it
          throw error;
        }
      }),
    );
    for (const entry of described) if (entry !== undefined) entries.push(entry);
  }
  return entries;
}

function infoOf(stats: BigIntStats, metadata: ObjectMetadata): ObjectInfo {
  return {
    size: Number(stats.size),
    modifiedAt: new Date(Number(stats.mtimeMs)),
    version: fileIdentity(stats),
    metadata,
  };
}
