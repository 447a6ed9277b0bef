import { isoTime } from '../core/clock.js';
import { storageFacts } from './orchestrator-events.js';
import type { RetainedTaskResult } from '../tasks/task-result.js';
import type { TaskStatus } from '../tasks/task-status.js';

/** A task as `get(id)` reports it. */
export interface TaskView {
  readonly id: string;
  readonly type: string;
  readonly priority: number;
  readonly status: TaskStatus;
  /** Attempts made so far (the result's, once finished). */
  readonly attempts: number;
  readonly dependsOn?: readonly string[];
  readonly submittedAt: string;
  /** A storage task's operation and path, as its config gives them, while it waits or runs (a finished task's config is not kept). */
  readonly operation?: string;
  readonly path?: string;
  /** The result, once finished (its `data` as the queue keeps it). */
  readonly result?: RetainedTaskResult;
}

/** What every queue knows of a task, whatever its state. */
interface TaskFacts {
  readonly id: string;
  readonly type: string;
  readonly priority: number;
  readonly dependsOn?: readonly string[] | undefined;
  readonly submittedAt: number;
  /** Its config, while the queue keeps it (an unfinished task's). */
  readonly config?: unknown;
}

/** The view of a task in `status` after `attempts`, with its result once it has one. */
export function taskView(task: TaskFacts, status: TaskStatus, attempts: number, result?: RetainedTaskResult): TaskView {
  return {
    id: task.id,
    type: task.type,
    priority: task.priority,
    status,
    attempts,
    ...(task.dependsOn === undefined ? {} : { dependsOn: task.dependsOn }),
    submittedAt: isoTime(task.submittedAt),
    ...storageFacts(task.config),
    ...(result === undefined ? {} : { result }),
  };
}
