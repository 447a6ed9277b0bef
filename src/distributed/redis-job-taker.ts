import type { Redis } from 'ioredis';
import type { Logger } from '../core/logger.js';
import { runScript } from './redis-connections.js';
import type { JobData } from './redis-records.js';
import { BULL_KEYS } from './redis-take-scripts.js';

/** How long one wait for new jobs lasts before it looks again (BullMQ's drainDelay). */
const WAIT_FOR_JOBS_S = 5;
/** After a take that failed, the next one waits this long. */
const RETRY_AFTER_MS = 1000;
/**
 * After a take that looked past jobs of types this worker does not run (and
 * left the marker set for the workers that do), this one waits this long
 * before it waits on the marker again: workers that cannot run what waits
 * would otherwise hand the marker to one another without end. Doubled at
 * each such take that brought nothing, up to REST_AFTER_PASSING_MAX_MS: a
 * backlog no worker runs costs Redis a look per worker every 2 s.
 */
const REST_AFTER_PASSING_MS = 500;
const REST_AFTER_PASSING_MAX_MS = 2000;

/** A job this worker took from the queue and holds the lock of. */
export interface TakenJob {
  readonly id: string;
  readonly data: JobData;
  /** Times a worker started it, this time included (BullMQ's `ats`). */
  readonly attemptsStarted: number;
  /** Times BullMQ's stalled check handed it back (BullMQ's `stc`). */
  readonly stalledCounter: number;
  readonly token: string;
  /** When this take took it (the job's `processedOn` it set): which run of the job this is, once its lock is gone. */
  readonly takenAt: number;
}

/** Why a job's lock was not renewed, when another take holds it or the job is gone (see EXTEND_SCRIPT). */
export type LockLoss = 'gone' | 'taken';

/** Where the taker works: the queue's BullMQ keys and the connections it uses. */
export interface TakerPlace {
  /** Takes jobs and renews locks on it (a connection that runs the take scripts). */
  readonly client: Redis;
  /** Waits on the queue's marker (a blocking command holds its connection). */
  readonly blocking: Redis;
  /** The queue's BullMQ key prefix, `PREFIX:NAME:`. */
  readonly jobKeyPrefix: string;
  readonly lockDurationMs: number;
  /** A name unique to this worker, the start of every lock token it sets. */
  readonly workerId: string;
}

/**
 * Keeps a worker's slots filled from a BullMQ queue: whenever slots are
 * free it takes jobs for all of them in one script call (TAKE_SCRIPT), runs
 * each, and when the queue is empty waits on the queue's marker as BullMQ's
 * Worker does; it renews the locks of the jobs it runs at half their
 * duration (and at once when its connection comes back after an outage).
 * Slots freed in one turn of the event loop are filled by one take. `run`
 * must not reject.
 */
export class RedisJobTaker {
  readonly #place: TakerPlace;
  readonly #slots: number;
  readonly #run: (job: TakenJob) => Promise<void>;
  readonly #unreadable: (job: { readonly id: string; readonly token: string }, error: unknown) => void;
  readonly #lost: (job: TakenJob, how: LockLoss) => void;
  readonly #types: (() => readonly string[] | undefined) | undefined;
  readonly #passed: ((types: readonly string[]) => void) | undefined;
  readonly #logger: Logger;
  readonly #keys: readonly string[];
  /** Jobs running, by id (a job taken again while its first run goes on: the later take). */
  readonly #running = new Map<string, TakenJob>();
  /** What the last renewal said of a running job whose lock it did not renew ('lost' ones are not renewed again), told once per change. */
  readonly #unrenewed = new Map<TakenJob, 'lost' | 'waiting'>();
  readonly #renewer: NodeJS.Timeout;
  #takes = 0;
  #taking = false;
  #waitingForJobs = false;
  /** Set while the taker rests after looking past other types' jobs (see REST_AFTER_PASSING_MS). */
  #resting: NodeJS.Timeout | undefined;
  /** The last rest's length; 0 after a take that looked past nothing. */
  #restMs = 0;
  #pumpScheduled = false;
  #stopped = false;
  #idleWaiters: (() => void)[] = [];

  /**
   * `run` runs a job taken (it must not reject); `unreadable` is told of a
   * job taken whose data is not JSON (written by something else than
   * taskforge, or damaged): it is not run, and the taker goes on. `lost` is
   * told of a running job whose lock a renewal found held by another take,
   * or whose job is gone: this worker can no longer record its end.
   * `types`, when given, names the task types the worker runs (asked at
   * every take, as types may be registered later): jobs of other types are
   * left waiting for a worker that runs them, and `passed` is told their
   * types at each take that looked past some.
   */
  constructor(
    place: TakerPlace,
    slots: number,
    handlers: {
      readonly run: (job: TakenJob) => Promise<void>;
      readonly unreadable: (job: { readonly id: string; readonly token: string }, error: unknown) => void;
      readonly lost: (job: TakenJob, how: LockLoss) => void;
      readonly types?: () => readonly string[] | undefined;
      readonly passed?: (types: readonly string[]) => void;
    },
    logger: Logger,
  ) {
    this.#place = place;
    this.#slots = slots;
    this.#run = handlers.run;
    this.#unreadable = handlers.unreadable;
    this.#lost = handlers.lost;
    this.#types = handlers.types;
    this.#passed = handlers.passed;
    this.#logger = logger;
    this.#keys = BULL_KEYS.map((key) => `${place.jobKeyPrefix}${key}`);
    this.#renewer = setInterval(this.#renew, place.lockDurationMs / 2);
    this.#renewer.unref();
    // Back after an outage: the locks may have lapsed, or Redis lost the jobs; a running task it lost should stop now, not at the next turn.
    place.client.on('ready', this.#renew);
  }

  readonly #renew = (): void => {
    this.#renewLocks().catch((error: unknown) => {
      this.#logger.warn({ worker: this.#place.workerId, err: errorText(error) }, 'renewing the locks of running tasks failed');
    });
  };

  /** Starts taking jobs. */
  start(): void {
    this.#schedulePump();
  }

  /** Jobs running now. */
  get running(): number {
    return this.#running.size;
  }

  /** Takes no more jobs (a take in flight still runs what it brings). */
  stopTaking(): void {
    this.#stopped = true;
    clearTimeout(this.#resting);
    if (this.#waitingForJobs) this.#place.blocking.disconnect();
  }

  /** Renews no more locks: the jobs still running lose theirs when they lapse, and BullMQ's stalled check hands them on. */
  stopRenewing(): void {
    clearInterval(this.#renewer);
    this.#place.client.off('ready', this.#renew);
  }

  /** Resolves once nothing runs and no take is in flight. */
  whenIdle(): Promise<void> {
    if (this.#isIdle()) return Promise.resolve();
    return new Promise((resolve) => this.#idleWaiters.push(resolve));
  }

  /** Hands a job it holds back to the queue unfinished, ahead of those of its priority; false when its lock is not this worker's any more. */
  async handBack(job: TakenJob): Promise<boolean> {
    const handed = (await runScript(this.#place.client, 'tfHandBack', [...this.#keys, this.#place.jobKeyPrefix, job.id, job.token])) as number;
    return handed === 1;
  }

  #isIdle(): boolean {
    return this.#running.size === 0 && !this.#taking;
  }

  #schedulePump(): void {
    if (this.#pumpScheduled) return;
    this.#pumpScheduled = true;
    setImmediate(this.#pump);
  }

  readonly #pump = (): void => {
    this.#pumpScheduled = false;
    if (this.#stopped || this.#taking || this.#waitingForJobs) return;
    const free = this.#slots - this.#running.size;
    if (free <= 0) return;
    // (A slot freed while resting: take now; the rest is over.)
    clearTimeout(this.#resting);
    this.#resting = undefined;
    this.#taking = true;
    this.#take(free).then(
      ({ jobs, taken, passed }) => {
        this.#taking = false;
        for (const job of jobs) this.#start(job);
        if (passed.length > 0) this.#passed?.(passed);
        // Fewer than asked for: the queue has nothing more for this worker (or is paused): wait until a job comes.
        if (taken < free && passed.length > 0) {
          this.#restMs = taken > 0 || this.#restMs === 0 ? REST_AFTER_PASSING_MS : Math.min(this.#restMs * 2, REST_AFTER_PASSING_MAX_MS);
          this.#rest();
        } else {
          if (passed.length === 0) this.#restMs = 0;
          if (taken < free) this.#waitForJobs();
          else this.#schedulePump();
        }
        this.#tellIfIdle();
      },
      (error: unknown) => {
        this.#taking = false;
        this.#tellIfIdle();
        if (this.#stopped) return;
        this.#logger.warn({ worker: this.#place.workerId, err: errorText(error) }, 'taking tasks from Redis failed; trying again');
        setTimeout(() => {
          this.#schedulePump();
        }, RETRY_AFTER_MS).unref();
      },
    );
  };

  /**
   * Takes up to `count` jobs: those to run, how many the queue gave (an
   * unreadable one is given, not run), and the types of the jobs it looked past.
   */
  async #take(count: number): Promise<{ jobs: TakenJob[]; taken: number; passed: string[] }> {
    this.#takes += 1;
    const tokenBase = `${this.#place.workerId}:${String(this.#takes)}`;
    const takenAt = Date.now();
    const args = [...this.#keys, this.#place.jobKeyPrefix, String(takenAt), tokenBase, String(this.#place.lockDurationMs), String(count)];
    const types = this.#types?.();
    if (types !== undefined) args.push(...types);
    const [reply, passed] = (await runScript(this.#place.client, 'tfTake', args)) as [(string | number)[], string[]];
    const jobs: TakenJob[] = [];
    for (let at = 0; at + 4 < reply.length; at += 5) {
      const id = String(reply[at]);
      const token = String(reply[at + 4]);
      let data: JobData;
      try {
        data = JSON.parse(String(reply[at + 1])) as JobData;
      } catch (error) {
        this.#unreadable({ id, token }, error);
        continue;
      }
      jobs.push({ id, data, attemptsStarted: Number(reply[at + 2]), stalledCounter: Number(reply[at + 3]), token, takenAt });
    }
    return { jobs, taken: Math.floor(reply.length / 5), passed: passed.map(String) };
  }

  #start(job: TakenJob): void {
    this.#running.set(job.id, job);
    const ended = (): void => {
      // (A job taken again while this run went on is the later take's to free.)
      if (this.#running.get(job.id) === job) this.#running.delete(job.id);
      this.#unrenewed.delete(job);
      this.#schedulePump();
      this.#tellIfIdle();
    };
    // (run does not reject; were it to, the slot is freed all the same.)
    this.#run(job).then(ended, ended);
  }

  /** Waits on the marker after #restMs, unless a freed slot makes it take first. */
  #rest(): void {
    this.#resting = setTimeout(() => {
      this.#resting = undefined;
      if (!this.#taking && !this.#waitingForJobs) this.#waitForJobs();
    }, this.#restMs);
    this.#resting.unref();
  }

  /** Waits on the queue's marker (set when a job is added, or left by a take that saw more), then takes again. */
  #waitForJobs(): void {
    if (this.#stopped) return;
    this.#waitingForJobs = true;
    this.#place.blocking.bzpopmin(`${this.#place.jobKeyPrefix}marker`, WAIT_FOR_JOBS_S).then(
      () => {
        this.#waitingForJobs = false;
        this.#schedulePump();
      },
      (error: unknown) => {
        this.#waitingForJobs = false;
        if (this.#stopped) return;
        this.#logger.warn({ worker: this.#place.workerId, err: errorText(error) }, 'waiting for tasks in Redis failed; trying again');
        setTimeout(() => {
          this.#schedulePump();
        }, RETRY_AFTER_MS).unref();
      },
    );
  }

  async #renewLocks(): Promise<void> {
    if (this.#running.size === 0) return;
    const jobs = [...this.#running.values()].filter((job) => this.#unrenewed.get(job) !== 'lost');
    if (jobs.length === 0) return;
    const pairs: string[] = [];
    for (const job of jobs) pairs.push(job.id, job.token);
    const told = (await runScript(this.#place.client, 'tfExtend', [...this.#keys, this.#place.jobKeyPrefix, String(this.#place.lockDurationMs), ...pairs])) as string[];
    const byId = new Map(jobs.map((job) => [job.id, job]));
    for (let at = 0; at + 1 < told.length; at += 2) {
      const job = byId.get(String(told[at]));
      const how = String(told[at + 1]);
      if (job === undefined) continue;
      if (how === 'relocked') {
        this.#unrenewed.delete(job);
        this.#logger.warn({ worker: this.#place.workerId, jobId: job.id }, 'the lock of a running task had lapsed (no renewal reached Redis in time); nobody had taken the task, and this worker holds it again');
      } else if (how === 'waiting') {
        if (this.#unrenewed.get(job) === 'waiting') continue;
        this.#unrenewed.set(job, 'waiting');
        // Whoever takes it next decides: this worker (its run goes on under the new lock), or another (the next renewal says so).
        this.#logger.warn({ worker: this.#place.workerId, jobId: job.id }, 'the lock of a running task lapsed and the task went back to the queue: another worker may run it now');
      } else {
        this.#unrenewed.set(job, 'lost');
        this.#lost(job, how === 'gone' ? 'gone' : 'taken');
      }
    }
  }

  #tellIfIdle(): void {
    if (!this.#isIdle() || this.#idleWaiters.length === 0) return;
    const waiters = this.#idleWaiters;
    this.#idleWaiters = [];
    for (const resolve of waiters) resolve();
  }
}

function errorText(error: unknown): string {
  return error instanceof Error ? error.message : String(error);
}
