import { checkAgingMs } from '../orchestrator/priority-queue.js';
import { checkedLimit } from '../orchestrator/queues/memory-store.js';
import type { RetentionOptions } from '../orchestrator/task-queue.js';
import type { AgingTuning } from './redis-aging.js';
import { checkQueueName, parseRedisUrl } from './redis-url.js';

/** Finished tasks a Redis queue keeps by default. */
export const DEFAULT_REDIS_RETENTION = 100_000;
/** How long a Redis queue keeps finished tasks by default: 7 days. */
export const DEFAULT_REDIS_RETENTION_MS = 7 * 24 * 60 * 60 * 1000;
/** How long a running task's lock lasts unless renewed (BullMQ's default). */
export const DEFAULT_LOCK_DURATION_MS = 30_000;
/** How long open() waits for Redis to answer. */
const DEFAULT_CONNECT_TIMEOUT_MS = 10_000;

/** Options of a Redis queue (RedisQueue.open). */
export interface RedisQueueOptions extends RetentionOptions {
  /** `redis://HOST:PORT[/DB][?name=QUEUE]`. Default `redis://127.0.0.1:6379`. */
  readonly url?: string;
  /** The queue's name (overrides `?name=`). Default `tasks`. */
  readonly name?: string;
  /** How long a running task's lock lasts; workers renew it at half that. Default 30 s; at least 500 ms. */
  readonly lockDurationMs?: number;
  /** How often workers look for tasks whose worker died. Default: the lock duration. */
  readonly stalledIntervalMs?: number;
  /** How long open() waits for Redis to answer. Default 10 s. */
  readonly connectTimeoutMs?: number;
  /** Ends open()'s wait for Redis at once when it aborts (a process told to stop while it connects): open() then rejects with the signal's reason, and the connection it was making is dropped. */
  readonly signal?: AbortSignal;
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

/** Where a queue is and how long opening it waits, checked (the first checks of open()). */
export interface RedisPlace {
  readonly url: string;
  readonly name: string;
  readonly connectTimeoutMs: number;
}

/** The settings a store is made with, defaults filled in. */
export interface RedisStoreSettings {
  readonly lockDurationMs: number;
  readonly stalledIntervalMs: number;
  readonly maxFinished: number;
  readonly maxAgeMs: number;
}

/**
 * Reads and checks the queue's URL, name, connection timeout and aging.
 * Called before bullmq is loaded and before any connection is made: a
 * connection left open by a refused option would hold the process.
 */
export function checkedPlace(options: RedisQueueOptions): RedisPlace {
  const parsed = parseRedisUrl(options.url ?? 'redis://127.0.0.1:6379', 'url');
  const name = options.name ?? parsed.name;
  checkQueueName(name);
  const connectTimeoutMs = positive('connectTimeoutMs', options.connectTimeoutMs) ?? DEFAULT_CONNECT_TIMEOUT_MS;
  checkAgingMs(options.agingMs);
  return { url: parsed.url, name, connectTimeoutMs };
}

/** The shortest lock a queue takes (see checkedStoreSettings). */
export const MIN_LOCK_DURATION_MS = 500;

/** Checks the lock times and retention limits, with their defaults (before the store makes its first connection). */
export function checkedStoreSettings(options: RedisQueueOptions): RedisStoreSettings {
  const lockDurationMs = positive('lockDurationMs', options.lockDurationMs) ?? DEFAULT_LOCK_DURATION_MS;
  // A write commits only while its lock holds LOCK_SAFETY_MS (100) longer, and a lock renewed at half its duration
  // holds at least half: under about 200 ms, writes fail LOCK_LOST though nothing went wrong (500: room for a late renewal).
  if (lockDurationMs < MIN_LOCK_DURATION_MS) throw new RangeError(`lockDurationMs must be at least ${String(MIN_LOCK_DURATION_MS)} ms, so that a write can commit within its lock (got ${String(lockDurationMs)})`);
  const stalledIntervalMs = positive('stalledIntervalMs', options.stalledIntervalMs) ?? lockDurationMs;
  const maxFinished = checkedLimit('maxFinished', options.maxFinished) ?? DEFAULT_REDIS_RETENTION;
  const maxAgeMs = checkedLimit('maxAgeMs', options.maxAgeMs) ?? DEFAULT_REDIS_RETENTION_MS;
  return { lockDurationMs, stalledIntervalMs, maxFinished, maxAgeMs };
}

function positive(name: string, value: number | undefined): number | undefined {
  if (value !== undefined && !(Number.isInteger(value) && value > 0)) throw new RangeError(`${name} must be a positive whole number of ms (got ${String(value)})`);
  return value;
}
