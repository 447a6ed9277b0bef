import { lstat, opendir, unlink } from 'node:fs/promises';
import { join } from 'node:path';
import { errnoOf } from '../../core/system-errors.js';
import { RESERVED_PREFIX } from '../storage-path.js';

const TEMPORARY_PREFIX = `${RESERVED_PREFIX}tmp-`;
const METADATA_PREFIX = `${RESERVED_PREFIX}meta-`;

/** What a sweep removed. */
export interface SweepReport {
  /** Temporary files of writes that never finished (the writer crashed or was killed). */
  readonly temporaryFiles: number;
  /** Metadata files whose object no longer exists. */
  readonly orphanedMetadata: number;
}

/**
 * Removes what killed writers leave behind under `directory`: temporary
 * files not modified for `olderThanMs` (a live write touches its file with
 * every chunk) and metadata files whose object is gone. Symlinks are not
 * followed. Safe to run while other writes are under way.
 */
export async function sweepLeftovers(directory: string, olderThanMs: number): Promise<SweepReport> {
  let temporaryFiles = 0;
  let orphanedMetadata = 0;
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
        if (await removeIfOlder(hostPath, cutoff)) temporaryFiles += 1;
      } else if (entry.name.startsWith(METADATA_PREFIX)) {
        metadataNames.push(entry.name);
      }
      names.add(entry.name);
    }
    for (const name of metadataNames) {
      const object = name.slice(METADATA_PREFIX.length);
      // Hashed names (h-...) cannot be traced back to their object; they are left.
      if (object.startsWith('h-') || names.has(object)) continue;
      if (await removeIfOlder(join(current, name), cutoff)) orphanedMetadata += 1;
    }
  };
  await visit(directory);
  return { temporaryFiles, orphanedMetadata };
}

async function removeIfOlder(hostPath: string, cutoff: number): Promise<boolean> {
  try {
    const stats = await lstat(hostPath);
    if (stats.mtimeMs > cutoff) return false;
    await unlink(hostPath);
    return true;
  } catch (error) {
    if (errnoOf(error) === 'ENOENT') return false; // another sweep or the writer got there first
    throw error;
  }
}
