import { inspect } from 'node:util';

/**
 * The message of whatever was thrown: an Error's, a thrown object's
 * `message`, a string; else the value shown (never "[object Object]").
 */
export function messageOf(thrown: unknown): string {
  if (thrown instanceof Error) return thrown.message;
  const message = typeof thrown === 'object' && thrown !== null ? (thrown as { message?: unknown }).message : undefined;
  if (typeof message === 'string') return message;
  return typeof thrown === 'string' ? thrown : inspect(thrown, { depth: 2, breakLength: Infinity }).slice(0, 500);
}
