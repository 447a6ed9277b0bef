import type { StorageBackend } from '../../src/storage/backend.js';
import type { ReadCache } from '../../src/storage/read-cache.js';
import { StorageTask } from '../../src/tasks/storage-task.js';
import type { StorageMetadata } from '../../src/tasks/storage-task-config.js';
import type { TaskResult } from '../../src/tasks/task-result.js';
import { TaskType } from '../../src/tasks/task-type.js';

/** Runs one storage task on `backend` and returns its result. */
export function runStorage(backend: StorageBackend, metadata: StorageMetadata, id?: string, context: { readonly cache?: ReadCache } = {}): Promise<TaskResult> {
  return new StorageTask({ ...(id === undefined ? {} : { id }), type: TaskType.STORAGE, metadata }, { backend, ...context }).execute();
}

/** Runs a storage task that must succeed, and returns its data. */
export async function expectData(backend: StorageBackend, metadata: StorageMetadata, context: { readonly cache?: ReadCache } = {}): Promise<unknown> {
  const result = await runStorage(backend, metadata, undefined, context);
  if (!result.success) throw new Error(`expected success, got ${result.error.code}: ${result.error.message}`);
  return result.data;
}

/** Runs a storage task that must fail, and returns its error code. */
export async function expectCode(backend: StorageBackend, metadata: StorageMetadata, context: { readonly cache?: ReadCache } = {}): Promise<string> {
  const result = await runStorage(backend, metadata, undefined, context);
  if (result.success) throw new Error(`expected a failure, got success with ${JSON.stringify(result.data)}`);
  return result.error.code;
}
