import type { Queue } from 'bullmq';
import type { Redis } from 'ioredis';
import { ErrorCode, TaskforgeError } from '../core/errors.js';
import { checkAgingMs } from '../orchestrator/priority-queue.js';
import { toBullMqPriority } from '../orchestrator/queues/bullmq-priority.js';

/**
 * Aging on a Redis queue: one priority point per `agingMs` waited, as on
 * the memory and SQLite queues, in BullMQ's fixed integer priorities.
 *
 * As there, a task's place is fixed when it is made ready: a task made ready
 * `agingMs` later than another ranks one point lower (its BullMQ priority,
 * where 1 runs first, is one higher). The points are counted from the
 * queue's `origin`, stored in Redis with `agingMs`, so every process ranks
 * alike. BullMQ's range ends at 2^21 − 1, so the origin moves forward once the
 * points pass {@link REBASE_AFTER_POINTS}: the waiting jobs are ranked
 * again from the new origin (a rare O(n) pass; with agingMs 1000, every six
 * days). Processes re-read the origin every {@link AGING_REFRESH_MS}; the
 * pass waits twice that first, so that no process still ranks new tasks
 * from the old one.
 */

/** BullMQ's last priority. */
const BULLMQ_LAST = 2 ** 21 - 1;
/** Priorities an aging Redis queue takes: the rest of BullMQ's range is room for the points. */
export const AGED_PRIORITY_MAX = 2 ** 16 - 1;
/** Points past the origin at which it moves (half the room left, so ranks never reach BullMQ's end meanwhile). */
export const REBASE_AFTER_POINTS = 2 ** 19;
/** How often a process re-reads the queue's aging settings. */
export const AGING_REFRESH_MS = 5_000;
/** A score of BullMQ's prioritized set is priority × 2^32 + a counter. */
const SCORE_PER_PRIORITY = 2 ** 32;

/** The queue's aging, as stored in Redis. */
export interface AgingState {
  readonly agingMs: number;
  /** Points count from here (ms since 1970, the clock of the process that set it). */
  readonly origin: number;
}

/** Settings that tests shorten (the defaults make a rebase once in days). */
export interface AgingTuning {
  readonly rebaseAfterPoints?: number;
  readonly refreshMs?: number;
}

/** The BullMQ priority of a task of `priority` made ready at `releasedAt`: one point lower per `agingMs` after the origin. */
export function agedBullPriority(priority: number, releasedAt: number, aging: AgingState | undefined): number {
  const plain = toBullMqPriority(priority);
  if (aging === undefined) return plain;
  const aged = plain + Math.floor((releasedAt - aging.origin) / aging.agingMs);
  return Math.min(BULLMQ_LAST, Math.max(1, aged));
}

/** VALIDATION_ERROR for a priority an aging queue cannot rank (checked beside BullMQ's own range). */
export function checkAgedPriority(priority: number, at: string): void {
  if (Math.abs(priority) > AGED_PRIORITY_MAX) {
    throw new TaskforgeError(ErrorCode.VALIDATION_ERROR, `${at}priority: a Redis queue with aging orders whole numbers from ${String(-AGED_PRIORITY_MAX)} to ${String(AGED_PRIORITY_MAX)} (got ${String(priority)})`, {
      details: { fields: [{ field: `${at}priority`, message: 'out of the aging Redis queue range', received: String(priority) }] },
    });
  }
}

/**
 * Reads the settings, setting them first when this process asks for aging
 * and the queue has none. ARGV: the wanted agingMs ('' for whatever is
 * stored), now. Returns {ms, origin}, {} for none, or {'MISMATCH', ms}.
 */
const AGING_SCRIPT = `local ms = redis.call('HGET', KEYS[1], 'ms')
if ARGV[1] ~= '' then
  if not ms then
    redis.call('HSET', KEYS[1], 'ms', ARGV[1], 'origin', ARGV[2])
    return {ARGV[1], ARGV[2]}
  end
  if ms ~= ARGV[1] then return {'MISMATCH', ms} end
end
if not ms then return {} end
return {ms, redis.call('HGET', KEYS[1], 'origin')}`;

/** Moves the origin, unless another process moved it first. ARGV: the origin read, the new one. */
const MOVE_ORIGIN_SCRIPT = `if redis.call('HGET', KEYS[1], 'origin') ~= ARGV[1] then return 0 end
redis.call('HSET', KEYS[1], 'origin', ARGV[2])
return 1`;

/** One queue's aging as this process knows it. */
export class RedisAging {
  readonly #redis: Redis;
  readonly #key: string;
  readonly #wantedMs: number | undefined;
  readonly #rebaseAfterPoints: number;
  readonly #refreshMs: number;
  #state: AgingState | undefined;
  #readAt = Number.NEGATIVE_INFINITY;
  #reading: Promise<AgingState | undefined> | undefined;
  #rebasing = false;

  constructor(redis: Redis, prefix: string, wantedMs: number | undefined, tuning: AgingTuning = {}) {
    checkAgingMs(wantedMs);
    this.#redis = redis;
    this.#key = `${prefix}:aging`;
    this.#wantedMs = wantedMs;
    this.#rebaseAfterPoints = tuning.rebaseAfterPoints ?? REBASE_AFTER_POINTS;
    this.#refreshMs = tuning.refreshMs ?? AGING_REFRESH_MS;
  }

  /** The settings, re-read when older than the refresh interval (and set again, if this process wants aging and Redis lost them). */
  current(): Promise<AgingState | undefined> {
    if (performance.now() - this.#readAt < this.#refreshMs) return Promise.resolve(this.#state);
    this.#reading ??= this.#read().finally(() => {
      this.#reading = undefined;
    });
    return this.#reading;
  }

  async #read(): Promise<AgingState | undefined> {
    const reply = (await this.#redis.eval(AGING_SCRIPT, 1, this.#key, this.#wantedMs === undefined ? '' : String(this.#wantedMs), String(Date.now()))) as string[];
    if (reply[0] === 'MISMATCH') {
      throw new TaskforgeError(ErrorCode.VALIDATION_ERROR, `agingMs: this queue ages one point per ${String(reply[1])} ms (set by the first process that asked for aging); open it with that, or without agingMs`, {
        details: { field: 'agingMs', value: this.#wantedMs, stored: Number(reply[1]) },
      });
    }
    this.#state = reply.length === 2 ? { agingMs: Number(reply[0]), origin: Number(reply[1]) } : undefined;
    this.#readAt = performance.now();
    return this.#state;
  }

  /**
   * After a hand-over ranked from `state`: once the points pass the limit,
   * moves the origin and ranks the waiting jobs again (one process at a
   * time; in the background, failures to `onError`).
   */
  rebaseIfDue(state: AgingState | undefined, bull: Queue, onError: (error: unknown) => void): void {
    if (state === undefined || this.#rebasing) return;
    const points = Math.floor((Date.now() - state.origin) / state.agingMs);
    if (points < this.#rebaseAfterPoints) return;
    this.#rebasing = true;
    this.#rebase(state, points, bull)
      .catch(onError)
      .finally(() => {
        this.#rebasing = false;
      });
  }

  async #rebase(state: AgingState, points: number, bull: Queue): Promise<void> {
    const origin = state.origin + points * state.agingMs;
    const moved = (await this.#redis.eval(MOVE_ORIGIN_SCRIPT, 1, this.#key, String(state.origin), String(origin))) === 1;
    if (!moved) return;
    this.#readAt = Number.NEGATIVE_INFINITY;
    // Every process re-reads within refreshMs: after twice that, none ranks from the old origin.
    await new Promise((resolve) => setTimeout(resolve, 2 * this.#refreshMs));
    await rankAgain(this.#redis, bull, { agingMs: state.agingMs, origin });
  }
}

/**
 * Ranks every waiting job from `aging`, front to back. Jobs only move
 * forward (the origin moved later), below the scan's cursor, so each is
 * seen once; one already in its place is left there.
 */
async function rankAgain(client: Redis, bull: Queue, aging: AgingState): Promise<void> {
  const key = bull.keys['prioritized'] ?? `${bull.qualifiedName}:prioritized`;
  let from = '-inf';
  for (;;) {
    const page = await client.zrangebyscore(key, from, '+inf', 'WITHSCORES', 'LIMIT', 0, 500);
    if (page.length === 0) return;
    const moves: Promise<void>[] = [];
    for (let index = 0; index < page.length; index += 2) {
      const id = page[index] ?? '';
      const now = Math.floor(Number(page[index + 1]) / SCORE_PER_PRIORITY);
      moves.push(moveJob(bull, id, now, aging));
    }
    await Promise.all(moves);
    from = `(${page.at(-1) ?? '+inf'}`;
  }
}

async function moveJob(bull: Queue, id: string, current: number, aging: AgingState): Promise<void> {
  const job = await bull.getJob(id);
  const task = job?.data as { priority?: unknown; releasedAt?: unknown } | undefined;
  if (job === undefined || typeof task?.priority !== 'number' || typeof task.releasedAt !== 'number') return;
  const priority = agedBullPriority(task.priority, task.releasedAt, aging);
  if (priority !== current) await job.changePriority({ priority });
}
