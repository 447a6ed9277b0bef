/** Where a value stops being plain JSON, and why. */
export interface JsonProblem {
  readonly path: (string | number)[];
  readonly message: string;
}

/**
 * Finds the first part of `value` that JSON cannot carry faithfully
 * (functions, symbols, bigints, undefined, non-finite numbers, class
 * instances, cycles), or returns undefined when it round-trips. A write of
 * such data would otherwise store something other than what was given.
 */
export function findJsonProblem(value: unknown): JsonProblem | undefined {
  return walk(value, [], new Set());
}

function walk(value: unknown, path: (string | number)[], ancestors: Set<object>): JsonProblem | undefined {
  if (value === null || typeof value === 'string' || typeof value === 'boolean') return undefined;
  if (typeof value === 'number') {
    return Number.isFinite(value) ? undefined : { path, message: 'expected a JSON value: a finite number' };
  }
  if (typeof value !== 'object') {
    return { path, message: 'expected a string, bytes, a stream or a JSON value' };
  }
  if (ancestors.has(value)) return { path, message: 'expected a JSON value: it refers to itself' };
  const isArray = Array.isArray(value);
  const prototype: unknown = Object.getPrototypeOf(value);
  if (!isArray && prototype !== Object.prototype && prototype !== null) {
    return { path, message: 'expected a string, bytes, a stream or a plain JSON object' };
  }
  ancestors.add(value);
  try {
    const entries: [string | number, unknown][] = isArray ? value.map((item, index) => [index, item]) : Object.entries(value);
    for (const [key, item] of entries) {
      const problem = walk(item, [...path, key], ancestors);
      if (problem !== undefined) return problem;
    }
    return undefined;
  } finally {
    ancestors.delete(value);
  }
}
