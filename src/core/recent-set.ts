/**
 * A set that remembers the keys added most recently: at least the last
 * `size`, at most twice as many. Two generations: when the newer fills, the
 * older is dropped whole. (Dropping the oldest key one at a time from a
 * single Set is not O(1) in V8: deleted slots stay until a rehash, and the
 * iteration that finds the oldest walks over all of them.)
 */
export class RecentSet<T> {
  readonly #size: number;
  #newer = new Set<T>();
  #older = new Set<T>();

  constructor(size: number) {
    if (!Number.isInteger(size) || size < 1) throw new RangeError(`RecentSet size: expected a positive integer (got ${String(size)})`);
    this.#size = size;
  }

  has(key: T): boolean {
    return this.#newer.has(key) || this.#older.has(key);
  }

  add(key: T): void {
    this.#newer.add(key);
    if (this.#newer.size >= this.#size) {
      this.#older = this.#newer;
      this.#newer = new Set();
    }
  }

  /** Forgets `key`; true when it was remembered. */
  delete(key: T): boolean {
    const newer = this.#newer.delete(key);
    return this.#older.delete(key) || newer;
  }
}
