import type { RetainedTaskResult, TaskResult } from '../tasks/task-result.js';

/**
 * How results reach a handle: `whole` from a queue of this process (the
 * result as the task produced it), `kept` from a shared queue (the result
 * as the queue keeps it: a completed task's `data` only when it is plain
 * JSON of at most 64 KiB, else absent with `details.dataRetained: false`).
 */
export type ResultForm = 'whole' | 'kept';

/** A handle's result in its form. */
export type HandleResult<TData, TForm extends ResultForm> = TForm extends 'whole' ? TaskResult<TData> : RetainedTaskResult<TData>;

/**
 * What `submit()` returns, on every queue: the task's id and the promise of
 * its result, typed by what the task produces (see `Orchestrator.submit`).
 * The promise is made only when someone asks for it: 300,000 queued tasks
 * whose results are heard through events cost no promise each.
 */
export class TaskHandle<TData = unknown, TForm extends ResultForm = 'whole'> {
  readonly id: string;
  /**
   * The task's type, for a handle of a task submitted to a shared queue
   * (an end the queue makes without the task, LOST, is told under it, not
   * as 'unknown'). Absent otherwise: a queue of this process keeps the type
   * with the task, and 300,000 queued handles need no field more.
   */
  declare readonly type?: string;
  #outcome: TaskResult | undefined;
  #resolve: ((result: TaskResult) => void) | undefined;
  #promise: Promise<TaskResult> | undefined;

  constructor(id: string, type?: string) {
    this.id = id;
    if (type !== undefined) this.type = type;
  }

  /**
   * Resolves with the task's result once it has ended (and been cleaned
   * up); never rejects. On a shared queue (Redis) a completed task's `data`
   * is there when it is plain JSON of at most 64 KiB, and absent otherwise
   * (`details.dataRetained: false`): it came from another process. The type
   * says so (see ResultForm).
   */
  get result(): Promise<HandleResult<TData, TForm>> {
    if (this.#promise === undefined) {
      if (this.#outcome !== undefined) {
        this.#promise = Promise.resolve(this.#outcome);
      } else {
        this.#promise = new Promise((resolve) => {
          this.#resolve = resolve;
        });
      }
    }
    // The task behind the handle is the one its type was taken from: what it produced is a TData.
    return this.#promise as Promise<HandleResult<TData, TForm>>;
  }

  /** Whether the task has ended (as far as this process has heard). */
  get settled(): boolean {
    return this.#outcome !== undefined;
  }

  /** Records the end and resolves whoever waits; later calls are ignored. */
  settle(result: TaskResult): void {
    if (this.#outcome !== undefined) return;
    this.#outcome = result;
    this.#resolve?.(result);
    this.#resolve = undefined;
  }
}
