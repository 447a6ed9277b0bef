import { ErrorCode, TaskforgeError } from '../core/errors.js';
import type { Listener } from '../core/typed-emitter.js';
import { BaseTask } from '../tasks/base-task.js';
import type { TaskEvents } from '../tasks/task-events.js';
import { withId, type TaskConfig } from '../tasks/task-config.js';
import type { TaskResult } from '../tasks/task-result.js';
import type { TaskStatus } from '../tasks/task-status.js';
import { StorageTask } from '../tasks/storage-task.js';
import { checkStorageConfig } from '../tasks/storage-task-prepare.js';
import { TASK_TYPE_PATTERN, TaskType } from '../tasks/task-type.js';
import { configCheckOf, runConfigCheck, type ConfigCheck } from './config-check.js';

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
  /** How each type checks its configs at submit (a storage config: its fields and path; its keys are the running process's). */
  readonly #checks = new Map<string, ConfigCheck>([[TaskType.STORAGE, checkStorageAtSubmit]]);

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
    this.#checks.set(type, configCheckOf(taskClass));
  }

  /**
   * Checks a config as its task will check it (see {@link configCheckOf})
   * before it is queued; throws that check's VALIDATION_ERROR, its fields
   * named from `where`. A storage config's keys are checked only when it
   * runs, by the process that runs it.
   */
  checkConfig(type: string, config: TaskConfig, id: string, where: string, context: unknown): void {
    const check = this.#checks.get(type);
    if (check !== undefined) runConfigCheck(check, type, config, id, where, context);
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

  /** A new task of a registered type from its config, with `id` put in when the config has none. */
  make(type: string, config: TaskConfig, id: string, context: unknown): RunnableTask {
    const taskClass = this.#classes.get(type);
    if (taskClass === undefined) throw new Error(`no task type '${type}' is registered`);
    // A generated id goes into the config, so the task reports the id the handle has.
    return new taskClass((config.id !== undefined ? config : withId(config, id)) as never, context as never);
  }
}

/** False for a BaseTask subclass that does not override cleanupTask() (most do not): its cleanup need not be waited for. */
export function hasCleanupHook(task: RunnableTask): boolean {
  return !(task instanceof BaseTask) || (task as unknown as { cleanupTask: unknown }).cleanupTask !== BASE_CLEANUP;
}

const BASE_CLEANUP: unknown = (BaseTask.prototype as unknown as { cleanupTask: unknown }).cleanupTask;

/** A storage config's check at submit: what its task will check, but its keys. */
function checkStorageAtSubmit(config: TaskConfig, id: string): void {
  checkStorageConfig(config.id === undefined ? withId(config, id) : config, id);
}
