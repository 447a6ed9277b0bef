import { ErrorCode, TaskforgeError } from '../core/errors.js';
import { getDefaultLogger, type Logger } from '../core/logger.js';
import { TypedEmitter, type Listener } from '../core/typed-emitter.js';
import type { BaseTask } from '../tasks/base-task.js';
import type { StorageTaskContext } from '../tasks/storage-task.js';
import type { StorageResultData, StorageTaskConfigFor } from '../tasks/storage-result.js';
import type { ReadForm, StorageOperation, StorageTaskConfig } from '../tasks/storage-task-config.js';
import type { TaskConfig } from '../tasks/task-config.js';
import type { RetainedTaskResult, TaskResult } from '../tasks/task-result.js';
import type { OrchestratorMetrics } from './metrics.js';
import { submitEvent, type OrchestratorEvents } from './orchestrator-events.js';
import { openQueue } from './open-queue.js';
import { LocalQueue } from './queues/local-queue.js';
import { assertNoCycle, invalid, readSubmission, type KnownFieldsOnly, type Submission, type SubmitOptions, type SubmittedData } from './submission.js';
import { failedWithoutRunning, isEndNotStored } from './task-ends.js';
import { TaskHandle } from './task-handle.js';
import { STOP_GRACE_MS, type Consumption, type QueueTaskEvents, type TaskMeta, type TaskQueue } from './task-queue.js';
import { TaskRegistry, type TaskClass } from './task-registry.js';
import { TaskRunner, isTaskObject } from './task-runner.js';
import { taskView, type TaskView } from './task-view.js';

export type { TaskView } from './task-view.js';
export { TaskHandle } from './task-handle.js';

/** The default number of tasks that run at once. */
export const DEFAULT_CONCURRENCY = 8;
/** How long shutdown() lets running tasks finish before it cancels them. */
export const DEFAULT_SHUTDOWN_TIMEOUT_MS = 30_000;
/** How many times a durable task may be cut off (a crash, a dead worker) before it ends INTERRUPTED. */
export const DEFAULT_MAX_INTERRUPTIONS = 3;
/** Ends told as this process saw them, remembered until the queue's copy comes (it comes within moments). */
const TOLD_REMEMBERED = 10_000;
/** How often cancel() asks a shared queue again while a running task has not ended (its worker may have missed the first request). */
const CANCEL_RETRY_MS = 1000;

/** What submitAll() takes: task configs (storage ones typed by their operation) and task objects. */
type Submittable = StorageTaskConfig | TaskConfig | BaseTask<unknown, object>;

/**
 * The form results reach an orchestrator on `TQueue` in: whole on a queue of
 * this process, as the queue keeps them on a shared one (or one whose kind
 * the compiler cannot tell, such as a URL in a variable).
 */
export type ResultFormOf<TQueue> = TQueue extends LocalQueue | 'memory' | `sqlite:${string}` ? 'whole' : 'kept';

/** An orchestrator on any queue: what code that takes one from elsewhere should ask for (`Orchestrator` alone is one on the memory queue). */
export type AnyOrchestrator = Orchestrator<TaskQueue | string>;

/** Options of {@link Orchestrator}. */
export interface OrchestratorOptions<TQueue extends TaskQueue | string = TaskQueue | string> {
  /**
   * Tasks this process runs at once. Default 8. 0 (a shared queue only):
   * this orchestrator submits and watches, and other processes run.
   */
  readonly concurrency?: number;
  /**
   * Where tasks wait and finished ones are kept: a queue object, or its URL
   * (`memory`, `sqlite:FILE`, `redis://HOST:PORT[/DB][?name=QUEUE]`).
   * Default `memory`. Nothing else changes between one process and many.
   */
  readonly queue?: TQueue;
  /** Aging against starvation for a queue given by URL (one priority point per `agingMs` waited). Default: off. */
  readonly agingMs?: number;
  /** Custom task types by name (`storage` is built in); the same as register() before anything runs. */
  readonly taskTypes?: Readonly<Record<string, TaskClass>>;
  /** Given to every task this process runs (storage backend, keyring, cache, retry policy). */
  readonly context?: StorageTaskContext & Readonly<Record<string, unknown>>;
  /** Where the orchestrator and its tasks log. Default: pino at `TASKFORGE_LOG_LEVEL`. */
  readonly logger?: Logger;
  /** Prometheus metrics to record into; see {@link OrchestratorMetrics}. Default: none. */
  readonly metrics?: OrchestratorMetrics;
  /** Cut-offs (a crash, a dead worker) a durable task survives before it ends INTERRUPTED. Default 3. */
  readonly maxInterruptions?: number;
  /**
   * Tell every task's events, not only those of tasks this orchestrator
   * submitted, watches or runs (a dashboard over a shared queue). Default false.
   */
  readonly allEvents?: boolean;
}

/** Options of {@link Orchestrator.shutdown}. */
export interface ShutdownOptions {
  /** How long running tasks may go on before they are cancelled. Default 30 s. */
  readonly timeoutMs?: number;
}

/**
 * Runs tasks by priority (larger first, submission order among equals) with
 * a concurrency limit, dependencies, cancellation and graceful shutdown, on
 * any queue: this process's memory, a SQLite file, or a Redis server that
 * workers on many machines share. Only the `queue` option changes between
 * them; every method means the same on each.
 *
 * A running task keeps its slot until its work has really stopped and its
 * cleanup ran, timed out or cancelled alike, so no more than `concurrency`
 * tasks ever work at once in this process.
 */
export class Orchestrator<TQueue extends TaskQueue | string = 'memory'> {
  readonly #registry = new TaskRegistry();
  readonly #events: TypedEmitter<OrchestratorEvents>;
  readonly #logger: Logger;
  readonly #metrics: OrchestratorMetrics | undefined;
  readonly #concurrency: number;
  readonly #allEvents: boolean;
  /** What tasks are made with (here, to check custom configs at submit). */
  readonly #context: Readonly<Record<string, unknown>>;
  readonly #queueName: string;
  /** The queue, once open (at once, but for a Redis URL). */
  #queue: TaskQueue | undefined;
  readonly #opening: Promise<TaskQueue>;
  #runner: TaskRunner | undefined;
  #consumption: Consumption | undefined;
  #unsubscribe: (() => void) | undefined;
  /** Tasks whose end this orchestrator waits for (submitted here, or asked about), by id. */
  readonly #watched = new Map<string, TaskHandle>();
  /** On a shared queue: tasks run here whose end was told when they ended here (the queue's copy is not told again). */
  readonly #toldHere = new Set<string>();
  #accepting = true;
  #idleWaiters: (() => void)[] = [];
  #shutdown: Promise<void> | undefined;

  constructor(options: OrchestratorOptions<TQueue> = {}) {
    const queueOption: TaskQueue | string = options.queue ?? 'memory';
    const shared = typeof queueOption === 'string' ? !isLocalUrl(queueOption) : queueOption.shared;
    const concurrency = options.concurrency ?? DEFAULT_CONCURRENCY;
    if (!Number.isInteger(concurrency) || concurrency < (shared ? 0 : 1)) {
      invalid('', 'concurrency', `expected a whole number of ${shared ? '0 (submit only)' : '1'} or more (got ${String(concurrency)})`);
    }
    if (typeof queueOption !== 'string' && options.agingMs !== undefined) {
      invalid('', 'agingMs', `applies to a queue given by URL; give it to the queue instead (new SqliteQueue(file, { agingMs: ${String(options.agingMs)} }))`);
    }
    this.#concurrency = concurrency;
    this.#allEvents = options.allEvents ?? false;
    this.#logger = options.logger ?? getDefaultLogger();
    this.#metrics = options.metrics;
    this.#events = new TypedEmitter<OrchestratorEvents>((error, event) => {
      this.#logger.error({ event, err: error instanceof Error ? error.message : String(error) }, 'an orchestrator event listener threw');
    });
    for (const [type, taskClass] of Object.entries(options.taskTypes ?? {})) this.register(type, taskClass);
    const context = { logger: this.#logger, ...options.context };
    this.#context = context;
    const maxInterruptions = options.maxInterruptions ?? DEFAULT_MAX_INTERRUPTIONS;
    const opened = openQueue(queueOption, { ...(options.agingMs === undefined ? {} : { agingMs: options.agingMs }), logger: this.#logger });
    this.#queueName = opened.name;
    const start = (queue: TaskQueue): TaskQueue => {
      this.#queue = queue;
      this.#unsubscribe = this.#listen(queue);
      if (concurrency > 0) {
        this.#runner = new TaskRunner({
          concurrency,
          queue,
          registry: this.#registry,
          context,
          logger: this.#logger,
          metrics: this.#metrics,
          maxInterruptions,
          onCleanup: (task) => {
            if (this.#events.listenerCount('cleanup') > 0) this.#events.emit('cleanup', { id: task.id, type: task.type });
          },
          onEnd: (result) => {
            this.#ranHere(result);
          },
        });
        this.#consumption = queue.consume(this.#runner);
      }
      return queue;
    };
    if (opened.queue !== undefined) {
      this.#opening = Promise.resolve(start(opened.queue));
    } else {
      this.#opening = opened.opening.then(start);
      // A failed open rejects every call that needs the queue; here it must not go unheard.
      this.#opening.catch((error: unknown) => {
        this.#logger.error({ queue: this.#queueName, err: error instanceof Error ? error.message : String(error) }, 'the queue could not be opened');
      });
    }
    this.#metrics?.observe(this);
  }

  /** The queue's name: `memory`, `sqlite:FILE` or `redis://HOST:PORT?name=QUEUE` (no password). */
  get queueName(): string {
    return this.#queueName;
  }

  /** Tasks running in this process now. */
  get running(): number {
    return this.#runner?.running ?? 0;
  }

  get concurrency(): number {
    return this.#concurrency;
  }

  /** Resolves once the queue is open (at once, but for a Redis URL); BACKEND_UNAVAILABLE when it cannot be. */
  async ready(): Promise<void> {
    await this.#opening;
  }

  /** Tasks waiting in the queue (anywhere, on a shared one) and running (anywhere). */
  async counts(): Promise<{ waiting: number; running: number }> {
    const queue = await this.#opening;
    return queue.counts();
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
   * Queues one task config (or, on a queue of this process that is not
   * durable, a task object) and resolves with its handle once the queue
   * holds it: `(await orchestrator.submit(config)).result`. Rejects with
   * VALIDATION_ERROR for a config the orchestrator cannot queue (unknown
   * type, bad id or priority, unknown or cyclic dependencies), ALREADY_EXISTS
   * for an id in use, INVALID_STATE after shutdown(). The rest of the config
   * is checked when the task runs: a bad one ends FAILED with VALIDATION_ERROR.
   *
   * The handle's result is typed by what the task produces: a task object's
   * data; a storage config's, by its operation (and a read's `as`); for a
   * config of another type, `unknown`, or the type given as `submit<TData>(config)`.
   */
  submit<TOperation extends StorageOperation, TForm extends ReadForm | undefined = undefined>(
    config: StorageTaskConfigFor<TOperation, TForm>,
    options?: SubmitOptions,
  ): Promise<TaskHandle<StorageResultData<TOperation, TForm>, ResultFormOf<TQueue>>>;
  submit<TData = unknown>(config: BaseTask<TData, object> | TaskConfig, options?: SubmitOptions): Promise<TaskHandle<TData, ResultFormOf<TQueue>>>;
  submit(config: TaskConfig | BaseTask, options: SubmitOptions = {}): Promise<TaskHandle<unknown, ResultFormOf<TQueue>>> {
    const queue = this.#queue;
    if (queue instanceof LocalQueue) {
      // This process's queue answers at once: no promise per step, no array, for the 300,000-task loop.
      try {
        this.#assertAccepting();
        const submission = this.#readOne(config, queue, '', options);
        const handle = new TaskHandle(submission.id);
        submission.tag = handle;
        queue.submitOneNow(submission);
        this.#submitted(submission);
        return Promise.resolve(handle as TaskHandle<unknown, ResultFormOf<TQueue>>);
      } catch (error) {
        return Promise.reject(asError(error));
      }
    }
    return this.#submitShared([config], undefined, options).then((handles) => onlyOne(handles) as TaskHandle<unknown, ResultFormOf<TQueue>>);
  }

  /**
   * Queues a batch whose tasks may depend on each other in any order; all
   * are accepted or none (a cycle or a bad config refuses the whole batch).
   * Each handle is typed as submit() types it.
   */
  submitAll<const TConfigs extends readonly Submittable[] | []>(
    configs: TConfigs & KnownFieldsOnly<TConfigs>,
  ): Promise<{ -readonly [K in keyof TConfigs]: TaskHandle<SubmittedData<TConfigs[K]>, ResultFormOf<TQueue>> }>;
  submitAll(configs: readonly (TaskConfig | BaseTask)[]): Promise<TaskHandle<unknown, ResultFormOf<TQueue>>[]> {
    const where = (index: number): string => `[${String(index)}].`;
    const queue = this.#queue;
    if (queue instanceof LocalQueue) {
      try {
        return Promise.resolve(this.#submitLocal(queue, configs, where, {}) as TaskHandle<unknown, ResultFormOf<TQueue>>[]);
      } catch (error) {
        return Promise.reject(asError(error));
      }
    }
    return this.#submitShared(configs, where, {}) as Promise<TaskHandle<unknown, ResultFormOf<TQueue>>[]>;
  }

  /** A task by id, wherever it is: waiting, running, or finished while the queue keeps it. */
  async get(id: string): Promise<TaskView | undefined> {
    const queue = this.#queue ?? (await this.#opening);
    const state = queue instanceof LocalQueue ? queue.stateNow(id) : await queue.state(id);
    if (state === undefined) return undefined;
    if (state.status === 'finished') return taskView(state.finished, state.finished.status, state.finished.attempts, state.finished.result);
    return taskView(state.task, state.status, state.task.attempts);
  }

  /**
   * The result of a task, once it has ended, whichever process submitted it
   * (a durable queue's tasks outlive their submitter): at once for a task
   * that has finished, while the queue keeps it. NOT_FOUND for an id the
   * queue does not know.
   */
  async result(id: string): Promise<RetainedTaskResult> {
    const watched = this.#watched.get(id);
    if (watched !== undefined) return watched.result;
    const queue = await this.#opening;
    const state = await queue.state(id);
    if (state === undefined) throw notFound(id);
    if (state.status === 'finished') return state.finished.result;
    return this.#watch(state.task).result;
  }

  /**
   * Cancels a task wherever it is and resolves with its result once it has
   * ended: FAILED with CANCELLED (or COMPLETED, when its work had already
   * committed). One waiting ends at once; for one running, its AbortSignal
   * fires in whichever process runs it. Tasks that depend on it end
   * DEPENDENCY_FAILED. NOT_FOUND for an unknown id, INVALID_STATE for a
   * finished task.
   */
  async cancel(id: string, reason?: string): Promise<RetainedTaskResult> {
    const queue = await this.#opening;
    for (;;) {
      const cancelled = await queue.cancel(id, reason);
      switch (cancelled.outcome) {
        case 'unknown':
          throw notFound(id);
        case 'finished': {
          // Ended a moment ago, its end still on its way here: the handle has it.
          const watched = this.#watched.get(id);
          if (watched !== undefined) return watched.result;
          const { status } = cancelled.finished;
          throw new TaskforgeError(ErrorCode.INVALID_STATE, `task '${id}' cannot be cancelled: it is already ${status}`, { details: { taskId: id, status } });
        }
        case 'ended':
          // (Told by the queue, as every end is.)
          return cancelled.result;
        case 'signalled': {
          const handle = this.#watch(cancelled.task);
          if (!queue.shared) return handle.result;
          // Its worker was told; should the message have missed it (between two states), ask again.
          const ended = await Promise.race([handle.result, new Promise<undefined>((resolve) => setTimeout(resolve, CANCEL_RETRY_MS, undefined))]);
          if (ended !== undefined) return ended;
        }
      }
    }
  }

  /**
   * Resolves when every task this orchestrator submitted or watches has
   * ended and none runs here; on a queue of this process, also when nothing
   * waits in it (tasks a crashed process left included).
   */
  onIdle(): Promise<void> {
    if (this.#isIdle()) return Promise.resolve();
    return new Promise((resolve) => this.#idleWaiters.push(resolve));
  }

  /**
   * Stops taking work and closes the queue. Running tasks may finish for up
   * to `timeoutMs`; then they are cancelled, and one that ignores its
   * cancellation for STOP_GRACE_MS more is given up: its handle resolves
   * FAILED with INTERRUPTED (`details.abandoned: true`), and a durable queue
   * runs it again when next opened. Waiting tasks do not start: on the
   * memory queue they end FAILED with CANCELLED; a durable queue keeps them
   * (their handles here resolve FAILED with CANCELLED and `details.requeued: true`).
   */
  shutdown(options: ShutdownOptions = {}): Promise<void> {
    this.#shutdown ??= this.#stop(options.timeoutMs ?? DEFAULT_SHUTDOWN_TIMEOUT_MS);
    return this.#shutdown;
  }

  async #stop(timeoutMs: number): Promise<void> {
    this.#accepting = false;
    let queue: TaskQueue;
    try {
      queue = await this.#opening;
    } catch {
      return;
    }
    this.#logger.info({ queue: queue.name, running: this.running, timeoutMs }, 'orchestrator shutting down');
    if (queue instanceof LocalQueue && !queue.durable) queue.cancelWaiting('the orchestrator shut down');
    const stopped = (await this.#consumption?.stop(timeoutMs)) ?? { abandoned: [] };
    for (const id of stopped.abandoned) {
      this.#logger.error({ taskId: id, queue: queue.name }, 'a task ignored its cancellation at shutdown and was given up');
      const tag = queue instanceof LocalQueue ? queue.tagOf(id) : undefined;
      const handle = tag instanceof TaskHandle ? tag : this.#watched.get(id);
      if (handle === undefined) continue;
      this.#watched.delete(id);
      const error = new TaskforgeError(
        ErrorCode.INTERRUPTED,
        `task '${id}' did not stop within ${String(STOP_GRACE_MS)} ms of its cancellation at shutdown; it was given up${queue.durable ? ' (the queue runs it again when next opened)' : ' (its work may go on until the process exits)'}`,
        { details: { abandoned: true, requeued: queue.durable } },
      );
      handle.settle(failedWithoutRunning({ id, type: 'unknown' }, 0, error));
    }
    // What still waits in a queue of this process goes on with it (a durable one keeps it); its handles here are let go.
    const letGo = queue instanceof LocalQueue ? queue.waitingTags().filter((tag): tag is TaskHandle => tag instanceof TaskHandle) : [];
    this.#unsubscribe?.();
    await queue.close();
    // What is still watched goes on in a durable queue (waiting here, or running elsewhere).
    for (const [id, handle] of [...letGo.map((tag) => [tag.id, tag] as const), ...this.#watched]) {
      const error = new TaskforgeError(ErrorCode.CANCELLED, `task '${id}' is no longer watched: the orchestrator shut down (the task stays in the queue ${queue.name})`, {
        details: { requeued: true },
      });
      handle.settle({ ...failedWithoutRunning({ id, type: 'unknown' }, 0, error), details: { requeued: true } });
    }
    this.#watched.clear();
    this.#resolveIdle();
    this.#logger.info({ queue: queue.name }, 'orchestrator stopped');
  }

  /** Submits to a queue of this process, at once; each handle goes with its task (the queue gives it back with the end). */
  #submitLocal(queue: LocalQueue, configs: readonly (TaskConfig | BaseTask)[], where: ((index: number) => string) | undefined, options: SubmitOptions): TaskHandle[] {
    this.#assertAccepting();
    const submissions = this.#read(configs, queue, where, options);
    const handles = submissions.map((submission) => {
      const handle = new TaskHandle(submission.id);
      submission.tag = handle;
      return handle;
    });
    queue.submitNow(submissions, where === undefined ? {} : { where });
    for (const submission of submissions) this.#submitted(submission);
    return handles;
  }

  /** Submits to a shared queue, over the network. */
  async #submitShared(configs: readonly (TaskConfig | BaseTask)[], where: ((index: number) => string) | undefined, options: SubmitOptions): Promise<TaskHandle[]> {
    this.#assertAccepting();
    const queue = await this.#opening;
    const submissions = this.#read(configs, queue, where, options);
    // A task this orchestrator watches has not ended: refused here, before its handle could be replaced.
    submissions.forEach((submission, index) => {
      if (this.#watched.has(submission.id)) {
        const at = where?.(index) ?? '';
        throw new TaskforgeError(ErrorCode.ALREADY_EXISTS, `a task with id '${submission.id}' already exists${at === '' ? '' : ` (${at.slice(0, -1)})`}`, {
          details: { field: `${at}id`, taskId: submission.id },
        });
      }
    });
    // Watched before they are stored: a fast worker's end must find them.
    const handles = submissions.map((submission) => this.#newHandle(submission.id));
    try {
      await queue.submit(submissions, { ...(where === undefined ? {} : { where }), events: this.#wantsTaskEvents() });
    } catch (error) {
      this.#unwatch(handles);
      throw error;
    }
    for (const submission of submissions) this.#submitted(submission);
    return handles;
  }

  /** Reads and checks a batch (`where` names its tasks; undefined for a single submit) before anything is queued. */
  #read(configs: readonly (TaskConfig | BaseTask)[], queue: TaskQueue, where: ((index: number) => string) | undefined, options: SubmitOptions): Submission[] {
    const inBatch = where === undefined ? undefined : new Set<string>();
    const submissions = configs.map((config, index) => {
      const at = where?.(index) ?? '';
      const submission = this.#readOne(config, queue, at, where === undefined ? options : {});
      if (inBatch !== undefined) {
        if (inBatch.has(submission.id)) invalid(at, 'id', `'${submission.id}' appears twice in the batch`);
        inBatch.add(submission.id);
      }
      return submission;
    });
    if (where !== undefined) assertNoCycle(submissions, where);
    return submissions;
  }

  /** Reads and checks one config (`at` names it in a batch). */
  #readOne(config: TaskConfig | BaseTask, queue: TaskQueue, at: string, options: SubmitOptions): Submission {
    const submission = readSubmission(config, options, queue.durable, at);
    if (!isTaskObject(submission.config)) {
      if (!this.#registry.has(submission.type)) invalid(at, 'type', `no task type '${submission.type}' is registered (registered: ${this.#registry.types.join(', ')})`);
      // A custom config is checked here, by its class: on a shared queue a worker would only fail it later.
      this.#registry.checkConfig(submission.type, submission.config, submission.id, at, this.#context);
    }
    return submission;
  }

  #newHandle(id: string): TaskHandle {
    const handle = new TaskHandle(id);
    this.#watched.set(id, handle);
    return handle;
  }

  #unwatch(handles: readonly TaskHandle[]): void {
    for (const handle of handles) if (this.#watched.get(handle.id) === handle) this.#watched.delete(handle.id);
  }

  /** Tells the submit event. (A task that ended at once, a dependency having failed, was told by the queue, as every end is.) */
  #submitted(submission: Submission): void {
    if (this.#events.listenerCount('submit') > 0) this.#events.emit('submit', submitEvent(submission));
    this.#metrics?.submitted(submission.type);
  }

  /** Watches a task submitted elsewhere (or before): its handle settles when its end is heard. */
  #watch(meta: TaskMeta): TaskHandle {
    return this.#watched.get(meta.id) ?? this.#newHandle(meta.id);
  }

  /** What this orchestrator hears from its queue. */
  #listen(queue: TaskQueue): () => void {
    return queue.subscribe({
      ended: (result, tag) => {
        this.#heard(result, tag);
      },
      event: (kind, payload) => {
        if (this.#tells(payload.id)) this.#events.emit(kind, payload as never);
      },
      wants: (kind) => this.#events.listenerCount(kind) > 0,
      everyTask: this.#allEvents,
      waitingFor: () => this.#watched.keys(),
    });
  }

  /** A task's end, as the queue tells it (once): settles its handles (the one it was submitted with, and any made since) and tells the listeners. */
  #heard(result: TaskResult, tag?: unknown): void {
    if (tag instanceof TaskHandle) tag.settle(result);
    const handle = this.#watched.size === 0 ? undefined : this.#watched.get(result.id);
    if (handle !== undefined) {
      this.#watched.delete(result.id);
      handle.settle(result);
    }
    if (this.#queue?.shared !== true || handle !== undefined || (this.#allEvents && !this.#toldHere.delete(result.id))) this.#tell(result);
    if (this.#idleWaiters.length > 0 && this.#isIdle()) this.#resolveIdle();
  }

  /**
   * A task this process ran has ended, as it saw it. On a shared queue that
   * is what is told here of a task nobody here watches (a worker's own
   * account, LOCK_LOST included: another worker records the task's end); a
   * watched task's handle waits for the end the queue records.
   */
  #ranHere(result: TaskResult): void {
    if (this.#queue?.shared !== true || this.#watched.has(result.id)) return;
    this.#toldHere.add(result.id);
    if (this.#toldHere.size > TOLD_REMEMBERED) {
      for (const old of this.#toldHere) {
        this.#toldHere.delete(old);
        break;
      }
    }
    this.#tell(result);
  }

  /** Whether events of a task are told here: on a shared queue, those of tasks this orchestrator submitted, watches or runs (or all, with allEvents). */
  #tells(id: string): boolean {
    if (this.#queue?.shared !== true || this.#allEvents) return true;
    return this.#watched.has(id) || this.#runner?.isRunning(id) === true;
  }

  #tell(result: TaskResult): void {
    this.#metrics?.finished(result);
    if (result.success) {
      if (this.#events.listenerCount('complete') > 0) this.#events.emit('complete', result);
      return;
    }
    if (isEndNotStored(result)) {
      this.#logger.error({ taskId: result.id, taskType: result.type, queue: this.#queueName, code: result.error.code }, 'the end of a task could not be stored');
    } else if (result.attempts === 0 && result.durationMs === 0 && this.#queue?.shared !== true) {
      this.#logger.info({ taskId: result.id, taskType: result.type, code: result.error.code }, 'task ended without running');
    }
    this.#events.emit('error', { id: result.id, type: result.type, error: result.error, result });
  }

  /** Whether anyone here listens to start, retry, progress or cancel events (a shared queue publishes them only then: a write each). */
  #wantsTaskEvents(): boolean {
    return this.#allEvents || (['start', 'retry', 'progress', 'cancel'] as const).some((event: keyof QueueTaskEvents) => this.#events.listenerCount(event) > 0);
  }

  #assertAccepting(): void {
    if (!this.#accepting) throw new TaskforgeError(ErrorCode.INVALID_STATE, 'the orchestrator is shutting down and takes no more tasks');
  }

  #isIdle(): boolean {
    if (this.#shutdown !== undefined && this.#queue === undefined) return true;
    if (this.#watched.size > 0 || this.running > 0) return false;
    const queue = this.#queue;
    return !(queue instanceof LocalQueue) || this.#shutdown !== undefined || queue.waiting === 0;
  }

  #resolveIdle(): void {
    if (this.#idleWaiters.length === 0) return;
    const waiters = this.#idleWaiters;
    this.#idleWaiters = [];
    for (const resolve of waiters) resolve();
  }
}

function onlyOne(handles: readonly TaskHandle[]): TaskHandle {
  const [handle] = handles;
  if (handle === undefined) throw new Error('unreachable: a submit of one task gave no handle');
  return handle;
}

function asError(error: unknown): Error {
  return error instanceof Error ? error : new Error(String(error));
}

function isLocalUrl(url: string): boolean {
  return url === 'memory' || url.startsWith('sqlite:');
}

/** (Not naming the queue: a SQLite queue's name is a host path, which goes to logs only.) */
function notFound(id: string): TaskforgeError {
  return new TaskforgeError(ErrorCode.NOT_FOUND, `no task with id '${id}' is known to this orchestrator`, { details: { taskId: id } });
}

