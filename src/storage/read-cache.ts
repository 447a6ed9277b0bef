import { LRUCache } from 'lru-cache';
import type { ContentKind } from './content.js';

/** What a cached read holds: the decoded bytes, never the stored form or a key. */
export interface CachedObject {
  /** The object's version when it was read (size+mtime+inode, or an ETag). */
  readonly version: string;
  readonly kind: ContentKind;
  readonly bytes: Buffer;
  /** Whether the stored object was encrypted: a read that requires encryption may use only such entries. */
  readonly encrypted: boolean;
  /** When the version was last confirmed against the backend (ms since the epoch). */
  validatedAt: number;
}

/** Counters of a {@link ReadCache}. */
export interface ReadCacheStats {
  readonly hits: number;
  readonly misses: number;
  readonly entries: number;
  readonly bytes: number;
  readonly maxBytes: number;
}

/** Options of {@link ReadCache}. */
export interface ReadCacheOptions {
  /** The byte budget of all entries together. Default 64 MiB. */
  readonly maxBytes?: number;
  /** Objects larger than this are never cached. Default: an eighth of the budget. */
  readonly maxEntryBytes?: number;
}

/** The default byte budget of the process-wide cache. */
export const DEFAULT_CACHE_BYTES = 64 * 1024 * 1024;

/**
 * An in-process LRU cache of decoded objects with a byte budget, keyed by
 * backend and path. It only stores and counts; StorageTask decides when an
 * entry is still good (its version matches the backend's, or it was
 * confirmed less than `ttlMs` ago) and invalidates on writes and deletes.
 */
export class ReadCache {
  readonly #entries: LRUCache<string, CachedObject>;
  readonly #maxBytes: number;
  #hits = 0;
  #misses = 0;

  constructor(options: ReadCacheOptions = {}) {
    this.#maxBytes = options.maxBytes ?? DEFAULT_CACHE_BYTES;
    this.#entries = new LRUCache<string, CachedObject>({
      maxSize: this.#maxBytes,
      maxEntrySize: options.maxEntryBytes ?? Math.max(1, Math.floor(this.#maxBytes / 8)),
      // An entry costs its bytes plus a little bookkeeping, so that many empty objects still count.
      sizeCalculation: (entry) => entry.bytes.byteLength + 64,
    });
  }

  /** The entry for a path, if any (its freshness is the caller's to judge). */
  peek(backend: string, path: string): CachedObject | undefined {
    return this.#entries.get(key(backend, path));
  }

  set(backend: string, path: string, entry: CachedObject): void {
    this.#entries.set(key(backend, path), entry);
  }

  /** Forgets a path, and with `recursive` everything below it too. */
  invalidate(backend: string, path: string, recursive = false): void {
    this.#entries.delete(key(backend, path));
    if (!recursive) return;
    const prefix = key(backend, path === '/' ? '/' : `${path}/`);
    for (const cached of this.#entries.keys()) if (cached.startsWith(prefix)) this.#entries.delete(cached);
  }

  recordHit(): void {
    this.#hits += 1;
  }

  recordMiss(): void {
    this.#misses += 1;
  }

  stats(): ReadCacheStats {
    return { hits: this.#hits, misses: this.#misses, entries: this.#entries.size, bytes: this.#entries.calculatedSize, maxBytes: this.#maxBytes };
  }

  clear(): void {
    this.#entries.clear();
  }
}

let shared: ReadCache | undefined;

/** The process-wide cache tasks use when none is given; `TASKFORGE_CACHE_BYTES` sets its budget. */
export function defaultReadCache(): ReadCache {
  if (shared === undefined) {
    const configured = Number(process.env['TASKFORGE_CACHE_BYTES']);
    shared = new ReadCache(Number.isInteger(configured) && configured > 0 ? { maxBytes: configured } : {});
  }
  return shared;
}

function key(backend: string, path: string): string {
  return `${backend}\0${path}`;
}
