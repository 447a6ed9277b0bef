import { LRUCache } from 'lru-cache';
import type { StorageBackend } from './backend.js';
import type { KeyBinding } from './codec/decoder.js';
import type { ContentKind } from './content.js';
import { parentPath } from './storage-path.js';

/** What a cached read holds: the decoded bytes, never the stored form or a key. */
export interface CachedObject {
  /** The object's version when it was read (size+mtime+inode, or an ETag). */
  readonly version: string;
  readonly kind: ContentKind;
  readonly bytes: Buffer;
  /**
   * For an encrypted object, the key that opened it: only a keyring holding
   * that very key under that id may be served the entry (the backend would
   * refuse any other, so a hit must too).
   */
  readonly key: KeyBinding | undefined;
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

/** What a read holds from before it opens an object until it fills the cache: see {@link ReadCache.ticket}. */
export type FillTicket = number;

/** Invalidations remembered to refuse late fills; past this many, the oldest are folded into one floor. */
const REMEMBERED_INVALIDATIONS = 10_000;

/** The default byte budget of the process-wide cache. */
export const DEFAULT_CACHE_BYTES = 64 * 1024 * 1024;

/**
 * An in-process LRU cache of decoded objects with a byte budget, keyed by
 * the backend's identity and the path. It only stores and counts;
 * StorageTask decides when an entry is still good (its version matches the
 * backend's, or it was confirmed less than `ttlMs` ago, and the asking
 * task holds its key) and invalidates on writes and deletes. A read that
 * began before an invalidation of its path cannot fill the cache afterwards
 * with what it read (see {@link ReadCache.ticket}).
 */
export class ReadCache {
  readonly #entries: LRUCache<string, CachedObject>;
  readonly #maxBytes: number;
  readonly #maxEntryBytes: number;
  #hits = 0;
  #misses = 0;
  /** Counts invalidations; a ticket is its value when a read began. */
  #clock = 0;
  /** When each key (and, for recursive ones, each directory) was last invalidated, oldest first. */
  readonly #invalidatedAt = new Map<string, number>();
  /** Tickets at or below this may have missed an invalidation no longer remembered. */
  #floor = 0;

  constructor(options: ReadCacheOptions = {}) {
    this.#maxBytes = options.maxBytes ?? DEFAULT_CACHE_BYTES;
    this.#maxEntryBytes = options.maxEntryBytes ?? Math.max(1, Math.floor(this.#maxBytes / 8));
    this.#entries = new LRUCache<string, CachedObject>({
      maxSize: this.#maxBytes,
      maxEntrySize: this.#maxEntryBytes,
      sizeCalculation: (entry) => entrySize(entry.bytes.byteLength),
    });
  }

  /** Whether an object of `byteLength` decoded bytes may be cached at all (larger ones are never kept). */
  holds(byteLength: number): boolean {
    return entrySize(byteLength) <= this.#maxEntryBytes;
  }

  /** The entry for a path, if any (its freshness and key are the caller's to judge). */
  peek(backend: StorageBackend, path: string): CachedObject | undefined {
    return this.#entries.get(key(backend, path));
  }

  /**
   * Taken by a read before it opens the object; {@link set} with it stores
   * nothing if the path was invalidated since, so a read that raced a write
   * never puts back the version the write replaced.
   */
  ticket(): FillTicket {
    return this.#clock;
  }

  /** Stores what a read decoded, unless its path was invalidated after `ticket` was taken. */
  set(backend: StorageBackend, path: string, entry: CachedObject, ticket: FillTicket): void {
    const cacheKey = key(backend, path);
    if (this.#invalidatedSince(ticket, cacheKey, backend, path)) return;
    this.#entries.set(cacheKey, entry);
  }

  /** Forgets a path, and with `recursive` everything below it too. */
  invalidate(backend: StorageBackend, path: string, recursive = false): void {
    const cacheKey = key(backend, path);
    this.#entries.delete(cacheKey);
    this.#remember(recursive ? treeKey(cacheKey) : cacheKey);
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
    this.#clock += 1;
    this.#floor = this.#clock;
    this.#invalidatedAt.clear();
  }

  #remember(invalidated: string): void {
    this.#clock += 1;
    // Re-inserted, so that the map stays ordered oldest first.
    this.#invalidatedAt.delete(invalidated);
    this.#invalidatedAt.set(invalidated, this.#clock);
    if (this.#invalidatedAt.size <= REMEMBERED_INVALIDATIONS) return;
    const [oldest, at] = this.#invalidatedAt.entries().next().value ?? ['', 0];
    this.#invalidatedAt.delete(oldest);
    this.#floor = Math.max(this.#floor, at);
  }

  /** True when the path, or a tree holding it, was invalidated after `ticket` was taken. */
  #invalidatedSince(ticket: FillTicket, cacheKey: string, backend: StorageBackend, path: string): boolean {
    if (ticket < this.#floor) return true;
    if (ticket === this.#clock) return false;
    if ((this.#invalidatedAt.get(cacheKey) ?? 0) > ticket) return true;
    // A recursive invalidation of the path or any directory above it.
    for (let directory = path; ; directory = parentPath(directory)) {
      if ((this.#invalidatedAt.get(treeKey(key(backend, directory))) ?? 0) > ticket) return true;
      if (directory === '/') return false;
    }
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

let unnamedBackends = 0;
const identities = new WeakMap<StorageBackend, string>();

/**
 * What the cache keys a backend by: its `identity` (the same store, however
 * many backend objects reach it), else the backend object itself.
 */
function identityOf(backend: StorageBackend): string {
  if (backend.identity !== undefined) return backend.identity;
  let identity = identities.get(backend);
  if (identity === undefined) {
    unnamedBackends += 1;
    identity = `object#${String(unnamedBackends)}:${backend.name}`;
    identities.set(backend, identity);
  }
  return identity;
}

function key(backend: StorageBackend, path: string): string {
  return `${identityOf(backend)}\0${path}`;
}

function treeKey(cacheKey: string): string {
  return `${cacheKey}\0tree`;
}


/** What an entry costs the budget: its bytes plus a little bookkeeping, so that many empty objects still count. */
function entrySize(byteLength: number): number {
  return byteLength + 64;
}
