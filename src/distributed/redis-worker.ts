import { randomBytes } from 'node:crypto';
import type { Job, Worker } from 'bullmq';
import type { Redis } from 'ioredis';
import { ErrorCode, TaskforgeError } from '../core/errors.js';
import { getDefaultLogger, type Logger } from '../core/logger.js';
import type { Listener } from '../core/typed-emitter.js';
import { failedWithoutRunning } from '../orchestrator/live-task.js';
import type { OrchestratorEvents } from '../orchestrator/orchestrator-events.js';
import { TypedEmitter } from '../core/typed-emitter.js';
import type { OrchestratorMetrics } from '../orchestrator/metrics.js';
import { DEFAULT_CONCURRENCY, DEFAULT_MAX_INTERRUPTIONS, DEFAULT_SHUTDOWN_TIMEOUT_MS, type OrchestratorOptions } from '../orchestrator/orchestrator.js';
import { hasCleanupHook, TaskRegistry, type RunnableTask } from '../orchestrator/task-registry.js';
import { invalid } from '../orchestrator/submission.js';
import type { QueuedTask } from '../orchestrator/task-queue.js';
import type { TaskResult } from '../tasks/task-result.js';
import { TaskStatus } from '../tasks/task-status.js';
import type { JobData, RedisQueue, TaskEnd } from './redis-queue.js';
import { countsOf, LATE_JOB_MS } from './redis-queue.js';

/** How often a worker repairs what a dead process left half done (at most: half the lock duration when that is shorter). */
const STRANDED_SWEEP_MS = 5_000;
/** How often a worker asks whether a client wants every task's events. */
const LISTENER_CHECK_MS = 2000;
/** While tasks keep ending, their ends are recorded together at most this often (see #recordEnd). */
const END_BATCH_MS = 10;
/** A batch of ends goes out at once when it reaches this size. */
const END_BATCH_MAX = 500;
/** Progress events go to the stream at most this often per task. */
const PROGRESS_EVERY_MS = 250;
/** How long a cancellation heard for a task not held here is remembered (it may arrive before the task). */
const CANCEL_MEMORY_MS = 10 * 60_000;

/**
 * Options of {@link RedisWorker}: the Orchestrator's that apply to running
 * tasks (concurrency: tasks at once in this process; maxInterruptions:
 * times a task may be cut off by a dead worker before it ends INTERRUPTED).
 */
export type RedisWorkerOptions = Pick<OrchestratorOptions, 'concurrency' | 'taskTypes' | 'context' | 'logger' | 'metrics' | 'maxInterruptions'>;

/** Options of {@link RedisWorker.shutdown}. */
export interface WorkerShutdownOptions {
  /** How long running tasks may go on; then they are stopped and handed back to the queue. Default 30 s. */
  readonly timeoutMs?: number;
}

/** A task this worker holds: its job and lock token, and whether shutdown is handing it back. */
interface HeldTask {
  readonly job: Job<JobData>;
  readonly token: string;
  /** The task object, once made. */
  task: RunnableTask | undefined;
  handingBack: boolean;
}

/**
 * Runs tasks from a {@link RedisQueue} in this process, beside any number
 * of workers on other machines. BullMQ's worker fetches the tasks in
 * priority order and renews their locks while they run (so a long task is
 * not taken for dead); each task runs as the Orchestrator runs it, so it
 * behaves exactly as in one process (retries, timeout, cleanup, events).
 * Around that: cancellations from any process reach the task here, its
 * events go to the queue's stream, and its end is recorded (releasing its
 * dependents) together with the ends of the tasks that ended about the same
 * time, in one script call that also removes their jobs from BullMQ: a job
 * leaves BullMQ only with its end recorded. Should this process die in
 * between, BullMQ's stalled check hands the job to another worker, which
 * runs the task again, as for a task cut off while running.
 */
export class RedisWorker {
  readonly id = `w${randomBytes(4).toString('hex')}`;
  readonly #queue: RedisQueue;
  readonly #registry = new TaskRegistry();
  readonly #context: Readonly<Record<string, unknown>>;
  readonly #metrics: OrchestratorMetrics | undefined;
  /** This process's listeners (the CLI's --json lines): results as this worker saw them. */
  readonly #events: TypedEmitter<OrchestratorEvents>;
  readonly #worker: Worker<QueuedTask>;
  /** BullMQ's connection for this worker's jobs; events and ends go on it too, so readers see a task's events before its end. */
  readonly #client: Redis;
  /** Ends sent but not yet confirmed (shutdown waits for them). */
  readonly #settling = new Set<Promise<void>>();
  /** Ends whose recording failed again and again (Redis away): retried at every sweep. */
  #unrecorded: TaskEnd[] = [];
  readonly #sweepEveryMs: number;
  /** Ends waiting for the next batch. */
  #ends: TaskEnd[] = [];
  /**
   * What #process throws once a task's end is queued: BullMQ's "the
   * processor moved the job itself" (the batch of ends removes it), so that
   * BullMQ fetches the next job without completing this one. One instance:
   * an Error per task would cost a stack trace per task.
   */
  readonly #jobMoved: Error;
  /** When the last batch went out (performance.now()), and whether the next is due. */
  #lastFlushAt = Number.NEGATIVE_INFINITY;
  #flushScheduled = false;
  readonly #subscriber: Redis;
  readonly #logger: Logger;
  readonly #maxInterruptions: number;
  readonly #debugEnabled: boolean;
  readonly #held = new Map<string, HeldTask>();
  /** Cancellations heard for tasks not (yet) held here, by id → when. */
  readonly #cancelsHeard = new Map<string, number>();
  readonly #lastProgress = new Map<string, number>();
  readonly #sweeper: NodeJS.Timeout;
  readonly #listenerCheck: NodeJS.Timeout;
  /** A client wants every task's events (refreshed every LISTENER_CHECK_MS). */
  #anyoneListening = false;
  #shutdown: Promise<void> | undefined;

  constructor(queue: RedisQueue, options: RedisWorkerOptions = {}) {
    const concurrency = options.concurrency ?? DEFAULT_CONCURRENCY;
    if (!Number.isInteger(concurrency) || concurrency < 1) invalid('', 'concurrency', `expected a whole number of 1 or more (got ${String(concurrency)})`);
    this.#queue = queue;
    this.#logger = options.logger ?? getDefaultLogger();
    this.#maxInterruptions = options.maxInterruptions ?? DEFAULT_MAX_INTERRUPTIONS;
    // Asked of pino once: a silent logger then costs no field objects per task.
    const { isLevelEnabled } = this.#logger as { isLevelEnabled?: (level: string) => boolean };
    this.#debugEnabled = isLevelEnabled === undefined || isLevelEnabled.call(this.#logger, 'debug');
    for (const [type, taskClass] of Object.entries(options.taskTypes ?? {})) this.#registry.register(type, taskClass);
    this.#context = { logger: this.#logger, ...options.context };
    this.#metrics = options.metrics;
    this.#events = new TypedEmitter<OrchestratorEvents>((error, event) => {
      this.#logger.error({ event, err: error instanceof Error ? error.message : String(error) }, 'a worker event listener threw');
    });
    this.#jobMoved = new queue.modules.WaitingError();
    this.#subscriber = this.#listenForCancels();
    this.#client = queue.newConnection();
    this.#worker = new queue.modules.Worker<QueuedTask>(queue.location.name, (job, token) => this.#process(job, token ?? ''), {
      ...queue.workerOptions(),
      connection: this.#client,
      concurrency,
    });
    this.#worker.on('error', (error) => {
      this.#logger.warn({ worker: this.id, err: error.message }, 'Redis worker error');
    });
    this.#worker.on('stalled', (jobId) => {
      this.#queue.restorePriority(jobId).catch(this.#logFailure('restoring a stalled task\'s priority failed'));
    });
    this.#worker.on('failed', (job, error) => {
      // Only a bug in #process gets here (a task's own failure is a result): say so, and record it.
      if (job === undefined || error.name === 'WaitingError') return;
      this.#logger.error({ worker: this.id, taskId: job.data.id, err: error.message }, 'a task could not be processed');
      const failure = new TaskforgeError(ErrorCode.INTERNAL, `task '${job.data.id}' could not be processed by worker ${this.id}: ${error.message}`);
      this.#queue.settle(job.data.id, failedWithoutRunning(job.data, countsOf(job).attempts, failure)).catch(this.#logFailure('recording a task that could not be processed failed'));
    });
    // (#checkListeners and #sweepStranded catch their own failures; the catch here is for a bug in them.)
    const checkListeners = (): void => {
      this.#checkListeners().catch(this.#logFailure('checking for event listeners failed'));
    };
    const sweep = (): void => {
      this.#sweepStranded().catch(this.#logFailure('the sweep of stranded tasks failed'));
    };
    this.#listenerCheck = setInterval(checkListeners, LISTENER_CHECK_MS);
    this.#listenerCheck.unref();
    checkListeners();
    this.#sweepEveryMs = Math.min(STRANDED_SWEEP_MS, queue.lockDurationMs / 2);
    this.#sweeper = setInterval(sweep, this.#sweepEveryMs);
    this.#sweeper.unref();
    sweep();
    this.#logger.info({ worker: this.id, queue: queue.name, concurrency }, 'Redis worker started');
  }

  /** Listens to the tasks this worker runs (their results as this worker saw them: a cut-off earlier attempt is not counted). */
  on<K extends keyof OrchestratorEvents>(event: K, listener: Listener<OrchestratorEvents, K>): this {
    this.#events.on(event, listener);
    return this;
  }

  /** Tasks running in this worker now. */
  get running(): number {
    return this.#held.size;
  }

  /**
   * Stops taking tasks; lets running ones finish for up to `timeoutMs`,
   * then stops them and hands them back to the queue (another worker runs
   * them again, their cut-off attempt counted); then disconnects.
   */
  shutdown(options: WorkerShutdownOptions = {}): Promise<void> {
    this.#shutdown ??= this.#stop(options.timeoutMs ?? DEFAULT_SHUTDOWN_TIMEOUT_MS);
    return this.#shutdown;
  }

  async #stop(timeoutMs: number): Promise<void> {
    this.#logger.info({ worker: this.id, running: this.#held.size, timeoutMs }, 'Redis worker shutting down');
    clearInterval(this.#sweeper);
    clearInterval(this.#listenerCheck);
    const handBack = setTimeout(() => {
      for (const held of this.#held.values()) {
        // A task that has ended (cleaning up) keeps its end: it is recorded, not handed back.
        if (held.task !== undefined && !isUnfinished(held.task)) continue;
        held.handingBack = true;
        if (held.task !== undefined) this.#cancelTask(held.task, 'the worker is shutting down; the task goes back to the queue');
      }
    }, timeoutMs);
    // BullMQ's close stops fetching and waits for the jobs in hand.
    await this.#worker.close();
    clearTimeout(handBack);
    this.#flushEnds();
    await Promise.all(this.#settling);
    // Ends still unrecorded leave their jobs in BullMQ: run again elsewhere once their locks run out.
    await this.#queue.settleMany(this.#unrecorded).catch(() => undefined);
    this.#subscriber.disconnect();
    this.#logger.info({ worker: this.id }, 'Redis worker stopped');
  }

  /** Runs one job's task to its end and queues the end (with the job's removal) for the next batch. */
  async #process(job: Job<JobData>, token: string): Promise<void> {
    // The job's data is used as it is (no copy per task): a hot path.
    const task = job.data;
    const { attempts, interruptions } = countsOf(job);
    const restarted = attempts > task.attempts;
    // A task whose end is recorded never runs again, however its job came to be: made again by a
    // hand-over that came late (after the stranded sweep handed the task over and a worker finished
    // it), or handed back after a worker died between recording the end and BullMQ's removal. Checked
    // here, as the task starts: no other job of this id can be active now (BullMQ holds one job per
    // id, and ends are recorded only with the job's lock), so nothing records its end in between.
    // Only a job started LATE_JOB_MS or more after its release, or run again, can have such a twin:
    // a fresh job costs no round trip.
    const late = task.releasedAt === undefined || Date.now() - task.releasedAt >= LATE_JOB_MS;
    if ((late || restarted) && (await this.#queue.hasEnded(task.id))) {
      if (this.#debugEnabled) this.#logger.debug({ worker: this.id, taskId: task.id, taskType: task.type }, 'a job of a task that has ended is dropped unrun');
      return;
    }
    if (interruptions > this.#maxInterruptions) {
      const error = new TaskforgeError(ErrorCode.INTERRUPTED, `task '${task.id}' was cut off by a dead worker ${String(interruptions)} times; it is not run again`, {
        details: { interruptions },
      });
      await this.#queue.settle(task.id, failedWithoutRunning(task, attempts, error));
      return;
    }
    if (this.#cancelsHeard.has(task.id) || (restarted && (await this.#queue.cancelRequested(task.id)))) {
      this.#queue.publishEvent('cancel', task.id, { id: task.id, type: task.type, previousStatus: 'pending' }, this.#client);
      await this.#queue.settle(task.id, failedWithoutRunning(task, attempts, new TaskforgeError(ErrorCode.CANCELLED, `task '${task.id}' was cancelled before it ran`)), this.#client);
      return;
    }
    const held: HeldTask = { job, token, task: undefined, handingBack: false };
    this.#held.set(task.id, held);
    let result: TaskResult;
    try {
      result = await this.#run(task, attempts, held);
    } finally {
      this.#held.delete(task.id);
      this.#lastProgress.delete(task.id);
    }
    if (held.handingBack) {
      await job.moveToWait(token);
      throw new this.#queue.modules.WaitingError();
    }
    // The task is another worker's now: its end is that worker's to record, and the job that worker's to remove.
    if (result.error?.code === ErrorCode.LOCK_LOST) throw this.#jobMoved;
    const final = attempts === 0 ? result : { ...result, attempts: result.attempts + attempts };
    this.#recordEnd({ id: task.id, result: final, job: { id: job.id ?? '', token } });
    throw this.#jobMoved;
  }

  /**
   * Runs one task as the Orchestrator runs each of its tasks (BullMQ's
   * concurrency is the limit here): made from its config, executed, cleaned
   * up before its slot is free; a task that cannot be made, or that
   * rejects, ends FAILED. `attempts`: those made before this run.
   */
  async #run(queued: JobData, attempts: number, held: HeldTask): Promise<TaskResult> {
    let task: RunnableTask;
    try {
      // As in one process: the config as submitted (its dependsOn, met already, is not the task's business).
      task = this.#registry.make(queued.type, queued.config, queued.id, { ...this.#context, beforeCommit: this.#fenceOf(queued.id, held) });
    } catch (error) {
      return failedWithoutRunning(queued, 0, new TaskforgeError(ErrorCode.TASK_FAILED, `task '${queued.id}' could not be made: ${error instanceof Error ? error.message : String(error)}`, { cause: error }));
    }
    held.task = task;
    this.#watchEvents(task);
    this.#metrics?.started(queued.type);
    if (this.#debugEnabled) this.#logger.debug({ worker: this.id, taskId: queued.id, taskType: queued.type, priority: queued.priority, attempts }, 'task started');
    let result: TaskResult;
    try {
      result = await task.execute();
    } catch (error) {
      result = failedWithoutRunning(queued, 0, new TaskforgeError(ErrorCode.INTERNAL, `task '${queued.id}' rejected instead of resolving: ${String(error)}`, { cause: error }));
    }
    if (hasCleanupHook(task)) {
      await task.cleanup().catch((error: unknown) => {
        this.#logger.error({ taskId: queued.id, taskType: queued.type, err: error instanceof Error ? error.message : String(error) }, 'task cleanup failed');
      });
    } else {
      // Nothing to wait for (no cleanupTask): it settles at once, and cannot refuse a task that has ended.
      task.cleanup().catch(this.#logFailure('task cleanup failed'));
    }
    this.#metrics?.finished(result);
    if (result.success) this.#events.emit('complete', result);
    else this.#events.emit('error', { id: result.id, type: result.type, error: result.error, result });
    return result;
  }

  /**
   * The check a task's writes make right before they commit (fencing): this
   * worker still holds the job's lock. A worker paused past its lock (SIGSTOP,
   * a long GC pause) fails the attempt with LOCK_LOST instead of writing over
   * what the worker that took the task over wrote.
   */
  #fenceOf(taskId: string, held: HeldTask): () => Promise<void> {
    return async () => {
      try {
        await this.#queue.assertLockHeld(taskId, held.job.id ?? '', held.token);
      } catch (error) {
        this.#logger.error({ worker: this.id, taskId, err: errorText(error) }, 'a write of the task was refused: this worker lost its lock on it');
        throw error;
      }
    };
  }

  /**
   * Queues a task's end for the next batch. An end after a quiet spell goes
   * out at once (at the next turn of the event loop); while ends keep
   * coming they go out together, at most every END_BATCH_MS: one script call
   * and one stream read for a batch, not one per task, which is what a
   * busy queue's throughput hangs on.
   */
  #recordEnd(end: TaskEnd): void {
    this.#ends.push(end);
    if (this.#ends.length >= END_BATCH_MAX) {
      this.#flushEnds();
      return;
    }
    if (this.#flushScheduled) return;
    this.#flushScheduled = true;
    const wait = this.#lastFlushAt + END_BATCH_MS - performance.now();
    // (A flush that comes first, by size or shutdown, leaves this one an empty or smaller batch: harmless.)
    if (wait <= 0) setImmediate(this.#flushEnds);
    else setTimeout(this.#flushEnds, wait);
  }

  readonly #flushEnds = (): void => {
    this.#flushScheduled = false;
    const ends = this.#ends;
    if (ends.length === 0) return;
    this.#ends = [];
    this.#lastFlushAt = performance.now();
    const recording = this.#queue.settleMany(ends, this.#client).then(
      () => undefined,
      async (error: unknown) => {
        this.#logger.error({ worker: this.id, tasks: ends.length, err: error instanceof Error ? error.message : String(error) }, 'recording task ends failed; retrying');
        for (let attempt = 1; attempt <= 5; attempt += 1) {
          try {
            await this.#queue.settleMany(ends);
            return;
          } catch {
            await new Promise((resolve) => setTimeout(resolve, 200 * attempt));
          }
        }
        // Kept for the next sweep; should this process die first, their jobs are run again elsewhere once their locks run out.
        this.#unrecorded.push(...ends);
        this.#logger.error({ worker: this.id, tasks: ends.length }, 'task ends could not be recorded now; the next sweep tries again');
      },
    );
    this.#settling.add(recording);
    recording
      .finally(() => this.#settling.delete(recording))
      .catch(this.#logFailure('recording task ends failed'));
  };

  /** Sends the task's start, retry and progress events to the stream when someone listens; tells this process's listeners. */
  #watchEvents(task: RunnableTask): void {
    const publish = this.#publishesFor(task.id);
    if (publish || this.#events.listenerCount('start') > 0) {
      task.on('start', (event) => {
        this.#events.emit('start', event);
        if (publish) this.#queue.publishEvent('start', event.id, { ...event, worker: this.id }, this.#client);
      });
    }
    if (publish || this.#events.listenerCount('retry') > 0) {
      task.on('retry', (event) => {
        this.#events.emit('retry', event);
        if (publish) this.#queue.publishEvent('retry', event.id, event, this.#client);
      });
    }
    if (publish || this.#events.listenerCount('progress') > 0) {
      task.on('progress', (event) => {
        this.#events.emit('progress', event);
        const now = Date.now();
        if (!publish || now - (this.#lastProgress.get(event.id) ?? 0) < PROGRESS_EVERY_MS) return;
        this.#lastProgress.set(event.id, now);
        this.#queue.publishEvent('progress', event.id, event, this.#client);
      });
    }
  }

  /** Start, retry and progress events cost a write each: published when the task's submitter listens, or a dashboard does. */
  #publishesFor(id: string): boolean {
    return this.#anyoneListening || this.#held.get(id)?.job.data.events === true;
  }

  async #checkListeners(): Promise<void> {
    try {
      this.#anyoneListening = await this.#queue.listenerAnnounced();
    } catch {
      // Keep the last answer: events are best effort.
    }
  }

  /** Subscribes to the queue's cancel channel; a cancellation for a task held here cancels it. */
  #listenForCancels(): Redis {
    const subscriber = this.#queue.newConnection();
    subscriber.subscribe(this.#queue.channels.cancel).catch(this.#logFailure('cannot subscribe to cancellations'));
    subscriber.on('message', (_channel: string, message: string) => {
      const { id, reason } = JSON.parse(message) as { id: string; reason?: string };
      this.#cancelHeard(id, reason);
    });
    // Messages sent while the connection was down are lost: ask the queue about the tasks held here.
    let connections = 0;
    subscriber.on('ready', () => {
      connections += 1;
      // (Redis may go away again, or the queue close, while it asks.)
      if (connections > 1) this.#recheckCancels().catch(this.#logFailure('asking the queue about cancellations failed'));
    });
    return subscriber;
  }

  #cancelHeard(id: string, reason: string | undefined): void {
    const task = this.#held.get(id)?.task;
    if (task !== undefined) {
      // A task that has ended (its cleanup still runs here) cannot be cancelled: its end is on its way to the queue.
      if (!isUnfinished(task)) {
        if (this.#debugEnabled) this.#logger.debug({ worker: this.id, taskId: id, taskType: task.type, status: task.status }, 'cancel heard for a task that has ended; its end stands');
        return;
      }
      const event = { id, type: task.type, previousStatus: task.status, ...(reason === undefined ? {} : { reason }) };
      this.#logger.info({ worker: this.id, taskId: id, taskType: task.type }, 'task cancelled');
      this.#events.emit('cancel', event);
      this.#queue.publishEvent('cancel', id, event, this.#client);
      this.#cancelTask(task, reason);
      return;
    }
    const now = Date.now();
    this.#cancelsHeard.set(id, now);
    if (this.#cancelsHeard.size > 1000) {
      for (const [heardId, at] of this.#cancelsHeard) if (now - at > CANCEL_MEMORY_MS) this.#cancelsHeard.delete(heardId);
    }
  }

  /** Cancels a task held here; a refusal (it ended meanwhile) is logged, never left to end the process. */
  #cancelTask(task: RunnableTask, reason: string | undefined): void {
    task.cancel(reason).catch((error: unknown) => {
      this.#logger.warn({ worker: this.id, taskId: task.id, taskType: task.type, err: errorText(error) }, 'the task could not be cancelled');
    });
  }

  async #recheckCancels(): Promise<void> {
    for (const id of this.#held.keys()) {
      if (await this.#queue.cancelRequested(id)) this.#cancelHeard(id, undefined);
    }
  }

  /** A rejection handler that logs (a promise let go must never end the process). */
  #logFailure(what: string): (error: unknown) => void {
    return (error) => {
      this.#logger.error({ worker: this.id, err: errorText(error) }, what);
    };
  }

  /**
   * Repairs what a dead process left half done: ready tasks not handed to
   * BullMQ; and this worker's own ends that could not be recorded (Redis
   * refused them for a while).
   */
  async #sweepStranded(): Promise<void> {
    try {
      const handed = await this.#queue.handOverStranded();
      if (handed > 0) this.#logger.warn({ worker: this.id, tasks: handed }, 'handed to BullMQ ready tasks a dead process left behind');
      if (this.#unrecorded.length > 0) {
        const ends = this.#unrecorded;
        this.#unrecorded = [];
        await this.#queue.settleMany(ends).catch((error: unknown) => {
          this.#unrecorded.push(...ends);
          throw error;
        });
      }
    } catch (error) {
      this.#logger.warn({ worker: this.id, err: error instanceof Error ? error.message : String(error) }, 'sweep of stranded tasks failed');
    }
  }
}

/** Whether a task may still be cancelled (it has not ended). */
function isUnfinished(task: RunnableTask): boolean {
  return task.status === TaskStatus.PENDING || task.status === TaskStatus.RUNNING;
}

function errorText(error: unknown): string {
  return error instanceof Error ? error.message : String(error);
}
