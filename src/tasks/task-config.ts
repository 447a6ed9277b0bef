import { z } from 'zod';
import { TASK_TYPE_PATTERN } from './task-type.js';
import { controlCharacterIn } from '../core/control-characters.js';

/** Options every task type understands, under `metadata.options`. */
export const attemptOptionsSchema = z.object({
  /** Milliseconds one attempt may run before it is aborted with TIMEOUT; 0 or absent: no limit. */
  timeout: z.int().min(0).max(2_147_483_647).optional(),
  /** Extra attempts after a transient failure (0 to 100). Default 0. */
  retries: z.int().min(0).max(100).optional(),
});

/** A task id: 1 to 256 characters, no control character (it is printed in terminals and logs). */
const taskIdSchema = z
  .string()
  .min(1)
  .max(256)
  .refine((id) => controlCharacterIn(id) === undefined, 'expected no control characters, which would reach terminals and logs as they are');

/**
 * The config every task has. Unknown top-level fields are refused, so a typo
 * such as `priorty` is an error rather than a silently ignored field.
 */
export const taskConfigSchema = z.strictObject({
  /** Unique id; generated when absent. */
  id: taskIdSchema.optional(),
  /** The task type: `'storage'` or a registered custom type. */
  type: z.string().regex(TASK_TYPE_PATTERN, 'expected a lowercase type name such as "storage"'),
  /** Larger runs first; equal priorities run in submission order. Default 0. */
  priority: z.number().refine(Number.isFinite, 'expected a finite number').optional(),
  /** Ids of tasks that must complete before this one runs (read by the orchestrator). */
  dependsOn: z.array(taskIdSchema).max(10_000).optional(),
  /**
   * Type-specific settings. Every type may set `options.timeout` and
   * `options.retries`; the rest is the type's own to define and check.
   */
  metadata: z.looseObject({ options: attemptOptionsSchema.loose().optional() }).optional(),
});

/** The config of any task, as written by a user. */
export type TaskConfig = z.input<typeof taskConfigSchema>;

/** `metadata.options` as far as the lifecycle reads it. */
export type AttemptOptions = z.output<typeof attemptOptionsSchema>;

/** A config after validation against {@link taskConfigSchema}. */
export type ValidTaskConfig = z.output<typeof taskConfigSchema>;

/** The lifecycle options (timeout, retries) of a validated config. */
export function attemptOptionsOf(config: ValidTaskConfig): AttemptOptions {
  const options = config.metadata?.options;
  if (options === undefined) return {};
  const { timeout, retries } = options;
  return { ...(timeout === undefined ? {} : { timeout }), ...(retries === undefined ? {} : { retries }) };
}

/**
 * `config` with `id` set, as a new object. The id is written first where the
 * config has no `id` key: V8 copies `{ id, ...config }` in tens of ns, and
 * `{ ...config, id }` takes a slow path of near a microsecond (and makes an
 * object every later read of it is slow on).
 */
export function withId<T extends object>(config: T, id: string): T & { readonly id: string } {
  return 'id' in config ? { ...config, id } : { id, ...config };
}
