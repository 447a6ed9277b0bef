import { randomBytes } from 'node:crypto';

/**
 * 64 random bits drawn once per process: ids made here are this prefix and
 * a counter, unique across processes sharing a durable queue without a
 * random draw per id (a UUID costs over a microsecond; this, a few ns).
 */
const PROCESS_PREFIX = `t${randomBytes(8).toString('hex')}`;
let counter = 0;

/** A new task id, used when a config does not name one: `t<16 hex>-<base-36 counter>`. */
export function newTaskId(): string {
  counter += 1;
  return `${PROCESS_PREFIX}-${counter.toString(36)}`;
}
