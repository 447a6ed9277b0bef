import type { StorageBackend } from '../storage/backend.js';
import type { StorageResultData, StorageTaskConfigFor } from '../tasks/storage-result.js';
import type { ReadForm, StorageOperation } from '../tasks/storage-task-config.js';
import { StorageTask } from '../tasks/storage-task.js';
import type { TaskResult } from '../tasks/task-result.js';
import type { CliStreams } from './cli-context.js';
import type { ExitCode} from './exit-codes.js';
import { exitCodeOf } from './exit-codes.js';
import { TransferBar } from './progress.js';

/** Runs one StorageTask for a command, with a progress bar on a terminal; reports a failure on stderr. */
export async function runOne<TOperation extends StorageOperation, TForm extends ReadForm | undefined = undefined>(
  config: StorageTaskConfigFor<TOperation, TForm>,
  backend: StorageBackend,
  streams: CliStreams,
  label: string,
): Promise<{ result: TaskResult<StorageResultData<TOperation, TForm>>; exitCode: ExitCode }> {
  const task = new StorageTask(config, { backend });
  const bar = streams.stderr.isTTY === true ? new TransferBar(streams.stderr, label) : undefined;
  if (bar !== undefined) task.on('progress', (event) => { bar.update(event.bytesDone, event.bytesTotal); });
  const result = await task.execute();
  bar?.clear();
  const exitCode = exitCodeOf(result);
  if (!result.success) reportFailure(streams, result);
  return { result, exitCode };
}

/** `taskforge: CODE: message` on stderr. */
export function reportFailure(streams: CliStreams, result: TaskResult): void {
  const error = result.error;
  streams.stderr.write(`taskforge: ${error?.code ?? 'FAILED'}: ${error?.message ?? `task '${result.id}' failed`}\n`);
}
