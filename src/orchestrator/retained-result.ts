import { findJsonProblem } from '../core/json-value.js';
import type { RetainedTaskResult } from '../tasks/task-result.js';

/** The largest `data`, as JSON, a queue keeps with a finished task. */
export const MAX_RETAINED_DATA_BYTES = 64 * 1024;

/**
 * A result as a queue keeps it after the task ended: `data` stays when it is
 * plain JSON of at most 64 KiB (a write's or a list's result); a read's
 * payload, bytes or a stream are dropped, with `details.dataRetained: false`,
 * so finished tasks cost little to keep and every queue keeps the same thing.
 */
export function retainedResult<TData>(result: RetainedTaskResult<TData>): RetainedTaskResult<TData> {
  if (!result.success) return result;
  const { data } = result;
  if (data === undefined || data === null || typeof data === 'number' || typeof data === 'boolean') return result;
  if (typeof data === 'string' ? data.length * 3 <= MAX_RETAINED_DATA_BYTES : isSmallJson(data)) return result;
  const { data: _dropped, ...kept } = result;
  return { ...kept, details: { ...result.details, dataRetained: false } };
}

function isSmallJson(value: unknown): boolean {
  if (findJsonProblem(value) !== undefined) return false;
  return Buffer.byteLength(JSON.stringify(value)) <= MAX_RETAINED_DATA_BYTES;
}
