import type { BigIntStats } from 'node:fs';
import { constants, lstatSync, openSync, statSync } from 'node:fs';
import { link, lstat, mkdir, rename, stat, statfs, unlink } from 'node:fs/promises';
import { errnoOf } from '../../core/system-errors.js';
import { openFd } from './fd-calls.js';

/**
 * The calls on names (create, rename, link, unlink, mkdir, stat) that
 * writes, reads and cache checks make, in one of two ways.
 * A lookup (stat, lstat, an O_PATH open) on a local disk file system is
 * answered from the kernel's memory in microseconds, while a trip through
 * libuv's thread pool costs tens, and on two cores far more in wake-ups:
 * lookups are made at once there. A call that changes a directory (create,
 * rename, link, unlink, mkdir) costs the kernel 100-300 µs on this disk,
 * time the event loop would not serve anything else: these go to the pool
 * on every file system. Measured 2026-12-06 with `taskforge serve` taking
 * 10,000 writes over HTTP: 3,500-3,730 submissions/s with the changes made
 * at once, 5,260-5,310 with only the lookups at once, 5,540-5,610 with
 * everything pooled; and 10,000 writes through `run` at the same rate all
 * three ways. Where the file system may wait on a network or a daemon
 * (NFS, SMB, FUSE), every call goes through the pool, so that the event
 * loop never waits.
 */
export interface PathCalls {
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

/** Lookups made at once on the calling thread (the answer, or the error with the same code, as a promise); changes through the pool. */
export const LOCAL_DISK_CALLS: PathCalls = {
  ...POOLED_CALLS,
  open: (path, flags, mode) => ((flags & constants.O_CREAT) === 0 ? settled(() => openSync(path, flags, mode)) : openFd(path, flags, mode)),
  lstat: (path) => settled(() => lstatSync(path, { bigint: true, throwIfNoEntry: false })),
  stat: (path) => settled(() => statSync(path, { bigint: true, throwIfNoEntry: false })),
};

/**
 * File systems on a local disk or in memory, by the magic number statfs
 * gives: ext2/3/4, XFS, Btrfs, tmpfs, F2FS, overlayfs (containers), ZFS,
 * bcachefs.
 */
const LOCAL_FILE_SYSTEMS = new Set([0xef53, 0x58465342, 0x9123683e, 0x01021994, 0xf2f52010, 0x794c7630, 0x2fc12fc1, 0xca451a4e]);

/** The calls for the file system that holds `directory`: lookups at once on a local one, everything pooled on any other or when it cannot be told. */
export async function pathCallsFor(directory: string): Promise<PathCalls> {
  try {
    const { type } = await statfs(directory);
    return LOCAL_FILE_SYSTEMS.has(type) ? LOCAL_DISK_CALLS : POOLED_CALLS;
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
