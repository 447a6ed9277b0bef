import { ErrorCode, TaskforgeError } from '../core/errors.js';

/** The four statuses of the spec's lifecycle, and nothing else. */
export const TaskStatus = {
  PENDING: 'pending',
  RUNNING: 'running',
  COMPLETED: 'completed',
  FAILED: 'failed',
} as const;

export type TaskStatus = (typeof TaskStatus)[keyof typeof TaskStatus];

/** The statuses a task ends in. */
export type FinalTaskStatus = typeof TaskStatus.COMPLETED | typeof TaskStatus.FAILED;

/**
 * The spec's state diagram. PENDING -> FAILED is cancellation before the task
 * ran (DESIGN.md); every other edge is the diagram's own.
 */
const ALLOWED_TRANSITIONS: Readonly<Record<TaskStatus, readonly TaskStatus[]>> = {
  [TaskStatus.PENDING]: [TaskStatus.RUNNING, TaskStatus.FAILED],
  [TaskStatus.RUNNING]: [TaskStatus.COMPLETED, TaskStatus.FAILED],
  [TaskStatus.COMPLETED]: [],
  [TaskStatus.FAILED]: [],
};

/** True when the lifecycle allows going from `from` to `to`. */
export function canTransition(from: TaskStatus, to: TaskStatus): boolean {
  return ALLOWED_TRANSITIONS[from].includes(to);
}

/** Throws INVALID_STATE unless the lifecycle allows going from `from` to `to`. */
export function assertTransition(taskId: string, from: TaskStatus, to: TaskStatus): void {
  if (!canTransition(from, to)) {
    throw new TaskforgeError(ErrorCode.INVALID_STATE, `task '${taskId}' cannot go from ${from} to ${to}`, {
      details: { taskId, from, to },
    });
  }
}

/** True for COMPLETED and FAILED. */
export function isFinalStatus(status: TaskStatus): status is FinalTaskStatus {
  return status === TaskStatus.COMPLETED || status === TaskStatus.FAILED;
}
