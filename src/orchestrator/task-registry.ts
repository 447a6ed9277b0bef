import { ErrorCode, TaskforgeError } from '../core/errors.js';
import type { Listener } from '../core/typed-emitter.js';
import { BaseTask } from '../tasks/base-task.js';
import type { TaskEvents } from '../tasks/task-events.js';
import type { TaskResult } from '../tasks/task-result.js';
import type { TaskStatus } from '../tasks/task-status.js';
import { StorageTask } from '../tasks/storage-task.js';
import { TASK_TYPE_PATTERN, TaskType } from '../tasks/task-type.js';

/** The public face of a task, all the orchestrator uses of one. */
export interface RunnableTask {
  readonly id: string;
  readonly type: string;
  readonly priority: number;
  readonly status: TaskStatus;
  execute(): Promise<TaskResult>;
  cancel(reason?: string): Promise<void>;
  cleanup(): Promise<void>;
  on<K extends keyof TaskEvents>(event: K, listener: Listener<TaskEvents, K>): unknown;
}

/** A task class the orchestrator can make from a config: a subclass of BaseTask. */
export type TaskClass = new (config: never, context: never) => RunnableTask;

/** Task types by name; `storage` is there from the start. */
export class TaskRegistry {
  readonly #classes = new Map<string, TaskClass>([[TaskType.STORAGE, StorageTask]]);

  register(type: string, taskClass: TaskClass): void {
    if (typeof type !== 'string' || !TASK_TYPE_PATTERN.test(type)) {
      throw new TaskforgeError(ErrorCode.VALIDATION_ERROR, `type: expected a lowercase task type name such as "http" (got ${JSON.stringify(type)})`, {
        details: { field: 'type', value: type },
      });
    }
    if (typeof taskClass !== 'function' || !(taskClass.prototype instanceof BaseTask)) {
      throw new TaskforgeError(ErrorCode.VALIDATION_ERROR, `task type '${type}': expected a class that extends BaseTask`, { details: { field: 'taskClass', type } });
    }
    if (this.#classes.has(type)) {
      throw new TaskforgeError(ErrorCode.ALREADY_EXISTS, `task type '${type}' is already registered`, { details: { type } });
    }
    this.#classes.set(type, taskClass);
  }

  get(type: string): TaskClass | undefined {
    return this.#classes.get(type);
  }

  has(type: string): boolean {
    return this.#classes.has(type);
  }

  get types(): string[] {
    return [...this.#classes.keys()];
  }
}
