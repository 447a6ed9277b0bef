import type { Job, Queue, WorkerOptions } from 'bullmq';
import type { Redis } from 'ioredis';
import { isoTime } from '../core/clock.js';
import { ErrorCode, TaskforgeError } from '../core/errors.js';
import { settledWithin } from '../core/abort.js';
import { errnoOf, systemErrorReason } from '../core/system-errors.js';
import { getDefaultLogger } from '../core/logger.js';
import type { TaskResult } from '../tasks/task-result.js';
import { TaskStatus } from '../tasks/task-status.js';
import { invalid } from '../orchestrator/submission.js';
import { retainedResult } from '../orchestrator/retained-result.js';
import { toBullMqPriority } from '../orchestrator/queues/bullmq-priority.js';
import { agedBullPriority, checkAgedPriority, RedisAging } from './redis-aging.js';
import type { FinishedTask, QueuedTask, SubmitOutcome, TaskMeta, TaskState } from '../orchestrator/task-queue.js';
import { SCRIPT_KEYS } from './redis-scripts.js';
import { BULL_KEYS } from './redis-take-scripts.js';
import { loadBullMq } from './load-bullmq.js';
import { endConnection, RedisConnections, runScript, type ScriptCommand } from './redis-connections.js';
import { watchConnection, type RedisConnectionChange } from './redis-connection-watch.js';
import { RedisEpoch } from './redis-epoch.js';
import { RedisWorkerRoster } from './redis-worker-roster.js';
import { EVENTS_MAX_LEN, RedisEventStream } from './redis-event-stream.js';
import { RedisJobLocks } from './redis-job-locks.js';
import { checkedPlace, checkedStoreSettings, type RedisQueueOptions } from './redis-options.js';
import { FinishedRecords, finishedOf, jobIdOf, jobOptionsOf, metaOf, specOf, type JobData, type TaskEnd } from './redis-records.js';

/** How long a close waits for BullMQ's own close before it ends the connections (see close). */
export const BULL_CLOSE_WAIT_MS = 2000;
/** Ready tasks not handed to BullMQ after this long are handed again (their releaser died). */
const STRANDED_AFTER_MS = 30_000;
/** The key prefix of everything a taskforge queue keeps. */
const KEY_PREFIX = 'taskforge';
/**
 * Tasks this process has stored: a task's record keeps its number (`seq`),
 * so that unfinished() lists the tasks of one millisecond, a batch's, in the
 * order they were submitted (those of other processes in the same
 * millisecond have no order among them).
 */
let submitted = 0;

/** A task's record as stored: its meta and this process's number for it (absent from records stored before it was kept). */
type SequencedMeta = TaskMeta & { readonly seq?: number };

/** The most task records unfinished() reads: it sorts what it read, so a queue of millions is listed from a sample. */
const MAX_UNFINISHED_SCAN = 200_000;

/** Options of {@link RedisStore.submit}. */
export interface SubmitQueueOptions {
  /** The submitter listens to start, retry and progress events: workers publish them for these tasks. */
  readonly events?: boolean;
}

/**
 * What one named queue keeps on a Redis server, shared by every process
 * that opens it, and the atomic steps that change it: the data layer under
 * RedisQueue (redis-queue.ts). BullMQ holds the ready tasks (ordered by
 * taskforge's priority, locked while they run, handed back when a worker
 * dies); Lua scripts (redis-scripts.ts) hold the rest: dependencies,
 * finished tasks, cancellations and the event stream. bullmq and ioredis
 * are loaded on the first open(). Its parts, each in its own file: the
 * options (redis-options.ts), the connections (redis-connections.ts), the
 * event stream (redis-event-stream.ts), the jobs' locks
 * (redis-job-locks.ts), the records and the lookups of finished tasks
 * (redis-records.ts) and the epoch (redis-epoch.ts).
 */
export class RedisStore {
  readonly name: string;
  readonly durable = true;
  readonly location: { readonly url: string; readonly name: string };
  /** Every connection made for this queue and its users (workers, clients), ended by close(). */
  readonly connections: RedisConnections;
  readonly events: RedisEventStream;
  readonly locks: RedisJobLocks;
  readonly finished: FinishedRecords;
  /** Whether the queue's data may have been lost since this process first saw it. */
  readonly epoch: RedisEpoch;
  /** The workers that take from this queue, as each describes itself. */
  readonly workers: RedisWorkerRoster;
  readonly #redis: Redis;
  readonly #bull: Queue<QueuedTask>;
  readonly #keys: readonly string[];
  /** The keys BULL_SCRIPTS take: this queue's BullMQ lists and sets. */
  readonly #bullKeys: readonly string[];
  readonly #prefix: string;
  /** The key prefix of this queue's BullMQ jobs and keys, `PREFIX:NAME:`. */
  readonly jobKeyPrefix: string;
  readonly #maxFinished: number;
  readonly #maxAgeMs: number;
  readonly #aging: RedisAging;
  #closed = false;

  private constructor(connections: RedisConnections, url: string, name: string, options: RedisQueueOptions) {
    this.connections = connections;
    this.location = { url, name };
    this.name = `${url.replace(/\/\/[^@/]*@/, '//***@').replace(/\/$/, '')}?name=${name}`;
    const settings = checkedStoreSettings(options);
    this.#maxFinished = settings.maxFinished;
    this.#maxAgeMs = settings.maxAgeMs;
    this.#prefix = `${KEY_PREFIX}:${name}`;
    this.jobKeyPrefix = `${KEY_PREFIX}:bull:${name}:`;
    this.#keys = SCRIPT_KEYS.map((key) => `${this.#prefix}:${key}`);
    this.#bullKeys = BULL_KEYS.map((key) => `${this.jobKeyPrefix}${key}`);
    this.#redis = connections.open({ autoPipelining: true });
    const assertOpen = (): void => {
      this.#assertOpen();
    };
    this.events = new RedisEventStream(this.#redis, { stream: this.#keys[6] ?? '', listening: `${this.#prefix}:listening` });
    this.locks = new RedisJobLocks(this.#redis, this.jobKeyPrefix, settings, assertOpen);
    this.finished = new FinishedRecords(this.#redis, { results: this.#keys[3] ?? '', tasks: this.#keys[0] ?? '' }, assertOpen);
    this.epoch = new RedisEpoch(this.#redis, `${this.#prefix}:epoch`, assertOpen);
    this.workers = new RedisWorkerRoster(this.#redis, `${this.#prefix}:workers`);
    this.#aging = new RedisAging(this.#redis, this.#prefix, options.agingMs, options.agingTuning);
    this.#bull = new connections.modules.Queue<QueuedTask>(name, { connection: connections.open(), prefix: `${KEY_PREFIX}:bull` });
    // Connection errors surface as failed calls; the event needs a listener so that it is not thrown.
    this.#bull.on('error', () => undefined);
  }

  /** Connects to the queue (loading bullmq and ioredis on first use); BACKEND_UNAVAILABLE when Redis does not answer. */
  static async open(options: RedisQueueOptions = {}): Promise<RedisStore> {
    // Checked before any connection is made: one left open would hold the process.
    const { url, name, connectTimeoutMs } = checkedPlace(options);
    const queue = new RedisStore(new RedisConnections(await loadBullMq(), url), url, name, options);
    let timer: NodeJS.Timeout | undefined;
    let onAbort: (() => void) | undefined;
    try {
      // ioredis retries a refused connection for ever (as BullMQ wants): the
      // first contact fails on its first error, or after connectTimeoutMs.
      const failed = new Promise<never>((_resolve, reject) => {
        timer = setTimeout(() => {
          reject(new Error(`no answer within ${String(connectTimeoutMs)} ms`));
        }, connectTimeoutMs);
        queue.#redis.once('error', reject);
        onAbort = () => {
          reject(new OpenAborted(options.signal?.reason));
        };
        options.signal?.addEventListener('abort', onAbort, { once: true });
        if (options.signal?.aborted === true) onAbort();
      });
      await Promise.race([queue.epoch.mark(), failed]);
    } catch (error) {
      queue.abandon();
      if (error instanceof OpenAborted) throw error.reason;
      const refused = refusalOf(error, name);
      if (refused !== undefined) throw new TaskforgeError(ErrorCode.PERMISSION_DENIED, `Redis refused the queue ${queue.name}: ${refused}`, { cause: error });
      // A TLS handshake with a server that speaks none gets no answer at all: the timeout, which names no cause unless told.
      const tls = url.startsWith('rediss:') && !(error instanceof Error && errnoOf(error) !== undefined) ? ' (a rediss:// URL speaks TLS: does the server take TLS on that port?)' : '';
      throw new TaskforgeError(ErrorCode.BACKEND_UNAVAILABLE, `cannot reach Redis for the queue ${queue.name}: ${systemErrorReason(error)}${tls}`, { cause: error });
    } finally {
      clearTimeout(timer);
      // (A worker waiting for its Redis opens again and again with one signal: no listener is left on it.)
      if (onAbort !== undefined) options.signal?.removeEventListener('abort', onAbort);
    }
    try {
      // Refused here, not at the first submit, when this process wants another aging than the queue's.
      await queue.#aging.current();
    } catch (error) {
      queue.abandon();
      throw error;
    }
    return queue;
  }

  /** Tells `listener` when the queue's connection to Redis is lost (and why) and when it is made again; returns how to stop. */
  watchConnection(listener: (change: RedisConnectionChange) => void): () => void {
    return watchConnection(this.#redis, () => this.#closed, listener);
  }

  /** The BullMQ queue under this one (same Redis, same name). */
  get bull(): Queue<QueuedTask> {
    return this.#bull;
  }

  /** The channel cancellations are published on (the workers listen). */
  get cancelChannel(): string {
    return `${this.#prefix}:cancel`;
  }

  /**
   * Why this client could not hear cancellations (Redis refused it the
   * channel: an ACL user without `&PREFIX:NAME:*`), or undefined when it can:
   * a worker that cannot would run every cancelled task to its end.
   */
  async cancelsRefused(): Promise<string | undefined> {
    const probe = this.connections.open();
    const subscribing = probe.subscribe(this.cancelChannel);
    // (Not answered in 2 s: not known to be refused. Its later failure, once the probe is ended, is nobody's.)
    subscribing.catch(() => undefined);
    try {
      await Promise.race([subscribing, new Promise((resolve) => setTimeout(resolve, 2000).unref())]);
      return undefined;
    } catch (error) {
      return error instanceof Error ? error.message : String(error);
    } finally {
      endConnection(probe);
    }
  }

  /** Tasks waiting (blocked by dependencies, or ready in BullMQ) and running, on every worker. */
  async counts(): Promise<{ waiting: number; running: number }> {
    this.#assertOpen();
    const [blocked, counts] = await Promise.all([this.#redis.hlen(this.#keys[1] ?? ''), this.#bull.getJobCounts('wait', 'prioritized', 'active')]);
    return { waiting: blocked + (counts['wait'] ?? 0) + (counts['prioritized'] ?? 0), running: counts['active'] ?? 0 };
  }

  /**
   * Stores a batch of tasks, all or none, with readiness from their
   * dependencies: a task whose dependencies all completed is ready, one
   * with a failed dependency ends DEPENDENCY_FAILED at once, the others wait
   * in Redis until their last dependency completes (whichever process
   * finishes it). ALREADY_EXISTS for an id in use; VALIDATION_ERROR for a
   * dependency the queue does not know.
   */
  async submit(tasks: readonly QueuedTask[], where: (index: number) => string = () => '', options: SubmitQueueOptions = {}): Promise<SubmitOutcome[]> {
    return this.#store(tasks, where, options.events === true);
  }

  async #store(tasks: readonly QueuedTask[], where: (index: number) => string, events: boolean): Promise<SubmitOutcome[]> {
    if (tasks.length === 0) return [];
    const aging = await this.#aging.current();
    const args: string[] = ['link', String(tasks.length)];
    for (const [index, task] of tasks.entries()) {
      toBullMqPriority(task.priority);
      if (aging !== undefined) checkAgedPriority(task.priority, where(index));
      submitted += 1;
      args.push(task.id, JSON.stringify({ ...metaOf(task), seq: submitted }), JSON.stringify(specOf(task, events)), '0');
    }
    const now = Date.now();
    const reply = (await this.#run('tfSubmit', args, this.#redis, now)) as [string, ...unknown[]];
    if (reply[0] === 'ALREADY_EXISTS') {
      const index = Number(reply[1]);
      throw alreadyExists(tasks[index]?.id ?? '', where(index));
    }
    if (reply[0] === 'UNKNOWN_DEPENDENCY') {
      const index = Number(reply[1]);
      const depIndex = Number(reply[2]);
      const dependency = tasks[index]?.dependsOn?.[depIndex] ?? '';
      invalid(where(index), `dependsOn[${String(depIndex)}]`, `no task with id '${dependency}' is known (it was never submitted, or it finished longer ago than the queue keeps)`, dependency);
    }
    const [, outcomes, released] = reply as [string, string[], string[]];
    await this.handOver(released, now);
    return outcomes.map((outcome) => (outcome === 'ready' || outcome === 'blocked' ? outcome : (JSON.parse(outcome) as TaskResult)));
  }

  /**
   * Gives ready tasks to BullMQ (idempotent: a job id already there is left
   * alone), then forgets them as "releasing". `releasedAt` is when they were
   * made ready, as the releasing entries record it (one time for all, or
   * one per task), never the time of this call: a hand-over that comes late
   * must make jobs that look late.
   */
  async handOver(specs: readonly string[], releasedAt: number | readonly number[]): Promise<void> {
    if (specs.length === 0) return;
    const aging = await this.#aging.current();
    const tasks = specs.map((spec, index) => {
      const task = JSON.parse(spec) as { -readonly [K in keyof JobData]: JobData[K] };
      task.releasedAt = typeof releasedAt === 'number' ? releasedAt : (releasedAt[index] ?? 0);
      return task;
    });
    for (let start = 0; start < tasks.length; start += 1000) {
      const chunk = tasks.slice(start, start + 1000);
      await this.#bull.addBulk(chunk.map((task) => ({ name: task.type, data: task, opts: jobOptionsOf(task, aging) })));
      await this.#redis.hdel(this.#keys[5] ?? '', ...chunk.map((task) => task.id));
    }
    this.#aging.rebaseIfDue(aging, this.#bull, (error) => {
      getDefaultLogger().warn({ queue: this.name, err: error }, 'ranking the waiting tasks from a new aging origin failed; the next hand-over tries again');
    });
  }

  /** Hands to BullMQ the ready tasks a dead process stored but did not hand over. */
  async handOverStranded(): Promise<number> {
    // Entries come back as stored: "releasedAt spec".
    const entries = (await this.#run('tfStranded', [String(STRANDED_AFTER_MS)])) as string[];
    const releasedAt = entries.map((entry) => Number(entry.slice(0, entry.indexOf(' '))));
    await this.handOver(
      entries.map((entry) => entry.slice(entry.indexOf(' ') + 1)),
      releasedAt,
    );
    return entries.length;
  }

  /**
   * What every BullMQ worker of this queue is made with (connection and
   * concurrency aside). Retention is set here rather than on each job (the
   * options of a job are stored with it and parsed at every fetch): a job
   * a taskforge worker ran is removed with its end recorded (settleMany),
   * one BullMQ completes itself (its task had ended already) goes at once,
   * and one that failed (a bug in processing) stays a day for inspection.
   */
  workerOptions(): Pick<WorkerOptions, 'prefix' | 'lockDuration' | 'stalledInterval' | 'maxStalledCount' | 'removeOnComplete' | 'removeOnFail'> {
    return {
      prefix: `${KEY_PREFIX}:bull`,
      ...this.locks.workerSettings(),
      removeOnComplete: { count: 0 },
      removeOnFail: { age: 24 * 3600 },
    };
  }

  /**
   * Puts a job BullMQ handed back from a dead worker in its place again.
   * BullMQ returns such a job to its plain wait list, which runs before
   * every prioritized job; taskforge keeps its priority, ahead of the tasks
   * of that priority that still wait (it was taken before them).
   */
  async restorePriority(jobId: string): Promise<void> {
    try {
      const job = (await this.#bull.getJob(jobId)) as Job<JobData> | undefined;
      if (job !== undefined) await job.changePriority({ priority: agedBullPriority(job.data.priority, job.data.releasedAt ?? 0, await this.#aging.current()), lifo: true });
    } catch {
      // Taken again meanwhile, or gone: nothing to put back.
    }
  }

  /**
   * Records a task's end (once) and hands over the dependents it released.
   * False when it had ended already. `via`: the connection to send it on
   * (one made by connections.open()); commands on one connection run in order.
   */
  async settle(id: string, result: TaskResult, via?: Redis): Promise<boolean> {
    const [fresh] = await this.settleMany([{ id, result }], via);
    return fresh ?? false;
  }

  /**
   * Records the ends of several tasks in one script call; one flag per task
   * as settle() gives. An end with the `job` its task ran as (held with that
   * lock token) also removes that job from BullMQ, in the same atomic step;
   * so does each of `dropped` (jobs of tasks that had ended already).
   */
  async settleMany(ends: readonly TaskEnd[], via?: Redis, dropped: readonly { readonly id: string; readonly token: string }[] = []): Promise<boolean[]> {
    if (ends.length === 0 && dropped.length === 0) return [];
    const args = [String(ends.length)];
    for (const { id, result } of ends) args.push(id, JSON.stringify(retainedResult(result)), result.success ? '1' : '0', result.error?.code ?? '');
    // Per job: its id, the lock token it ran under, the place of its end among the ends (0: a job dropped, no end), and when it was taken.
    const jobs: string[] = [];
    ends.forEach(({ job }, index) => {
      if (job !== undefined) jobs.push(job.id, job.token, String(index + 1), String(job.takenAt));
    });
    for (const job of dropped) jobs.push(job.id, job.token, '0', '0');
    if (jobs.length > 0) {
      args.push(this.jobKeyPrefix, String(jobs.length / 4));
      for (const value of jobs) args.push(value);
    }
    const now = Date.now();
    const [fresh, released] = (await this.#run('tfFinish', args, via, now)) as [number[], string[]];
    await this.handOver(released, now);
    return fresh.map((flag) => flag === 1);
  }

  /**
   * Asks for a task's cancellation: a task blocked by dependencies ends at
   * once; for one in BullMQ the workers are told (the one running it
   * cancels it) and the id is marked.
   */
  async requestCancel(id: string, messageIfWaiting: string, eventBody: string): Promise<['finished', FinishedTask] | ['cancelled', TaskResult] | ['signalled', TaskMeta] | ['unknown']> {
    const reply = (await this.#run('tfCancel', [id, messageIfWaiting, eventBody])) as [string, string?];
    switch (reply[0]) {
      case 'finished':
        return ['finished', finishedOf(reply[1] ?? '')];
      case 'cancelled':
        return ['cancelled', JSON.parse(reply[1] ?? '') as TaskResult];
      case 'signalled':
        return ['signalled', JSON.parse(reply[1] ?? '') as TaskMeta];
      default:
        return ['unknown'];
    }
  }

  /**
   * Removes a task's job while it waits in BullMQ: the runs of it that were
   * started (and cut off), or undefined when it is running (locked) or not
   * there (see REMOVE_WAITING_SCRIPT).
   */
  async removeWaiting(id: string): Promise<{ readonly runsStarted: number } | undefined> {
    this.#assertOpen();
    try {
      const removed = Number(await runScript(this.#redis, 'tfRemoveWaiting', [...this.#bullKeys, this.jobKeyPrefix, jobIdOf(id)]));
      return removed > 0 ? { runsStarted: removed - 1 } : undefined;
    } catch (error) {
      throw this.#failed(error);
    }
  }

  /** The cancellation asked for this task (with its reason, when one was given), or undefined when none was. */
  async cancelRequest(id: string): Promise<{ readonly reason?: string } | undefined> {
    this.#assertOpen();
    const replies = await this.#redis.multi().sismember(this.#keys[7] ?? '', id).hget(`${this.#prefix}:cancelReasons`, id).exec();
    if (replies?.[0]?.[1] !== 1) return undefined;
    const reason = replies[1]?.[1];
    return typeof reason === 'string' ? { reason } : {};
  }

  /** A task's state: pending (blocked or waiting in BullMQ), running, or finished; undefined when unknown. */
  async state(id: string): Promise<TaskState | undefined> {
    this.#assertOpen();
    const [meta, record] = await Promise.all([this.#redis.hget(this.#keys[0] ?? '', id), this.#redis.hget(this.#keys[3] ?? '', id)]);
    if (record !== null) return { status: 'finished', finished: finishedOf(record) };
    if (meta === null) return undefined;
    const [jobState, started] = await Promise.all([this.#bull.getJobState(jobIdOf(id)), this.#redis.hget(`${this.jobKeyPrefix}${jobIdOf(id)}`, 'ats')]);
    return unfinishedState(JSON.parse(meta) as TaskMeta, jobState === 'active', Number(started ?? 0));
  }

  /**
   * The unfinished tasks (waiting, blocked or running anywhere), oldest
   * first, up to `limit`: a scan of the task records (at most
   * MAX_UNFINISHED_SCAN of them are read), running as BullMQ's active list says.
   */
  async unfinished(limit: number): Promise<TaskState[]> {
    this.#assertOpen();
    const metas: SequencedMeta[] = [];
    let cursor = '0';
    do {
      const [next, flat] = await this.#redis.hscan(this.#keys[0] ?? '', cursor, 'COUNT', 1000);
      for (let at = 1; at < flat.length; at += 2) metas.push(JSON.parse(flat[at] ?? '{}') as SequencedMeta);
      cursor = next;
    } while (cursor !== '0' && metas.length < MAX_UNFINISHED_SCAN);
    metas.sort((a, b) => a.submittedAt - b.submittedAt || (a.seq ?? 0) - (b.seq ?? 0));
    const listed = metas.slice(0, limit);
    const pipeline = this.#redis.pipeline().lrange(`${this.jobKeyPrefix}active`, 0, -1);
    for (const task of listed) pipeline.hget(`${this.jobKeyPrefix}${jobIdOf(task.id)}`, 'ats');
    const replies = (await pipeline.exec()) ?? [];
    const active = new Set((replies[0]?.[1] ?? []) as string[]);
    return listed.map((task, at) => unfinishedState(task, active.has(jobIdOf(task.id)), Number(replies[at + 1]?.[1] ?? 0)));
  }

  /** Closes this process's connections; tasks stay in Redis. Idempotent. */
  async close(): Promise<void> {
    if (this.#closed) return;
    this.#closed = true;
    // BullMQ's close may wait for commands queued for a reconnection that never comes (Redis gone): bounded
    // (not waited for at all while the connection is down), then every connection is ended.
    await settledWithin(this.#bull.close(), this.closeWaitMs());
    this.connections.disconnectAll();
  }

  /** How long a close waits for BullMQ's: BULL_CLOSE_WAIT_MS while connected; nothing while Redis is away, whose close could only time out. */
  closeWaitMs(): number {
    return this.#redis.status === 'ready' ? BULL_CLOSE_WAIT_MS : 0;
  }

  /**
   * Disconnects without handing anything back, as a killed process would
   * (tests): taken tasks keep their lock until it expires.
   */
  abandon(): void {
    this.#closed = true;
    // (Abandoned after an open that failed: a failure here is the connection's own, which the open has told already.)
    this.#bull.disconnect().catch(() => undefined);
    this.connections.disconnectAll();
  }

  #assertOpen(): void {
    if (this.#closed) throw new TaskforgeError(ErrorCode.INVALID_STATE, `the Redis queue ${this.name} is closed`);
  }

  async #run(command: ScriptCommand, args: readonly string[], via: Redis = this.#redis, now = Date.now()): Promise<unknown> {
    this.#assertOpen();
    const common = [this.#prefix, String(now), isoTime(now), String(this.#maxFinished), String(this.#maxAgeMs), String(EVENTS_MAX_LEN)];
    try {
      // One array, not spread: a batch of 20,000 tasks is 80,000 arguments, past what a call's stack holds (ioredis flattens it).
      return await runScript(via, command, [...this.#keys, ...common, ...args]);
    } catch (error) {
      throw this.#failed(error);
    }
  }

  #failed(error: unknown): TaskforgeError {
    // Refused, not failed: waiting or trying again does not help, and the message says which grant is missing.
    const refused = refusalOf(error, this.location.name);
    if (refused !== undefined) return new TaskforgeError(ErrorCode.PERMISSION_DENIED, `Redis refused the queue ${this.name}: ${refused}`, { cause: error });
    return new TaskforgeError(ErrorCode.BACKEND_UNAVAILABLE, `the Redis queue ${this.name} failed: ${error instanceof Error ? error.message : String(error)}`, { cause: error });
  }
}

/**
 * A waiting or running task's state. The record counts the attempts made
 * before its current run; a running task's view counts the one under way too,
 * as in one process and on SQLite (retries within that run are counted once
 * it ends: its worker does not tell the record of each).
 */
/**
 * An unfinished task's state: running or pending, its attempts counting
 * its job's runs started (BullMQ's `ats`: a run a dead worker cut off
 * counts; a running task's counts the one under way).
 */
function unfinishedState(task: TaskMeta, running: boolean, runsStarted: number): TaskState {
  if (running) return { status: TaskStatus.RUNNING, task: { ...task, attempts: task.attempts + Math.max(1, runsStarted) } };
  return { status: TaskStatus.PENDING, task: runsStarted === 0 ? task : { ...task, attempts: task.attempts + runsStarted } };
}

/** The error of a submit whose task id is in use; `at` is where in the batch (`[1].`, or '' for a single task). */
export function alreadyExists(id: string, at: string): TaskforgeError {
  return new TaskforgeError(ErrorCode.ALREADY_EXISTS, `a task with id '${id}' already exists${at === '' ? '' : ` (${at.slice(0, -1)})`}`, {
    details: { field: `${at}id`, taskId: id },
  });
}

/** The abort of open()'s `signal`: its reason is what open() rejects with. */
class OpenAborted extends Error {
  constructor(readonly reason: unknown) {
    super('the open was aborted');
  }
}

/**
 * Why Redis refused this client, in words, when it did (it answered: no
 * waiting for it helps): a password it wants, a wrong one, or an ACL user
 * without the queue's keys or commands. Undefined for any other failure.
 */
function refusalOf(error: unknown, name: string): string | undefined {
  const message = error instanceof Error ? error.message : '';
  if (message.startsWith('NOAUTH')) return `${message} (the server wants a password: redis://:PASSWORD@HOST:PORT, or USER:PASSWORD@)`;
  if (message.startsWith('WRONGPASS')) return `${message} (the URL's user name or password is wrong)`;
  // A refusal inside a Lua script reads "ERR The user executing the script can't publish to the channel …" (Redis 7.0).
  const refusal = message.startsWith('NOPERM') || message.startsWith("ERR The user executing the script can't ");
  if (refusal && /\bchannels?\b/.test(message)) return `${message} (the URL's user may not use the queue's channels: give it &${KEY_PREFIX}:${name}:*)`;
  if (refusal) return `${message} (the URL's user may use only some keys or commands: a queue needs the keys ${KEY_PREFIX}:${name}:* and ${KEY_PREFIX}:bull:${name}:*, and the commands of BullMQ's scripts)`;
  return undefined;
}
