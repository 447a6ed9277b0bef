import type { Dirent } from 'node:fs';
import { lstat, readdir, readlink } from 'node:fs/promises';
import { join } from 'node:path';
import { errnoOf } from '../../core/system-errors.js';
import { RESERVED_PREFIX } from '../../storage/storage-path.js';

/** One thing found under a local directory, named by its path relative to it (`a/b.txt`, `/`-separated). */
export type LocalEntry =
  | { readonly kind: 'file'; readonly path: string; readonly size: number; readonly mtimeMs: number; readonly mode: number }
  | { readonly kind: 'directory'; readonly path: string; readonly mtimeMs: number; readonly mode: number }
  | { readonly kind: 'symlink'; readonly path: string; readonly target: string; readonly mtimeMs: number }
  /** Not stored, with why: a FIFO, socket or device; a name taskforge reserves; one that vanished or could not be read. */
  | { readonly kind: 'skipped'; readonly path: string; readonly reason: string };

/**
 * Entries of one directory stat-ed at once: a stat waits on the disk when the
 * inode is not cached, and one at a time left three of the four pool
 * threads idle (a walk of 100,000 unchanged files was mostly waiting).
 */
const STAT_BATCH = 64;

/**
 * Everything under `root`, depth first, each directory's names in code-unit
 * order, the directory before what it holds. Symbolic links are reported
 * as links and never followed, so the walk never leaves the tree. Holds one
 * directory listing per level at a time, and stats up to STAT_BATCH of its
 * entries at once (no descriptor is held for a stat).
 */
export async function* walkTree(root: string): AsyncGenerator<LocalEntry, void, undefined> {
  yield* walkDirectory(root, '');
}

async function* walkDirectory(hostDirectory: string, relative: string): AsyncGenerator<LocalEntry, void, undefined> {
  let names: Dirent[];
  try {
    names = await readdir(hostDirectory, { withFileTypes: true });
  } catch (error) {
    if (relative === '') throw error;
    yield { kind: 'skipped', path: relative, reason: `cannot be listed (${errnoOf(error) ?? String(error)})` };
    return;
  }
  names.sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0));
  for (let start = 0; start < names.length; start += STAT_BATCH) {
    const batch = names.slice(start, start + STAT_BATCH);
    const described = await Promise.all(batch.map((dirent) => describe(hostDirectory, relative, dirent.name)));
    for (const [index, entry] of described.entries()) {
      yield entry;
      if (entry.kind === 'directory') yield* walkDirectory(join(hostDirectory, batch[index]?.name ?? ''), entry.path);
    }
  }
}

/** What the entry `name` of `hostDirectory` is, found without following a link. */
async function describe(hostDirectory: string, relative: string, name: string): Promise<LocalEntry> {
  const path = relative === '' ? name : `${relative}/${name}`;
  const host = join(hostDirectory, name);
  if (name.startsWith(RESERVED_PREFIX)) return { kind: 'skipped', path, reason: `names starting with '${RESERVED_PREFIX}' are reserved for taskforge` };
  let stats;
  try {
    stats = await lstat(host);
  } catch (error) {
    return { kind: 'skipped', path, reason: `vanished or cannot be read (${errnoOf(error) ?? String(error)})` };
  }
  if (stats.isFile()) return { kind: 'file', path, size: stats.size, mtimeMs: stats.mtimeMs, mode: stats.mode & 0o7777 };
  if (stats.isDirectory()) return { kind: 'directory', path, mtimeMs: stats.mtimeMs, mode: stats.mode & 0o7777 };
  if (stats.isSymbolicLink()) {
    try {
      return { kind: 'symlink', path, target: await readlink(host), mtimeMs: stats.mtimeMs };
    } catch (error) {
      return { kind: 'skipped', path, reason: `a link that cannot be read (${errnoOf(error) ?? String(error)})` };
    }
  }
  return { kind: 'skipped', path, reason: `a ${specialKind(stats)}, not a file, directory or link` };
}

function specialKind(stats: { isFIFO(): boolean; isSocket(): boolean; isBlockDevice(): boolean; isCharacterDevice(): boolean }): string {
  if (stats.isFIFO()) return 'FIFO';
  if (stats.isSocket()) return 'socket';
  if (stats.isBlockDevice()) return 'block device';
  if (stats.isCharacterDevice()) return 'character device';
  return 'special file';
}
