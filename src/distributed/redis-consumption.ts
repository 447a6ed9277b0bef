import { randomBytes } from 'node:crypto';
import type { Worker } from 'bullmq';
import type { Redis } from 'ioredis';
import { settledWithin } from '../core/abort.js';
import { ErrorCode, TaskforgeError } from '../core/errors.js';
import type { Logger } from '../core/logger.js';
import { cancelledWhileWaiting, failedWithoutRunning } from '../orchestrator/task-ends.js';
import type { Consumption, ConsumptionStopped, QueueConsumer, QueuedTask, TakenTask } from '../orchestrator/task-queue.js';
import { STOP_GRACE_MS } from '../orchestrator/task-queue.js';
import type { TaskResult } from '../tasks/task-result.js';
import { RedisJobTaker, type LockLoss, type TakenJob } from './redis-job-taker.js';
import type { RedisStore } from './redis-store.js';
import type { JobData, RunningJob, TaskEnd } from './redis-records.js';
import { countsOf, LATE_JOB_MS } from './redis-records.js';

/** How often a worker repairs what a dead process left half done (at most: half the lock duration when that is shorter). */
const STRANDED_SWEEP_MS = 5_000;
/** How often a worker asks whether a client wants every task's events. */
const LISTENER_CHECK_MS = 2000;
/** While tasks keep ending, their ends are recorded together at most this often (see #recordEnd). */
const END_BATCH_MS = 10;
/** A batch of ends goes out at once when it reaches this size. */
const END_BATCH_MAX = 500;
/** How long a cancellation heard for a task not held here is remembered (it may arrive before the task). */
const CANCEL_MEMORY_MS = 10 * 60_000;
/** How long the same error of BullMQ's worker goes unlogged once logged (a Redis away repeats it at every reconnection attempt). */
const REPEATED_ERROR_QUIET_MS = 60_000;
/** How long a stop waits for the last ends to be recorded (a failed recording retries for about 3 s). */
const ENDS_RECORD_WAIT_MS = 4000;

/** A task this process holds: its job (with its lock token), and whether shutdown is handing it back. */
interface HeldTask {
  /** The job it runs under: another when its lock lapsed and this worker took the job again (see #process). */
  job: TakenJob;
  /** Settles when the run has ended (its end queued for recording). */
  readonly done: Promise<void>;
  handingBack: boolean;
  ended: boolean;
  /** A cancellation reached it (a submitter asks again while it has not ended: told once). */
  cancelHeard: boolean;
  /** This worker lost its lock on the task (another took it, or Redis lost it): stopped, and its end is not this worker's to record. */
  lockLost: boolean;
}

/**
 * A consumer's hold on a Redis queue: it takes BullMQ's jobs in priority
 * order, as many at once as it has free slots (redis-job-taker.ts), and
 * renews their locks while they run (so a long task is not taken for dead),
 * and the consumer runs them, beside any number of consumers on other
 * machines; a BullMQ Worker that processes nothing runs BullMQ's stalled
 * check. Around that: cancellations from any process reach the task here;
 * its end is recorded (releasing its dependents) together with the ends of
 * the tasks that ended about the same time, in one script call that also
 * removes their jobs from BullMQ, so a job leaves BullMQ only with its end
 * recorded. Should this process die in between, BullMQ's stalled check
 * hands the job to another worker, which runs the task again, as for a task
 * cut off while running.
 */
export class RedisConsumption implements Consumption {
  readonly id = `w${randomBytes(4).toString('hex')}`;
  readonly #store: RedisStore;
  readonly #consumer: QueueConsumer;
  readonly #logger: Logger;
  readonly #taker: RedisJobTaker;
  /** BullMQ's Worker, processing nothing: it runs the stalled check (which hands back the jobs of dead workers). */
  readonly #stalledCheck: Worker<QueuedTask>;
  /** The connection this worker takes jobs on; events and ends go on it too, so readers see a task's events before its end. */
  readonly client: Redis;
  readonly #subscriber: Redis;
  /** Ends sent but not yet confirmed (stop waits for them). */
  readonly #settling = new Set<Promise<void>>();
  /** Ends whose recording failed again and again (Redis away): retried at every sweep. */
  #unrecorded: TaskEnd[] = [];
  /** Ends queued here and not yet recorded in Redis, by task id (see #process: a job that comes back after its task ended here). */
  readonly #pendingEnds = new Map<string, TaskEnd>();
  /** Ends waiting for the next batch. */
  #ends: TaskEnd[] = [];
  #lastFlushAt = Number.NEGATIVE_INFINITY;
  #flushScheduled = false;
  readonly #held = new Map<string, HeldTask>();
  /** Types of tasks this worker looked past (it does not run them), told once each. */
  readonly #passedTypes = new Set<string>();
  /** Cancellations heard for tasks not (yet) held here, by id → when, and the reason given. */
  readonly #cancelsHeard = new Map<string, { readonly at: number; readonly reason?: string }>();
  readonly #sweeper: NodeJS.Timeout;
  readonly #listenerCheck: NodeJS.Timeout;
  /** A client wants every task's events (refreshed every LISTENER_CHECK_MS). */
  #anyoneListening = false;
  #stopping: Promise<ConsumptionStopped> | undefined;
  /** Running tasks the shutdown's deadline cut off (cancelled, and not ended first with a result of their own). */
  readonly #cutOff = new Set<string>();
  /** stop() gave up on the tasks still running: whatever they do later, this process records and moves nothing more. */
  #gaveUp = false;

  constructor(store: RedisStore, consumer: QueueConsumer, logger: Logger) {
    this.#store = store;
    this.#consumer = consumer;
    this.#logger = logger;
    this.#subscriber = this.#listenForCancels();
    this.client = store.connections.open();
    this.#taker = new RedisJobTaker(
      { client: this.client, blocking: store.connections.open(), jobKeyPrefix: store.jobKeyPrefix, lockDurationMs: store.locks.durationMs, workerId: this.id },
      consumer.concurrency,
      {
        run: (job) => this.#process(job).catch((error: unknown) => this.#notProcessed(job, error)),
        unreadable: (job, error) => {
          this.#dropUnreadable(job, error);
        },
        lost: (job, how) => {
          this.#lockLost(job, how);
        },
        types: () => consumer.types?.(),
        passed: (types) => {
          this.#tellPassed(types);
        },
      },
      logger,
    );
    // BullMQ's documented way for a worker that fetches its jobs itself: a Worker with no processor that only runs the stalled check.
    this.#stalledCheck = new store.connections.modules.Worker<QueuedTask>(store.location.name, null, { ...store.workerOptions(), connection: this.client, autorun: false });
    // While Redis is away every reconnection attempt fails (the loss itself is told once, by watchConnection): the
    // same message is logged again only after a quiet minute, and while the connection is down no other one either
    // (a check that ran as the server went says "Connection is closed.", the reconnections ECONNREFUSED).
    let lastError = { message: '', at: Number.NEGATIVE_INFINITY };
    this.#stalledCheck.on('error', (error) => {
      const now = performance.now();
      const repeated = (error.message === lastError.message || this.client.status !== 'ready') && now - lastError.at < REPEATED_ERROR_QUIET_MS;
      lastError = { message: error.message, at: now };
      if (!repeated) this.#logger.warn({ worker: this.id, err: error.message }, 'Redis worker error');
    });
    this.#stalledCheck.on('stalled', (jobId) => {
      this.#store.restorePriority(jobId).catch(this.#logFailure("restoring a stalled task's priority failed"));
    });
    this.#stalledCheck.startStalledCheckTimer().catch(this.#logFailure('starting the stalled check failed'));
    this.#taker.start();
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
    this.#sweeper = setInterval(sweep, Math.min(STRANDED_SWEEP_MS, store.locks.durationMs / 2));
    this.#sweeper.unref();
    sweep();
    this.#logger.info({ worker: this.id, queue: store.name, concurrency: consumer.concurrency }, 'Redis worker started');
  }

  get running(): number {
    return this.#held.size;
  }

  /** Only a bug in #process gets here (a task's own failure is a result): says so, and records it, removing its job. */
  async #notProcessed(job: TakenJob, error: unknown): Promise<void> {
    this.#logger.error({ worker: this.id, taskId: job.data.id, err: errorText(error) }, 'a task could not be processed');
    const failure = new TaskforgeError(ErrorCode.INTERNAL, `task '${job.data.id}' could not be processed by worker ${this.id}: ${errorText(error)}`);
    await this.#store
      .settleMany([{ id: job.data.id, result: failedWithoutRunning(job.data, countsOf(job).attempts, failure), job: runningJob(job) }], this.client)
      .catch(this.#logFailure('recording a task that could not be processed failed'));
  }

  /**
   * A job whose data is not JSON holds no task to run or to record an end
   * for (taskforge writes none such: something else wrote it, or it was
   * damaged): says so, naming it, and removes it from the queue, where it
   * would otherwise come back after every lapse of its lock.
   */
  #dropUnreadable(job: { readonly id: string; readonly token: string }, error: unknown): void {
    this.#logger.error({ worker: this.id, jobId: job.id, err: errorText(error) }, 'a job in the queue holds no readable task: removed');
    this.#store.settleMany([], this.client, [job]).catch(this.#logFailure('removing an unreadable job failed'));
  }

  /**
   * A task running here whose lock a renewal found lost (another worker
   * took the task, or Redis lost it: restarted empty) is stopped at once,
   * as a cancel stops it, ending LOCK_LOST rather than working on to be
   * refused at its commit (the fence stays: a write already committing is
   * checked all the same). Its end is not recorded from here.
   */
  /** Says once per type that tasks of a type this worker does not run wait in the queue (left for a worker that runs it). */
  #tellPassed(types: readonly string[]): void {
    for (const type of types) {
      if (this.#passedTypes.has(type)) continue;
      this.#passedTypes.add(type);
      // As a SQLite queue tells of the tasks it holds back (the CLI prints it as a `taskforge:` line).
      process.emitWarning(
        `tasks of type '${type}' wait in the queue ${this.#store.name}, and no such task type is registered in this worker (${this.id}): it leaves them to a worker that registers the type`,
        'TaskforgeWarning',
      );
    }
  }

  #lockLost(job: TakenJob, how: LockLoss): void {
    const id = job.data.id;
    const held = this.#held.get(id);
    // (A run that has ended, or one taken again here under a newer lock, is not this loss's.)
    if (held === undefined || held.ended || held.lockLost || held.job.token !== job.token) return;
    held.lockLost = true;
    const why = how === 'gone' ? 'its job is gone from Redis (Redis lost it, or the task ended elsewhere)' : 'another worker took the task over (this worker was paused, or Redis away, longer than the lock)';
    this.#logger.error({ worker: this.id, taskId: id }, `a running task was stopped: this worker lost its lock on it: ${why}`);
    const stopped = new TaskforgeError(ErrorCode.LOCK_LOST, `task '${id}' was stopped: this worker lost its lock on it (${why}); it committed nothing more here`, {
      retryable: false,
      details: { taskId: id },
    });
    this.#consumer.cancel(id, 'this worker lost its lock on the task', stopped);
  }

  /** Whether the task's events are wanted elsewhere: its submitter listens, or a client wants every task's. */
  publishesFor(id: string): boolean {
    return this.#anyoneListening || this.#held.get(id)?.job.data.events === true;
  }

  /**
   * Stops taking tasks; lets running ones finish for up to `timeoutMs`,
   * then cancels them and hands them back to the queue (another worker
   * runs them again, their cut-off attempt counted); gives up on those that
   * do not stop within STOP_GRACE_MS more (their locks lapse, and BullMQ
   * hands them on).
   */
  stop(timeoutMs: number): Promise<ConsumptionStopped> {
    this.#stopping ??= this.#stop(timeoutMs);
    return this.#stopping;
  }

  async #stop(timeoutMs: number): Promise<ConsumptionStopped> {
    this.#logger.info({ worker: this.id, running: this.#held.size, timeoutMs }, 'Redis worker shutting down');
    clearInterval(this.#sweeper);
    clearInterval(this.#listenerCheck);
    const handBack = setTimeout(() => {
      for (const [id, held] of this.#held) {
        // A task that has ended (cleaning up) keeps its end: it is recorded, not handed back.
        if (held.ended) continue;
        held.handingBack = true;
        this.#cutOff.add(id);
        this.#consumer.cancel(id, 'the worker is shutting down; the task goes back to the queue');
      }
    }, timeoutMs);
    let giveUp: NodeJS.Timeout | undefined;
    const gaveUp = new Promise<'gave up'>((resolve) => {
      giveUp = setTimeout(resolve, timeoutMs + STOP_GRACE_MS, 'gave up');
    });
    this.#taker.stopTaking();
    const first = await Promise.race([this.#taker.whenIdle(), gaveUp]);
    clearTimeout(handBack);
    clearTimeout(giveUp);
    const abandoned = first === 'gave up' ? [...this.#held.keys()] : [];
    // Given up: their locks lapse without renewal; BullMQ's stalled check then hands them to another worker.
    if (first === 'gave up') this.#gaveUp = true;
    this.#taker.stopRenewing();
    this.#flushEnds();
    // Both bounded: with Redis gone each may wait on commands queued for a reconnection that never comes (ioredis
    // keeps them); the store's close then ends the connections. Ends still unrecorded leave their jobs in BullMQ:
    // run again elsewhere once their locks run out.
    const closeWaitMs = this.#store.closeWaitMs();
    const [closed, recorded] = await Promise.all([settledWithin(this.#stalledCheck.close(), closeWaitMs), settledWithin(this.#recordLastEnds(), ENDS_RECORD_WAIT_MS)]);
    if (!closed && closeWaitMs > 0) this.#logger.warn({ worker: this.id }, "BullMQ's worker did not close in time (Redis gone?); its connections are ended");
    const unrecorded = recorded ? [] : [...this.#pendingEnds.keys()];
    if (unrecorded.length > 0) this.#logger.warn({ worker: this.id, tasks: unrecorded }, 'the ends of these tasks could not be recorded in time (Redis gone?); they run again once their locks lapse');
    this.#subscriber.disconnect();
    this.#logger.info({ worker: this.id }, 'Redis worker stopped');
    return { cutOff: [...this.#cutOff], abandoned, ...(unrecorded.length > 0 ? { unrecorded } : {}) };
  }

  /** Waits for the recordings under way, then records what they could not. */
  async #recordLastEnds(): Promise<void> {
    await Promise.all(this.#settling);
    const ends = this.#unrecorded;
    this.#unrecorded = [];
    await this.#store.settleMany(ends).then(() => {
      this.#recorded(ends);
    }, () => undefined);
  }

  /** Runs one job's task to its end and queues the end (with the job's removal) for the next batch. */
  async #process(job: TakenJob): Promise<void> {
    // The job's data is used as it is (no copy per task): a hot path.
    const task = job.data;
    const { attempts, interruptions } = countsOf(job);
    const restarted = attempts > task.attempts;
    const runningHere = this.#held.get(task.id);
    if (runningHere !== undefined) {
      // Its lock lapsed while it ran here (no renewal reached Redis: an outage, or this process paused,
      // longer than the lock), BullMQ's stalled check handed the job back, and this worker took it again.
      // The run goes on under the new lock (its writes and its end are fenced by it), rather than a second
      // run beside it: this slot stays taken until that run ends.
      this.#logger.warn({ worker: this.id, taskId: task.id }, 'the job of a task running here came back (its lock had lapsed); the run goes on under its new lock');
      runningHere.job = job;
      await runningHere.done;
      return;
    }
    const endedHere = this.#pendingEnds.get(task.id);
    if (endedHere !== undefined) {
      // It ran to its end here, but the end has not reached Redis yet (Redis was away longer than the lock):
      // its lock lapsed and the job came back. The end is recorded under the new lock; the task does not run again.
      this.#logger.warn({ worker: this.id, taskId: task.id }, 'the job of a task that ended here came back before its end was recorded; its end is recorded, not run again');
      this.#recordEnd({ ...endedHere, job: runningJob(job) });
      return;
    }
    // A task whose end is recorded never runs again, however its job came to be: made again by a
    // hand-over that came late (after the stranded sweep handed the task over and a worker finished
    // it), or handed back after a worker died between recording the end and BullMQ's removal. Checked
    // here, as the task starts: no other job of this id can be active now (BullMQ holds one job per
    // id, and ends are recorded only with the job's lock), so nothing records its end in between.
    // Only a job started LATE_JOB_MS or more after its release, or run again, can have such a twin:
    // a fresh job costs no round trip.
    const late = task.releasedAt === undefined || Date.now() - task.releasedAt >= LATE_JOB_MS;
    const jobHeld = runningJob(job);
    if ((late || restarted) && (await this.#store.finished.has(task.id))) {
      this.#logger.debug({ worker: this.id, taskId: task.id, taskType: task.type }, 'a job of a task that has ended is dropped unrun');
      await this.#store.settleMany([], this.client, [jobHeld]);
      return;
    }
    const cancel = this.#cancelsHeard.get(task.id) ?? (restarted ? await this.#store.cancelRequest(task.id) : undefined);
    if (cancel !== undefined) {
      const { reason } = cancel;
      this.#store.events.publish('cancel', task.id, { id: task.id, type: task.type, previousStatus: 'pending', ...(reason === undefined ? {} : { reason }) }, this.client);
      // (This run has not started: the attempts are those made before it, cut off when a worker died.)
      const cancelled = failedWithoutRunning(task, attempts, cancelledWhileWaiting(task.id, attempts, reason));
      await this.#store.settleMany([{ id: task.id, result: cancelled, job: jobHeld }], this.client);
      return;
    }
    let runEnded = (): void => undefined;
    const held: HeldTask = { job, done: new Promise((resolve) => (runEnded = resolve)), handingBack: false, ended: false, cancelHeard: false, lockLost: false };
    this.#held.set(task.id, held);
    let result: TaskResult;
    try {
      result = await new Promise<TaskResult>((resolve) => {
        this.#consumer.run(takenTask(task, attempts, interruptions, this.#fenceOf(task.id, held)), (_task, ended) => {
          resolve(ended);
        });
      });
    } finally {
      held.ended = true;
      this.#held.delete(task.id);
      runEnded();
    }
    // Given up at stop: its connections are closing, and its lock lapses; BullMQ hands the task on.
    if (this.#gaveUp) return;
    // Handed back only when the cancellation cut it off: a task that ended first (its cleanup ran into the
    // deadline) keeps its end, which is recorded below.
    if (held.handingBack) {
      if (result.error?.code === ErrorCode.CANCELLED) {
        await this.#taker.handBack(held.job);
        return;
      }
      this.#cutOff.delete(task.id);
    }
    // The task is another worker's now, or Redis lost it: its end, if any, is not this worker's to record.
    if (held.lockLost || result.error?.code === ErrorCode.LOCK_LOST) return;
    // (Under the job it holds now: taken again here, it has a new lock.)
    this.#recordEnd({ id: task.id, result, job: runningJob(held.job) });
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
        await this.#store.locks.assertHeld(taskId, held.job.id, held.job.token);
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
    this.#pendingEnds.set(end.id, end);
    this.#ends.push(end);
    if (this.#ends.length >= END_BATCH_MAX) {
      this.#flushEnds();
      return;
    }
    if (this.#flushScheduled) return;
    this.#flushScheduled = true;
    const wait = this.#lastFlushAt + END_BATCH_MS - performance.now();
    // (A flush that comes first, by size or stop, leaves this one an empty or smaller batch: harmless.)
    if (wait <= 0) setImmediate(this.#flushEnds);
    else setTimeout(this.#flushEnds, wait);
  }

  readonly #flushEnds = (): void => {
    this.#flushScheduled = false;
    const ends = this.#ends;
    if (ends.length === 0) return;
    this.#ends = [];
    this.#lastFlushAt = performance.now();
    const recording = this.#store.settleMany(ends, this.client).then(
      () => {
        this.#recorded(ends);
      },
      async (error: unknown) => {
        this.#logger.error({ worker: this.id, tasks: ends.length, err: errorText(error) }, 'recording task ends failed; retrying');
        for (let attempt = 1; attempt <= 5; attempt += 1) {
          try {
            await this.#store.settleMany(ends);
            this.#recorded(ends);
            return;
          } catch {
            await new Promise((resolve) => setTimeout(resolve, 200 * attempt));
          }
        }
        // Kept for the next sweep; should this process die first, their jobs are run again elsewhere once their locks run out.
        for (const end of ends) this.#unrecorded.push(end);
        this.#logger.error({ worker: this.id, tasks: ends.length }, 'task ends could not be recorded now; the next sweep tries again');
      },
    );
    this.#settling.add(recording);
    recording
      .finally(() => this.#settling.delete(recording))
      .catch(this.#logFailure('recording task ends failed'));
  };

  /** Ends that reached Redis (recorded, or refused there as another worker's): no longer pending here. */
  #recorded(ends: readonly TaskEnd[]): void {
    for (const end of ends) if (this.#pendingEnds.get(end.id) === end) this.#pendingEnds.delete(end.id);
  }

  async #checkListeners(): Promise<void> {
    try {
      this.#anyoneListening = await this.#store.events.listenerAnnounced();
    } catch {
      // Keep the last answer: events are best effort.
    }
  }

  /** Subscribes to the queue's cancel channel; a cancellation for a task held here cancels it. */
  #listenForCancels(): Redis {
    const subscriber = this.#store.connections.open();
    subscriber.subscribe(this.#store.cancelChannel).catch(this.#logFailure('cannot subscribe to cancellations'));
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
    const held = this.#held.get(id);
    if (held !== undefined) {
      // A task that has ended (its cleanup still runs here) cannot be cancelled: its end is on its way to the queue.
      if (held.ended || held.cancelHeard) return;
      held.cancelHeard = true;
      this.#store.events.publish('cancel', id, { id, type: held.job.data.type, previousStatus: 'running', ...(reason === undefined ? {} : { reason }) }, this.client);
      this.#consumer.cancel(id, reason);
      return;
    }
    const now = Date.now();
    this.#cancelsHeard.set(id, { at: now, ...(reason === undefined ? {} : { reason }) });
    if (this.#cancelsHeard.size > 1000) {
      for (const [heardId, heard] of this.#cancelsHeard) if (now - heard.at > CANCEL_MEMORY_MS) this.#cancelsHeard.delete(heardId);
    }
  }

  async #recheckCancels(): Promise<void> {
    for (const id of this.#held.keys()) {
      const cancel = await this.#store.cancelRequest(id);
      if (cancel !== undefined) this.#cancelHeard(id, cancel.reason);
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
      const handed = await this.#store.handOverStranded();
      if (handed > 0) this.#logger.warn({ worker: this.id, tasks: handed }, 'handed to BullMQ ready tasks a dead process left behind');
      if (this.#unrecorded.length > 0) {
        const ends = this.#unrecorded;
        this.#unrecorded = [];
        await this.#store.settleMany(ends).catch((error: unknown) => {
          for (const end of ends) this.#unrecorded.push(end);
          throw error;
        });
        this.#recorded(ends);
      }
    } catch (error) {
      this.#logger.warn({ worker: this.id, err: errorText(error) }, 'sweep of stranded tasks failed');
    }
  }
}

/** The task a job carries, as a consumer is handed it: with the attempts and interruptions BullMQ counted, and its fence. */
function takenTask(task: JobData, attempts: number, interruptions: number, assertHeld: () => Promise<void>): TakenTask {
  return { id: task.id, type: task.type, priority: task.priority, config: task.config, dependsOn: task.dependsOn, attempts, submittedAt: task.submittedAt, interruptions, assertHeld };
}

function errorText(error: unknown): string {
  return error instanceof Error ? error.message : String(error);
}

/** The job a run holds, as its end is recorded with it. */
function runningJob(job: TakenJob): RunningJob {
  return { id: job.id, token: job.token, takenAt: job.takenAt };
}
