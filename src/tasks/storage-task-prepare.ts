import { ErrorCode, TaskforgeError } from '../core/errors.js';
import { parseOrThrow } from '../core/validation.js';
import { toByteSource, type ByteSource } from '../storage/content.js';
import { decodeCursor } from '../storage/list-pager.js';
import { parseStoragePath, ROOT_PATH } from '../storage/storage-path.js';
import { storageTaskConfigSchema, type ValidStorageTaskConfig } from './storage-task-config.js';

/** A storage config after validation, with its parts made ready once for every attempt. */
export interface PreparedStorageTask {
  readonly config: ValidStorageTaskConfig;
  /** The normalised storage path. */
  readonly path: string;
  /** list: the path the cursor resumes after. */
  readonly after?: string;
  /** write: the data as bytes. */
  readonly source?: ByteSource;
}

/** Options of the spec that this release refuses rather than ignores (they arrive with the data-protection release). */
const UNSUPPORTED_OPTIONS = ['compression', 'encryption', 'cache'] as const;

/**
 * Validates a storage task config before anything touches storage: the
 * schema (VALIDATION_ERROR naming every bad field), the path
 * (PATH_OUTSIDE_ROOT), options this build cannot honour
 * (UNSUPPORTED_OPTION), the list cursor; and turns write data into bytes once.
 */
export function prepareStorageTask(raw: unknown, taskId: string): PreparedStorageTask {
  const config = parseOrThrow(storageTaskConfigSchema, raw, `storage task '${taskId}'`);
  const { operation, options = {} } = config.metadata;
  for (const option of UNSUPPORTED_OPTIONS) {
    if (options[option] === true) {
      throw new TaskforgeError(
        ErrorCode.UNSUPPORTED_OPTION,
        `storage task '${taskId}': metadata.options.${option} is not available in this version of taskforge; nothing was done`,
        { details: { option } },
      );
    }
  }
  const path = parseStoragePath(config.metadata.path);
  if (operation === 'delete' && path === ROOT_PATH) {
    const field = { field: 'metadata.path', message: 'refusing to delete the storage root', received: `string ${JSON.stringify(config.metadata.path)}` };
    throw new TaskforgeError(ErrorCode.VALIDATION_ERROR, `invalid storage task '${taskId}': ${field.field}: ${field.message} (got ${field.received})`, {
      details: { fields: [field] },
    });
  }
  return {
    config,
    path,
    ...(options.cursor === undefined ? {} : { after: decodeCursor(options.cursor) }),
    ...(operation === 'write' ? { source: toByteSource(config.metadata.data) } : {}),
  };
}
