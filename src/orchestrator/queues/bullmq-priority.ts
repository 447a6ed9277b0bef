import { ErrorCode, TaskforgeError } from '../../core/errors.js';

/**
 * BullMQ orders prioritized jobs by a number from 1 (first) to 2^21 (last),
 * FIFO among equals, and runs jobs with no priority before all of them.
 * taskforge runs a larger priority first. So every job gets a BullMQ
 * priority, counted down from the middle of BullMQ's range: taskforge's 0
 * is 2^20, 1 is 2^20 − 1, −1 is 2^20 + 1.
 */
const MIDDLE = 2 ** 20;

/** The taskforge priorities a BullMQ-backed queue can order exactly. */
export const BULLMQ_PRIORITY_RANGE = { min: -(MIDDLE - 1), max: MIDDLE - 1 } as const;

/**
 * The BullMQ priority for a taskforge priority. Integers within
 * {@link BULLMQ_PRIORITY_RANGE} only: anything else could not keep its
 * place, so it is refused (VALIDATION_ERROR) rather than rounded.
 */
export function toBullMqPriority(priority: number): number {
  if (!Number.isInteger(priority) || priority < BULLMQ_PRIORITY_RANGE.min || priority > BULLMQ_PRIORITY_RANGE.max) {
    throw new TaskforgeError(
      ErrorCode.VALIDATION_ERROR,
      `priority: the Redis queue orders whole numbers from ${String(BULLMQ_PRIORITY_RANGE.min)} to ${String(BULLMQ_PRIORITY_RANGE.max)} (got ${String(priority)})`,
      { details: { fields: [{ field: 'priority', message: 'out of the Redis queue range', received: String(priority) }] } },
    );
  }
  return MIDDLE - priority;
}
