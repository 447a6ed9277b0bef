import type { BigIntStats } from 'node:fs';
import { linkSync, lstatSync, mkdirSync, openSync, renameSync, statSync, unlinkSync } from 'node:fs';
import { link, lstat, mkdir, rename, stat, statfs, unlink } from 'node:fs/promises';
import { errnoOf } from '../../core/system-errors.js';
import { openFd } from './fd-calls.js';

/**
 * The calls on names (create, rename, link, unlink, mkdir, stat) that
 * writes and cache checks make, in one of two ways: through libuv's thread
 * pool, or on the calling thread.
 * On a local disk file system these calls are answered from the kernel's
 * memory (the directory was just looked up, the inode is new) in a few
 * microseconds, while a trip through the pool costs tens, and on two cores
 * far more in wake-ups and futexes: 10,000 4 KiB durable writes ran 2,745/s
 * with every call through the pool and 4,698/s with only the fsyncs and
 * data through it (measured with the call pattern of a write, 2026-12-06).
 * Where the file system may wait on a network or a daemon (NFS, SMB, FUSE),
 * every call goes through the pool, so that the event loop never waits.
 */
export interface PathCalls {
  /** True when the calls are made on the calling thread; a few KiB of data are then written the same way (a copy into the page cache). */
  readonly immediate: boolean;
  open(path: string, flags: number, mode?: number): Promise<number>;
  rename(from: string, to: string): Promise<void>;
  link(existing: string, name: string): Promise<void>;
  unlink(path: string): Promise<void>;
  /** Makes one directory (EEXIST when something is there). */
  mkdir(path: string): Promise<void>;
  /** The entry at `path` (a link is not followed), or undefined when nothing is there. */
  lstat(path: string): Promise<BigIntStats | undefined>;
  /** What `path` leads to (links followed), or undefined when nothing is there. */
  stat(path: string): Promise<BigIntStats | undefined>;
}

/** Every call through the thread pool. */
export const POOLED_CALLS: PathCalls = {
  immediate: false,
  open: (path, flags, mode) => openFd(path, flags, mode),
  rename: (from, to) => rename(from, to),
  link: (existing, name) => link(existing, name),
  unlink: (path) => unlink(path),
  mkdir: async (path) => {
    await mkdir(path);
  },
  lstat: (path) => lstat(path, { bigint: true }).then(present, absentOnMissing),
  stat: (path) => stat(path, { bigint: true }).then(present, absentOnMissing),
};

/** Every call made at once on the calling thread; the answer (or the error, with the same code) as a promise. */
export const IMMEDIATE_CALLS: PathCalls = {
  immediate: true,
  open: (path, flags, mode) => settled(() => openSync(path, flags, mode)),
  rename: (from, to) => settled(() => {
    renameSync(from, to);
  }),
  link: (existing, name) => settled(() => {
    linkSync(existing, name);
  }),
  unlink: (path) => settled(() => {
    unlinkSync(path);
  }),
  mkdir: (path) => settled(() => {
    mkdirSync(path);
  }),
  lstat: (path) => settled(() => lstatSync(path, { bigint: true, throwIfNoEntry: false })),
  stat: (path) => settled(() => statSync(path, { bigint: true, throwIfNoEntry: false })),
};

/**
 * File systems on a local disk or in memory, by the magic number statfs
 * gives: ext2/3/4, XFS, Btrfs, tmpfs, F2FS, overlayfs (containers), ZFS,
 * bcachefs.
 */
const LOCAL_FILE_SYSTEMS = new Set([0xef53, 0x58465342, 0x9123683e, 0x01021994, 0xf2f52010, 0x794c7630, 0x2fc12fc1, 0xca451a4e]);

/** The calls for the file system that holds `directory`: immediate on a local one, pooled on any other or when it cannot be told. */
export async function pathCallsFor(directory: string): Promise<PathCalls> {
  try {
    const { type } = await statfs(directory);
    return LOCAL_FILE_SYSTEMS.has(type) ? IMMEDIATE_CALLS : POOLED_CALLS;
  } catch {
    return POOLED_CALLS;
  }
}

function settled<T>(call: () => T): Promise<T> {
  try {
    return Promise.resolve(call());
  } catch (error) {
    // Node's own error, with its code and errno, as the pooled call would reject with.
    return Promise.reject(error instanceof Error ? error : new Error(String(error)));
  }
}

function present(stats: BigIntStats): BigIntStats {
  return stats;
}

function absentOnMissing(error: unknown): undefined {
  if (errnoOf(error) === 'ENOENT') return undefined;
  throw error;
}
