import { ErrorCode, isTaskforgeError, TaskforgeError } from '../core/errors.js';
import { parseRedisUrl } from '../distributed/redis-url.js';
import type { Logger } from '../core/logger.js';
import { MemoryQueue } from './queues/memory-queue.js';
import { SqliteQueue } from './queues/sqlite-queue.js';
import type { TaskQueue } from './task-queue.js';

/** Options that apply to a queue named by URL. */
export interface QueueUrlOptions {
  /** Aging against starvation (on Redis, the queue's setting: see RedisQueueOptions.agingMs). */
  readonly agingMs?: number;
  /** Where a Redis queue logs. */
  readonly logger?: Logger;
}

/** A queue being opened: at once for one of this process, over the network for a shared one. */
export type OpenedQueue = { readonly name: string; readonly queue: TaskQueue; readonly opening?: undefined } | { readonly name: string; readonly queue?: undefined; readonly opening: Promise<TaskQueue> };

/**
 * The queue an Orchestrator's `queue` option names: a queue object as it
 * is, or a URL as the CLI takes it: `memory`, `sqlite:FILE`, or
 * `redis://HOST:PORT[/DB][?name=QUEUE]` (connected to over the network,
 * with bullmq and ioredis loaded then). VALIDATION_ERROR for anything else;
 * the queues' own errors (a SQLite file another process holds, a Redis that
 * does not answer: BACKEND_UNAVAILABLE) as they are.
 */
export function openQueue(queue: TaskQueue | string, options: QueueUrlOptions = {}): OpenedQueue {
  if (typeof queue !== 'string') return { name: queue.name, queue };
  const aging = options.agingMs === undefined ? {} : { agingMs: options.agingMs };
  if (queue === 'memory') return opened(new MemoryQueue(aging));
  if (queue.startsWith('sqlite:') && queue.length > 'sqlite:'.length) {
    try {
      return opened(new SqliteQueue(queue.slice('sqlite:'.length), aging));
    } catch (error) {
      // (A file another process holds, a folder that cannot be made, no better-sqlite3.) Told where a Redis
      // queue's failed open is: by ready() and every call that needs the queue, not by a constructor that throws.
      if (!isTaskforgeError(error) || error.code === ErrorCode.VALIDATION_ERROR) throw error;
      return { name: queue, opening: Promise.reject(error) };
    }
  }
  if (queue.startsWith('redis://') || queue.startsWith('rediss://')) {
    const location = parseRedisUrl(queue, 'queue');
    const name = `${location.url.replace(/\/\/[^@/]*@/, '//***@').replace(/\/$/, '')}?name=${location.name}`;
    // Loaded on first use: a program that never names a Redis queue never loads bullmq.
    const opening = import('../distributed/redis-queue.js').then(({ RedisQueue }) => RedisQueue.open({ url: location.url, name: location.name, ...aging, ...(options.logger === undefined ? {} : { logger: options.logger }) }));
    return { name, opening };
  }
  throw new TaskforgeError(ErrorCode.VALIDATION_ERROR, `queue: expected 'memory', 'sqlite:FILE' or 'redis://HOST:PORT[/DB][?name=QUEUE]' (got '${queue}')`, { details: { field: 'queue', value: queue } });
}

function opened(queue: TaskQueue): OpenedQueue {
  return { name: queue.name, queue };
}
