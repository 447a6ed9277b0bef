import type { z } from 'zod';
import { ErrorCode, TaskforgeError } from './errors.js';

/** One bad field of a config: where, what was expected, what was given. */
export interface FieldProblem {
  /** Dotted path to the field, e.g. `metadata.options.timeout`. */
  readonly field: string;
  /** What is wrong, in words. */
  readonly message: string;
  /** A short description of the value given (type and value for scalars). */
  readonly received: string;
}

/**
 * Parses `input` with `schema`; on failure throws one VALIDATION_ERROR that
 * names every bad field, what it expected and what it was given.
 *
 * @param subject what is being validated, for the message ("storage task 'x'").
 */
export function parseOrThrow<S extends z.ZodType>(schema: S, input: unknown, subject: string): z.output<S> {
  const parsed = schema.safeParse(input);
  if (parsed.success) return parsed.data;
  const problems = parsed.error.issues.flatMap((issue) => toProblems(issue, input));
  throw validationError(subject, problems);
}

/** Builds the VALIDATION_ERROR for a list of problems. */
export function validationError(subject: string, problems: readonly FieldProblem[]): TaskforgeError {
  const lines = problems.map((p) => `${p.field}: ${p.message} (got ${p.received})`);
  return new TaskforgeError(ErrorCode.VALIDATION_ERROR, `invalid ${subject}: ${lines.join('; ')}`, {
    details: { fields: problems },
  });
}

function toProblems(issue: z.core.$ZodIssue, root: unknown): FieldProblem[] {
  if (issue.code === 'unrecognized_keys') {
    return issue.keys.map((key) => ({
      field: joinPath([...issue.path, key]),
      message: 'unknown field',
      received: describeValue(valueAt(root, [...issue.path, key])),
    }));
  }
  // Read the value from the input itself: a refinement's issue carries the
  // whole refined object as its input, not the field it names.
  return [{ field: joinPath(issue.path), message: issue.message, received: describeValue(valueAt(root, issue.path)) }];
}

function joinPath(path: readonly PropertyKey[]): string {
  if (path.length === 0) return '(config)';
  return path.map((part, index) => (typeof part === 'number' ? `[${part}]` : `${index === 0 ? '' : '.'}${String(part)}`)).join('');
}

function valueAt(root: unknown, path: readonly PropertyKey[]): unknown {
  let current = root;
  for (const key of path) {
    if (current === null || typeof current !== 'object') return undefined;
    current = (current as Record<PropertyKey, unknown>)[key];
  }
  return current;
}

/** A short, safe description of a value for an error message: never a whole payload. */
export function describeValue(value: unknown): string {
  if (value === undefined) return 'nothing';
  if (value === null) return 'null';
  if (typeof value === 'string') {
    const shown = value.length > 60 ? `${value.slice(0, 57)}...` : value;
    return `string ${JSON.stringify(shown)}`;
  }
  if (typeof value === 'number' || typeof value === 'boolean' || typeof value === 'bigint') {
    return `${typeof value} ${String(value)}`;
  }
  if (Array.isArray(value)) return `array of ${value.length}`;
  if (typeof value === 'function') return 'function';
  if (typeof value === 'symbol') return 'symbol';
  const name = (value as { constructor?: { name?: string } }).constructor?.name;
  return name !== undefined && name !== 'Object' ? `${name} object` : 'object';
}
