import { isoTime } from '../core/clock.js';
import { ErrorCode, TaskforgeError, toErrorInfo } from '../core/errors.js';
import { getDefaultLogger, type Logger } from '../core/logger.js';
import { TypedEmitter, type Listener } from '../core/typed-emitter.js';
import type { StorageTaskContext } from '../tasks/storage-task.js';
import type { StorageResultData, StorageTaskConfigFor } from '../tasks/storage-result.js';
import type { ReadForm, StorageOperation, StorageTaskConfig } from '../tasks/storage-task-config.js';
import type { TaskConfig } from '../tasks/task-config.js';
import type { TaskResult } from '../tasks/task-result.js';
import { TaskStatus } from '../tasks/task-status.js';
import type { BaseTask } from '../tasks/base-task.js';
import { releaseDataStream } from '../storage/data-stream.js';
import { LiveTask, TaskHandle } from './live-task.js';
import { submitEvent, type OrchestratorEvents } from './orchestrator-events.js';
import { MemoryQueue } from './queues/memory-queue.js';
import { assertNoCycle, invalid, readSubmission, type Submission, type KnownFieldsOnly, type SubmitOptions, type SubmittedData } from './submission.js';
import type { TaskQueue, UnfinishedTask } from './task-queue.js';
import { hasCleanupHook, TaskRegistry, type RunnableTask, type TaskClass } from './task-registry.js';
import type { OrchestratorMetrics } from './metrics.js';
import { taskView, type TaskView } from './task-view.js';

export type { TaskView } from './task-view.js';

/** The default number of tasks that run at once. */
export const DEFAULT_CONCURRENCY = 8;
/** How long shutdown() lets running tasks finish before it cancels them. */
export const DEFAULT_SHUTDOWN_TIMEOUT_MS = 30_000;
/** How many times a durable task may be cut off by a crash before it ends INTERRUPTED. */
export const DEFAULT_MAX_INTERRUPTIONS = 3;
/** How long task starts may run back to back on microtasks before the event loop gets a turn. */
const SLICE_MS = 10;

/** What submitAll() takes: task configs (storage ones typed by their operation) and task objects. */
type Submittable = StorageTaskConfig | TaskConfig | BaseTask<unknown, object>;

/** Options of {@link Orchestrator}. */
export interface OrchestratorOptions {
  /** Tasks that run at once (1 or more). Default 8. */
  readonly concurrency?: number;
  /** Where tasks wait and finished ones are kept. Default: a new {@link MemoryQueue}. */
  readonly queue?: TaskQueue;
  /** Aging against starvation for the default memory queue; a queue given in `queue` takes its own. Default: off. */
  readonly agingMs?: number;
  /** Custom task types by name, registered before recovered tasks start. */
  readonly taskTypes?: Readonly<Record<string, TaskClass>>;
  /** Given to every task the orchestrator makes (storage backend, keyring, cache, retry policy). */
  readonly context?: StorageTaskContext & Readonly<Record<string, unknown>>;
  /** Where the orchestrator and its tasks log. Default: pino at `TASKFORGE_LOG_LEVEL`. */
  readonly logger?: Logger;
  /** Prometheus metrics to record into; see {@link OrchestratorMetrics}. Default: none. */
  readonly metrics?: OrchestratorMetrics;
  /** Crash cut-offs a durable task survives before it ends INTERRUPTED. Default 3. */
  readonly maxInterruptions?: number;
}

/** Options of {@link Orchestrator.shutdown}. */
export interface ShutdownOptions {
  /** How long running tasks may go on before they are cancelled. Default 30 s. */
  readonly timeoutMs?: number;
}

/**
 * Runs tasks by priority (larger first, submission order among equals) with
 * a concurrency limit, dependencies, cancellation and graceful shutdown.
 * A running task keeps its slot until its work has really stopped and its
 * cleanup ran, timed out or cancelled alike, so no more than `concurrency`
 * tasks ever work at once.
 */
export class Orchestrator {
  readonly #queue: TaskQueue;
  readonly #concurrency: number;
  readonly #registry = new TaskRegistry();
  readonly #context: StorageTaskContext & Readonly<Record<string, unknown>>;
  readonly #logger: Logger;
  readonly #metrics: OrchestratorMetrics | undefined;
  readonly #maxInterruptions: number;
  readonly #events: TypedEmitter<OrchestratorEvents>;
  /** Every task submitted or recovered that has not ended, by id. */
  readonly #live = new Map<string, LiveTask>();
  #running = 0;
  #accepting = true;
  #starting = true;
  #pumpScheduled = false;
  #pumping = false;
  #sliceStartedAt = Number.NEGATIVE_INFINITY;
  #idleWaiters: (() => void)[] = [];
  #shutdown: Promise<void> | undefined;

  constructor(options: OrchestratorOptions = {}) {
    const concurrency = options.concurrency ?? DEFAULT_CONCURRENCY;
    if (!Number.isInteger(concurrency) || concurrency < 1) invalid('', 'concurrency', `expected a whole number of 1 or more (got ${String(concurrency)})`);
    this.#concurrency = concurrency;
    if (options.queue !== undefined && options.agingMs !== undefined) {
      invalid('', 'agingMs', `applies to the default memory queue; give it to the queue instead (new SqliteQueue(file, { agingMs: ${String(options.agingMs)} }))`);
    }
    this.#queue = options.queue ?? new MemoryQueue(options.agingMs === undefined ? {} : { agingMs: options.agingMs });
    this.#logger = options.logger ?? getDefaultLogger();
    this.#context = { logger: this.#logger, ...options.context };
    this.#metrics = options.metrics;
    this.#maxInterruptions = options.maxInterruptions ?? DEFAULT_MAX_INTERRUPTIONS;
    this.#events = new TypedEmitter<OrchestratorEvents>((error, event) => {
      this.#logger.error({ event, err: error instanceof Error ? error.message : String(error) }, 'an orchestrator event listener threw');
    });
    for (const [type, taskClass] of Object.entries(options.taskTypes ?? {})) this.register(type, taskClass);
    this.#metrics?.observe(this);
    this.#recover();
    // Recovered tasks start on the next turn, after register() calls that follow the constructor.
    setImmediate(() => {
      this.#starting = false;
      this.#pump();
    });
  }

  /** The queue's name: `memory` or `sqlite:FILE`. */
  get queueName(): string {
    return this.#queue.name;
  }

  /** Tasks waiting (ready or blocked by dependencies). */
  get waiting(): number {
    return this.#queue.waiting;
  }

  /** Tasks running now. */
  get running(): number {
    return this.#running;
  }

  get concurrency(): number {
    return this.#concurrency;
  }

  /** Adds a task type: configs with this `type` are run by `taskClass` (a subclass of BaseTask). */
  register(type: string, taskClass: TaskClass): this {
    this.#registry.register(type, taskClass);
    return this;
  }

  on<K extends keyof OrchestratorEvents>(event: K, listener: Listener<OrchestratorEvents, K>): this {
    this.#events.on(event, listener);
    return this;
  }

  off<K extends keyof OrchestratorEvents>(event: K, listener: Listener<OrchestratorEvents, K>): this {
    this.#events.off(event, listener);
    return this;
  }

  /**
   * Queues one task config (or task object) and returns its id and the
   * promise of its result. Throws VALIDATION_ERROR for a config the
   * orchestrator cannot queue (unknown type, bad id or priority, unknown or
   * cyclic dependencies), ALREADY_EXISTS for an id in use, INVALID_STATE
   * after shutdown(). The rest of the config is checked when the task runs:
   * a bad one ends FAILED with VALIDATION_ERROR.
   *
   * The handle's result is typed by what the task produces: a task
   * object's data; a storage config's, by its operation (and a read's `as`);
   * for a config of another type, `unknown`, or the type given as
   * `submit<TData>(config)`.
   */
  submit<TOperation extends StorageOperation, TForm extends ReadForm | undefined = undefined>(
    config: StorageTaskConfigFor<TOperation, TForm>,
    options?: SubmitOptions,
  ): TaskHandle<StorageResultData<TOperation, TForm>>;
  submit<TData = unknown>(config: BaseTask<TData, object> | TaskConfig, options?: SubmitOptions): TaskHandle<TData>;
  submit(config: TaskConfig | BaseTask, options: SubmitOptions = {}): TaskHandle {
    this.#assertAccepting();
    const submission = this.#admit(readSubmission(config, options, this.#queue.durable), '', new Set());
    const live = this.#newLive(submission);
    this.#enqueue(live);
    return new TaskHandle(live);
  }

  /**
   * Queues a batch whose tasks may depend on each other in any order; all
   * are accepted or none (a cycle or a bad config refuses the whole batch).
   * Each handle is typed as submit() types it.
   */
  submitAll<const TConfigs extends readonly Submittable[] | []>(
    configs: TConfigs & KnownFieldsOnly<TConfigs>,
  ): { -readonly [K in keyof TConfigs]: TaskHandle<SubmittedData<TConfigs[K]>> };
  submitAll(configs: readonly (TaskConfig | BaseTask)[]): TaskHandle[] {
    this.#assertAccepting();
    const where = (index: number): string => `[${String(index)}].`;
    const inBatch = new Set<string>();
    const submissions = configs.map((config, index) => {
      const submission = readSubmission(config, {}, this.#queue.durable, where(index));
      if (inBatch.has(submission.id)) invalid(where(index), 'id', `'${submission.id}' appears twice in the batch`);
      inBatch.add(submission.id);
      return submission;
    });
    submissions.forEach((submission, index) => this.#admit(submission, where(index), inBatch));
    assertNoCycle(submissions, where);
    const lives = submissions.map((submission) => this.#newLive(submission));
    // Indexed first, so that tasks of the batch can name later ones.
    for (const live of lives) this.#live.set(live.id, live);
    try {
      this.#inTransaction(() => {
        for (const live of lives) this.#enqueue(live);
      });
    } catch (error) {
      // A durable queue rolled the whole batch back: so does the index.
      for (const live of lives) this.#forget(live);
      throw error;
    }
    return lives.map((live) => new TaskHandle(live));
  }

  /** A task by id: waiting, running, or finished while the queue keeps it. */
  get(id: string): TaskView | undefined {
    const live = this.#live.get(id);
    if (live !== undefined) return taskView(live, live.outcome?.status ?? live.status, live.outcome?.attempts ?? live.attempts, live.outcome);
    const finished = this.#queue.finished(id);
    return finished === undefined ? undefined : taskView(finished, finished.status, finished.attempts, finished.result);
  }

  /**
   * Cancels a waiting or running task and resolves with its result once it
   * has ended: FAILED with CANCELLED (or COMPLETED, when the work had
   * already committed). Tasks that depend on it end DEPENDENCY_FAILED.
   * NOT_FOUND for an unknown id, INVALID_STATE for a finished task.
   */
  async cancel(id: string, reason?: string): Promise<TaskResult> {
    const live = this.#live.get(id);
    if (live === undefined) {
      const finished = this.#queue.finished(id);
      if (finished !== undefined) {
        throw new TaskforgeError(ErrorCode.INVALID_STATE, `task '${id}' cannot be cancelled: it is already ${finished.status}`, { details: { taskId: id, status: finished.status } });
      }
      throw new TaskforgeError(ErrorCode.NOT_FOUND, `no task with id '${id}' is known to this orchestrator`, { details: { taskId: id } });
    }
    if (live.status === TaskStatus.PENDING && live.outcome === undefined) {
      this.#emitCancel(live, reason);
      const because = reason === undefined ? '' : `: ${reason}`;
      this.#settleAll(live, live.failedWithoutRunning(new TaskforgeError(ErrorCode.CANCELLED, `task '${id}' was cancelled before it ran${because}`)));
      return live.result();
    }
    const task = live.task;
    if (task?.status === TaskStatus.RUNNING) {
      this.#emitCancel(live, reason);
      await task.cancel(reason);
    }
    return live.result();
  }

  /** Resolves when no task is running and none is waiting to run. */
  onIdle(): Promise<void> {
    if (this.#isIdle()) return Promise.resolve();
    return new Promise((resolve) => this.#idleWaiters.push(resolve));
  }

  /**
   * Stops taking work; lets running tasks finish for up to `timeoutMs`, then
   * cancels them and waits until their work has stopped and their cleanup
   * ran; then closes the queue. Waiting tasks do not start: with the memory
   * queue they end FAILED with CANCELLED; a durable queue keeps them for the
   * next orchestrator on the same store (their handles here resolve FAILED
   * with CANCELLED and `details.requeued: true`).
   */
  shutdown(options: ShutdownOptions = {}): Promise<void> {
    this.#shutdown ??= this.#stop(options.timeoutMs ?? DEFAULT_SHUTDOWN_TIMEOUT_MS);
    return this.#shutdown;
  }

  async #stop(timeoutMs: number): Promise<void> {
    this.#accepting = false;
    this.#logger.info({ queue: this.#queue.name, running: this.#running, waiting: this.#queue.waiting, timeoutMs }, 'orchestrator shutting down');
    for (const live of [...this.#live.values()]) {
      if (live.status !== TaskStatus.PENDING || live.outcome !== undefined) continue;
      const error = new TaskforgeError(ErrorCode.CANCELLED, `task '${live.id}' did not run: the orchestrator shut down`, {
        details: { requeued: this.#queue.durable },
      });
      if (this.#queue.durable) {
        this.#live.delete(live.id);
        live.settle({ ...live.failedWithoutRunning(error), details: { requeued: true } });
      } else {
        this.#settleAll(live, live.failedWithoutRunning(error));
      }
    }
    const running = [...this.#live.values()].filter((live) => live.status === TaskStatus.RUNNING);
    const allEnded = Promise.all(running.map((live) => live.result()));
    let timer: NodeJS.Timeout | undefined;
    const deadline = new Promise<'deadline'>((resolve) => {
      timer = setTimeout(resolve, timeoutMs, 'deadline');
    });
    const first = await Promise.race([allEnded, deadline]);
    clearTimeout(timer);
    if (first === 'deadline') {
      const still = running.filter((live) => live.outcome === undefined);
      this.#logger.warn({ running: still.length, timeoutMs }, 'shutdown deadline passed; cancelling running tasks');
      await Promise.all(still.map((live) => this.cancel(live.id, 'the orchestrator shut down').catch(() => undefined)));
      await allEnded;
    }
    this.#queue.close();
    this.#resolveIdle();
    this.#logger.info({ queue: this.#queue.name }, 'orchestrator stopped');
  }

  /** Checks what a submission names against the tasks this orchestrator knows. */
  #admit(submission: Submission, where: string, inBatch: ReadonlySet<string>): Submission {
    if (!isTaskObject(submission.config)) {
      if (!this.#registry.has(submission.type)) invalid(where, 'type', `no task type '${submission.type}' is registered (registered: ${this.#registry.types.join(', ')})`);
      this.#registry.checkConfig(submission.type, submission.config, submission.id, where, this.#context);
    }
    const { id, dependsOn } = submission;
    if (!submission.generatedId && (this.#live.has(id) || this.#queue.finished(id) !== undefined)) {
      const where_ = where === '' ? '' : ` (${where.slice(0, -1)})`;
      throw new TaskforgeError(ErrorCode.ALREADY_EXISTS, `a task with id '${id}' already exists${where_}`, { details: { field: `${where}id`, taskId: id } });
    }
    dependsOn?.forEach((dependency, index) => {
      if (dependency === id) invalid(where, `dependsOn[${String(index)}]`, `a dependency cycle: task '${id}' depends on itself`);
      if (!inBatch.has(dependency) && !this.#live.has(dependency) && this.#queue.finished(dependency) === undefined) {
        invalid(where, `dependsOn[${String(index)}]`, `no task with id '${dependency}' is known (it was never submitted, or it finished longer ago than the queue keeps)`);
      }
    });
    return submission;
  }

  #newLive(submission: Submission): LiveTask {
    return new LiveTask(submission.id, submission.type, submission.priority, submission.config, submission.dependsOn, 0, Date.now());
  }

  /** Queues a new task: ready, blocked by dependencies, or failed at once by a failed one. */
  #enqueue(live: LiveTask): void {
    const failedDependency = this.#linkDependencies(live);
    try {
      this.#queue.add(live, live.unmet === 0 && failedDependency === undefined);
    } catch (error) {
      // The store refused it (a full disk): leave no trace of the task here either.
      this.#forget(live);
      throw error;
    }
    this.#live.set(live.id, live);
    if (this.#events.listenerCount('submit') > 0) {
      this.#events.emit('submit', submitEvent(live));
    }
    this.#metrics?.submitted(live.type);
    if (failedDependency !== undefined) {
      this.#settleAll(live, live.failedWithoutRunning(dependencyFailed(live.id, failedDependency)));
      return;
    }
    if (live.unmet === 0) this.#schedulePump();
  }

  /** Undoes a submit the queue did not store: out of the index, off its dependencies' lists. */
  #forget(live: LiveTask): void {
    if (this.#live.get(live.id) === live) this.#live.delete(live.id);
    for (const dependency of live.dependsOn ?? []) {
      const parent = this.#live.get(dependency);
      if (parent?.dependents !== undefined) parent.dependents = parent.dependents.filter((dependent) => dependent !== live);
    }
    live.unmet = 0;
  }

  /** Counts unmet dependencies and registers as their dependent; returns the first failed one. */
  #linkDependencies(live: LiveTask): { id: string; code: string } | undefined {
    for (const dependency of live.dependsOn ?? []) {
      const parent = this.#live.get(dependency);
      if (parent !== undefined && parent.outcome === undefined) {
        live.unmet += 1;
        (parent.dependents ??= []).push(live);
        continue;
      }
      const result = parent?.outcome ?? this.#queue.finished(dependency)?.result;
      if (result === undefined) return { id: dependency, code: 'UNKNOWN' };
      if (result.status !== TaskStatus.COMPLETED) return { id: dependency, code: result.error.code };
    }
    return undefined;
  }

  #schedulePump(): void {
    if (this.#pumpScheduled || this.#starting) return;
    this.#pumpScheduled = true;
    // Back-to-back starts of instant tasks would never leave the microtask
    // queue: give the event loop a turn every SLICE_MS.
    if (performance.now() - this.#sliceStartedAt < SLICE_MS) {
      queueMicrotask(this.#pumpNow);
    } else {
      setImmediate(this.#pumpInNewSlice);
    }
  }

  readonly #pumpNow = (): void => {
    this.#pumpScheduled = false;
    this.#pump();
  };

  readonly #pumpInNewSlice = (): void => {
    this.#sliceStartedAt = performance.now();
    this.#pumpNow();
  };

  /** Starts ready tasks while slots are free. */
  #pump(): void {
    if (this.#shutdown !== undefined || this.#starting) return;
    this.#pumping = true;
    try {
      this.#startReady();
    } finally {
      this.#pumping = false;
    }
    if (this.#isIdle()) this.#resolveIdle();
  }

  #startReady(): void {
    while (this.#running < this.#concurrency) {
      const next = this.#queue.take();
      if (next === undefined) break;
      // The memory queue hands back the object it was given; others, a copy.
      const live = next instanceof LiveTask ? next : this.#live.get(next.id);
      if (live === undefined || live.outcome !== undefined) {
        this.#logger.error({ taskId: next.id, queue: this.#queue.name }, 'the queue handed out a task this orchestrator does not hold; skipped');
        continue;
      }
      this.#start(live);
    }
  }

  #start(live: LiveTask): void {
    live.status = TaskStatus.RUNNING;
    this.#running += 1;
    let task: RunnableTask;
    try {
      task = this.#makeTask(live);
    } catch (error) {
      const failure = new TaskforgeError(ErrorCode.TASK_FAILED, `task '${live.id}' could not be made: ${error instanceof Error ? error.message : String(error)}`, { cause: error });
      this.#ended(live, undefined, live.failedWithoutRunning(failure));
      return;
    }
    live.task = task;
    this.#forwardEvents(task);
    if (this.#debugEnabled()) this.#logger.debug({ taskId: live.id, taskType: live.type, priority: live.priority, running: this.#running }, 'task started');
    if (this.#events.listenerCount('start') > 0) this.#events.emit('start', { id: live.id, type: live.type, startedAt: isoTime(Date.now()) });
    this.#metrics?.started(live.type);
    task.execute().then(
      (result) => {
        this.#ended(live, task, result);
      },
      (error: unknown) => {
        const failure = new TaskforgeError(ErrorCode.INTERNAL, `task '${live.id}' rejected instead of resolving: ${String(error)}`, { cause: error });
        this.#ended(live, task, live.failedWithoutRunning(failure));
      },
    );
  }

  #makeTask(live: LiveTask): RunnableTask {
    const { config } = live;
    return isTaskObject(config) ? config : this.#registry.make(live.type, config, live.id, this.#context);
  }

  #forwardEvents(task: RunnableTask): void {
    for (const event of ['retry', 'progress'] as const) {
      if (this.#events.listenerCount(event) > 0) task.on(event, (payload) => this.#events.emit(event, payload as never));
    }
  }

  /** A task's work has stopped: clean it up, then free its slot and record the end. */
  #ended(live: LiveTask, task: RunnableTask | undefined, taskResult: TaskResult): void {
    const result = live.attempts === 0 ? taskResult : { ...taskResult, attempts: taskResult.attempts + live.attempts };
    if (task === undefined || task.status === TaskStatus.PENDING) {
      this.#release(live, result);
      return;
    }
    if (!hasCleanupHook(task)) {
      // Nothing to wait for: cleanup() only marks the task and emits its event (it cannot fail; a failure would be logged).
      task.cleanup().catch((error: unknown) => {
        this.#logger.error({ taskId: live.id, taskType: live.type, err: error instanceof Error ? error.message : String(error) }, 'task cleanup failed');
      });
      this.#cleanedUp(live, result);
      return;
    }
    task.cleanup().then(
      () => {
        this.#cleanedUp(live, result);
      },
      (error: unknown) => {
        this.#logger.error({ taskId: live.id, taskType: live.type, err: error instanceof Error ? error.message : String(error) }, 'task cleanup failed');
        this.#release(live, result);
      },
    );
  }

  #cleanedUp(live: LiveTask, result: TaskResult): void {
    if (this.#events.listenerCount('cleanup') > 0) this.#events.emit('cleanup', { id: live.id, type: live.type });
    this.#release(live, result);
  }

  /** Frees the task's slot, records its end and starts what can start. */
  #release(live: LiveTask, result: TaskResult): void {
    this.#running -= 1;
    this.#settleAll(live, result);
    // Starting the next task here, rather than on a new microtask, saves a
    // hop per task; within the time slice, and never from inside #pump.
    if (!this.#pumping && performance.now() - this.#sliceStartedAt < SLICE_MS) this.#pump();
    else this.#schedulePump();
  }

  /** Records a task's end and fails, transitively, the tasks that depended on it when it did not complete. */
  #settleAll(first: LiveTask, firstResult: TaskResult): void {
    const failed = this.#settle(first, firstResult);
    // Dependents of a failed task fail in turn: a worklist, not recursion, so a long chain cannot overflow the stack.
    const work = failed === undefined ? [] : [...failed];
    for (let item = work.pop(); item !== undefined; item = work.pop()) {
      const more = this.#settle(item[0], item[1]);
      if (more !== undefined) work.push(...more);
    }
    if (this.#isIdle()) this.#resolveIdle();
  }

  /** Records one task's end and releases its dependents; returns the dependents that fail with it. */
  #settle(live: LiveTask, ended: TaskResult): [LiveTask, TaskResult][] | undefined {
    if (live.outcome !== undefined) return undefined;
    this.#live.delete(live.id);
    // A task that never ran leaves its data stream unread: close it.
    if (live.task === undefined && !isTaskObject(live.config)) releaseDataStream(live.config.metadata?.['data']);
    const result = this.#record(live, ended);
    live.settle(result);
    this.#report(live, result);
    const dependents = live.dependents;
    if (dependents === undefined) return undefined;
    live.dependents = undefined;
    let failed: [LiveTask, TaskResult][] | undefined;
    for (const dependent of dependents) {
      if (dependent.outcome !== undefined) continue;
      if (result.status === TaskStatus.COMPLETED) {
        dependent.unmet -= 1;
        if (dependent.unmet === 0) {
          this.#queue.release(dependent.id);
          this.#schedulePump();
        }
      } else {
        const error = dependencyFailed(dependent.id, { id: live.id, code: result.error.code });
        (failed ??= []).push([dependent, dependent.failedWithoutRunning(error)]);
      }
    }
    return failed;
  }

  /**
   * Stores a task's end in the queue. Should the store fail (a full disk),
   * the handle still settles: FAILED with the storing error, saying how the
   * task itself ended; a durable queue then still holds the task as
   * unfinished, and the next orchestrator on it runs it again.
   */
  #record(live: LiveTask, result: TaskResult): TaskResult {
    try {
      this.#queue.finish(live, result);
      return result;
    } catch (error) {
      const failure = endNotStored(live.id, result, error);
      this.#logger.error({ taskId: live.id, taskType: live.type, queue: this.#queue.name, endedAs: result.status, err: error instanceof Error ? error.message : String(error) }, 'the end of a task could not be stored');
      const { data: _notStored, ...rest } = result;
      return { ...rest, status: TaskStatus.FAILED, success: false, error: toErrorInfo(failure) };
    }
  }

  #report(live: LiveTask, result: TaskResult): void {
    this.#metrics?.finished(result);
    if (result.success) {
      if (this.#events.listenerCount('complete') > 0) this.#events.emit('complete', result);
      return;
    }
    const { error } = result;
    if (live.status === TaskStatus.PENDING) {
      this.#logger.info({ taskId: live.id, taskType: live.type, code: error.code }, 'task ended without running');
    }
    this.#events.emit('error', { id: live.id, type: live.type, error, result });
  }

  #emitCancel(live: LiveTask, reason: string | undefined): void {
    this.#logger.info({ taskId: live.id, taskType: live.type, status: live.status }, 'task cancelled');
    this.#events.emit('cancel', { id: live.id, type: live.type, previousStatus: live.status, ...(reason === undefined ? {} : { reason }) });
  }

  /** Adopts the tasks a previous process left in a durable queue. */
  #recover(): void {
    const unfinished = this.#queue.recover();
    if (unfinished.length === 0) return;
    const lives = unfinished.map((task) => this.#adopt(task));
    for (const live of lives) this.#live.set(live.id, live);
    let ready = 0;
    for (const live of lives) {
      if (live.interruptions > this.#maxInterruptions) {
        const error = new TaskforgeError(ErrorCode.INTERRUPTED, `task '${live.id}' was cut off by a crash ${String(live.interruptions)} times; it is not run again`, {
          details: { interruptions: live.interruptions },
        });
        this.#settleAll(live, live.failedWithoutRunning(error));
        continue;
      }
      if (live.outcome !== undefined) continue;
      const failedDependency = this.#linkDependencies(live);
      if (failedDependency !== undefined) {
        this.#settleAll(live, live.failedWithoutRunning(dependencyFailed(live.id, failedDependency)));
      } else if (live.unmet === 0) {
        this.#queue.release(live.id);
        ready += 1;
      }
    }
    this.#logger.info({ queue: this.#queue.name, recovered: lives.length, ready }, 'recovered unfinished tasks');
  }

  #adopt(task: UnfinishedTask): LiveTask {
    return new LiveTask(task.id, task.type, task.priority, task.config, task.dependsOn, task.attempts, task.submittedAt, task.interruptions);
  }

  #inTransaction(work: () => void): void {
    if (this.#queue.transaction === undefined) work();
    else this.#queue.transaction(work);
  }

  /** Whether debug lines are wanted: asked of pino (so a silent logger costs no field objects), else assumed. */
  #debugEnabled(): boolean {
    const { isLevelEnabled } = this.#logger as { isLevelEnabled?: (level: string) => boolean };
    return isLevelEnabled === undefined || isLevelEnabled.call(this.#logger, 'debug');
  }

  #assertAccepting(): void {
    if (!this.#accepting) throw new TaskforgeError(ErrorCode.INVALID_STATE, 'the orchestrator is shutting down and takes no more tasks');
  }

  #isIdle(): boolean {
    return this.#running === 0 && (this.#queue.waiting === 0 || this.#shutdown !== undefined);
  }

  #resolveIdle(): void {
    if (this.#idleWaiters.length === 0) return;
    const waiters = this.#idleWaiters;
    this.#idleWaiters = [];
    for (const resolve of waiters) resolve();
  }
}

/** The error of an end the queue could not store: NO_SPACE for a full disk, else BACKEND_UNAVAILABLE. */
function endNotStored(id: string, result: TaskResult, error: unknown): TaskforgeError {
  const sqliteCode = (error as { code?: unknown } | undefined)?.code;
  const code = error instanceof TaskforgeError ? error.code : sqliteCode === 'SQLITE_FULL' ? ErrorCode.NO_SPACE : ErrorCode.BACKEND_UNAVAILABLE;
  const reason = error instanceof Error ? error.message : String(error);
  // The queue's name may be a host path (sqlite:/srv/…): it goes to the log, not into the result.
  return new TaskforgeError(code, `the end of task '${id}' (${result.status}) could not be stored in its queue: ${reason}`, {
    cause: error,
    retryable: false,
    details: { endedAs: result.status, ...(result.error === undefined ? {} : { taskError: result.error.code }) },
  });
}

function dependencyFailed(id: string, dependency: { id: string; code: string }): TaskforgeError {
  const how = dependency.code === 'UNKNOWN' ? 'is no longer known' : `did not complete (${dependency.code})`;
  return new TaskforgeError(ErrorCode.DEPENDENCY_FAILED, `task '${id}' did not run: its dependency '${dependency.id}' ${how}`, {
    details: { dependency: dependency.id, dependencyCode: dependency.code },
  });
}

function isTaskObject(config: TaskConfig | BaseTask): config is BaseTask {
  return typeof (config as Partial<BaseTask>).execute === 'function';
}
