import { TaskforgeError } from '../core/errors.js';
import { BaseTask } from '../tasks/base-task.js';
import { configRefusal } from '../tasks/config-refusal.js';
import type { TaskConfig } from '../tasks/task-config.js';
import { validTaskConfig } from '../tasks/task-config-check.js';

/** A task class as far as checking its configs goes (the registry's TaskClass). */
type CheckedClass = abstract new (config: never, context: never) => unknown;

/** Checks one config as a task of its type would; throws what that check throws. */
export type ConfigCheck = (config: TaskConfig, id: string, context: unknown) => void;

/** BaseTask's own check: the fields every task has. */
const BASE_VALIDATE: unknown = (BaseTask.prototype as unknown as { validateConfig: unknown }).validateConfig;

/**
 * How the configs of a custom task class are checked before they are
 * queued, so that a bad one is refused by the process that submits it
 * rather than failing later in whichever worker runs it:
 * - its static `validateConfig(config)`, when the class has one: no task is
 *   made (the choice for a class whose constructor needs a worker's context);
 * - else its own instance `validateConfig(raw)`, on a task made from the
 *   config with `context`: the very check execute() will make;
 * - else BaseTask's, the fields every task has: the schema alone, no task made.
 */
export function configCheckOf(taskClass: CheckedClass): ConfigCheck {
  const staticCheck = (taskClass as unknown as { validateConfig?: unknown }).validateConfig;
  if (typeof staticCheck === 'function') {
    return (config, id) => {
      staticCheck.call(taskClass, withId(config, id));
    };
  }
  if ((taskClass.prototype as { validateConfig?: unknown }).validateConfig !== BASE_VALIDATE) {
    const concrete = taskClass as unknown as new (config: TaskConfig, context: unknown) => { validateConfig(raw: unknown): unknown };
    return (config, id, context) => {
      const raw = withId(config, id);
      new concrete(raw, context).validateConfig(raw);
    };
  }
  return (config, id) => {
    validTaskConfig(config, id);
  };
}

/**
 * Runs `check` on a config of `type`. What it throws becomes the refusal of
 * the submission: a TaskforgeError keeps its code, with its fields named
 * from the root of the submission (`[2].metadata.width` in a batch);
 * anything else a class's check throws is a VALIDATION_ERROR saying what it
 * threw.
 */
export function runConfigCheck(check: ConfigCheck, type: string, config: TaskConfig, id: string, where: string, context: unknown): void {
  try {
    check(config, id, context);
  } catch (error) {
    throw refusal(error, type, id, where);
  }
}

function refusal(error: unknown, type: string, id: string, where: string): TaskforgeError {
  if (!(error instanceof TaskforgeError)) return configRefusal(error, type, id, where);
  if (where === '') return error;
  const fields = error.details?.['fields'];
  const named = Array.isArray(fields) ? { fields: fields.map((problem: unknown) => fromRoot(problem, where)) } : {};
  return new TaskforgeError(error.code, `${where.slice(0, -1)}: ${error.message}`, {
    retryable: error.retryable,
    ...(error.cause === undefined ? {} : { cause: error.cause }),
    details: { ...error.details, ...named },
  });
}

function fromRoot(problem: unknown, where: string): unknown {
  if (problem === null || typeof problem !== 'object') return problem;
  const field = (problem as { field?: unknown }).field;
  return typeof field === 'string' ? { ...problem, field: `${where}${field}` } : problem;
}

function withId(config: TaskConfig, id: string): TaskConfig {
  return config.id === undefined ? { ...config, id } : config;
}
