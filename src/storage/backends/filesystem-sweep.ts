import { lstat, opendir, readdir, unlink } from 'node:fs/promises';
import { join } from 'node:path';
import { errnoOf } from '../../core/system-errors.js';
import { RESERVED_PREFIX } from '../storage-path.js';
import { ownerOf, TEMPORARY_PREFIX } from './temporary-file.js';

const METADATA_PREFIX = `${RESERVED_PREFIX}meta-`;

/** What a sweep removed, and what it left because a writer may still need it. */
export interface SweepReport {
  /** Temporary files of writes that never finished (the writer crashed or was killed). */
  readonly temporaryFiles: number;
  /** Metadata files whose object no longer exists. */
  readonly orphanedMetadata: number;
  /** Bytes the removed files took. */
  readonly bytesFreed: number;
  /** Temporary files kept: their writer is running, or they are too recent to tell. */
  readonly kept: number;
}

/**
 * Removes what killed writers leave behind under `directory`. A temporary
 * file goes at once when it names a writer of this machine that no longer
 * runs, never while that writer runs, and otherwise (another machine's
 * file) once it has not been modified for `olderThanMs` (a live write
 * touches its file with every chunk). Metadata files whose object is gone
 * go after the same age. Symlinks are not followed. Safe to run while other
 * writes are under way.
 */
export async function sweepLeftovers(directory: string, olderThanMs: number): Promise<SweepReport> {
  const report = { temporaryFiles: 0, orphanedMetadata: 0, bytesFreed: 0, kept: 0 };
  const cutoff = Date.now() - olderThanMs;
  const visit = async (current: string): Promise<void> => {
    let entries;
    try {
      entries = await opendir(current);
    } catch (error) {
      if (errnoOf(error) === 'ENOENT') return;
      throw error;
    }
    const names = new Set<string>();
    const metadataNames: string[] = [];
    for await (const entry of entries) {
      const hostPath = join(current, entry.name);
      if (entry.isDirectory()) {
        await visit(hostPath);
      } else if (entry.name.startsWith(TEMPORARY_PREFIX)) {
        const owner = ownerOf(entry.name);
        const freed = owner === 'running' ? undefined : await removeIfOlder(hostPath, owner === 'gone' ? Number.POSITIVE_INFINITY : cutoff);
        if (freed === undefined) report.kept += 1;
        else {
          report.temporaryFiles += 1;
          report.bytesFreed += freed;
        }
      } else if (entry.name.startsWith(METADATA_PREFIX)) {
        metadataNames.push(entry.name);
      }
      names.add(entry.name);
    }
    for (const name of metadataNames) {
      const object = name.slice(METADATA_PREFIX.length);
      // Hashed names (h-...) cannot be traced back to their object; they are left.
      if (object.startsWith('h-') || names.has(object)) continue;
      const freed = await removeIfOlder(join(current, name), cutoff);
      if (freed !== undefined) {
        report.orphanedMetadata += 1;
        report.bytesFreed += freed;
      }
    }
  };
  await visit(directory);
  return report;
}

/** Removes the file if it was last modified before `cutoff`: its size, or undefined when it was kept or already gone. */
async function removeIfOlder(hostPath: string, cutoff: number): Promise<number | undefined> {
  try {
    const stats = await lstat(hostPath);
    if (stats.mtimeMs > cutoff) return undefined;
    await unlink(hostPath);
    return stats.size;
  } catch (error) {
    if (errnoOf(error) === 'ENOENT') return undefined; // another sweep or the writer got there first
    throw error;
  }
}

/**
 * Removes, in `directory` only (not below it), the temporary files of
 * writers of this machine that no longer run: what a killed restore left
 * beside the files it was replacing. Those of running writers and of other
 * machines stay (a sweep with an age settles those).
 */
export async function removeDeadWritersFiles(directory: string): Promise<number> {
  let removed = 0;
  for (const name of await readdir(directory)) {
    if (!name.startsWith(TEMPORARY_PREFIX) || ownerOf(name) !== 'gone') continue;
    if ((await removeIfOlder(join(directory, name), Number.POSITIVE_INFINITY)) !== undefined) removed += 1;
  }
  return removed;
}
