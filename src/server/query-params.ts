import { ErrorCode, TaskforgeError } from '../core/errors.js';
import { TASK_TYPE_PATTERN } from '../tasks/task-type.js';

// Query parameters as the routes read them: each bad one is a
// VALIDATION_ERROR naming the parameter and what it should be.

export function badQuery(field: string, message: string): TaskforgeError {
  return new TaskforgeError(ErrorCode.VALIDATION_ERROR, `query parameter '${field}': ${message}`, { details: { fields: [{ field, message }] } });
}

/** A query parameter given as `a,b` or repeated. */
export function listParam(value: unknown): string[] {
  if (value === undefined) return [];
  const values = Array.isArray(value) ? value : [value];
  return values.flatMap((item) => String(item).split(',')).filter((item) => item !== '');
}

export function optionalString(value: unknown, field: string): string | undefined {
  if (value === undefined) return undefined;
  if (typeof value !== 'string') throw badQuery(field, 'expected one value');
  return value;
}

export function wholeNumber(value: unknown, field: string, min: number, max: number): number | undefined {
  const text = optionalString(value, field);
  if (text === undefined) return undefined;
  const number = Number(text);
  if (!/^\d+$/.test(text) || number < min || number > max) throw badQuery(field, `expected a whole number from ${String(min)} to ${String(max)} (got ${JSON.stringify(text)})`);
  return number;
}

/** `?x`, `?x=true`, `?x=1` are true; `?x=false`, `?x=0` false; absent is false. */
export function flag(value: unknown, field: string): boolean {
  if (value === undefined || value === '' || value === 'true' || value === '1') return value !== undefined;
  if (value === 'false' || value === '0') return false;
  throw badQuery(field, `expected true or false (got ${JSON.stringify(value)})`);
}

/** A task type name, as configs write it. */
export function taskType(value: unknown, field: string): string | undefined {
  const text = optionalString(value, field);
  if (text !== undefined && !TASK_TYPE_PATTERN.test(text)) throw badQuery(field, `expected a lowercase type name such as "storage" (got ${JSON.stringify(text)})`);
  return text;
}

/**
 * Refuses a parameter the route does not take, naming the one likely meant:
 * a misspelt option ignored would do something else than asked (a PUT
 * with `?encypt=true` would store in the clear).
 */
export function onlyParams(query: Record<string, unknown>, takes: readonly string[]): void {
  for (const name of Object.keys(query)) {
    if (takes.includes(name)) continue;
    const meant = takes.find((known) => known.toLowerCase() === name.toLowerCase() || editDistance(known, name) <= 2);
    throw badQuery(name, `this route takes no such parameter${meant === undefined ? '' : ` (did you mean '${meant}'?)`}; it takes ${takes.length === 0 ? 'none' : takes.join(', ')}`);
  }
}

/** Levenshtein distance: the fewest one-character insertions, deletions or substitutions from `a` to `b`. */
function editDistance(a: string, b: string): number {
  let previous = Array.from({ length: b.length + 1 }, (_, index) => index);
  for (let i = 1; i <= a.length; i += 1) {
    const current = [i];
    for (let j = 1; j <= b.length; j += 1) {
      current[j] = Math.min((previous[j] ?? 0) + 1, (current[j - 1] ?? 0) + 1, (previous[j - 1] ?? 0) + (a[i - 1] === b[j - 1] ? 0 : 1));
    }
    previous = current;
  }
  return previous[b.length] ?? 0;
}
