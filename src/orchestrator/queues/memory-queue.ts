import { PriorityQueue, type PriorityQueueOptions } from '../priority-queue.js';
import { retainedResult } from '../retained-result.js';
import type { FinishedTask, QueuedTask, RetentionOptions, TaskQueue, UnfinishedTask } from '../task-queue.js';
import type { TaskResult } from '../../tasks/task-result.js';

/** The default number of finished tasks a memory queue keeps for lookup. */
export const DEFAULT_MEMORY_RETENTION = 10_000;

/** Options of {@link MemoryQueue}. */
export interface MemoryQueueOptions extends PriorityQueueOptions, RetentionOptions {}

/**
 * The default queue: a heap in taskforge's order, in this process only.
 * Tasks that end while waiting leave the heap lazily (skipped when they
 * come up), so cancelling one of a million queued tasks is O(1).
 */
export class MemoryQueue implements TaskQueue {
  readonly name = 'memory';
  readonly durable = false;
  readonly #ready: PriorityQueue<QueuedTask>;
  readonly #blocked = new Map<string, QueuedTask>();
  /** The heap's tasks that still wait, by id; one that ended while waiting is skipped by take(). */
  readonly #readyById = new Map<string, QueuedTask>();
  readonly #running = new Map<string, QueuedTask>();
  readonly #finished = new Map<string, FinishedTask>();
  /** Finished ids, oldest first, from #finishedHead on. */
  readonly #finishedOrder: string[] = [];
  #finishedHead = 0;
  readonly #maxFinished: number;
  readonly #maxAgeMs: number | undefined;

  constructor(options: MemoryQueueOptions = {}) {
    this.#ready = new PriorityQueue(options);
    this.#maxFinished = checkedLimit('maxFinished', options.maxFinished) ?? DEFAULT_MEMORY_RETENTION;
    this.#maxAgeMs = checkedLimit('maxAgeMs', options.maxAgeMs);
  }

  get waiting(): number {
    return this.#readyById.size + this.#blocked.size;
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
    for (let entry = this.#ready.pop(); entry !== undefined; entry = this.#ready.pop()) {
      const task = entry.value;
      if (this.#readyById.get(task.id) === task) {
        this.#readyById.delete(task.id);
        this.#running.set(task.id, task);
        return task;
      }
    }
    return undefined;
  }

  finish(id: string, result: TaskResult): void {
    const task = this.#running.get(id) ?? this.#readyById.get(id) ?? this.#blocked.get(id);
    // A waiting task's heap entry stays, skipped by take(): O(1) here, however long the queue.
    if (!this.#running.delete(id) && !this.#readyById.delete(id)) this.#blocked.delete(id);
    this.#finishedOrder.push(id);
    this.#finished.set(id, {
      id,
      type: result.type,
      priority: task?.priority ?? 0,
      status: result.status,
      attempts: result.attempts,
      dependsOn: task?.dependsOn,
      submittedAt: task?.submittedAt ?? Date.parse(result.startedAt),
      result: retainedResult(result),
    });
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
    this.#readyById.clear();
    this.#running.clear();
  }

  #push(task: QueuedTask): void {
    this.#readyById.set(task.id, task);
    this.#ready.push(task, task.priority);
  }

  /**
   * Drops the oldest finished tasks beyond the count limit or the age limit.
   * The order is kept in an array, not read from the Map: iterating a Map
   * from its start walks over every entry deleted before, O(n) a call.
   */
  #evict(): void {
    const cutoff = this.#maxAgeMs === undefined ? undefined : Date.now() - this.#maxAgeMs;
    while (this.#finishedHead < this.#finishedOrder.length) {
      const id = this.#finishedOrder[this.#finishedHead] ?? '';
      const finished = this.#finished.get(id);
      const tooMany = this.#finished.size > this.#maxFinished;
      const tooOld = cutoff !== undefined && finished !== undefined && Date.parse(finished.result.finishedAt) < cutoff;
      if (finished !== undefined && !tooMany && !tooOld) break;
      this.#finished.delete(id);
      this.#finishedHead += 1;
    }
    if (this.#finishedHead > 1024 && this.#finishedHead * 2 > this.#finishedOrder.length) {
      this.#finishedOrder.splice(0, this.#finishedHead);
      this.#finishedHead = 0;
    }
  }
}

/** Checks a retention limit: a non-negative integer, or absent. */
export function checkedLimit(name: string, value: number | undefined): number | undefined {
  if (value !== undefined && !(Number.isInteger(value) && value >= 0)) {
    throw new RangeError(`${name} must be a non-negative integer (got ${String(value)})`);
  }
  return value;
}
