import { StorageTask } from '../tasks/storage-task.js';
import type { StorageTaskConfig } from '../tasks/storage-task-config.js';
import type { TaskResult } from '../tasks/task-result.js';
import { ErrorCode, isTaskforgeError } from '../core/errors.js';
import { newTaskId } from '../core/ids.js';
import type { RouteDeps } from './served.js';

/**
 * Runs one storage task in this process for an object route (its bytes
 * stream through the request or the response, so it cannot go through a
 * queue), visible like any other: its row in the table, its events on
 * /events, its counts in /metrics.
 */
export async function runLocalStorageTask(deps: RouteDeps, metadata: StorageTaskConfig['metadata'], signal: AbortSignal): Promise<TaskResult> {
  const id = newTaskId();
  const task = new StorageTask({ id, type: 'storage', metadata }, { ...deps.storage, logger: deps.logger });
  const { feed, metrics } = deps;
  // Its detail shows what it did; its bytes went through this request, so it cannot be retried.
  deps.configs.keepStreamed({ id, type: 'storage', metadata });
  feed.record('submit', { id, type: 'storage', priority: 0, operation: metadata.operation, path: metadata.path });
  metrics.submitted('storage');
  task.on('start', (event) => {
    metrics.started('storage');
    feed.record('start', event);
  });
  task.on('retry', (event) => {
    feed.record('retry', event);
  });
  task.on('progress', (event) => {
    feed.record('progress', event);
  });
  // A client that goes away mid-transfer cancels the task: nothing is left half-written.
  const onAbort = (): void => {
    task.cancel('the HTTP client went away').catch((error: unknown) => {
      // The task may have ended between the client leaving and this call (INVALID_STATE): nothing is left to stop then.
      if (isTaskforgeError(error) && error.code === ErrorCode.INVALID_STATE) return;
      deps.logger.warn({ id, err: error instanceof Error ? error.message : String(error) }, 'could not cancel an object task whose client went away');
    });
  };
  signal.addEventListener('abort', onAbort, { once: true });
  try {
    const result = await task.execute();
    metrics.finished(result);
    if (result.error === undefined) feed.record('complete', result);
    else feed.record('error', { id, type: 'storage', error: result.error, result });
    return result;
  } finally {
    signal.removeEventListener('abort', onAbort);
  }
}
