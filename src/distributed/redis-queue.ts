import { ErrorCode, TaskforgeError } from '../core/errors.js';
import { getDefaultLogger, type Logger } from '../core/logger.js';
import { cancelledWhileWaiting, failedWithoutRunning } from '../orchestrator/task-ends.js';
import type { CancelOutcome, Consumption, QueueConsumer, QueueListener, QueueSubmitOptions, QueueTaskEvents, QueuedTask, SubmitOutcome, TaskQueue, TaskState } from '../orchestrator/task-queue.js';
import { TaskStatus } from '../tasks/task-status.js';
import { RedisConsumption } from './redis-consumption.js';
import { RedisEventFeed } from './redis-event-feed.js';
import type { RedisConnectionChange } from './redis-connection-watch.js';
import type { RedisQueueOptions } from './redis-options.js';
import type { RedisWorkerRoster } from './redis-worker-roster.js';
import { RedisStore } from './redis-store.js';

export type { RedisQueueOptions } from './redis-options.js';
export { DEFAULT_LOCK_DURATION_MS, DEFAULT_REDIS_RETENTION, DEFAULT_REDIS_RETENTION_MS } from './redis-options.js';

/** Progress events go to the stream at most this often per task. */
const PROGRESS_EVERY_MS = 250;

/**
 * A queue on a Redis server, shared by every process that opens it:
 * submitters, and workers on any machine (`redis://HOST:PORT[/DB][?name=QUEUE]`).
 * Tasks wait in BullMQ in taskforge's priority order and are locked while
 * they run, so a worker that dies hands its tasks on; dependencies, ends,
 * cancellations and events are kept beside them by atomic scripts
 * (redis-store.ts). The same contract as the queues of one process; what
 * differs is said where it does: events and ends reach other processes
 * through a stream (redis-event-feed.ts), a consumer's tasks come from
 * BullMQ (redis-consumption.ts), and a result's `data` is kept when it is
 * plain JSON of at most 64 KiB.
 */
export class RedisQueue implements TaskQueue {
  readonly name: string;
  readonly durable = true;
  readonly shared = true;
  readonly #store: RedisStore;
  readonly #feed: RedisEventFeed;
  readonly #logger: Logger;
  #consumption: RedisConsumption | undefined;
  readonly #lastProgress = new Map<string, number>();
  /** Ids whose submit is under way: awaited, and not yet in the queue (never taken for lost). */
  readonly #submitting = new Set<string>();
  #closed = false;
  /** Why Redis cannot be reached now (the connection is down), or undefined. */
  #unreachable: string | undefined;

  private constructor(store: RedisStore, lastEventId: string, logger: Logger) {
    this.#store = store;
    this.name = store.name;
    this.#logger = logger;
    this.#feed = new RedisEventFeed(store, lastEventId, logger, (id) => this.#submitting.has(id));
    store.watchConnection((change) => {
      this.#unreachable = change.connected ? undefined : `cannot reach ${store.name}: ${change.reason}`;
    });
  }

  get unreachable(): string | undefined {
    return this.#unreachable;
  }

  /** Connects (loading bullmq and ioredis on first use); BACKEND_UNAVAILABLE when Redis does not answer. */
  static async open(options: RedisQueueOptions & { readonly logger?: Logger } = {}): Promise<RedisQueue> {
    const store = await RedisStore.open(options);
    try {
      return new RedisQueue(store, await store.events.lastId(), options.logger ?? getDefaultLogger());
    } catch (error) {
      await store.close();
      throw error;
    }
  }

  /** Why this process could not hear cancellations on this queue (see RedisStore.cancelsRefused), or undefined. */
  cancelsRefused(): Promise<string | undefined> {
    return this.#store.cancelsRefused();
  }

  /** The id this process's worker goes by (in its logs, its roster entry and its task lines), once it consumes; else undefined. */
  get workerId(): string | undefined {
    return this.#consumption?.id;
  }

  /** The workers that take from this queue, as each describes itself (see RedisWorkerRoster). */
  get workers(): RedisWorkerRoster {
    return this.#store.workers;
  }

  /**
   * Tells `listener` once when the queue's connection to Redis is lost
   * (with why) and once when it is made again (ioredis tries again until
   * then; calls wait meanwhile); returns how to stop.
   */
  watchConnection(listener: (change: RedisConnectionChange) => void): () => void {
    return this.#store.watchConnection(listener);
  }

  /** Where it is: the server's URL (without a password) and the queue's name. */
  get location(): { readonly url: string; readonly name: string } {
    return this.#store.location;
  }

  async submit(tasks: readonly QueuedTask[], options: QueueSubmitOptions = {}): Promise<SubmitOutcome[]> {
    this.#assertOpen();
    this.#feed.nudge();
    for (const task of tasks) this.#submitting.add(task.id);
    let outcomes: SubmitOutcome[];
    try {
      outcomes = await this.#store.submit(tasks, options.where, { events: options.events === true });
    } finally {
      for (const task of tasks) this.#submitting.delete(task.id);
    }
    // An end in the reply (a dependency had failed) is told here now; the stream's copy is not told again.
    for (const outcome of outcomes) if (typeof outcome !== 'string') this.#feed.ended(outcome);
    return outcomes;
  }

  consume(consumer: QueueConsumer): Consumption {
    this.#assertOpen();
    if (this.#consumption !== undefined) throw new TaskforgeError(ErrorCode.INVALID_STATE, `the queue ${this.name} has a consumer already (open another RedisQueue for another)`);
    this.#consumption = new RedisConsumption(this.#store, consumer, this.#logger);
    return this.#consumption;
  }

  async cancel(id: string, reason?: string): Promise<CancelOutcome> {
    this.#assertOpen();
    this.#feed.nudge();
    // (A task blocked by dependencies never ran.)
    const message = cancelledWhileWaiting(id, 0, reason).message;
    const body = JSON.stringify({ id, ...(reason === undefined ? {} : { reason }) });
    const [state, value] = await this.#store.requestCancel(id, message, body);
    switch (state) {
      case 'unknown':
        return { outcome: 'unknown' };
      case 'finished':
        return { outcome: 'finished', finished: value };
      case 'cancelled': {
        // Blocked by dependencies: the script ended it, and published the cancel event and the end.
        this.#tellCancel({ id, type: value.type, previousStatus: TaskStatus.PENDING, ...(reason === undefined ? {} : { reason }) });
        this.#feed.ended(value);
        return { outcome: 'ended', result: value };
      }
      case 'signalled':
        break;
    }
    const meta = value;
    const removed = await this.#store.removeWaiting(id);
    if (removed !== undefined) {
      // It was still waiting in BullMQ: it ends here, without running (again, when a dead worker's run of it was cut off).
      const event = { id, type: meta.type, previousStatus: TaskStatus.PENDING, ...(reason === undefined ? {} : { reason }) };
      this.#store.events.publish('cancel', id, event);
      this.#tellCancel(event);
      const attempts = meta.attempts + removed.runsStarted;
      const result = failedWithoutRunning(meta, attempts, cancelledWhileWaiting(id, attempts, reason));
      if (await this.#store.settle(id, result)) {
        this.#feed.ended(result);
        return { outcome: 'ended', result };
      }
      // Ended meanwhile some other way (another cancel's): its end stands, and came after this request, so
      // it answers this cancel too ('finished' would say the task had ended before it was asked).
      return { outcome: 'signalled', task: meta };
    }
    // Running (its worker heard the request, and publishes the cancel event), or between states.
    return { outcome: 'signalled', task: meta };
  }

  async state(id: string): Promise<TaskState | undefined> {
    this.#assertOpen();
    this.#feed.nudge();
    const state = await this.#store.state(id);
    if (state === undefined) return undefined;
    return state.status === 'finished' ? state : { status: state.status, task: state.task };
  }

  unfinished(limit: number): Promise<TaskState[]> {
    this.#assertOpen();
    return this.#store.unfinished(limit);
  }

  counts(): Promise<{ waiting: number; running: number }> {
    return this.#store.counts();
  }

  subscribe(listener: QueueListener): () => void {
    return this.#feed.subscribe(listener);
  }

  /** A running task's event, to the stream (the feed brings it back to the listeners here, as to everyone's). */
  publish<K extends keyof QueueTaskEvents>(kind: K, payload: QueueTaskEvents[K]): void {
    if (kind === 'progress') {
      const now = Date.now();
      if (now - (this.#lastProgress.get(payload.id) ?? 0) < PROGRESS_EVERY_MS) return;
      this.#lastProgress.set(payload.id, now);
      if (this.#lastProgress.size > 10_000) this.#lastProgress.clear();
    }
    this.#store.events.publish(kind, payload.id, payload, this.#consumption?.client);
  }

  wants(kind: keyof QueueTaskEvents, id: string): boolean {
    return this.#feed.wants(kind) || this.#consumption?.publishesFor(id) === true;
  }

  async close(): Promise<void> {
    if (this.#closed) return;
    this.#closed = true;
    await this.#consumption?.stop(0);
    await this.#feed.close();
    await this.#store.close();
  }

  /** Disconnects without handing anything back, as a killed process would (tests): taken tasks keep their lock until it expires. */
  abandon(): void {
    this.#closed = true;
    this.#store.abandon();
  }

  /** A cancel event this process caused: told here now, and not again when the stream brings it. */
  #tellCancel(event: QueueTaskEvents['cancel']): void {
    this.#feed.toldCancel(event.id);
    this.#feed.event('cancel', event);
  }

  #assertOpen(): void {
    if (this.#closed) throw new TaskforgeError(ErrorCode.INVALID_STATE, `the Redis queue ${this.name} is closed`);
  }
}
