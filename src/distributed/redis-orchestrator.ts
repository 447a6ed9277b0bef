import type { Redis } from 'ioredis';
import { ErrorCode, TaskforgeError } from '../core/errors.js';
import { getDefaultLogger, type Logger } from '../core/logger.js';
import { TypedEmitter, type Listener } from '../core/typed-emitter.js';
import { LiveTask } from '../orchestrator/live-task.js';
import { taskView, type TaskView } from '../orchestrator/task-view.js';
import { submitEvent, type OrchestratorEvents } from '../orchestrator/orchestrator-events.js';
import { assertNoCycle, invalid, readSubmission, type KnownFieldsOnly, type Submission, type SubmittedData } from '../orchestrator/submission.js';
import { TaskRegistry, type TaskClass } from '../orchestrator/task-registry.js';
import type { StorageResultData, StorageTaskConfigFor } from '../tasks/storage-result.js';
import type { ReadForm, StorageOperation, StorageTaskConfig } from '../tasks/storage-task-config.js';
import type { TaskConfig } from '../tasks/task-config.js';
import type { RetainedTaskResult, TaskResult } from '../tasks/task-result.js';
import { TaskStatus } from '../tasks/task-status.js';
import { alreadyExists, RedisQueue, type RedisQueueOptions, type TaskMeta } from './redis-queue.js';
import { RemoteTaskHandle } from './remote-task-handle.js';

/** How long one blocking read of the event stream waits. */
const READ_BLOCK_MS = 1000;
/** Entries one read of the event stream takes at most. */
const READ_COUNT = 1000;
/**
 * After a read that found events, the next waits this long, so that events
 * arriving meanwhile come in one read: under load a read per event costs
 * the client and Redis more than the events themselves.
 */
const READ_GATHER_MS = 5;
/**
 * How often a client asks whether the event stream dropped entries it had
 * not read, or the queue's data was lost (a new epoch, or a reconnection):
 * then it looks its tasks up directly, and ends those the queue no longer
 * holds with LOST. This bounds how long a lost task is waited for, once
 * Redis answers again.
 */
const RESULT_CHECK_MS = 5000;
/** How often cancel() asks again while the task has not ended. */
const CANCEL_RETRY_MS = 1000;

/** Events workers publish only for tasks whose submitter listens (or for every task while an allEvents client is connected). */
const PROGRESS_EVENTS = ['start', 'retry', 'progress', 'cancel'] as const;
/** Cancel events told, remembered so that their second copy is not told again. */
const CANCELS_REMEMBERED = 10_000;
/** How long an allEvents client's announcement lasts; it is renewed at a third of that. */
const LISTENER_TTL_MS = 15_000;

/** Options of {@link RedisOrchestrator.connect}. */
export interface RedisOrchestratorOptions extends RedisQueueOptions {
  /** Custom task types this client may submit (their workers must know them too). `storage` is built in. */
  readonly taskTypes?: Readonly<Record<string, TaskClass>>;
  /** Report events of every task in the queue, not only of those this client submitted or watches. Default false. */
  readonly allEvents?: boolean;
  readonly logger?: Logger;
}

/**
 * The submitting side of a Redis queue: submits tasks, hears their events
 * and results from whichever worker runs them, cancels tasks anywhere, and
 * looks tasks up. Workers ({@link RedisWorker}) run the tasks; a process
 * may have both. Its methods mirror {@link Orchestrator}'s, made async
 * where they must ask Redis.
 */
export class RedisOrchestrator {
  readonly queue: RedisQueue;
  readonly #registry = new TaskRegistry();
  readonly #events: TypedEmitter<OrchestratorEvents>;
  readonly #logger: Logger;
  readonly #allEvents: boolean;
  /** Tasks whose end this client waits for, by id. */
  readonly #watched = new Map<string, LiveTask>();
  readonly #reader: Redis;
  /** Ids whose submit is under way: watched, and not yet in the queue (never taken for lost). */
  readonly #submitting = new Set<string>();
  /** The reader reconnected since the last check (Redis may have restarted, or failed over, without its data). */
  #reconnected = false;
  /** A #checkResults is under way. */
  #checking = false;
  /** Watched tasks whose cancel event was told (once: it may come from a reply and from the stream). */
  readonly #cancelTold = new Set<string>();
  #lastEventId: string;
  #reading: Promise<void> | undefined;
  #idleWaiters: (() => void)[] = [];
  #resultCheck: NodeJS.Timeout;
  #announcer: NodeJS.Timeout | undefined;
  #closed = false;

  private constructor(queue: RedisQueue, lastEventId: string, options: RedisOrchestratorOptions) {
    this.queue = queue;
    this.#lastEventId = lastEventId;
    this.#allEvents = options.allEvents ?? false;
    this.#logger = options.logger ?? getDefaultLogger();
    this.#events = new TypedEmitter<OrchestratorEvents>((error, event) => {
      this.#logger.error({ event, err: error instanceof Error ? error.message : String(error) }, 'an orchestrator event listener threw');
    });
    for (const [type, taskClass] of Object.entries(options.taskTypes ?? {})) this.#registry.register(type, taskClass);
    this.#reader = queue.newConnection();
    let connections = 0;
    this.#reader.on('ready', () => {
      connections += 1;
      if (connections > 1) this.#reconnected = true;
    });
    this.#reading = this.#readEvents();
    this.#resultCheck = setInterval(() => {
      // One check at a time: while Redis is away a check waits for it, and the next ones would pile up behind.
      if (this.#checking) return;
      this.#checking = true;
      this.#checkResults()
        .catch((error: unknown) => {
          this.#logger.error({ queue: queue.name, err: error instanceof Error ? error.message : String(error) }, 'looking up task results failed');
        })
        .finally(() => {
          this.#checking = false;
        });
    }, RESULT_CHECK_MS);
    this.#resultCheck.unref();
    if (this.#allEvents) {
      const announce = (): void => void queue.announceListener(LISTENER_TTL_MS).catch(() => undefined);
      announce();
      this.#announcer = setInterval(announce, LISTENER_TTL_MS / 3);
      this.#announcer.unref();
    }
  }

  /** Connects to the queue; BACKEND_UNAVAILABLE when Redis does not answer. */
  static async connect(options: RedisOrchestratorOptions = {}): Promise<RedisOrchestrator> {
    const queue = await RedisQueue.open(options);
    try {
      return new RedisOrchestrator(queue, await queue.lastEventId(), options);
    } catch (error) {
      await queue.close();
      throw error;
    }
  }

  get queueName(): string {
    return this.queue.name;
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
   * Submits one task config; see submitAll(). The handle's result is typed
   * as the in-process orchestrator types it (a storage config's by its
   * operation; another type's `unknown`, or the type given as
   * `submit<TData>(config)`), with `data` as the queue keeps it.
   */
  submit<TOperation extends StorageOperation, TForm extends ReadForm | undefined = undefined>(
    config: StorageTaskConfigFor<TOperation, TForm>,
  ): Promise<RemoteTaskHandle<StorageResultData<TOperation, TForm>>>;
  submit<TData = unknown>(config: TaskConfig): Promise<RemoteTaskHandle<TData>>;
  async submit(config: TaskConfig): Promise<RemoteTaskHandle> {
    const [handle] = await this.#submit([config], () => '');
    if (handle === undefined) throw new Error('unreachable: a batch of one gave no handle');
    return handle;
  }

  /**
   * Submits a batch whose tasks may depend on each other and on tasks
   * already in the queue; all are stored or none. Refuses (before anything
   * is stored) what the in-process orchestrator refuses: VALIDATION_ERROR
   * for a bad config, an unknown type or dependency, a cycle, a priority
   * the Redis queue cannot order; ALREADY_EXISTS for an id in use.
   */
  submitAll<const TConfigs extends readonly (StorageTaskConfig | TaskConfig)[] | []>(
    configs: TConfigs & KnownFieldsOnly<TConfigs>,
  ): Promise<{ -readonly [K in keyof TConfigs]: RemoteTaskHandle<SubmittedData<TConfigs[K]>> }>;
  async submitAll(configs: readonly TaskConfig[]): Promise<RemoteTaskHandle[]> {
    return this.#submit(configs, (index) => `[${String(index)}].`);
  }

  async #submit(configs: readonly TaskConfig[], where: (index: number) => string): Promise<RemoteTaskHandle[]> {
    this.#assertOpen();
    const submissions = configs.map((config, index) => this.#read(config, where(index)));
    assertNoCycle(submissions, where);
    // A task this client watches exists (it has not ended): refused here, before its watcher could be replaced.
    submissions.forEach((submission, index) => {
      if (this.#watched.has(submission.id)) throw alreadyExists(submission.id, where(index));
    });
    const now = Date.now();
    const lives = submissions.map((submission) => new LiveTask(submission.id, submission.type, submission.priority, submission.config, submission.dependsOn, 0, now));
    // Watched before they are stored: a fast worker's end event must find them.
    for (const live of lives) this.#watched.set(live.id, live);
    for (const live of lives) this.#submitting.add(live.id);
    let outcomes;
    try {
      outcomes = await this.queue.submit(lives, where, { events: this.#wantsProgressEvents() });
    } catch (error) {
      // (Only this batch's own entries: an id watched before was refused above.)
      for (const live of lives) if (this.#watched.get(live.id) === live) this.#watched.delete(live.id);
      throw error;
    } finally {
      for (const live of lives) this.#submitting.delete(live.id);
    }
    lives.forEach((live, index) => {
      this.#events.emit('submit', submitEvent(live));
      const outcome = outcomes[index];
      if (outcome !== undefined && typeof outcome !== 'string') this.#ended(outcome, false);
    });
    return lives.map((live) => new RemoteTaskHandle(live));
  }

  #read(config: TaskConfig, where: string): Submission {
    const submission = readSubmission(config, {}, true, where);
    if (!this.#registry.has(submission.type)) {
      invalid(where, 'type', `no task type '${submission.type}' is registered (registered: ${this.#registry.types.join(', ')})`);
    }
    // A custom config is checked here, by its class: a worker would only fail it later.
    this.#registry.checkConfig(submission.type, submission.config, submission.id, where, { logger: this.#logger });
    submission.dependsOn?.forEach((dependency, index) => {
      if (dependency === submission.id) invalid(where, `dependsOn[${String(index)}]`, `a dependency cycle: task '${submission.id}' depends on itself`);
    });
    return submission;
  }

  /** A task by id, wherever it runs: pending, running, or finished while the queue keeps it. */
  async get(id: string): Promise<TaskView | undefined> {
    const state = await this.queue.state(id);
    if (state === undefined) return undefined;
    if (state.status === 'finished') return taskView(state.finished, state.finished.status, state.finished.attempts, state.finished.result);
    return taskView(state.task, state.status, state.task.attempts);
  }

  /** The promise of a task's result, for a task submitted elsewhere (or here). NOT_FOUND for an unknown id. */
  async result(id: string): Promise<RetainedTaskResult> {
    const watched = this.#watched.get(id);
    if (watched !== undefined) return watched.result();
    const state = await this.queue.state(id);
    if (state === undefined) throw new TaskforgeError(ErrorCode.NOT_FOUND, `no task with id '${id}' is known to the queue ${this.queue.name}`, { details: { taskId: id } });
    if (state.status === 'finished') return state.finished.result;
    return this.#watch(state.task).result();
  }

  /**
   * Cancels a task wherever it is: one waiting ends at once; for one
   * running, the worker that runs it is told and its AbortSignal fires
   * there. Resolves with the task's result once it has ended: FAILED with
   * CANCELLED, or COMPLETED when its work had already committed. Tasks that
   * depend on it end DEPENDENCY_FAILED. NOT_FOUND for an unknown id,
   * INVALID_STATE for a finished task.
   */
  async cancel(id: string, reason?: string): Promise<RetainedTaskResult> {
    this.#assertOpen();
    const because = reason === undefined ? '' : `: ${reason}`;
    const message = `task '${id}' was cancelled before it ran${because}`;
    const body = JSON.stringify({ id, ...(reason === undefined ? {} : { reason }) });
    for (;;) {
      const [state, value] = await this.queue.requestCancel(id, message, body);
      if (state === 'unknown') throw new TaskforgeError(ErrorCode.NOT_FOUND, `no task with id '${id}' is known to the queue ${this.queue.name}`, { details: { taskId: id } });
      if (state === 'finished') {
        if (this.#watched.has(id)) {
          this.#ended(value.result, false);
          return value.result;
        }
        throw new TaskforgeError(ErrorCode.INVALID_STATE, `task '${id}' cannot be cancelled: it is already ${value.status}`, { details: { taskId: id, status: value.status } });
      }
      if (state === 'cancelled') {
        this.#emitLocally('cancel', { id, type: value.type, previousStatus: TaskStatus.PENDING, ...(reason === undefined ? {} : { reason }) });
        this.#ended(value, false);
        return value;
      }
      const live = this.#watch(value);
      if (await this.queue.removeWaiting(id)) {
        // It was still waiting in BullMQ: it ends here, without running.
        const event = { id, type: value.type, previousStatus: TaskStatus.PENDING, ...(reason === undefined ? {} : { reason }) };
        this.queue.publishEvent('cancel', id, event);
        this.#emitLocally('cancel', event);
        const result = live.failedWithoutRunning(new TaskforgeError(ErrorCode.CANCELLED, message));
        if (await this.queue.settle(id, result)) this.#ended(result, false);
        return live.result();
      }
      // Running (the worker heard it), or between states: wait for its end, and ask again if it does not come.
      const ended = await Promise.race([live.result(), new Promise<undefined>((resolve) => setTimeout(resolve, CANCEL_RETRY_MS, undefined))]);
      if (ended !== undefined) return ended;
    }
  }

  /** Resolves when every task this client submitted or watches has ended. */
  onIdle(): Promise<void> {
    if (this.#watched.size === 0) return Promise.resolve();
    return new Promise((resolve) => this.#idleWaiters.push(resolve));
  }

  /**
   * Disconnects. Tasks go on in the queue; handles of tasks not yet ended
   * resolve FAILED with CANCELLED and `details.detached: true` (a local
   * view: the queue still runs them).
   */
  async shutdown(): Promise<void> {
    if (this.#closed) return;
    this.#closed = true;
    clearInterval(this.#resultCheck);
    clearInterval(this.#announcer);
    this.#reader.disconnect();
    await this.#reading;
    for (const live of [...this.#watched.values()]) {
      const error = new TaskforgeError(ErrorCode.CANCELLED, `task '${live.id}' is no longer watched: this client shut down (the task goes on in the queue)`, { details: { detached: true } });
      this.#watched.delete(live.id);
      live.settle({ ...live.failedWithoutRunning(error), details: { detached: true } });
    }
    this.#resolveIdle();
    await this.queue.close();
  }

  #watch(meta: TaskMeta): LiveTask {
    let live = this.#watched.get(meta.id);
    if (live === undefined) {
      live = new LiveTask(meta.id, meta.type, meta.priority, { id: meta.id, type: meta.type }, meta.dependsOn, meta.attempts, meta.submittedAt);
      this.#watched.set(meta.id, live);
    }
    return live;
  }

  /** Reads the event stream until shutdown. */
  async #readEvents(): Promise<void> {
    while (this.#isOpen()) {
      let reply: [string, [string, string[]][]][] | null;
      try {
        reply = await this.#reader.xread('COUNT', READ_COUNT, 'BLOCK', READ_BLOCK_MS, 'STREAMS', this.queue.channels.events, this.#lastEventId);
      } catch (error) {
        if (!this.#isOpen()) return;
        this.#logger.warn({ queue: this.queue.name, err: error instanceof Error ? error.message : String(error) }, 'reading task events failed; retrying');
        await new Promise((resolve) => setTimeout(resolve, 200));
        continue;
      }
      let read = 0;
      for (const [, entries] of reply ?? []) {
        read += entries.length;
        for (const [entryId, fields] of entries) {
          this.#lastEventId = entryId;
          this.#dispatch(fields);
        }
      }
      if (read > 0 && read < READ_COUNT) await new Promise((resolve) => setTimeout(resolve, READ_GATHER_MS));
    }
  }

  #dispatch(fields: readonly string[]): void {
    const kind = fields[1] ?? '';
    const id = fields[3] ?? '';
    const body = fields[5] ?? '{}';
    if (kind === 'ends') {
      for (const result of JSON.parse(body) as TaskResult[]) this.#ended(result, true);
      return;
    }
    if (!this.#allEvents && !this.#watched.has(id)) return;
    if (kind === 'cancel') {
      if (this.#allEvents) this.#events.emit('cancel', JSON.parse(body) as OrchestratorEvents['cancel']);
      else this.#emitCancelOnce(JSON.parse(body) as OrchestratorEvents['cancel']);
      return;
    }
    if (kind === 'start' || kind === 'retry' || kind === 'progress') {
      this.#events.emit(kind, JSON.parse(body) as never);
    }
  }

  /**
   * An event this client caused and knows of before the stream brings it.
   * A client of every event hears it from the stream; one of its own tasks
   * only, here (the stream's copy comes after the task is no longer watched).
   */
  #emitLocally(kind: 'cancel', event: OrchestratorEvents['cancel']): void {
    if (!this.#allEvents) this.#emitCancelOnce(event);
  }

  /** A cancel event this client may hear twice (its own reply and the stream): the first one is told. */
  #emitCancelOnce(event: OrchestratorEvents['cancel']): void {
    if (this.#cancelTold.has(event.id)) return;
    // Kept past the task's end (the reply may come after the stream's end event); the oldest go first.
    this.#cancelTold.add(event.id);
    if (this.#cancelTold.size > CANCELS_REMEMBERED) {
      for (const old of this.#cancelTold) {
        this.#cancelTold.delete(old);
        break;
      }
    }
    this.#events.emit('cancel', event);
  }

  /**
   * A task's end, from the stream or from a reply: resolves its handle
   * (once) and tells the listeners once, whichever way came first.
   */
  #ended(result: TaskResult, fromStream: boolean): void {
    const live = this.#watched.get(result.id);
    if (live !== undefined) {
      this.#watched.delete(result.id);
      live.settle(result);
    }
    const tell = this.#allEvents ? fromStream : live !== undefined;
    if (tell) {
      if (result.success) this.#events.emit('complete', result);
      else this.#events.emit('error', { id: result.id, type: result.type, error: result.error, result });
    }
    if (live !== undefined && this.#watched.size === 0) this.#resolveIdle();
  }

  /**
   * Looks watched tasks up directly when their end events may have been
   * trimmed from the stream unread (this client fell further behind than
   * the stream keeps), or when the queue may have lost its data (its epoch
   * changed, or this client reconnected): a task found finished ends here;
   * one the queue no longer holds at all ends FAILED with LOST, since its
   * end would never come. Only then: a lookup costs Redis two fields per
   * task in flight, and a busy client watches many. (A read that failed
   * resumes from the last entry read, so it misses nothing the stream still holds.)
   */
  async #checkResults(): Promise<void> {
    if (this.#watched.size === 0) return;
    const reconnected = this.#reconnected;
    this.#reconnected = false;
    let dataLost: boolean;
    try {
      dataLost = reconnected || (await this.queue.epochChanged());
      if (!dataLost && !(await this.queue.eventsLostAfter(this.#lastEventId))) return;
    } catch {
      // Redis away: asked again at the next check (after the reconnection this failure may hide).
      this.#reconnected ||= reconnected;
      return;
    }
    const ids = [...this.#watched.keys()].filter((id) => !this.#submitting.has(id));
    let lost = 0;
    for (let start = 0; start < ids.length && !this.#closed; start += 1000) {
      const chunk = ids.slice(start, start + 1000);
      let places;
      try {
        places = await this.queue.whereAre(chunk);
      } catch {
        this.#reconnected ||= dataLost;
        return;
      }
      places.forEach((place, index) => {
        if (place === 'unfinished') return;
        if (place !== 'missing') {
          this.#ended(place.result, false);
          return;
        }
        const live = this.#watched.get(chunk[index] ?? '');
        // (Submitted again meanwhile by this client: a later check looks again.)
        if (live === undefined || this.#submitting.has(live.id)) return;
        lost += 1;
        const error = new TaskforgeError(ErrorCode.LOST, `task '${live.id}' was lost: the queue ${this.queue.name} no longer holds it (Redis restarted or failed over without its data, or the task fell out of retention unread); it will not run or end by itself`, {
          details: { taskId: live.id },
        });
        this.#ended(live.failedWithoutRunning(error), false);
      });
    }
    if (lost > 0) this.#logger.error({ queue: this.queue.name, tasks: lost }, 'tasks lost: the queue no longer holds them');
    // The epoch this client now trusts: a later loss shows as another change.
    if (dataLost) await this.queue.markEpoch().catch(() => {
      this.#reconnected = true;
    });
  }

  /** Whether anyone here listens to start, retry, progress or cancel events (workers publish them only then: they cost a write per task). */
  #wantsProgressEvents(): boolean {
    return this.#allEvents || PROGRESS_EVENTS.some((event) => this.#events.listenerCount(event) > 0);
  }

  #isOpen(): boolean {
    return !this.#closed;
  }

  #assertOpen(): void {
    if (this.#closed) throw new TaskforgeError(ErrorCode.INVALID_STATE, 'this Redis orchestrator client is shut down');
  }

  #resolveIdle(): void {
    const waiters = this.#idleWaiters;
    this.#idleWaiters = [];
    for (const resolve of waiters) resolve();
  }
}
