import { ErrorCode, TaskforgeError } from '../core/errors.js';

/** The default queue name in Redis. */
export const DEFAULT_REDIS_QUEUE_NAME = 'tasks';

/** Where a Redis queue lives: the server, and the queue's name on it. */
export interface RedisLocation {
  /** `redis://[user:password@]host:port[/db]`, as ioredis takes it. */
  readonly url: string;
  readonly name: string;
}

/**
 * Reads `redis://HOST:PORT[/DB][?name=QUEUE]` (or `rediss://` for TLS).
 * The queue name may hold letters, digits, `-`, `_` and `.`: BullMQ refuses
 * `:` in it, and it becomes part of every key.
 */
export function parseRedisUrl(text: string, field = 'queue'): RedisLocation {
  let url: URL;
  try {
    url = new URL(text);
  } catch {
    const port = /^[a-z]+:\/\/[^/?#]*:(\d+)(?:[/?#]|$)/i.exec(text)?.[1];
    throw invalidUrl(field, text, port === undefined ? 'not a URL' : `port ${port} is not 1 to 65535`);
  }
  if (url.port === '0') throw invalidUrl(field, text, 'port 0 is not 1 to 65535');
  if (url.protocol !== 'redis:' && url.protocol !== 'rediss:') throw invalidUrl(field, text, 'expected redis:// or rediss://');
  if (url.hostname === '') throw invalidUrl(field, text, 'no host');
  if (url.pathname !== '' && url.pathname !== '/' && !/^\/\d{1,2}$/.test(url.pathname)) throw invalidUrl(field, text, 'the path, if any, is a database number such as /0');
  const name = url.searchParams.get('name') ?? DEFAULT_REDIS_QUEUE_NAME;
  checkQueueName(name, field);
  for (const key of url.searchParams.keys()) {
    if (key !== 'name') throw invalidUrl(field, text, `unknown parameter '${key}' (known: name)`);
  }
  url.search = '';
  return { url: url.toString(), name };
}

/** Refuses a queue name BullMQ or the key layout cannot take. */
export function checkQueueName(name: string, field = 'name'): void {
  if (!/^[A-Za-z0-9._-]{1,100}$/.test(name)) {
    throw new TaskforgeError(ErrorCode.VALIDATION_ERROR, `${field}: a Redis queue name is 1 to 100 letters, digits, '.', '_' or '-' (got ${JSON.stringify(name)})`, {
      details: { fields: [{ field, message: 'bad queue name', received: name }] },
    });
  }
}

function invalidUrl(field: string, text: string, why: string): TaskforgeError {
  // The password, if any, stays out of the message.
  const shown = text.replace(/\/\/[^@/]*@/, '//***@');
  return new TaskforgeError(ErrorCode.VALIDATION_ERROR, `${field}: '${shown}' is not a Redis queue URL (${why}); expected redis://HOST:PORT[/DB][?name=QUEUE]`, {
    details: { fields: [{ field, message: why, received: shown }] },
  });
}
