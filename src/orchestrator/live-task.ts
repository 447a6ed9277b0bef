import { isoTime } from '../core/clock.js';
import { toErrorInfo, type TaskforgeError } from '../core/errors.js';
import type { BaseTask } from '../tasks/base-task.js';
import type { TaskConfig } from '../tasks/task-config.js';
import type { TaskResult } from '../tasks/task-result.js';
import { TaskStatus } from '../tasks/task-status.js';
import type { QueuedTask } from './task-queue.js';
import type { RunnableTask } from './task-registry.js';

/**
 * A task the orchestrator is responsible for, from submit to its end. It is
 * what the memory queue holds, so it stays small: the task object is made
 * only when the task starts, and the result promise only when someone asks.
 */
export class LiveTask implements QueuedTask {
  status: typeof TaskStatus.PENDING | typeof TaskStatus.RUNNING = TaskStatus.PENDING;
  /** Dependencies that have not completed yet. */
  unmet = 0;
  /** Tasks that wait for this one. */
  dependents: LiveTask[] | undefined;
  /** The running task object. */
  task: RunnableTask | undefined;
  /** How it ended, once it has. */
  outcome: TaskResult | undefined;
  #resolve: ((result: TaskResult) => void) | undefined;
  #promise: Promise<TaskResult> | undefined;

  constructor(
    readonly id: string,
    readonly type: string,
    readonly priority: number,
    readonly config: TaskConfig | BaseTask,
    readonly dependsOn: readonly string[] | undefined,
    readonly attempts: number,
    readonly submittedAt: number,
    readonly interruptions = 0,
  ) {}

  /** The promise of the result; made on first use. */
  result(): Promise<TaskResult> {
    if (this.#promise === undefined) {
      if (this.outcome !== undefined) {
        this.#promise = Promise.resolve(this.outcome);
      } else {
        this.#promise = new Promise((resolve) => {
          this.#resolve = resolve;
        });
      }
    }
    return this.#promise;
  }

  /** Records the end and resolves whoever waits. */
  settle(result: TaskResult): void {
    this.outcome = result;
    this.task = undefined;
    this.#resolve?.(result);
    this.#resolve = undefined;
  }

  /** A FAILED result for a task that ends without running (cancelled while pending, a dependency failed). */
  failedWithoutRunning(error: TaskforgeError, now = Date.now()): TaskResult {
    return failedWithoutRunning(this, this.attempts, error, now);
  }
}

/** A FAILED result for a task that ends without running (or without a result of its own), after `attempts` attempts. */
export function failedWithoutRunning(task: { readonly id: string; readonly type: string }, attempts: number, error: TaskforgeError, now = Date.now()): TaskResult {
  const at = isoTime(now);
  return {
    id: task.id,
    type: task.type,
    status: TaskStatus.FAILED,
    success: false,
    error: toErrorInfo(error),
    attempts,
    startedAt: at,
    finishedAt: at,
    durationMs: 0,
  };
}

/**
 * What `submit()` returns: the task's id and the promise of its result,
 * typed by what the task produces (see `Orchestrator.submit`).
 */
export class TaskHandle<TData = unknown> {
  readonly #live: LiveTask;

  constructor(live: LiveTask) {
    this.#live = live;
  }

  get id(): string {
    return this.#live.id;
  }

  /** Resolves with the task's result once it has ended (and been cleaned up); never rejects. */
  get result(): Promise<TaskResult<TData>> {
    // The task behind the handle is the one its type was taken from: what it produced is a TData.
    return this.#live.result() as Promise<TaskResult<TData>>;
  }
}
