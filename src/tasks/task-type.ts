/**
 * The built-in task types. On the wire a type is its lowercase string, so a
 * JSON config says `"type": "storage"`. Custom task types are their own
 * lowercase strings (see {@link TaskTypeName}).
 */
export const TaskType = {
  STORAGE: 'storage',
} as const;

/** A built-in task type. */
export type BuiltInTaskType = (typeof TaskType)[keyof typeof TaskType];

/** Any task type: a built-in one or a custom lowercase name such as `'http'`. */
export type TaskTypeName = BuiltInTaskType | (string & {});

/** What a custom type name must look like: lowercase, starting with a letter. */
export const TASK_TYPE_PATTERN = /^[a-z][a-z0-9._-]{0,63}$/;
