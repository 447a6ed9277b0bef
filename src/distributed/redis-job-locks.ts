import type { WorkerOptions } from 'bullmq';
import type { Redis } from 'ioredis';
import { ErrorCode, TaskforgeError } from '../core/errors.js';

/** A write commits only while its lock holds at least this much longer (see assertHeld). */
const LOCK_SAFETY_MS = 100;

/**
 * The locks BullMQ holds on running tasks' jobs: how long one lasts and
 * how often workers look for lapsed ones, and the fencing check a worker
 * makes before it commits a write for a task.
 */
export class RedisJobLocks {
  /** How long a running task's lock lasts unless renewed; workers renew it at half that. */
  readonly durationMs: number;
  /** How often workers look for tasks whose worker died. */
  readonly stalledIntervalMs: number;
  readonly #redis: Redis;
  /** The key prefix of the queue's BullMQ jobs (`…:JOBID:lock` is a job's lock). */
  readonly #jobKeyPrefix: string;
  readonly #assertOpen: () => void;

  constructor(redis: Redis, jobKeyPrefix: string, times: { readonly lockDurationMs: number; readonly stalledIntervalMs: number }, assertOpen: () => void) {
    this.#redis = redis;
    this.#jobKeyPrefix = jobKeyPrefix;
    this.durationMs = times.lockDurationMs;
    this.stalledIntervalMs = times.stalledIntervalMs;
    this.#assertOpen = assertOpen;
  }

  /** The lock settings every BullMQ worker of this queue is made with. */
  workerSettings(): Pick<WorkerOptions, 'lockDuration' | 'stalledInterval' | 'maxStalledCount'> {
    return {
      lockDuration: this.durationMs,
      stalledInterval: this.stalledIntervalMs,
      // taskforge counts interruptions itself (maxInterruptions), so that a
      // task cut off too often still gets a result its submitter hears of.
      maxStalledCount: Number.MAX_SAFE_INTEGER,
    };
  }

  /**
   * Fencing: rejects with LOCK_LOST unless `token` still holds the lock of
   * the task's BullMQ job (it lapsed while this process was paused, and
   * another worker may have taken the task). One O(1) call, made right
   * before a write commits.
   */
  async assertHeld(taskId: string, jobId: string, token: string): Promise<void> {
    this.#assertOpen();
    const lockKey = `${this.#jobKeyPrefix}${jobId}:lock`;
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
}
