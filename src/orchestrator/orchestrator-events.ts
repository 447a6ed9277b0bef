import type { TaskCancelEvent, TaskCleanupEvent, TaskErrorEvent, TaskEventBase, TaskProgressEvent, TaskRetryEvent, TaskStartEvent } from '../tasks/task-events.js';
import type { TaskResult } from '../tasks/task-result.js';

/** `submit`: a task was accepted and queued. */
export interface TaskSubmitEvent extends TaskEventBase {
  readonly priority: number;
  readonly dependsOn?: readonly string[];
}

/**
 * Every task's lifecycle, as the orchestrator sees it; each payload carries
 * the task's `id` and `type`. `complete` and `error` carry the final result
 * (with attempts a crash cut off counted), after the task's cleanup ran.
 */
export interface OrchestratorEvents {
  submit: TaskSubmitEvent;
  start: TaskStartEvent;
  retry: TaskRetryEvent;
  progress: TaskProgressEvent;
  cancel: TaskCancelEvent;
  complete: TaskResult;
  error: TaskErrorEvent;
  cleanup: TaskCleanupEvent;
}
