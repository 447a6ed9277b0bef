import type { BigIntStats } from 'node:fs';
import { opendir } from 'node:fs/promises';
import { throwIfAborted } from '../../core/abort.js';
import { isStorageName } from '../storage-name.js';

/** A directory entry as a listing needs it before it is described: its name and what the directory says it is. */
export interface SnapshotEntry {
  readonly name: string;
  readonly kind: 'file' | 'directory' | 'symlink';
}

/** Directories of more names than this are not kept: they are walked page by page in bounded memory. */
const MAX_NAMES_PER_DIRECTORY = 100_000;
/** Names kept across all directories; the least recently used directory goes first. */
const MAX_NAMES = 200_000;
/**
 * A directory changed less than this long before it was read is not kept.
 * Its modification time is what tells a later page that it changed, and a
 * file system keeps that time at a coarse grain: a change in the same tick
 * as the one before would leave it as it was. Past the margin, any change
 * moves it. Linux stamps at the tick of its coarse clock (at most 10 ms);
 * a file system whose times are whole seconds (FAT keeps 2 s) gets 2 s.
 */
const SETTLE_MS = 50;
const SETTLE_WHOLE_SECONDS_MS = 2000;

interface Snapshot {
  readonly identity: string;
  readonly entries: readonly SnapshotEntry[];
}

/**
 * The sorted entries of directories that were listed, kept while each
 * directory stays as it was, so that the pages of one directory after
 * another read it once instead of once per page. Whether it stayed is
 * told by its identity (inode, modification and change times), which a
 * page takes anyway; an entry's size and time are not kept here, but
 * read for each page.
 */
export class DirectorySnapshots {
  /** By host directory, least recently used first. */
  readonly #kept = new Map<string, Snapshot>();
  #names = 0;
  readonly #limits: { readonly perDirectory: number; readonly total: number };

  constructor(limits: { readonly perDirectory?: number; readonly total?: number } = {}) {
    this.#limits = { perDirectory: limits.perDirectory ?? MAX_NAMES_PER_DIRECTORY, total: limits.total ?? MAX_NAMES };
  }

  /** How many directories are kept now. */
  get kept(): number {
    return this.#kept.size;
  }

  /**
   * The entries of `hostDirectory`, sorted by name (UTF-16 code units, the
   * order of listings), taskforge's own files left out: the kept ones if
   * `stats` (the directory's, taken now) show it unchanged, else read now.
   * Undefined for a directory too large to hold: the caller walks it.
   */
  async entries(hostDirectory: string, stats: BigIntStats, signal: AbortSignal): Promise<readonly SnapshotEntry[] | undefined> {
    const identity = identityOf(stats);
    const kept = this.#kept.get(hostDirectory);
    if (kept !== undefined) {
      this.#drop(hostDirectory);
      if (kept.identity === identity) {
        this.#keep(hostDirectory, kept);
        return kept.entries;
      }
    }
    const readAt = Date.now();
    const entries = await readSorted(hostDirectory, this.#limits.perDirectory, signal);
    // (Taken before the read: a change during it moves the times past those recorded, and the next page reads again.)
    if (entries !== undefined && settled(stats, readAt)) {
      this.#keep(hostDirectory, { identity, entries });
    }
    return entries;
  }

  #keep(hostDirectory: string, snapshot: Snapshot): void {
    this.#kept.set(hostDirectory, snapshot);
    this.#names += snapshot.entries.length;
    for (const [oldest, old] of this.#kept) {
      if (this.#names <= this.#limits.total) break;
      this.#kept.delete(oldest);
      this.#names -= old.entries.length;
    }
  }

  #drop(hostDirectory: string): void {
    const kept = this.#kept.get(hostDirectory);
    if (kept === undefined) return;
    this.#kept.delete(hostDirectory);
    this.#names -= kept.entries.length;
  }
}

/** Whether the directory's times are far enough behind `readAt` that any later change moves them. */
function settled(stats: BigIntStats, readAt: number): boolean {
  const wholeSeconds = stats.mtimeNs % 1_000_000_000n === 0n && stats.ctimeNs % 1_000_000_000n === 0n;
  const margin = wholeSeconds ? SETTLE_WHOLE_SECONDS_MS : SETTLE_MS;
  return Number(stats.mtimeMs) < readAt - margin && Number(stats.ctimeMs) < readAt - margin;
}

function identityOf(stats: BigIntStats): string {
  return `${String(stats.dev)}:${String(stats.ino)}:${String(stats.mtimeNs)}:${String(stats.ctimeNs)}`;
}

/** A directory's entries, sorted; undefined past `maxNames`. Kinds other than these three are left out, as listings do. */
async function readSorted(hostDirectory: string, maxNames: number, signal: AbortSignal): Promise<SnapshotEntry[] | undefined> {
  const entries: SnapshotEntry[] = [];
  // Read in large batches: each is one trip through the thread pool.
  for await (const dirent of await opendir(hostDirectory, { bufferSize: 1024 })) {
    throwIfAborted(signal);
    if (!isStorageName(dirent.name)) continue;
    const kind = dirent.isDirectory() ? 'directory' : dirent.isFile() ? 'file' : dirent.isSymbolicLink() ? 'symlink' : undefined;
    if (kind === undefined) continue;
    if (entries.length === maxNames) return undefined;
    entries.push({ name: dirent.name, kind });
  }
  return entries.sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0));
}
