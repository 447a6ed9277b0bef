/** The values of one priority, oldest first, from `head` on. */
interface Bucket<T> {
  readonly priority: number;
  items: (T | undefined)[];
  head: number;
}

/**
 * Values in taskforge's order without aging: one FIFO bucket per distinct
 * priority, and a small heap of the priorities that have values. With one
 * priority, push and pop are O(1) array operations (as fast as a plain
 * FIFO); with k distinct priorities, O(log k), touching only the hot end
 * of each bucket, where a heap over every value would walk log n cache
 * misses per pop.
 */
export class BucketQueue<T> {
  readonly #buckets = new Map<number, Bucket<T>>();
  /** Max-heap of the priorities that have a bucket. */
  readonly #priorities: number[] = [];
  #size = 0;

  get size(): number {
    return this.#size;
  }

  push(value: T, priority: number): void {
    let bucket = this.#buckets.get(priority);
    if (bucket === undefined) {
      bucket = { priority, items: [], head: 0 };
      this.#buckets.set(priority, bucket);
      this.#pushPriority(priority);
    }
    bucket.items.push(value);
    this.#size += 1;
  }

  pop(): T | undefined {
    const top = this.#priorities[0];
    if (top === undefined) return undefined;
    const bucket = this.#buckets.get(top);
    if (bucket === undefined) return undefined;
    const value = bucket.items[bucket.head];
    // Let the value go: the array keeps its slot until it is compacted.
    bucket.items[bucket.head] = undefined;
    bucket.head += 1;
    this.#size -= 1;
    if (bucket.head === bucket.items.length) {
      this.#buckets.delete(top);
      this.#popPriority();
    } else if (bucket.head > 1024 && bucket.head * 2 > bucket.items.length) {
      bucket.items = bucket.items.slice(bucket.head);
      bucket.head = 0;
    }
    return value;
  }

  /** Removes the first value that matches (O(n)); true when one was. */
  remove(matches: (value: T) => boolean): boolean {
    for (const bucket of this.#buckets.values()) {
      for (let index = bucket.head; index < bucket.items.length; index += 1) {
        const value = bucket.items[index];
        if (value === undefined || !matches(value)) continue;
        bucket.items.splice(index, 1);
        this.#size -= 1;
        if (bucket.head === bucket.items.length) {
          this.#buckets.delete(bucket.priority);
          this.#removePriority(bucket.priority);
        }
        return true;
      }
    }
    return false;
  }

  #pushPriority(priority: number): void {
    const heap = this.#priorities;
    let index = heap.length;
    heap.push(priority);
    while (index > 0) {
      const parent = (index - 1) >> 1;
      const above = heap[parent] ?? Number.POSITIVE_INFINITY;
      if (above >= priority) break;
      heap[index] = above;
      index = parent;
    }
    heap[index] = priority;
  }

  #popPriority(): void {
    const heap = this.#priorities;
    const last = heap.pop();
    if (last === undefined || heap.length === 0) return;
    let index = 0;
    for (;;) {
      const left = 2 * index + 1;
      if (left >= heap.length) break;
      const right = left + 1;
      const leftValue = heap[left] ?? Number.NEGATIVE_INFINITY;
      const rightValue = heap[right] ?? Number.NEGATIVE_INFINITY;
      const child = right < heap.length && rightValue > leftValue ? right : left;
      const childValue = heap[child] ?? Number.NEGATIVE_INFINITY;
      if (childValue <= last) break;
      heap[index] = childValue;
      index = child;
    }
    heap[index] = last;
  }

  #removePriority(priority: number): void {
    const remaining = this.#priorities.filter((candidate) => candidate !== priority);
    this.#priorities.length = 0;
    for (const candidate of remaining) this.#pushPriority(candidate);
  }
}
