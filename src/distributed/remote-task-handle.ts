import type { LiveTask } from '../orchestrator/live-task.js';
import type { RetainedTaskResult } from '../tasks/task-result.js';

/**
 * What a {@link RedisOrchestrator} submit returns: the task's id and the
 * promise of its result as the queue keeps it. The result comes from
 * whichever worker ran the task, through Redis: a completed task's `data`
 * is there when it is plain JSON of at most 64 KiB (a write's, a delete's,
 * most lists'), and absent otherwise (`details.dataRetained: false`).
 */
export class RemoteTaskHandle<TData = unknown> {
  readonly #live: LiveTask;

  constructor(live: LiveTask) {
    this.#live = live;
  }

  get id(): string {
    return this.#live.id;
  }

  /** Resolves with the task's result once it has ended; never rejects. */
  get result(): Promise<RetainedTaskResult<TData>> {
    // The config behind the handle is the one its type was taken from: data the queue kept is a TData.
    return this.#live.result() as Promise<RetainedTaskResult<TData>>;
  }
}
