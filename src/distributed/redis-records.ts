import type { JobsOptions } from 'bullmq';
import type { Redis } from 'ioredis';
import type { FinishedTask, QueuedTask, TaskMeta } from '../orchestrator/task-queue.js';
import type { TaskResult } from '../tasks/task-result.js';
import { TaskStatus } from '../tasks/task-status.js';
import { agedBullPriority, type AgingState } from './redis-aging.js';

/**
 * A job started this long after its task was made ready may have a twin
 * that already ran: only a hand-over slower than the stranded sweep (30 s
 * after the release, by the sweeper's clock) makes a second job of one
 * task, so the worker asks whether the task has ended only for jobs this
 * old (and jobs run again after a crash). The margin allows workers' clocks
 * to disagree by up to 20 s.
 */
export const LATE_JOB_MS = 10_000;

/** What a BullMQ job carries: the task, and whether its submitter listens to its progress events. */
export interface JobData extends QueuedTask {
  /** Publish start, retry and progress events of this task (its submitter listens). Its end is always published. */
  readonly events?: boolean;
  /** When the task was made ready (ms, the releaser's clock, as the releasing entry records it): see {@link LATE_JOB_MS}. */
  readonly releasedAt?: number;
}

/** A BullMQ job as a worker runs it: its id, the lock token it holds, and when it took it (see TakenJob.takenAt). */
export interface RunningJob {
  readonly id: string;
  readonly token: string;
  readonly takenAt: number;
}

/** A task's end as the store's settleMany() records it, with the BullMQ job it ran as (removed in the same step) when a worker held one. */
export interface TaskEnd {
  readonly id: string;
  readonly result: TaskResult;
  readonly job?: RunningJob;
}

/**
 * Lookups of finished tasks' records, while the queue's retention keeps
 * them (the scripts write a task's end there; only reads are made here).
 */
export class FinishedRecords {
  readonly #redis: Redis;
  /** The hash of finished records. */
  readonly #key: string;
  /** The hash of every task the queue holds, finished or not. */
  readonly #tasksKey: string;
  readonly #assertOpen: () => void;

  constructor(redis: Redis, keys: { readonly results: string; readonly tasks: string }, assertOpen: () => void) {
    this.#redis = redis;
    this.#key = keys.results;
    this.#tasksKey = keys.tasks;
    this.#assertOpen = assertOpen;
  }

  /** A finished task, while the queue's retention keeps it. */
  async get(id: string): Promise<FinishedTask | undefined> {
    this.#assertOpen();
    const record = await this.#redis.hget(this.#key, id);
    return record === null ? undefined : finishedOf(record);
  }

  /** Finished records of many ids at once (undefined where not finished). */
  async getMany(ids: readonly string[]): Promise<(FinishedTask | undefined)[]> {
    this.#assertOpen();
    if (ids.length === 0) return [];
    // (The ids as one array: spread, tens of thousands of them overflow the call's stack.)
    const records = (await this.#redis.call('HMGET', [this.#key, ...ids])) as (string | null)[];
    return records.map((record) => (record === null ? undefined : finishedOf(record)));
  }

  /** Whether the task's end is recorded (while the queue's retention keeps it): one O(1) call that returns no record. */
  async has(id: string): Promise<boolean> {
    this.#assertOpen();
    return (await this.#redis.hexists(this.#key, id)) === 1;
  }

  /**
   * Where each task is, read in one atomic step: 'unfinished' (the queue
   * holds it, blocked, waiting or running), its finished record, or
   * 'missing' (the queue holds nothing of it).
   */
  async whereAre(ids: readonly string[]): Promise<('unfinished' | 'missing' | FinishedTask)[]> {
    this.#assertOpen();
    if (ids.length === 0) return [];
    const replies = await this.#redis.multi().call('HMGET', [this.#tasksKey, ...ids]).call('HMGET', [this.#key, ...ids]).exec();
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
}

/** BullMQ job ids may not be integers or hold ':'; encodeURIComponent is one-to-one, so ids stay distinct. */
export function jobIdOf(id: string): string {
  return `t_${encodeURIComponent(id)}`;
}

/** A task's BullMQ job: its own id (so that a second hand-over while it waits or runs is a no-op), and its place from its priority (and aging). */
export function jobOptionsOf(task: JobData, aging: AgingState | undefined): JobsOptions {
  return { jobId: jobIdOf(task.id), priority: agedBullPriority(task.priority, task.releasedAt ?? 0, aging) };
}

/** Attempts made before this run (a cut-off or handed-back run counts) and times a dead worker cut the task off. */
export function countsOf(job: { readonly data: QueuedTask; readonly attemptsStarted: number; readonly stalledCounter: number }): { attempts: number; interruptions: number } {
  return { attempts: job.data.attempts + Math.max(1, job.attemptsStarted) - 1, interruptions: job.stalledCounter };
}

/** What the queue keeps of every task it holds (the tasks hash). */
export function metaOf(task: QueuedTask): TaskMeta {
  return {
    id: task.id,
    type: task.type,
    priority: task.priority,
    ...(task.dependsOn === undefined ? {} : { dependsOn: task.dependsOn }),
    submittedAt: task.submittedAt,
    attempts: task.attempts,
  };
}

/** What the task's BullMQ job will carry once it is ready. */
export function specOf(task: QueuedTask, events: boolean): JobData {
  return { id: task.id, type: task.type, priority: task.priority, config: task.config, dependsOn: task.dependsOn, attempts: task.attempts, submittedAt: task.submittedAt, ...(events ? { events } : {}) };
}

/** A finished task from its record (the task's meta and its kept result, as the finish script stores them). */
export function finishedOf(record: string): FinishedTask {
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
