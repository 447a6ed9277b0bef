import { ErrorCode, TaskforgeError } from '../core/errors.js';
import type { Logger } from '../core/logger.js';
import { TypedEmitter, type Listener } from '../core/typed-emitter.js';
import type { BaseTask } from '../tasks/base-task.js';
import type { StorageResultData, StorageTaskConfigFor } from '../tasks/storage-result.js';
import type { ReadForm, StorageOperation, StorageTaskConfig } from '../tasks/storage-task-config.js';
import type { TaskConfig } from '../tasks/task-config.js';
import type { RetainedTaskResult } from '../tasks/task-result.js';
import { Admission } from './admission.js';
import { EndTeller } from './end-teller.js';
import { HandleBook } from './handle-book.js';
import { IdleWaiters } from './idle-waiters.js';
import type { OrchestratorMetrics } from './metrics.js';
import type { OrchestratorEvents } from './orchestrator-events.js';
import { openQueue } from './open-queue.js';
import { DEFAULT_SHUTDOWN_TIMEOUT_MS, defaultedOptions, type OrchestratorOptions, type ShutdownOptions, type ShutdownReport } from './orchestrator-options.js';
import { LocalQueue } from './queues/local-queue.js';
import { Shutdown } from './shutdown.js';
import type { KnownFieldsOnly, SubmitOptions, SubmittedData } from './submission.js';
import type { TaskHandle } from './task-handle.js';
import type { CancelOutcome, TaskQueue, TaskState } from './task-queue.js';
import { TaskRegistry, type TaskClass } from './task-registry.js';
import { TaskRunner } from './task-runner.js';
import { taskView, type TaskView } from './task-view.js';

export type { TaskView } from './task-view.js';
export { TaskHandle } from './task-handle.js';
export { DEFAULT_CONCURRENCY, DEFAULT_SHUTDOWN_TIMEOUT_MS, DEFAULT_MAX_INTERRUPTIONS } from './orchestrator-options.js';
export type { OrchestratorOptions, ShutdownOptions, ShutdownReport } from './orchestrator-options.js';

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
  readonly #queueName: string;
  /** The queue, once open (at once, but for a Redis URL). */
  #queue: TaskQueue | undefined;
  readonly #opening: Promise<TaskQueue>;
  #runner: TaskRunner | undefined;
  /** Tasks whose end this orchestrator waits for (submitted here to a shared queue, or asked about), by id. */
  readonly #book = new HandleBook();
  /** result(id) lookups under way, by id: a second call for the same id shares the first's. */
  readonly #lookups = new Map<string, Promise<RetainedTaskResult>>();
  readonly #idle = new IdleWaiters(() => this.#isIdle());
  readonly #admission: Admission;
  readonly #teller: EndTeller;
  readonly #shutdown: Shutdown;

  constructor(options: OrchestratorOptions<TQueue> = {}) {
    const { queue: queueOption, concurrency, allEvents, maxInterruptions, logger } = defaultedOptions(options);
    this.#concurrency = concurrency;
    this.#logger = logger;
    this.#metrics = options.metrics;
    this.#events = new TypedEmitter<OrchestratorEvents>((error, event) => {
      this.#logger.error({ event, err: error instanceof Error ? error.message : String(error) }, 'an orchestrator event listener threw');
    });
    for (const [type, taskClass] of Object.entries(options.taskTypes ?? {})) this.register(type, taskClass);
    const context = { logger: this.#logger, ...options.context };
    const opened = openQueue(queueOption, { ...(options.agingMs === undefined ? {} : { agingMs: options.agingMs }), logger: this.#logger });
    this.#queueName = opened.name;
    const parts = { events: this.#events, logger: this.#logger, metrics: this.#metrics, allEvents, book: this.#book, idle: this.#idle };
    this.#admission = new Admission({ ...parts, registry: this.#registry, context });
    this.#teller = new EndTeller({ ...parts, queueName: this.#queueName });
    this.#shutdown = new Shutdown({ ...parts, admission: this.#admission });
    const start = (queue: TaskQueue): TaskQueue => {
      this.#queue = queue;
      const runner =
        concurrency > 0
          ? new TaskRunner({
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
                this.#teller.ranHere(result);
              },
              // (Tasks held back for a type this process lacks are not waited for: nothing else may end to say so.)
              onDrained: () => {
                this.#idle.check();
              },
            })
          : undefined;
      this.#runner = runner;
      // Listening before consuming: no end or event of a task run here goes unheard.
      const unsubscribe = this.#teller.listen(queue, runner);
      this.#shutdown.hold(runner, runner === undefined ? undefined : queue.consume(runner), unsubscribe);
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

  /** Why the queue's server cannot be reached now (a Redis queue whose connection is down: calls wait until it is back), or undefined while it can. */
  get queueUnreachable(): string | undefined {
    return this.#queue?.unreachable;
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
    if (this.#queue instanceof LocalQueue) this.#queue.typesChanged();
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
        return Promise.resolve(this.#admission.submitOne(queue, config, options) as TaskHandle<unknown, ResultFormOf<TQueue>>);
      } catch (error) {
        return Promise.reject(asError(error));
      }
    }
    return this.#admission.submitShared(this.#opening, [config], undefined, options).then((handles) => onlyOne(handles) as TaskHandle<unknown, ResultFormOf<TQueue>>);
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
        return Promise.resolve(this.#admission.submitLocal(queue, configs, where, {}) as TaskHandle<unknown, ResultFormOf<TQueue>>[]);
      } catch (error) {
        return Promise.reject(asError(error));
      }
    }
    return this.#admission.submitShared(this.#opening, configs, where, {}) as Promise<TaskHandle<unknown, ResultFormOf<TQueue>>[]>;
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
   * The tasks waiting or running in the queue, oldest first, up to `limit`
   * (default 10,000), whichever process submitted them: a SQLite queue's
   * include those an earlier process left; a Redis queue's, those waiting
   * or running anywhere.
   */
  async unfinished(limit = 10_000): Promise<TaskView[]> {
    const queue = this.#queue ?? (await this.#opening);
    const states = (await queue.unfinished?.(limit)) ?? [];
    const views: TaskView[] = [];
    for (const state of states) if (state.status !== 'finished') views.push(taskView(state.task, state.status, state.task.attempts));
    return views;
  }

  /**
   * The result of a task, once it has ended, whichever process submitted it
   * (a durable queue's tasks outlive their submitter): at once for a task
   * that has finished, while the queue keeps it. NOT_FOUND for an id the
   * queue does not know.
   */
  result(id: string): Promise<RetainedTaskResult> {
    // (A lookup under way first: its handle is in the book before the queue has said whether the task exists.)
    const asking = this.#lookups.get(id);
    if (asking !== undefined) return asking;
    const watched = this.#book.get(id);
    if (watched !== undefined) return watched.result;
    const lookup = this.#lookUp(id).finally(() => this.#lookups.delete(id));
    this.#lookups.set(id, lookup);
    return lookup;
  }

  /**
   * Asks the queue about a task nobody here waits for yet. It is watched
   * before the queue is asked: an end that came between the queue's answer
   * ("running") and a watch made after it would never be heard.
   */
  async #lookUp(id: string): Promise<RetainedTaskResult> {
    const handle = this.#book.watch(id);
    let state: TaskState | undefined;
    try {
      state = await (await this.#opening).state(id);
    } catch (error) {
      this.#book.unwatch([handle]);
      throw error;
    }
    if (state === undefined || state.status === 'finished') this.#book.unwatch([handle]);
    if (state === undefined) throw notFound(id);
    if (state.status === 'finished') return state.finished.result;
    // (A submit of the same id here meanwhile made a handle of its own: that one hears the end.)
    return (this.#book.get(id) ?? handle).result;
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
    // Watched before the queue is asked (see #lookUp): a running task may end between the queue's answer and a watch made after it.
    const submittedHere = this.#book.get(id);
    const handle = submittedHere ?? this.#book.watch(id);
    const letGo = (): void => {
      if (submittedHere === undefined) this.#book.unwatch([handle]);
    };
    for (let asked = 0; ; asked += 1) {
      let cancelled: CancelOutcome;
      try {
        cancelled = await queue.cancel(id, reason);
      } catch (error) {
        letGo();
        throw error;
      }
      switch (cancelled.outcome) {
        case 'unknown':
          letGo();
          throw notFound(id);
        case 'finished': {
          // Ended a moment ago, its end still on its way here (a task of this orchestrator's, or one already signalled): the handle will have it.
          if (submittedHere !== undefined || handle.settled) return handle.result;
          letGo();
          if (asked > 0) return cancelled.finished.result;
          const { status, result } = cancelled.finished;
          // (The code says how: 'already failed' alone reads the same for a task cancelled before and one that failed.)
          const how = result.error === undefined ? '' : ` (${result.error.code})`;
          throw new TaskforgeError(ErrorCode.INVALID_STATE, `task '${id}' cannot be cancelled: it is already ${status}${how}`, { details: { taskId: id, status, ...(result.error === undefined ? {} : { code: result.error.code }) } });
        }
        case 'ended':
          // (Told by the queue, as every end is: the handle is settled and out of the book.)
          return cancelled.result;
        case 'signalled': {
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
    return this.#idle.wait();
  }

  /**
   * Stops taking work and closes the queue. Running tasks may finish for up
   * to `timeoutMs`; then they are cancelled, and one that ignores its
   * cancellation for STOP_GRACE_MS more is given up: its handle resolves
   * FAILED with INTERRUPTED (`details.abandoned: true`), and a durable queue
   * runs it again when next opened. Waiting tasks do not start: on the
   * memory queue they end FAILED with CANCELLED; a durable queue keeps them
   * (their handles here resolve FAILED with CANCELLED and `details.requeued: true`),
   * and so does a running task the timeout cut off. {@link shutdownReport}
   * then says what it cut off, gave up and left waiting.
   */
  async shutdown(options: ShutdownOptions = {}): Promise<void> {
    await this.#shutdown.run(this.#opening, options.timeoutMs ?? DEFAULT_SHUTDOWN_TIMEOUT_MS);
  }

  /** What shutdown() did with the work in hand, once it has ended; undefined before. */
  get shutdownReport(): ShutdownReport | undefined {
    return this.#shutdown.report;
  }

  /** Nothing to wait for: no task watched or running here and, on a queue of this process until shutdown, none waiting in it. */
  #isIdle(): boolean {
    // Shut down: nothing here is waited for any more (a task given up may still be working: it is not waited for).
    if (this.#shutdown.report !== undefined) return true;
    const stopping = this.#shutdown.started;
    if (stopping && this.#queue === undefined) return true;
    if (this.#book.size > 0 || this.running > 0) return false;
    const queue = this.#queue;
    return !(queue instanceof LocalQueue) || stopping || queue.waitingToRun === 0;
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

/** (Not naming the queue: a SQLite queue's name is a host path, which goes to logs only.) */
function notFound(id: string): TaskforgeError {
  return new TaskforgeError(ErrorCode.NOT_FOUND, `no task with id '${id}' is known to this orchestrator`, { details: { taskId: id } });
}

