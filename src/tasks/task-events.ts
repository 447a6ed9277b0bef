import type { TaskErrorInfo } from '../core/errors.js';
import type { TaskStatus } from './task-status.js';
import type { TaskResult } from './task-result.js';

/** Fields every event payload has, so one listener can watch many tasks. */
export interface TaskEventBase {
  readonly id: string;
  readonly type: string;
}

/** `start`: execute() moved the task to RUNNING. */
export interface TaskStartEvent extends TaskEventBase {
  readonly startedAt: string;
}

/** `error`: the task ended FAILED (including by cancellation). */
export interface TaskErrorEvent extends TaskEventBase {
  readonly error: TaskErrorInfo;
  readonly result: TaskResult;
}

/** `cancel`: cancel() was called on a pending or running task. */
export interface TaskCancelEvent extends TaskEventBase {
  /** The status the task had when it was cancelled. */
  readonly previousStatus: TaskStatus;
  readonly reason?: string;
}

/** `cleanup`: cleanup() ran the task's cleanup (once). */
export type TaskCleanupEvent = TaskEventBase;

/** `retry`: an attempt failed with a transient error and another will follow. */
export interface TaskRetryEvent extends TaskEventBase {
  /** The attempt that failed, from 1. */
  readonly attempt: number;
  readonly nextAttempt: number;
  /** How long the task waits before the next attempt. */
  readonly delayMs: number;
  readonly error: TaskErrorInfo;
}

/** `progress`: bytes moved so far during storage work (throttled). */
export interface TaskProgressEvent extends TaskEventBase {
  readonly bytesDone: number;
  /** Total bytes, when known. */
  readonly bytesTotal?: number;
}

/** Every task event by name; a listener's argument type follows from the name. */
export interface TaskEvents {
  start: TaskStartEvent;
  complete: TaskResult;
  error: TaskErrorEvent;
  cancel: TaskCancelEvent;
  cleanup: TaskCleanupEvent;
  retry: TaskRetryEvent;
  progress: TaskProgressEvent;
}
