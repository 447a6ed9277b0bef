import { controlCharacterIn } from '../core/control-characters.js';
import { ErrorCode, TaskforgeError } from '../core/errors.js';
import { newTaskSerial, taskIdOf } from '../core/ids.js';
import { findJsonProblem } from '../core/json-value.js';
import { adoptDataStream } from '../storage/data-stream.js';
import type { FieldProblem } from '../core/validation.js';
import { BaseTask } from '../tasks/base-task.js';
import type { TaskConfig } from '../tasks/task-config.js';
import type { StorageResultData } from '../tasks/storage-result.js';
import type { ReadForm, StorageOperation } from '../tasks/storage-task-config.js';
import type { QueuedTask } from './task-queue.js';

/** What the orchestrator reads from a submitted config or task: the task as it goes to the queue. */
export interface Submission extends QueuedTask {
  /** True when the id was made here (unique by construction: the queue need not look it up). */
  readonly newId: boolean;
  /** The submitter's handle, set before the task goes to a queue of this process (see QueuedTask.tag). */
  tag: unknown;
}

/**
 * What a task submitted as `T` produces: a task object's own data; for a
 * storage config, its operation's (and read form's); for any other config,
 * unknown (the orchestrator knows the type by name only).
 */
export type SubmittedData<T> = T extends BaseTask<infer TData, object>
  ? TData
  : T extends { readonly type: 'storage'; readonly metadata: { readonly operation: infer TOperation extends StorageOperation } }
    ? StorageResultData<TOperation, ReadFormOf<T['metadata']>>
    : unknown;

/** The `as` option of a storage config's metadata; undefined when it has none. */
type ReadFormOf<TMetadata> = TMetadata extends { readonly options?: infer TOptions } ? AsOption<TOptions> : undefined;

type AsOption<TOptions> = TOptions extends { readonly as?: infer TForm } ? (TForm extends ReadForm ? TForm : undefined) : undefined;

/**
 * A batch as submitAll() types it, each config with only the fields a task
 * config has: the check the compiler makes of a literal passed where a
 * TaskConfig is expected, which a batch inferred as a whole would lose.
 */
export type KnownFieldsOnly<TBatch> = {
  [K in keyof TBatch]: TBatch[K] extends BaseTask<unknown, object> ? TBatch[K] : TBatch[K] & Readonly<Record<Exclude<keyof TBatch[K], keyof TaskConfig>, never>>;
};

/** Options of a submit beside the config. */
export interface SubmitOptions {
  /** Dependencies of a submitted task instance (a config names them in `dependsOn`). */
  readonly dependsOn?: readonly string[];
}

/**
 * Reads the orchestration fields of one submission (id, type, priority,
 * dependsOn) and refuses what the orchestrator cannot queue; the rest of
 * the config is the task type's to validate when the task runs. `where`
 * prefixes field names in messages (`[3].` in a batch).
 */
export function readSubmission(input: unknown, options: SubmitOptions, durable: boolean, where = ''): Submission {
  if (input instanceof BaseTask) {
    if (durable) invalid(where, 'config', 'a durable queue stores task configs, not task objects: submit the config instead');
    return { id: input.id, type: input.type, priority: input.priority, config: input, dependsOn: readDependsOn(options.dependsOn, where), attempts: 0, submittedAt: Date.now(), newId: false, serial: undefined, tag: undefined };
  }
  if (input === null || typeof input !== 'object' || Array.isArray(input)) {
    invalid(where, 'config', `expected a task config object (got ${describe(input)})`, input);
  }
  const config = input as Record<string, unknown>;
  const type = config['type'];
  if (typeof type !== 'string' || type.length === 0) invalid(where, 'type', `expected a task type name such as "storage" (got ${describe(type)})`, type);
  const rawId = config['id'];
  if (rawId !== undefined && (typeof rawId !== 'string' || rawId.length === 0 || rawId.length > 256)) {
    invalid(where, 'id', `expected a string of 1 to 256 characters (got ${describe(rawId)})`, rawId);
  }
  if (rawId !== undefined) {
    const control = controlCharacterIn(rawId);
    if (control !== undefined) invalid(where, 'id', `expected no control characters, which would reach terminals and logs as they are (got ${describe(rawId)}, with ${control})`, rawId);
  }
  const rawPriority = config['priority'];
  if (rawPriority !== undefined && (typeof rawPriority !== 'number' || !Number.isFinite(rawPriority))) {
    invalid(where, 'priority', `expected a finite number (got ${describe(rawPriority)})`, rawPriority);
  }
  const metadata = config['metadata'] as { readonly data?: unknown; readonly operation?: unknown; readonly options?: { readonly as?: unknown } } | undefined;
  if (durable) {
    const problem = findJsonProblem(config);
    if (problem !== undefined) {
      invalid(where, problem.path.join('.'), `${problem.message}; a durable queue stores configs as JSON, so give data as a string or a JSON value`);
    }
    if (type === 'storage' && metadata?.operation === 'read' && metadata.options?.as === 'stream') {
      // The task may run in another process, or after this one is gone: a stream there would reach nobody and hold its file open.
      invalid(where, 'metadata.options.as', `a read through a durable queue cannot hand back a stream (its result may reach nobody); read as 'buffer', 'text' or 'json', or stream it with a StorageTask of your own`);
    }
  }
  // A stream given as data is taken in charge now, while the task waits: its errors are the task's to report.
  adoptDataStream(metadata?.data);
  let id = rawId;
  let serial: number | undefined;
  if (id === undefined) {
    serial = newTaskSerial();
    id = taskIdOf(serial);
  }
  return {
    id,
    serial,
    type,
    priority: rawPriority ?? 0,
    config: config as TaskConfig,
    dependsOn: readDependsOn(config['dependsOn'] ?? options.dependsOn, where),
    attempts: 0,
    submittedAt: Date.now(),
    newId: rawId === undefined,
    tag: undefined,
  };
}

function readDependsOn(value: unknown, where: string): readonly string[] | undefined {
  if (value === undefined) return undefined;
  if (!Array.isArray(value)) invalid(where, 'dependsOn', `expected an array of task ids (got ${describe(value)})`, value);
  value.forEach((id: unknown, index) => {
    if (typeof id !== 'string' || id.length === 0) invalid(where, `dependsOn[${String(index)}]`, `expected a task id (got ${describe(id)})`, id);
  });
  return value.length === 0 ? undefined : (value as string[]);
}

/**
 * Refuses dependency cycles within a batch: `a -> b -> a`. A single submit
 * cannot make one (it can only name tasks that exist already, which cannot
 * name it), except by naming itself.
 */
export function assertNoCycle(batch: readonly Submission[], where: (index: number) => string): void {
  const indexById = new Map(batch.map((submission, index) => [submission.id, index]));
  const state = new Uint8Array(batch.length); // 0 new, 1 on the current path, 2 done
  for (let root = 0; root < batch.length; root += 1) {
    if (state[root] !== 0) continue;
    const path: number[] = [root];
    const next: number[] = [0];
    state[root] = 1;
    while (path.length > 0) {
      const top = path.length - 1;
      const node = path[top] ?? 0;
      const edges = batch[node]?.dependsOn ?? [];
      const edgeIndex = next[top] ?? 0;
      if (edgeIndex >= edges.length) {
        state[node] = 2;
        path.pop();
        next.pop();
        continue;
      }
      next[top] = edgeIndex + 1;
      const target = indexById.get(edges[edgeIndex] ?? '');
      if (target === undefined || state[target] === 2) continue;
      if (state[target] === 1) {
        const cycle = [...path.slice(path.indexOf(target)), target].map((index) => batch[index]?.id ?? '');
        invalid(where(node), 'dependsOn', `a dependency cycle: ${cycle.join(' -> ')}`);
      }
      state[target] = 1;
      path.push(target);
      next.push(0);
    }
  }
}

export function invalid(where: string, field: string, message: string, ...received: [unknown?]): never {
  const name = `${where}${field}`;
  // What was given, when the check had one value in hand (a cycle or a batch-wide rule has none).
  const problem: FieldProblem = { field: name, message, received: received.length > 0 ? describe(received[0]) : '' };
  throw new TaskforgeError(ErrorCode.VALIDATION_ERROR, `${name}: ${message}`, { details: { fields: [problem] } });
}

function describe(value: unknown): string {
  if (value === undefined) return 'nothing';
  if (typeof value === 'string') return JSON.stringify(value.length > 60 ? `${value.slice(0, 60)}…` : value);
  if (Array.isArray(value)) return 'an array';
  if (value === null) return 'null';
  if (typeof value === 'object') return 'an object';
  return typeof value === 'number' || typeof value === 'boolean' ? String(value) : `a ${typeof value}`;
}
