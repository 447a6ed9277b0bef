/**
 * taskforge's one scheduling order, written once: a larger `priority` runs
 * first; equal priorities run in submission order. Every queue (memory,
 * SQLite, Redis) must produce this order; this in-memory one is the
 * reference the others are tested against.
 */
export interface QueueEntry<T> {
  readonly value: T;
  readonly priority: number;
  /** Submission order, from 0: ties run lowest first. */
  readonly sequence: number;
  /** When it was queued (ms), for aging. */
  readonly enqueuedAt: number;
}

/** Options of {@link PriorityQueue}. */
export interface PriorityQueueOptions {
  /**
   * Aging against starvation: a waiting entry gains one priority point per
   * `agingMs` it has waited, so a steady stream of high-priority work cannot
   * hold a low-priority entry back for ever. Default: off.
   */
  readonly agingMs?: number;
  /** The clock, in ms; replaceable for tests. Default: Date.now. */
  readonly now?: () => number;
}

/** True when `a` runs before `b`, at time `now`. */
export function runsBefore<T>(a: QueueEntry<T>, b: QueueEntry<T>, agingMs: number | undefined, now: number): boolean {
  const pa = effectivePriority(a, agingMs, now);
  const pb = effectivePriority(b, agingMs, now);
  return pa !== pb ? pa > pb : a.sequence < b.sequence;
}

function effectivePriority<T>(entry: QueueEntry<T>, agingMs: number | undefined, now: number): number {
  return agingMs === undefined ? entry.priority : entry.priority + Math.floor((now - entry.enqueuedAt) / agingMs);
}

/**
 * A binary heap in taskforge's order. Without aging, push and pop are
 * O(log n). With aging, effective priorities change as time passes, which a
 * heap cannot track; pop then scans (O(n)), which is fine for the queue
 * lengths one process holds and keeps the order exact.
 */
export class PriorityQueue<T> {
  readonly #heap: QueueEntry<T>[] = [];
  readonly #agingMs: number | undefined;
  readonly #now: () => number;
  #sequence = 0;

  constructor(options: PriorityQueueOptions = {}) {
    if (options.agingMs !== undefined && !(options.agingMs > 0)) throw new RangeError(`agingMs must be a positive number of ms (got ${String(options.agingMs)})`);
    this.#agingMs = options.agingMs;
    this.#now = options.now ?? Date.now;
  }

  get size(): number {
    return this.#heap.length;
  }

  push(value: T, priority = 0): QueueEntry<T> {
    const entry: QueueEntry<T> = { value, priority, sequence: this.#sequence++, enqueuedAt: this.#now() };
    this.#heap.push(entry);
    if (this.#agingMs === undefined) this.#siftUp(this.#heap.length - 1);
    return entry;
  }

  /** The next entry to run, removed; undefined when empty. */
  pop(): QueueEntry<T> | undefined {
    if (this.#heap.length === 0) return undefined;
    if (this.#agingMs !== undefined) return this.#popScanning(this.#agingMs);
    const top = this.#heap[0];
    const last = this.#heap.pop();
    if (this.#heap.length > 0 && last !== undefined) {
      this.#heap[0] = last;
      this.#siftDown(0);
    }
    return top;
  }

  /** Removes the first entry whose value matches; true when one was removed. */
  remove(matches: (value: T) => boolean): boolean {
    const index = this.#heap.findIndex((entry) => matches(entry.value));
    if (index === -1) return false;
    const last = this.#heap.pop();
    if (index < this.#heap.length && last !== undefined) {
      this.#heap[index] = last;
      if (this.#agingMs === undefined) {
        this.#siftDown(index);
        this.#siftUp(index);
      }
    }
    return true;
  }

  #popScanning(agingMs: number): QueueEntry<T> | undefined {
    const now = this.#now();
    let best = 0;
    for (let index = 1; index < this.#heap.length; index += 1) {
      const candidate = this.#heap[index];
      const current = this.#heap[best];
      if (candidate !== undefined && current !== undefined && runsBefore(candidate, current, agingMs, now)) best = index;
    }
    const [chosen] = this.#heap.splice(best, 1);
    return chosen;
  }

  #siftUp(start: number): void {
    let index = start;
    while (index > 0) {
      const parent = (index - 1) >> 1;
      if (!this.#before(index, parent)) return;
      this.#swap(index, parent);
      index = parent;
    }
  }

  #siftDown(start: number): void {
    let index = start;
    for (;;) {
      const left = 2 * index + 1;
      const right = left + 1;
      let first = index;
      if (left < this.#heap.length && this.#before(left, first)) first = left;
      if (right < this.#heap.length && this.#before(right, first)) first = right;
      if (first === index) return;
      this.#swap(index, first);
      index = first;
    }
  }

  #before(a: number, b: number): boolean {
    const left = this.#heap[a];
    const right = this.#heap[b];
    return left !== undefined && right !== undefined && runsBefore(left, right, undefined, 0);
  }

  #swap(a: number, b: number): void {
    const left = this.#heap[a];
    const right = this.#heap[b];
    if (left === undefined || right === undefined) return;
    this.#heap[a] = right;
    this.#heap[b] = left;
  }
}
