import { statSync } from 'node:fs';
import { register } from 'node:module';
import { isAbsolute, resolve } from 'node:path';
import { pathToFileURL } from 'node:url';
import type { TaskClass } from '../orchestrator/task-registry.js';
import { BaseTask } from '../tasks/base-task.js';
import { TASK_TYPE_PATTERN, TaskType } from '../tasks/task-type.js';
import { UsageError } from './exit-codes.js';
import { TASKS_PACKAGE_NOT_FOUND, TASKS_PACKAGE_PREFIX, type TaskModuleHooksData } from './task-module-hooks.js';

/** Custom task types by name, as a --tasks module's default export gives them. */
export type TaskTypes = Readonly<Record<string, TaskClass>>;

/**
 * Loads `--tasks MODULE`: a file (`./my-tasks.js`, an absolute path, or a
 * file of that name in `cwd`) or a package installed where the command runs,
 * whose default export maps type names to task classes:
 * `export default { resize: ResizeTask }`, each class extending taskforge's
 * BaseTask. Anything else is a UsageError (exit 2) naming the module and
 * what is wrong with it.
 *
 * The module's `import ... from 'taskforge'` is given this command's own
 * copy of taskforge, not whichever copy it would find on its own (a project
 * install beside a global command, or none at all): a class extending
 * another copy's BaseTask fails every `instanceof` the registry and the
 * runner make, and throws errors they do not know.
 */
export async function loadTaskModule(specifier: string, cwd: string): Promise<TaskTypes> {
  const where = `--tasks ${specifier}`;
  const file = moduleFile(specifier, cwd, where);
  registerHooks(cwd);
  let loaded: unknown;
  try {
    loaded = await import(file === undefined ? `${TASKS_PACKAGE_PREFIX}${specifier}` : pathToFileURL(file).href);
  } catch (error) {
    if ((error as { code?: unknown } | undefined)?.code === TASKS_PACKAGE_NOT_FOUND) {
      throw new UsageError(`${where}: no such file in ${cwd}, and no package of that name can be found from there (${(error as Error).message})`);
    }
    const hint = error instanceof SyntaxError && file !== undefined ? ` (node --check ${file} shows where)` : '';
    throw new UsageError(`${where}: loading it threw ${describeThrown(error)}${hint}`);
  }
  return taskTypesOf((loaded as { default?: unknown }).default, where);
}

/** The module's file when `specifier` names a file; undefined for a package name. */
function moduleFile(specifier: string, cwd: string, where: string): string | undefined {
  const path = resolve(cwd, specifier);
  const pathLike = isAbsolute(specifier) || /^\.\.?([/\\]|$)/.test(specifier);
  const stats = statSync(path, { throwIfNoEntry: false });
  if (stats?.isDirectory() === true && pathLike) throw new UsageError(`${where}: is a directory; name the module file in it (such as ${specifier.replace(/[/\\]$/, '')}/index.js)`);
  if (stats?.isFile() === true) return path;
  if (pathLike) throw new UsageError(`${where}: no such file (${path})`);
  return undefined;
}

/** Checks the default export: a plain object of lowercase type names, each a class that extends BaseTask. */
function taskTypesOf(exported: unknown, where: string): TaskTypes {
  const expected = 'expected `export default { type: TaskClass }`';
  if (exported === undefined) throw new UsageError(`${where}: has no default export; ${expected}`);
  if (!isPlainObject(exported)) {
    const oneClass = typeof exported === 'function' ? ` (for one class: \`export default { name: ${(exported as { name?: string }).name ?? 'TaskClass'} }\`)` : '';
    throw new UsageError(`${where}: its default export is ${describeValue(exported)}, not a plain object; ${expected}${oneClass}`);
  }
  const entries = Object.entries(exported);
  if (entries.length === 0) throw new UsageError(`${where}: its default export maps no task types; ${expected}`);
  const types: Record<string, TaskClass> = {};
  for (const [type, taskClass] of entries) {
    if (type === TaskType.STORAGE) throw new UsageError(`${where}: 'storage' is the built-in task type; give yours another name`);
    if (!TASK_TYPE_PATTERN.test(type)) {
      throw new UsageError(`${where}: ${JSON.stringify(type)} is not a task type name: a lowercase letter, then up to 63 lowercase letters, digits, '.', '_' or '-'`);
    }
    const problem = notATaskClass(taskClass);
    if (problem !== undefined) throw new UsageError(`${where}: '${type}' ${problem}`);
    types[type] = taskClass as TaskClass;
  }
  return types;
}

/** What is wrong with a value given as a task class, or undefined when it is one. */
function notATaskClass(value: unknown): string | undefined {
  if (typeof value !== 'function') return `is ${describeValue(value)}, not a class that extends BaseTask`;
  if (value === BaseTask) return 'is BaseTask itself; give a class that extends it and implements executeTask()';
  const prototype: unknown = value.prototype;
  if (prototype instanceof BaseTask) return undefined;
  if (prototype === undefined) return `is ${describeValue(value)}, not a class: give a class that extends BaseTask`;
  for (let link: unknown = prototype; link !== null && typeof link === 'object'; link = Object.getPrototypeOf(link)) {
    if ((link as { constructor?: { name?: unknown } }).constructor?.name === 'BaseTask') {
      return "extends BaseTask from another copy of taskforge than this command's; import it as `import { BaseTask } from 'taskforge'`";
    }
  }
  return `is ${describeValue(value)}, which does not extend BaseTask`;
}

let hooksRegistered = false;

function registerHooks(cwd: string): void {
  if (hooksRegistered) return;
  hooksRegistered = true;
  const data: TaskModuleHooksData = { taskforgeUrl: import.meta.resolve('../index.js'), lookupFromUrl: pathToFileURL(`${cwd}/`).href };
  register('./task-module-hooks.js', import.meta.url, { data });
}

function isPlainObject(value: unknown): value is Record<string, unknown> {
  if (value === null || typeof value !== 'object') return false;
  const prototype: unknown = Object.getPrototypeOf(value);
  return prototype === Object.prototype || prototype === null;
}

function describeValue(value: unknown): string {
  if (value === null) return 'null';
  if (Array.isArray(value)) return 'an array';
  if (typeof value === 'function') {
    const name = (value as { name?: unknown }).name;
    return typeof name === 'string' && name !== '' ? `the function ${name}` : 'a function without a name';
  }
  if (typeof value === 'object') {
    const name = (Object.getPrototypeOf(value) as { constructor?: { name?: unknown } } | null)?.constructor?.name;
    return typeof name === 'string' && name !== '' ? `a ${name}` : 'an object';
  }
  if (typeof value === 'string') return `the string ${JSON.stringify(value.length > 40 ? `${value.slice(0, 40)}…` : value)}`;
  if (value === undefined) return 'undefined';
  if (typeof value === 'symbol') return `the symbol ${value.description ?? ''}`;
  if (typeof value === 'bigint') return `the bigint ${value.toString()}n`;
  if (typeof value === 'number' || typeof value === 'boolean') return `the ${typeof value} ${String(value)}`;
  return `a ${typeof value}`;
}

function describeThrown(error: unknown): string {
  if (error instanceof Error) return `${error.name}: ${error.message}`;
  return describeValue(error);
}
