import { randomUUID } from 'node:crypto';

/** A new task id, used when a config does not name one. */
export function newTaskId(): string {
  return randomUUID();
}
