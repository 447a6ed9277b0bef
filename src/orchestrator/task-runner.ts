import { ErrorCode, TaskforgeError, toErrorInfo } from '../core/errors.js';
import { logsDebug, type Logger } from '../core/logger.js';
import { workStillGoing, type BaseTask } from '../tasks/base-task.js';
import type { TaskConfig } from '../tasks/task-config.js';
import type { TaskResult } from '../tasks/task-result.js';
import { TaskStatus } from '../tasks/task-status.js';
import type { OrchestratorMetrics } from './metrics.js';
import { failedWithoutRunning } from './task-ends.js';
import type { QueueConsumer, TakenTask, TaskQueue } from './task-queue.js';
import { hasCleanupHook, type RunnableTask, type TaskRegistry } from './task-registry.js';

/** Options of {@link TaskRunner}. */
export interface TaskRunnerOptions {
  readonly concurrency: number;
  readonly queue: TaskQueue;
  readonly registry: TaskRegistry;
  /** Given to every task made (storage backend, keyring, cache, logger, retry policy). */
  readonly context: Readonly<Record<string, unknown>>;
  readonly logger: Logger;
  readonly metrics: OrchestratorMetrics | undefined;
  /** Times a task may be cut off (a crash, a dead worker) before it ends INTERRUPTED instead of running again. */
  readonly maxInterruptions: number;
  /** Told when a task's cleanup has run, before its slot frees. */
  readonly onCleanup?: (task: { readonly id: string; readonly type: string }) => void;
  /** Told a task's end as this process saw it, before the queue records it. */
  readonly onEnd?: (result: TaskResult) => void;
  /** The queue has nothing this runner can start, and it runs nothing. */
  readonly onDrained?: () => void;
}

/**
 * Runs the tasks a queue hands out, the same way wherever they run (this
 * process's queue, or a worker of a shared one): made from its config,
 * executed, cleaned up before its slot frees (so no more than `concurrency`
 * tasks ever work at once, timed out or cancelled alike), its events
 * published to the queue's listeners, its end handed back to the queue with
 * the attempts a crash cut off counted. A task that cannot be made, or
 * that rejects instead of resolving, ends FAILED; one cut off too often
 * ends INTERRUPTED without running.
 */
export class TaskRunner implements QueueConsumer {
  readonly concurrency: number;
  readonly #queue: TaskQueue;
  readonly #registry: TaskRegistry;
  readonly #context: Readonly<Record<string, unknown>>;
  /** The context without a `beforeCommit` of its own: a shared queue's tasks get theirs put first (see #make). */
  readonly #contextBelowFence: Readonly<Record<string, unknown>>;
  readonly #logger: Logger;
  readonly #metrics: OrchestratorMetrics | undefined;
  readonly #maxInterruptions: number;
  readonly #onCleanup: ((task: { readonly id: string; readonly type: string }) => void) | undefined;
  readonly #debug: boolean;
  /**
   * The tasks running here, one slot each (at most `concurrency`), freed
   * slots reused. Not a Map by id: a Map through which 300,000 distinct ids
   * pass, a hundred at a time, rehashes its table again and again (a third
   * of a no-op task's cost); cancel() and isRunning() scan the slots instead.
   */
  readonly #slots: (RunnableTask | undefined)[] = [];
  readonly #freeSlots: number[] = [];
  /** Beside #slots: when each slot's task started here (ms), and the queue's record of it. */
  readonly #startedAt: number[] = [];
  readonly #taken: (TakenTask | undefined)[] = [];
  #runningCount = 0;
  /** Tasks cancelled with an error of their own to end with (see cancel), by id: rare, and empty on the hot path. */
  readonly #stoppedWith = new Map<string, TaskforgeError>();
  readonly #onEnd: ((result: TaskResult) => void) | undefined;
  readonly #onDrained: (() => void) | undefined;

  constructor(options: TaskRunnerOptions) {
    this.concurrency = options.concurrency;
    this.#queue = options.queue;
    this.#registry = options.registry;
    this.#context = options.context;
    const { beforeCommit: _replaced, ...belowFence } = options.context;
    this.#contextBelowFence = belowFence;
    this.#logger = options.logger;
    this.#metrics = options.metrics;
    this.#maxInterruptions = options.maxInterruptions;
    this.#onCleanup = options.onCleanup;
    this.#onEnd = options.onEnd;
    this.#onDrained = options.onDrained;
    // Asked once: a silent logger then costs no field objects per task.
    this.#debug = logsDebug(this.#logger);
  }

  /** Tasks running here now. */
  get running(): number {
    return this.#runningCount;
  }

  runs(type: string): boolean {
    return this.#registry.has(type);
  }

  types(): readonly string[] {
    return this.#registry.types;
  }

  drained(): void {
    this.#onDrained?.();
  }

  run(taken: TakenTask, done: (task: TakenTask, result: TaskResult) => void): void {
    if (taken.interruptions > this.#maxInterruptions) {
      const error = new TaskforgeError(ErrorCode.INTERRUPTED, `task '${taken.id}' was cut off ${String(taken.interruptions)} times (a crash or a dead worker); it is not run again`, {
        details: { interruptions: taken.interruptions },
      });
      this.#endWithoutRunning(taken, failedWithoutRunning(taken, taken.attempts, error), done);
      return;
    }
    let task: RunnableTask;
    try {
      task = this.#make(taken);
    } catch (error) {
      const failure = new TaskforgeError(ErrorCode.TASK_FAILED, `task '${taken.id}' could not be made: ${error instanceof Error ? error.message : String(error)}`, { cause: error });
      this.#endWithoutRunning(taken, failedWithoutRunning(taken, taken.attempts, failure), done);
      return;
    }
    const slot = this.#freeSlots.pop() ?? this.#slots.length;
    this.#slots[slot] = task;
    this.#startedAt[slot] = Date.now();
    this.#taken[slot] = taken;
    this.#runningCount += 1;
    this.#publishEvents(task);
    this.#metrics?.started(taken.type);
    if (this.#debug) this.#logger.debug({ taskId: taken.id, taskType: taken.type, priority: taken.priority, attempts: taken.attempts, running: this.#runningCount }, 'task started');
    task.execute().then(
      (result) => {
        this.#ended(taken, task, slot, result, done);
      },
      (error: unknown) => {
        const failure = new TaskforgeError(ErrorCode.INTERNAL, `task '${taken.id}' rejected instead of resolving: ${String(error)}`, { cause: error });
        this.#ended(taken, task, slot, failedWithoutRunning(taken, 0, failure), done);
      },
    );
  }

  cancel(id: string, reason: string | undefined, stoppedWith?: TaskforgeError): void {
    const task = this.#slots.find((running) => running?.id === id);
    // A task that has ended (its cleanup runs now) cannot be cancelled: its end is on its way.
    if (task === undefined || !isUnfinished(task)) return;
    this.#logger.info({ taskId: id, taskType: task.type }, 'task cancelled');
    if (stoppedWith !== undefined) this.#stoppedWith.set(id, stoppedWith);
    task.cancel(reason).catch((error: unknown) => {
      this.#logger.warn({ taskId: id, taskType: task.type, err: error instanceof Error ? error.message : String(error) }, 'the task could not be cancelled');
    });
  }

  /** When the task `id` running here started, and its attempts so far (those before this run, and this one); undefined when it does not run here. */
  progressOf(id: string): { readonly startedAt: number; readonly attempts: number } | undefined {
    const slot = this.#slots.findIndex((running) => running?.id === id);
    const taken = this.#taken[slot];
    const startedAt = this.#startedAt[slot];
    return taken === undefined || startedAt === undefined ? undefined : { startedAt, attempts: taken.attempts + 1 };
  }

  /** Whether the task runs here now. */
  isRunning(id: string): boolean {
    return this.#slots.some((running) => running?.id === id);
  }

  #make(taken: TakenTask): RunnableTask {
    const { config } = taken;
    if (isTaskObject(config)) return config;
    // As in one process: the config as submitted (its dependsOn, met already, is not the task's business).
    // The fence written first: V8 copies `{ key, ...object }` in tens of ns, `{ ...object, key }` in near a microsecond.
    const context = taken.assertHeld === undefined ? this.#context : { beforeCommit: taken.assertHeld, ...this.#contextBelowFence };
    return this.#registry.make(taken.type, config, taken.id, context);
  }

  /** Start, retry and progress events go to the queue only when someone listens (on a shared queue they cost a write each). */
  #publishEvents(task: RunnableTask): void {
    const queue = this.#queue;
    if (queue.wants('start', task.id)) {
      task.on('start', (event) => {
        queue.publish('start', event);
      });
    }
    if (queue.wants('retry', task.id)) {
      task.on('retry', (event) => {
        queue.publish('retry', event);
      });
    }
    if (queue.wants('progress', task.id)) {
      task.on('progress', (event) => {
        queue.publish('progress', event);
      });
    }
  }

  /** The task's work has stopped: clean it up, then free its slot and hand its end to the queue. */
  #ended(taken: TakenTask, task: RunnableTask, slot: number, ownResult: TaskResult, done: (task: TakenTask, result: TaskResult) => void): void {
    const taskResult = this.#stoppedWith.size === 0 ? ownResult : this.#asStopped(ownResult);
    const result = taken.attempts === 0 ? taskResult : { ...taskResult, attempts: taskResult.attempts + taken.attempts };
    if (task.status === TaskStatus.PENDING) {
      this.#finish(taken, slot, result, done);
      return;
    }
    const going = workStillGoing(task);
    if (going !== undefined) {
      // Its work ignored its timeout or cancel and was given up: its end is told and its slot freed now (held,
      // a few such tasks would stop the orchestrator for good); its cleanup waits for that work to stop.
      this.#finish(taken, slot, result, done);
      // (It never rejects: the work's outcome is ignored.)
      going.then(
        () => {
          this.#cleanUp(taken, task, () => undefined);
        },
        () => undefined,
      );
      return;
    }
    this.#cleanUp(taken, task, () => {
      this.#finish(taken, slot, result, done);
    });
  }

  /** Cleans the task up (a failure is logged), then calls `then`. */
  #cleanUp(taken: TakenTask, task: RunnableTask, then: () => void): void {
    if (!hasCleanupHook(task)) {
      // Nothing to wait for: cleanup() only marks the task and emits its event (it cannot fail; a failure would be logged).
      task.cleanup().catch(this.#logCleanupFailure(taken));
      this.#onCleanup?.(taken);
      then();
      return;
    }
    task.cleanup().then(
      () => {
        this.#onCleanup?.(taken);
        then();
      },
      (error: unknown) => {
        this.#logCleanupFailure(taken)(error);
        then();
      },
    );
  }

  /** A task cancelled with an error of its own ends with that error, when the cancellation is what stopped it. */
  #asStopped(result: TaskResult): TaskResult {
    const stoppedWith = this.#stoppedWith.get(result.id);
    if (stoppedWith === undefined) return result;
    this.#stoppedWith.delete(result.id);
    return result.success || result.error.code !== ErrorCode.CANCELLED ? result : { ...result, error: toErrorInfo(stoppedWith) };
  }

  /** Frees the task's slot and hands its end to the queue. */
  #finish(taken: TakenTask, slot: number, result: TaskResult, done: (task: TakenTask, result: TaskResult) => void): void {
    this.#slots[slot] = undefined;
    this.#taken[slot] = undefined;
    this.#freeSlots.push(slot);
    this.#runningCount -= 1;
    this.#onEnd?.(result);
    done(taken, result);
  }

  #endWithoutRunning(taken: TakenTask, result: TaskResult, done: (task: TakenTask, result: TaskResult) => void): void {
    this.#onEnd?.(result);
    done(taken, result);
  }

  #logCleanupFailure(taken: TakenTask): (error: unknown) => void {
    return (error) => {
      this.#logger.error({ taskId: taken.id, taskType: taken.type, err: error instanceof Error ? error.message : String(error) }, 'task cleanup failed');
    };
  }
}

/** Whether a task may still be cancelled (it has not ended). */
function isUnfinished(task: RunnableTask): boolean {
  return task.status === TaskStatus.PENDING || task.status === TaskStatus.RUNNING;
}

/** A task object submitted as it is (a queue of this process only), rather than a config. */
export function isTaskObject(config: TaskConfig | BaseTask): config is BaseTask {
  return typeof (config as Partial<BaseTask>).execute === 'function';
}
