import type { TaskResult } from '../tasks/task-result.js';
import type { FinishedTask, QueuedTask } from './task-queue.js';

export type { FinishedTask, QueuedTask, RetentionOptions } from './task-queue.js';

/** A task that was not finished when its queue was last closed or its process died. */
export interface UnfinishedTask extends QueuedTask {
  /** False while it waits for its dependencies. */
  readonly ready: boolean;
  /** Times a crash cut it off while it ran. */
  readonly interruptions: number;
}

/**
 * Where a queue of one process (memory, SQLite) keeps its tasks: the waiting ones in taskforge's
 * priority order (priority.ts), and the finished ones for lookup. The
 * orchestrator decides when a task is ready (its dependencies) and what runs
 * (its concurrency); a queue only stores and orders. Methods are
 * synchronous: both queues here answer without I/O waits (SQLite through
 * better-sqlite3 is synchronous and fast enough for that).
 */
export interface TaskStore {
  /** `memory` or `sqlite:FILE`, for messages. */
  readonly name: string;
  /** True when tasks survive the process (the orchestrator then refuses task instances and non-JSON configs). */
  readonly durable: boolean;
  /** Tasks waiting, ready or blocked by dependencies. */
  readonly waiting: number;
  /** Stores a new task; `ready` is false while it waits for dependencies. */
  add(task: QueuedTask, ready: boolean): void;
  /** Makes a blocked task ready to run. */
  release(id: string): void;
  /** The next ready task in priority order, marked running; undefined when none is ready. */
  take(): QueuedTask | undefined;
  /** From now on take() passes over the tasks of these types: they stay waiting (the consumer cannot run them). Optional: for a store that recovers tasks. */
  holdBack?(types: ReadonlySet<string>): void;
  /**
   * Records how a task (as it was added) ended, whether it ran or not: a
   * waiting task that ends without running (cancelled, a dependency
   * failed) leaves the queue.
   */
  finish(task: QueuedTask, result: TaskResult): void;
  /** A finished task, while the queue's retention keeps it. */
  finished(id: string): FinishedTask | undefined;
  /**
   * The tasks a previous process left unfinished, in submission order. Ones
   * that were running are ready again with their cut-off attempt counted. A
   * queue that is not durable has none.
   */
  recover(): UnfinishedTask[];
  /** Runs `work` (several adds) as one unit: all stored or none. Optional. */
  transaction?(work: () => void): void;
  /** Releases the queue's resources; the queue is unusable afterwards. */
  close(): void;
}

