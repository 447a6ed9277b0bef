import { randomBytes } from 'node:crypto';
import type { Job, JobsOptions, Queue, WorkerOptions } from 'bullmq';
import type { Redis } from 'ioredis';
import { isoTime } from '../core/clock.js';
import { ErrorCode, TaskforgeError } from '../core/errors.js';
import { getDefaultLogger } from '../core/logger.js';
import type { TaskResult } from '../tasks/task-result.js';
import { TaskStatus } from '../tasks/task-status.js';
import { invalid } from '../orchestrator/submission.js';
import { retainedResult } from '../orchestrator/retained-result.js';
import { checkedLimit } from '../orchestrator/queues/memory-store.js';
import { toBullMqPriority } from '../orchestrator/queues/bullmq-priority.js';
import { checkAgingMs } from '../orchestrator/priority-queue.js';
import { agedBullPriority, checkAgedPriority, RedisAging, type AgingState, type AgingTuning } from './redis-aging.js';
import type { FinishedTask, QueuedTask, RetentionOptions, SubmitOutcome, TaskMeta, TaskState } from '../orchestrator/task-queue.js';
import { CANCEL_SCRIPT, FINISH_SCRIPT, RELEASE_SCRIPT, SCRIPT_KEYS, STRANDED_SCRIPT, SUBMIT_SCRIPT } from './redis-scripts.js';
import { checkQueueName, parseRedisUrl } from './redis-url.js';
import { loadBullMq, type BullMqModules } from './load-bullmq.js';

/** Finished tasks a Redis queue keeps by default. */
export const DEFAULT_REDIS_RETENTION = 100_000;
/** How long a Redis queue keeps finished tasks by default: 7 days. */
export const DEFAULT_REDIS_RETENTION_MS = 7 * 24 * 60 * 60 * 1000;
/** How long a running task's lock lasts unless renewed (BullMQ's default). */
export const DEFAULT_LOCK_DURATION_MS = 30_000;
/** How long open() waits for Redis to answer. */
const DEFAULT_CONNECT_TIMEOUT_MS = 10_000;
/** Events kept in the stream for readers that fall behind. */
const DEFAULT_EVENTS_MAX_LEN = 10_000;
/** A write commits only while its lock holds at least this much longer (see assertLockHeld). */
const LOCK_SAFETY_MS = 100;
/** Ready tasks not handed to BullMQ after this long are handed again (their releaser died). */
const STRANDED_AFTER_MS = 30_000;
/**
 * A job started this long after its task was made ready may have a twin
 * that already ran: only a hand-over slower than the stranded sweep (30 s
 * after the release, by the sweeper's clock) makes a second job of one
 * task, so the worker asks whether the task has ended only for jobs this
 * old (and jobs run again after a crash). The margin allows workers' clocks
 * to disagree by up to 20 s.
 */
export const LATE_JOB_MS = 10_000;
/** The key prefix of everything a taskforge queue keeps. */
const KEY_PREFIX = 'taskforge';

/** Options of a Redis queue (RedisQueue.open). */
export interface RedisQueueOptions extends RetentionOptions {
  /** `redis://HOST:PORT[/DB][?name=QUEUE]`. Default `redis://127.0.0.1:6379`. */
  readonly url?: string;
  /** The queue's name (overrides `?name=`). Default `tasks`. */
  readonly name?: string;
  /** How long a running task's lock lasts; workers renew it at half that. Default 30 s. */
  readonly lockDurationMs?: number;
  /** How often workers look for tasks whose worker died. Default: the lock duration. */
  readonly stalledIntervalMs?: number;
  /** How long open() waits for Redis to answer. Default 10 s. */
  readonly connectTimeoutMs?: number;
  /**
   * Aging against starvation: a waiting task gains one priority point per
   * `agingMs` waited (see redis-aging.ts). A setting of the queue, stored in
   * Redis by the first process that gives it: the others take it from
   * there, and one that gives another value is refused. Default: the
   * queue's setting, off unless a process gave one.
   */
  readonly agingMs?: number;
  /** Shortens aging's rebase and refresh (for tests; the defaults suit every queue). @internal */
  readonly agingTuning?: AgingTuning;
}

/** What a BullMQ job carries: the task, and whether its submitter listens to its progress events. */
export interface JobData extends QueuedTask {
  /** Publish start, retry and progress events of this task (its submitter listens). Its end is always published. */
  readonly events?: boolean;
  /** When the task was made ready (ms, the releaser's clock, as the releasing entry records it): see {@link LATE_JOB_MS}. */
  readonly releasedAt?: number;
}

/** Options of {@link RedisStore.submit}. */
export interface SubmitQueueOptions {
  /** The submitter listens to start, retry and progress events: workers publish them for these tasks. */
  readonly events?: boolean;
}

/** A task's end as settleMany() records it, with the BullMQ job it ran as (removed in the same step) when a worker held one. */
export interface TaskEnd {
  readonly id: string;
  readonly result: TaskResult;
  readonly job?: { readonly id: string; readonly token: string };
}

/** A task event as it travels through the queue's event stream. */
export interface StreamEvent {
  readonly kind: string;
  readonly id: string;
  readonly body: string;
}

/**
 * What one named queue keeps on a Redis server, shared by every process
 * that opens it, and the atomic steps that change it: the data layer under
 * RedisQueue (redis-queue.ts). BullMQ holds the ready tasks (ordered by
 * taskforge's priority, locked while they run, handed back when a worker
 * dies); Lua scripts (redis-scripts.ts) hold the rest: dependencies,
 * finished tasks, cancellations and the event stream. bullmq and ioredis
 * are loaded on the first open().
 */
export class RedisStore {
  readonly name: string;
  readonly durable = true;
  readonly location: { readonly url: string; readonly name: string };
  readonly lockDurationMs: number;
  readonly stalledIntervalMs: number;
  readonly #modules: BullMqModules;
  readonly #redis: Redis;
  readonly #bull: Queue<QueuedTask>;
  readonly #keys: readonly string[];
  readonly #prefix: string;
  readonly #maxFinished: number;
  readonly #maxAgeMs: number;
  readonly #aging: RedisAging;
  /** The queue's epoch as this process last saw it (see markEpoch). */
  #epoch = '';
  /** Every connection made for this queue and its users (workers, clients), ended by close(). */
  readonly #connections: Redis[] = [];
  #closed = false;

  private constructor(modules: BullMqModules, url: string, name: string, options: RedisQueueOptions) {
    this.#modules = modules;
    this.location = { url, name };
    this.name = `${url.replace(/\/\/[^@/]*@/, '//***@').replace(/\/$/, '')}?name=${name}`;
    this.lockDurationMs = positive('lockDurationMs', options.lockDurationMs) ?? DEFAULT_LOCK_DURATION_MS;
    this.stalledIntervalMs = positive('stalledIntervalMs', options.stalledIntervalMs) ?? this.lockDurationMs;
    this.#maxFinished = checkedLimit('maxFinished', options.maxFinished) ?? DEFAULT_REDIS_RETENTION;
    this.#maxAgeMs = checkedLimit('maxAgeMs', options.maxAgeMs) ?? DEFAULT_REDIS_RETENTION_MS;
    this.#prefix = `${KEY_PREFIX}:${name}`;
    this.#keys = SCRIPT_KEYS.map((key) => `${this.#prefix}:${key}`);
    this.#redis = this.newConnection({ autoPipelining: true });
    this.#aging = new RedisAging(this.#redis, this.#prefix, options.agingMs, options.agingTuning);
    this.#bull = new modules.Queue<QueuedTask>(name, { connection: this.newConnection(), prefix: `${KEY_PREFIX}:bull` });
    // Connection errors surface as failed calls; the event needs a listener so that it is not thrown.
    this.#bull.on('error', () => undefined);
  }

  /** Connects to the queue (loading bullmq and ioredis on first use); BACKEND_UNAVAILABLE when Redis does not answer. */
  static async open(options: RedisQueueOptions = {}): Promise<RedisStore> {
    const parsed = parseRedisUrl(options.url ?? 'redis://127.0.0.1:6379', 'url');
    const name = options.name ?? parsed.name;
    checkQueueName(name);
    const connectTimeoutMs = positive('connectTimeoutMs', options.connectTimeoutMs) ?? DEFAULT_CONNECT_TIMEOUT_MS;
    // Checked before any connection is made: one left open would hold the process.
    checkAgingMs(options.agingMs);
    const queue = new RedisStore(await loadBullMq(), parsed.url, name, options);
    let timer: NodeJS.Timeout | undefined;
    try {
      // ioredis retries a refused connection for ever (as BullMQ wants): the
      // first contact fails on its first error, or after connectTimeoutMs.
      const failed = new Promise<never>((_resolve, reject) => {
        timer = setTimeout(() => {
          reject(new Error(`no answer within ${String(connectTimeoutMs)} ms`));
        }, connectTimeoutMs);
        queue.#redis.once('error', reject);
      });
      await Promise.race([queue.markEpoch(), failed]);
    } catch (error) {
      queue.abandon();
      throw new TaskforgeError(ErrorCode.BACKEND_UNAVAILABLE, `cannot reach Redis for the queue ${queue.name}: ${error instanceof Error ? error.message : String(error)}`, { cause: error });
    } finally {
      clearTimeout(timer);
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

  /**
   * Learns the queue's epoch: a random value stored once per life of the
   * queue's data (the first process to ask after the data was lost stores a
   * new one). A Redis that lost its data lost this key too, so a process
   * that sees a different epoch (or none) knows that what it stored may be
   * gone. Also the first contact of open().
   */
  async markEpoch(): Promise<void> {
    this.#epoch = String(await this.#redis.eval(EPOCH_SCRIPT, 1, `${this.#prefix}:epoch`, randomBytes(8).toString('hex')));
  }

  /** Whether the queue's epoch is not the one markEpoch() saw: its data may have been lost since (one O(1) call). */
  async epochChanged(): Promise<boolean> {
    this.#assertOpen();
    return (await this.#redis.get(`${this.#prefix}:epoch`)) !== this.#epoch;
  }

  /**
   * Where each task is, read in one atomic step: 'unfinished' (the queue
   * holds it, blocked, waiting or running), its finished record, or
   * 'missing' (the queue holds nothing of it).
   */
  async whereAre(ids: readonly string[]): Promise<('unfinished' | 'missing' | FinishedTask)[]> {
    this.#assertOpen();
    if (ids.length === 0) return [];
    const replies = await this.#redis.multi().hmget(this.#keys[0] ?? '', ...ids).hmget(this.#keys[3] ?? '', ...ids).exec();
    const [tasks, results] = (replies ?? []).map(([error, value]) => {
      if (error !== null) throw error;
      return value as (string | null)[];
    });
    return ids.map((_id, index) => {
      const record = results?.[index];
      if (record !== null && record !== undefined) return finishedOf(record);
      return tasks?.[index] === null || tasks?.[index] === undefined ? 'missing' : 'unfinished';
    });
  }

  /** A new ioredis connection to this queue's server (BullMQ's settings: commands wait for reconnects). */
  newConnection(options: { readonly autoPipelining?: boolean } = {}): Redis {
    const connection = new this.#modules.Redis(this.location.url, {
      maxRetriesPerRequest: null,
      lazyConnect: false,
      disconnectTimeout: 100,
      // Commands issued in one tick go out in one write: a syscall each costs more than Redis's work on it.
      enableAutoPipelining: options.autoPipelining ?? false,
    });
    // Every connection can run the scripts: a worker records an end on the connection BullMQ then completes the job on, so the two stay in order.
    for (const [command, lua] of Object.entries(SCRIPTS)) connection.defineCommand(command, { numberOfKeys: SCRIPT_KEYS.length, lua });
    // ioredis retries on its own; the error event only needs a listener so that it is not thrown.
    connection.on('error', () => undefined);
    // BullMQ leaves a connection it was given open: close() ends them all.
    // (disconnectTimeout: ioredis otherwise holds the process for 2 s after a disconnect.)
    this.#connections.push(connection);
    return connection;
  }

  /** The BullMQ queue under this one (same Redis, same name). */
  get bull(): Queue<QueuedTask> {
    return this.#bull;
  }

  get modules(): BullMqModules {
    return this.#modules;
  }

  /** The key of the channel cancellations are published on, and of the event stream. */
  get channels(): { readonly cancel: string; readonly events: string; readonly listening: string } {
    return { cancel: `${this.#prefix}:cancel`, events: this.#keys[6] ?? '', listening: `${this.#prefix}:listening` };
  }

  /** Says that a client wants every task's events (a dashboard), for the next `ms`; refresh before it lapses. */
  async announceListener(ms: number): Promise<void> {
    await this.#redis.set(this.channels.listening, '1', 'PX', ms);
  }

  /** Whether a client wants every task's events. */
  async listenerAnnounced(): Promise<boolean> {
    return (await this.#redis.exists(this.channels.listening)) === 1;
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
      args.push(task.id, JSON.stringify(metaOf(task)), JSON.stringify(specOf(task, events)), '0');
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
      invalid(where(index), `dependsOn[${String(depIndex)}]`, `no task with id '${dependency}' is known (it was never submitted, or it finished longer ago than the queue keeps)`);
    }
    const [, outcomes, released] = reply as [string, string[], string[]];
    await this.handOver(released, now);
    return outcomes.map((outcome) => (outcome === 'ready' || outcome === 'blocked' ? outcome : (JSON.parse(outcome) as TaskResult)));
  }

  /** Makes a task held by add(task, false) ready. */
  async release(id: string): Promise<void> {
    const now = Date.now();
    await this.handOver((await this.#run('tfRelease', [id], this.#redis, now)) as string[], now);
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
      await this.#bull.addBulk(chunk.map((task) => ({ name: task.type, data: task, opts: jobOptions(task, aging) })));
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
      lockDuration: this.lockDurationMs,
      stalledInterval: this.stalledIntervalMs,
      // taskforge counts interruptions itself (maxInterruptions), so that a
      // task cut off too often still gets a result its submitter hears of.
      maxStalledCount: Number.MAX_SAFE_INTEGER,
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
   * (one made by newConnection()); commands on one connection run in order.
   */
  async settle(id: string, result: TaskResult, via?: Redis): Promise<boolean> {
    const [fresh] = await this.settleMany([{ id, result }], via);
    return fresh ?? false;
  }

  /**
   * Records the ends of several tasks in one script call; one flag per task
   * as settle() gives. An end with the `job` its task ran as (held with that
   * lock token) also removes that job from BullMQ, in the same atomic step.
   */
  async settleMany(ends: readonly TaskEnd[], via?: Redis): Promise<boolean[]> {
    if (ends.length === 0) return [];
    const args = [String(ends.length)];
    for (const { id, result } of ends) args.push(id, JSON.stringify(retainedResult(result)), result.success ? '1' : '0', result.error?.code ?? '');
    const jobs: string[] = [];
    for (const { job } of ends) if (job !== undefined) jobs.push(job.id, job.token);
    if (jobs.length > 0) args.push(`${KEY_PREFIX}:bull:${this.location.name}:`, String(jobs.length / 2), ...jobs);
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

  /** Removes a task's job while it waits in BullMQ; false when it is running (locked) or not there. */
  async removeWaiting(id: string): Promise<boolean> {
    this.#assertOpen();
    return (await this.#bull.remove(jobIdOf(id))) === 1;
  }

  /** Whether a cancellation of this task was asked for. */
  async cancelRequested(id: string): Promise<boolean> {
    this.#assertOpen();
    return (await this.#redis.sismember(this.#keys[7] ?? '', id)) === 1;
  }

  /** Whether the task's end is recorded (while the queue's retention keeps it): one O(1) call that returns no record. */
  async hasEnded(id: string): Promise<boolean> {
    this.#assertOpen();
    return (await this.#redis.hexists(this.#keys[3] ?? '', id)) === 1;
  }

  /**
   * Fencing: rejects with LOCK_LOST unless `token` still holds the lock of
   * the task's BullMQ job (it lapsed while this process was paused, and
   * another worker may have taken the task). One O(1) call, made right
   * before a write commits.
   */
  async assertLockHeld(taskId: string, jobId: string, token: string): Promise<void> {
    this.#assertOpen();
    const lockKey = `${KEY_PREFIX}:bull:${this.location.name}:${jobId}:lock`;
    const askedAt = performance.now();
    const replies = await this.#redis.multi().get(lockKey).pttl(lockKey).exec();
    const holder = replies?.[0]?.[1];
    const ttlMs = Number(replies?.[1]?.[1] ?? -1);
    // Redis answered for the moment it read the lock, which came after askedAt: the lock holds at least
    // until askedAt + ttlMs. A pause that fell between that read and now (the reply was on its way
    // when the process was stopped) shows as time gone by, and counts as a lost lock.
    const heldFor = askedAt + ttlMs - performance.now();
    if (holder !== token || heldFor < LOCK_SAFETY_MS) {
      throw new TaskforgeError(ErrorCode.LOCK_LOST, `task '${taskId}' committed nothing more: this worker lost its lock on it (it lapsed while the worker was paused, or Redis lost it; another worker may run the task now)`, {
        retryable: false,
        details: { taskId },
      });
    }
  }

  /** A finished task, while the queue's retention keeps it. */
  async finished(id: string): Promise<FinishedTask | undefined> {
    this.#assertOpen();
    const record = await this.#redis.hget(this.#keys[3] ?? '', id);
    return record === null ? undefined : finishedOf(record);
  }

  /** Finished records of many ids at once (undefined where not finished). */
  async finishedMany(ids: readonly string[]): Promise<(FinishedTask | undefined)[]> {
    this.#assertOpen();
    if (ids.length === 0) return [];
    const records = await this.#redis.hmget(this.#keys[3] ?? '', ...ids);
    return records.map((record) => (record === null ? undefined : finishedOf(record)));
  }

  /** A task's state: pending (blocked or waiting in BullMQ), running, or finished; undefined when unknown. */
  async state(id: string): Promise<TaskState | undefined> {
    this.#assertOpen();
    const [meta, record] = await Promise.all([this.#redis.hget(this.#keys[0] ?? '', id), this.#redis.hget(this.#keys[3] ?? '', id)]);
    if (record !== null) return { status: 'finished', finished: finishedOf(record) };
    if (meta === null) return undefined;
    const jobState = await this.#bull.getJobState(jobIdOf(id));
    return { status: jobState === 'active' ? TaskStatus.RUNNING : TaskStatus.PENDING, task: JSON.parse(meta) as TaskMeta };
  }

  /**
   * Adds an event to the stream (not waited for: events are best effort,
   * ends go through settle). `via`: the connection a task's end will go on,
   * so that readers see its events before its end.
   */
  publishEvent(kind: string, id: string, body: unknown, via: Redis = this.#redis): void {
    void via.xadd(this.#keys[6] ?? '', 'MAXLEN', '~', String(DEFAULT_EVENTS_MAX_LEN), '*', 'kind', kind, 'id', id, 'body', JSON.stringify(body)).catch(() => undefined);
  }

  /** The id of the stream's newest event ('0-0' when empty): read events after it. */
  async lastEventId(): Promise<string> {
    const newest = await this.#redis.xrevrange(this.#keys[6] ?? '', '+', '-', 'COUNT', 1);
    return newest[0]?.[0] ?? '0-0';
  }

  /**
   * Whether entries of the event stream after `afterId` may have been
   * trimmed away unread: newer ones were made, and the stream now holds
   * none of them or only ones newer than `afterId` (a reader that fell
   * further behind than the stream's length). One O(1) call.
   */
  async eventsLostAfter(afterId: string): Promise<boolean> {
    let info: unknown[];
    try {
      info = (await this.#redis.xinfo('STREAM', this.#keys[6] ?? '')) as unknown[];
    } catch {
      // No stream yet: nothing was ever published.
      return false;
    }
    const field = (name: string): unknown => {
      const at = info.indexOf(name);
      return at < 0 ? undefined : info[at + 1];
    };
    if (compareStreamIds(String(field('last-generated-id')), afterId) <= 0) return false;
    const first = field('first-entry') as [string, unknown] | null | undefined;
    return first === null || first === undefined || compareStreamIds(first[0], afterId) > 0;
  }

  /** Closes this process's connections; tasks stay in Redis. Idempotent. */
  async close(): Promise<void> {
    if (this.#closed) return;
    this.#closed = true;
    await Promise.allSettled([this.#bull.close()]);
    for (const connection of this.#connections) connection.disconnect();
  }

  /**
   * Disconnects without handing anything back, as a killed process would
   * (tests): taken tasks keep their lock until it expires.
   */
  abandon(): void {
    this.#closed = true;
    this.#bull.disconnect().catch(logFailure('disconnecting an abandoned queue failed'));
    for (const connection of this.#connections) connection.disconnect();
  }

  #assertOpen(): void {
    if (this.#closed) throw new TaskforgeError(ErrorCode.INVALID_STATE, `the Redis queue ${this.name} is closed`);
  }

  async #run(command: keyof typeof SCRIPTS, args: readonly string[], via: Redis = this.#redis, now = Date.now()): Promise<unknown> {
    this.#assertOpen();
    const common = [this.#prefix, String(now), isoTime(now), String(this.#maxFinished), String(this.#maxAgeMs), String(DEFAULT_EVENTS_MAX_LEN)];
    const call = (via as unknown as Record<string, (...values: string[]) => Promise<unknown>>)[command];
    if (call === undefined) throw new Error(`script ${command} is not defined on this connection`);
    try {
      return await call.call(via, ...this.#keys, ...common, ...args);
    } catch (error) {
      throw new TaskforgeError(ErrorCode.BACKEND_UNAVAILABLE, `the Redis queue ${this.name} failed: ${error instanceof Error ? error.message : String(error)}`, { cause: error });
    }
  }
}

/** Stores the epoch if there is none; returns the one stored. */
const EPOCH_SCRIPT = `redis.call('SET', KEYS[1], ARGV[1], 'NX')
return redis.call('GET', KEYS[1])`;

const SCRIPTS = { tfSubmit: SUBMIT_SCRIPT, tfFinish: FINISH_SCRIPT, tfRelease: RELEASE_SCRIPT, tfCancel: CANCEL_SCRIPT, tfStranded: STRANDED_SCRIPT } as const;

/** The error of a submit whose task id is in use; `at` is where in the batch (`[1].`, or '' for a single task). */
export function alreadyExists(id: string, at: string): TaskforgeError {
  return new TaskforgeError(ErrorCode.ALREADY_EXISTS, `a task with id '${id}' already exists${at === '' ? '' : ` (${at.slice(0, -1)})`}`, {
    details: { field: `${at}id`, taskId: id },
  });
}

/** A task's BullMQ job: its own id (so that a second hand-over while it waits or runs is a no-op), and its place from its priority (and aging). */
function jobOptions(task: JobData, aging: AgingState | undefined): JobsOptions {
  return { jobId: jobIdOf(task.id), priority: agedBullPriority(task.priority, task.releasedAt ?? 0, aging) };
}

/** BullMQ job ids may not be integers or hold ':'; encodeURIComponent is one-to-one, so ids stay distinct. */
export function jobIdOf(id: string): string {
  return `t_${encodeURIComponent(id)}`;
}

/** Attempts made before this run (a cut-off or handed-back run counts) and times a dead worker cut the task off. */
/** Orders two stream entry ids (`MS-SEQ`, or `MS`). */
export function compareStreamIds(a: string, b: string): number {
  const [aMs = 0, aSeq = 0] = a.split('-').map(Number);
  const [bMs = 0, bSeq = 0] = b.split('-').map(Number);
  return aMs === bMs ? aSeq - bSeq : aMs - bMs;
}

export function countsOf(job: Job<QueuedTask>): { attempts: number; interruptions: number } {
  return { attempts: job.data.attempts + Math.max(1, job.attemptsStarted) - 1, interruptions: job.stalledCounter };
}

function metaOf(task: QueuedTask): TaskMeta {
  return {
    id: task.id,
    type: task.type,
    priority: task.priority,
    ...(task.dependsOn === undefined ? {} : { dependsOn: task.dependsOn }),
    submittedAt: task.submittedAt,
    attempts: task.attempts,
  };
}

function specOf(task: QueuedTask, events: boolean): JobData {
  return { id: task.id, type: task.type, priority: task.priority, config: task.config, dependsOn: task.dependsOn, attempts: task.attempts, submittedAt: task.submittedAt, ...(events ? { events } : {}) };
}

function finishedOf(record: string): FinishedTask {
  const { task, result } = JSON.parse(record) as { task: TaskMeta; result: TaskResult };
  return {
    id: task.id,
    type: task.type,
    priority: task.priority,
    status: result.status === TaskStatus.COMPLETED ? TaskStatus.COMPLETED : TaskStatus.FAILED,
    attempts: result.attempts,
    dependsOn: task.dependsOn,
    submittedAt: task.submittedAt,
    result,
  };
}

/** A rejection handler that logs (the queue has no logger of its own: the process's default one). */
function logFailure(what: string): (error: unknown) => void {
  return (error) => {
    getDefaultLogger().warn({ err: error instanceof Error ? error.message : String(error) }, what);
  };
}

function positive(name: string, value: number | undefined): number | undefined {
  if (value !== undefined && !(Number.isInteger(value) && value > 0)) throw new RangeError(`${name} must be a positive whole number of ms (got ${String(value)})`);
  return value;
}

