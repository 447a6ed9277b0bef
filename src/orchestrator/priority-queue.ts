import { BucketQueue } from './bucket-queue.js';

/**
 * taskforge's one scheduling order, written once: a larger `priority` runs
 * first; equal priorities run in submission order. Every queue (memory,
 * SQLite, Redis) must produce this order; this in-memory one is the
 * reference the others are tested against.
 *
 * Aging (against starvation) adds one priority point per `agingMs` waited.
 * A waiting entry's effective priority at time `now` is then
 * `priority + (now - enqueuedAt) / agingMs`, and since `now` is the same for
 * every entry, comparing two entries only needs `priority - enqueuedAt /
 * agingMs`: a rank fixed at push time. So the order stays a plain heap order
 * (O(log n) push and pop) with aging on, and a durable queue can store the
 * rank in an indexed column.
 */
export interface QueueEntry<T> {
  readonly value: T;
  /** Larger runs first: the priority, less the aging credit of a later arrival. */
  readonly rank: number;
  /** Submission order, from 0: ties run lowest first. */
  readonly sequence: number;
}

/** The rank of an entry of `priority` queued at `enqueuedAt` (ms since `origin`). */
export function rankOf(priority: number, enqueuedAt: number, agingMs: number | undefined): number {
  return agingMs === undefined ? priority : priority - enqueuedAt / agingMs;
}

/** Throws RangeError unless `agingMs` is absent or a positive number. */
export function checkAgingMs(agingMs: number | undefined): void {
  if (agingMs !== undefined && !(agingMs > 0 && Number.isFinite(agingMs))) {
    throw new RangeError(`agingMs must be a positive number of ms (got ${String(agingMs)})`);
  }
}

/** True when `a` runs before `b`. */
export function runsBefore(a: { rank: number; sequence: number }, b: { rank: number; sequence: number }): boolean {
  return a.rank !== b.rank ? a.rank > b.rank : a.sequence < b.sequence;
}

/** Options of {@link PriorityQueue}. */
export interface PriorityQueueOptions {
  /**
   * Aging against starvation: a waiting entry gains one priority point per
   * `agingMs` it has waited, so a steady stream of high-priority work cannot
   * hold a low-priority entry back for ever. Default: off.
   */
  readonly agingMs?: number;
  /** The clock, in ms, for aging; replaceable for tests. Default: performance.now. */
  readonly now?: () => number;
}

/**
 * A queue in taskforge's order. Without aging it is a {@link BucketQueue}
 * (O(1) for one priority); with aging every entry has its own rank, so it is
 * a binary heap of ranked entries (O(log n)).
 */
export class PriorityQueue<T> {
  readonly #buckets: BucketQueue<T> | undefined;
  readonly #heap: RankHeap<T> | undefined;

  constructor(options: PriorityQueueOptions = {}) {
    checkAgingMs(options.agingMs);
    if (options.agingMs === undefined) this.#buckets = new BucketQueue();
    else this.#heap = new RankHeap(options.agingMs, options.now ?? (() => performance.now()));
  }

  get size(): number {
    return this.#buckets?.size ?? this.#heap?.size ?? 0;
  }

  push(value: T, priority = 0): void {
    if (this.#buckets !== undefined) this.#buckets.push(value, priority);
    else this.#heap?.push(value, priority);
  }

  /** The next value to run, removed; undefined when empty. */
  pop(): T | undefined {
    return this.#buckets !== undefined ? this.#buckets.pop() : this.#heap?.pop();
  }

  /** Removes the first value that matches (O(n)); true when one was removed. */
  remove(matches: (value: T) => boolean): boolean {
    return this.#buckets?.remove(matches) ?? this.#heap?.remove(matches) ?? false;
  }
}

/** A binary heap of ranked entries: the order with aging. */
class RankHeap<T> {
  readonly #heap: QueueEntry<T>[] = [];
  readonly #agingMs: number;
  readonly #now: () => number;
  #sequence = 0;

  constructor(agingMs: number, now: () => number) {
    this.#agingMs = agingMs;
    this.#now = now;
  }

  get size(): number {
    return this.#heap.length;
  }

  push(value: T, priority: number): void {
    const entry: QueueEntry<T> = { value, rank: rankOf(priority, this.#now(), this.#agingMs), sequence: this.#sequence++ };
    this.#heap.push(entry);
    this.#siftUp(this.#heap.length - 1);
  }

  pop(): T | undefined {
    const top = this.#heap[0];
    const last = this.#heap.pop();
    if (this.#heap.length > 0 && last !== undefined) {
      this.#heap[0] = last;
      this.#siftDown(0);
    }
    return top?.value;
  }

  remove(matches: (value: T) => boolean): boolean {
    const index = this.#heap.findIndex((entry) => matches(entry.value));
    if (index === -1) return false;
    const last = this.#heap.pop();
    if (index < this.#heap.length && last !== undefined) {
      this.#heap[index] = last;
      this.#siftDown(index);
      this.#siftUp(index);
    }
    return true;
  }

  #siftUp(start: number): void {
    const heap = this.#heap;
    const entry = heap[start];
    if (entry === undefined) return;
    let index = start;
    while (index > 0) {
      const parentIndex = (index - 1) >> 1;
      const parent = heap[parentIndex];
      if (parent === undefined || !runsBefore(entry, parent)) break;
      heap[index] = parent;
      index = parentIndex;
    }
    heap[index] = entry;
  }

  #siftDown(start: number): void {
    const heap = this.#heap;
    const entry = heap[start];
    if (entry === undefined) return;
    const length = heap.length;
    let index = start;
    for (;;) {
      const leftIndex = 2 * index + 1;
      if (leftIndex >= length) break;
      let childIndex = leftIndex;
      let child = heap[leftIndex];
      const right = heap[leftIndex + 1];
      if (child === undefined) break;
      if (right !== undefined && runsBefore(right, child)) {
        childIndex = leftIndex + 1;
        child = right;
      }
      if (!runsBefore(child, entry)) break;
      heap[index] = child;
      index = childIndex;
    }
    heap[index] = entry;
  }
}
