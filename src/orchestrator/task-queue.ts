import type { BaseTask } from '../tasks/base-task.js';
import type { TaskConfig } from '../tasks/task-config.js';
import type { RetainedTaskResult, TaskResult } from '../tasks/task-result.js';
import type { TaskStatus } from '../tasks/task-status.js';

/** A task as a queue holds it until it runs. Kept light: the task object is made only when it starts. */
export interface QueuedTask {
  readonly id: string;
  readonly type: string;
  readonly priority: number;
  /** The config as submitted; a task instance only in a queue that is not durable. */
  readonly config: TaskConfig | BaseTask;
  /** Ids that must complete before this task runs. */
  readonly dependsOn: readonly string[] | undefined;
  /** Attempts made before this run: a durable queue counts an attempt a crash cut off. */
  readonly attempts: number;
  /** When it was submitted (ms since the epoch). */
  readonly submittedAt: number;
}

/** A task that was not finished when its queue was last closed or its process died. */
export interface UnfinishedTask extends QueuedTask {
  /** False while it waits for its dependencies. */
  readonly ready: boolean;
  /** Times a crash cut it off while it ran. */
  readonly interruptions: number;
}

/** What a finished task leaves behind in its queue, queryable by id. */
export interface FinishedTask {
  readonly id: string;
  readonly type: string;
  readonly priority: number;
  readonly status: typeof TaskStatus.COMPLETED | typeof TaskStatus.FAILED;
  readonly attempts: number;
  readonly dependsOn: readonly string[] | undefined;
  readonly submittedAt: number;
  /**
   * The result. A durable queue keeps `data` only when it is plain JSON of at
   * most 64 KiB (a write's or a list's result, not a read's payload).
   */
  readonly result: RetainedTaskResult;
}

/**
 * Where an orchestrator keeps its tasks: the waiting ones in taskforge's
 * priority order (priority.ts), and the finished ones for lookup. The
 * orchestrator decides when a task is ready (its dependencies) and what runs
 * (its concurrency); a queue only stores and orders. Methods are
 * synchronous: both queues here answer without I/O waits (SQLite through
 * better-sqlite3 is synchronous and fast enough for that).
 */
export interface TaskQueue {
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

/** How long finished tasks stay queryable. */
export interface RetentionOptions {
  /** The most finished tasks kept; the oldest go first. Default 10,000 in memory, 100,000 in SQLite. */
  readonly maxFinished?: number;
  /** The longest a finished task is kept, in ms. Default: no limit in memory, 7 days in SQLite. */
  readonly maxAgeMs?: number;
}
