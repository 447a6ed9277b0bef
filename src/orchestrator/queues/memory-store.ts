import { PriorityQueue, type PriorityQueueOptions } from '../priority-queue.js';
import { retainedResult } from '../retained-result.js';
import { EntryIndex } from './entry-index.js';
import type { FinishedTask, QueuedTask, RetentionOptions, TaskStore, UnfinishedTask } from '../task-store.js';
import type { RetainedTaskResult, TaskResult } from '../../tasks/task-result.js';

/** The default number of finished tasks a memory queue keeps for lookup. */
export const DEFAULT_MEMORY_RETENTION = 10_000;

/** Options of {@link MemoryStore}. */
export interface MemoryStoreOptions extends PriorityQueueOptions, RetentionOptions {}

/**
 * The default queue: a heap in taskforge's order, in this process only.
 * Tasks that end while waiting leave the heap lazily (skipped when they
 * come up), so cancelling one of a million queued tasks is O(1).
 */
export class MemoryStore implements TaskStore {
  readonly name = 'memory';
  readonly durable = false;
  readonly #ready: PriorityQueue<QueuedTask>;
  #readyCount = 0;
  /**
   * Ids of ready tasks that ended while waiting: their entries stay in the
   * heap and take() skips them, so ending one of a million waiting tasks is
   * O(1). Each id here stands for exactly one such entry.
   */
  readonly #endedWhileReady = new Set<string>();
  readonly #blocked = new Map<string, QueuedTask>();
  /**
   * Small (at most the concurrency), so cheap to keep. By object, not by
   * id: LocalQueue finishes the very entry it added, and an object's hash is
   * made once, where a fresh id string is hashed (and flattened) on first use.
   */
  readonly #running = new Set<QueuedTask>();
  /** By id; those this process made by serial (see EntryIndex). */
  readonly #finished = new EntryIndex<FinishedRecord>();
  /** Finished tasks, oldest first, from #finishedHead on. */
  readonly #finishedOrder: (FinishedRecord | undefined)[] = [];
  #finishedHead = 0;
  readonly #maxFinished: number;
  readonly #maxAgeMs: number | undefined;

  constructor(options: MemoryStoreOptions = {}) {
    this.#ready = new PriorityQueue(options);
    this.#maxFinished = checkedLimit('maxFinished', options.maxFinished) ?? DEFAULT_MEMORY_RETENTION;
    this.#maxAgeMs = checkedLimit('maxAgeMs', options.maxAgeMs);
  }

  get waiting(): number {
    return this.#readyCount + this.#blocked.size;
  }

  add(task: QueuedTask, ready: boolean): void {
    if (ready) this.#push(task);
    else this.#blocked.set(task.id, task);
  }

  release(id: string): void {
    const task = this.#blocked.get(id);
    if (task === undefined) return;
    this.#blocked.delete(id);
    this.#push(task);
  }

  take(): QueuedTask | undefined {
    for (let task = this.#ready.pop(); task !== undefined; task = this.#ready.pop()) {
      if (this.#endedWhileReady.size > 0 && this.#endedWhileReady.delete(task.id)) continue;
      this.#readyCount -= 1;
      this.#running.add(task);
      return task;
    }
    return undefined;
  }

  finish(task: QueuedTask, result: TaskResult): void {
    const { id } = task;
    if (!this.#running.delete(task) && !this.#blocked.delete(id)) {
      // Neither running nor blocked: it ends while it waits in the heap.
      this.#endedWhileReady.add(id);
      this.#readyCount -= 1;
    }
    const record = new FinishedRecord(task.serial, task.priority, task.dependsOn, task.submittedAt, retainedResult(result));
    this.#finishedOrder.push(record);
    this.#finished.set(record);
    this.#evict();
  }

  finished(id: string): FinishedTask | undefined {
    return this.#finished.get(id);
  }

  recover(): UnfinishedTask[] {
    return [];
  }

  close(): void {
    this.#blocked.clear();
    this.#endedWhileReady.clear();
    this.#running.clear();
  }

  #push(task: QueuedTask): void {
    this.#readyCount += 1;
    this.#ready.push(task, task.priority);
  }

  /**
   * Drops the oldest finished tasks beyond the count limit or the age limit.
   * The order is kept in an array, not read from the index: iterating a Map
   * from its start walks over every entry deleted before, O(n) a call.
   */
  #evict(): void {
    const cutoff = this.#maxAgeMs === undefined ? undefined : Date.now() - this.#maxAgeMs;
    while (this.#finishedHead < this.#finishedOrder.length) {
      const tooMany = this.#finished.size > this.#maxFinished;
      const oldest = this.#finishedOrder[this.#finishedHead];
      if (oldest === undefined) break;
      if (!tooMany && (cutoff === undefined || Date.parse(oldest.result.finishedAt) >= cutoff)) break;
      this.#finished.delete(oldest);
      // (Let go now: a record holds its result until the array is next cut.)
      this.#finishedOrder[this.#finishedHead] = undefined;
      this.#finishedHead += 1;
    }
    if (this.#finishedHead > 1024 && this.#finishedHead * 2 > this.#finishedOrder.length) {
      this.#finishedOrder.splice(0, this.#finishedHead);
      this.#finishedHead = 0;
    }
  }
}

/**
 * A finished task: its result and the three facts the result lacks. Not the
 * queued task itself, which may hold a large config (a write's data).
 */
class FinishedRecord implements FinishedTask {
  constructor(
    /** Its id's serial, when this process made the id (see EntryIndex). */
    readonly serial: number | undefined,
    readonly priority: number,
    readonly dependsOn: readonly string[] | undefined,
    readonly submittedAt: number,
    readonly result: RetainedTaskResult,
  ) {}

  get id(): string {
    return this.result.id;
  }

  get type(): string {
    return this.result.type;
  }

  get status(): FinishedTask['status'] {
    return this.result.status;
  }

  get attempts(): number {
    return this.result.attempts;
  }
}

/** Checks a retention limit: a non-negative integer, or absent. */
export function checkedLimit(name: string, value: number | undefined): number | undefined {
  if (value !== undefined && !(Number.isInteger(value) && value >= 0)) {
    throw new RangeError(`${name} must be a non-negative integer (got ${String(value)})`);
  }
  return value;
}
