import { sleep } from '../core/abort.js';
import { ErrorCode, isTaskforgeError } from '../core/errors.js';
import { parseRedisUrl, type RedisLocation } from '../distributed/redis-url.js';
import { MemoryQueue } from '../orchestrator/queues/memory-queue.js';
import { SqliteQueue } from '../orchestrator/queues/sqlite-queue.js';
import type { TaskQueue } from '../orchestrator/task-queue.js';
import { UsageError } from './exit-codes.js';

/** How long a command waits for Redis to answer before it gives up (exit 2: nothing ran). */
const REDIS_CONNECT_TIMEOUT_MS = 5000;
/** How often a worker waiting for its Redis tries again. */
const REDIS_RETRY_MS = 1000;

/** What `--queue` names, checked at once (before any input is read); opened by openCliQueue once the input is good. */
export interface QueueChoice {
  readonly url: string;
  /** The Redis server and queue, for a `redis://` URL. */
  readonly redis: RedisLocation | undefined;
}

/** Checks `--queue`. */
export function chooseQueue(url: string): QueueChoice {
  if (url.startsWith('redis://') || url.startsWith('rediss://')) {
    try {
      return { url, redis: parseRedisUrl(url, '--queue') };
    } catch (error) {
      throw new UsageError(error instanceof Error ? error.message : String(error));
    }
  }
  if (url === 'memory' || (url.startsWith('sqlite:') && url.length > 'sqlite:'.length)) return { url, redis: undefined };
  throw new UsageError(`--queue: expected 'memory', 'sqlite:FILE' or 'redis://HOST:PORT' (got '${url}')`);
}

/**
 * Opens the queue; a store that cannot be opened (a locked SQLite file, a
 * Redis that does not answer) is a usage error: nothing ran. With
 * `waitForServer`, a Redis that cannot be reached is waited for instead
 * (a worker started before its Redis, as machines boot): told once, tried
 * again every REDIS_RETRY_MS until it answers, or until `signal` ends the
 * wait (WaitEnded).
 */
export async function openCliQueue(
  choice: QueueChoice,
  options: { readonly aging?: number; readonly lockDurationMs?: number; readonly waitForServer?: (reason: string) => void; readonly signal?: AbortSignal } = {},
): Promise<TaskQueue> {
  for (let told = false; ; told = true) {
    try {
      return await openOnce(choice, options);
    } catch (error) {
      // (Stopped while a try was under way: the try was dropped.)
      if (options.signal?.aborted === true) throw new WaitEnded();
      const cause = error instanceof UsageError ? error.cause : undefined;
      if (options.waitForServer === undefined || choice.redis === undefined || !isTaskforgeError(cause) || cause.code !== ErrorCode.BACKEND_UNAVAILABLE) throw error;
      if (!told) options.waitForServer(cause.message);
      // (An abort of `signal` ends the wait: the worker stops.)
      const waited = await sleep(REDIS_RETRY_MS, options.signal).then(
        () => true,
        () => false,
      );
      if (!waited) throw new WaitEnded();
    }
  }
}

/** What cancel and status say of an id the queue does not know. */
export function unknownTaskMessage(id: string, queueName: string): string {
  return `no task with id '${id}' is known to the queue ${queueName} (it was never submitted there, or it ended longer ago than the queue keeps results)`;
}

/** What openCliQueue throws when its `signal` ends the wait for a Redis that does not answer. */
export class WaitEnded extends Error {
  constructor() {
    super('the wait for the Redis server was ended');
  }
}

async function openOnce(choice: QueueChoice, options: { readonly aging?: number; readonly lockDurationMs?: number; readonly signal?: AbortSignal }): Promise<TaskQueue> {
  const aging = options.aging === undefined ? {} : { agingMs: options.aging };
  try {
    if (choice.redis !== undefined) {
      // Loaded here, not at the top: the other commands never load bullmq.
      const { RedisQueue } = await import('../distributed/redis-queue.js');
      return await RedisQueue.open({
        url: choice.redis.url,
        name: choice.redis.name,
        connectTimeoutMs: REDIS_CONNECT_TIMEOUT_MS,
        ...aging,
        ...(options.lockDurationMs === undefined ? {} : { lockDurationMs: options.lockDurationMs }),
        ...(options.signal === undefined ? {} : { signal: options.signal }),
      });
    }
    return choice.url === 'memory' ? new MemoryQueue(aging) : new SqliteQueue(choice.url.slice('sqlite:'.length), aging);
  } catch (error) {
    if (isTaskforgeError(error)) {
      // A Redis queue that ages at another rate refuses --aging; anything else is the queue's.
      const flag = error.details?.['field'] === 'agingMs' ? '--aging' : '--queue';
      throw new UsageError(`${flag}: ${error.message}`, { cause: error });
    }
    throw error;
  }
}
