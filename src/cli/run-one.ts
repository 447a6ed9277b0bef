import { ErrorCode } from '../core/errors.js';
import type { StorageBackend } from '../storage/backend.js';
import type { StorageResultData, StorageTaskConfigFor } from '../tasks/storage-result.js';
import type { ReadForm, StorageOperation } from '../tasks/storage-task-config.js';
import { StorageTask } from '../tasks/storage-task.js';
import type { TaskResult } from '../tasks/task-result.js';
import { printJson, type CliStreams } from './cli-context.js';
import type { ExitCode } from './exit-codes.js';
import { exitCodeOf } from './exit-codes.js';
import type { Interruption } from './interruption.js';
import { TransferBar } from './progress.js';
import { inCliWords } from './cli-words.js';

/** What runOne gives back: the result, the exit code, and whether Ctrl-C or SIGTERM stopped the task. */
export interface RanOne<TData> {
  readonly result: TaskResult<TData>;
  readonly exitCode: ExitCode;
  /** The task ended CANCELLED because the command was interrupted; nothing was reported yet. */
  readonly interrupted: boolean;
}

/** How runOne runs its task. */
export interface RunOneOptions {
  /** Ctrl-C or SIGTERM: cancels the task. */
  readonly interruption?: Interruption;
  /** The size of what is written, when the command knows it and the task cannot (a file given as a stream). */
  readonly totalBytes?: number;
  /** --json: a failure is also a JSON line on stdout, `{ path, error: { code, message } }`. */
  readonly json?: boolean;
}

/**
 * Runs one StorageTask for a command, with a progress bar on a terminal;
 * reports a failure on stderr. An interruption cancels the task, which
 * removes what it had begun (the caller says what was kept).
 */
export async function runOne<TOperation extends StorageOperation, TForm extends ReadForm | undefined = undefined>(
  config: StorageTaskConfigFor<TOperation, TForm>,
  backend: StorageBackend,
  streams: CliStreams,
  label: string,
  options: RunOneOptions = {},
): Promise<RanOne<StorageResultData<TOperation, TForm>>> {
  const { interruption, totalBytes } = options;
  const task = new StorageTask(config, { backend });
  const bar = streams.stderr.isTTY === true ? new TransferBar(streams.stderr, label) : undefined;
  if (bar !== undefined) task.on('progress', (event) => { bar.update(event.bytesDone, event.bytesTotal ?? totalBytes); });
  const cancel = (): void => {
    // A task that ended meanwhile cannot be cancelled (INVALID_STATE): its result stands.
    task.cancel(interruption?.by === undefined ? undefined : `interrupted by ${interruption.by}`).catch(() => undefined);
  };
  if (interruption?.signal.aborted === true) cancel();
  interruption?.signal.addEventListener('abort', cancel, { once: true });
  let result: TaskResult<StorageResultData<TOperation, TForm>>;
  try {
    result = await task.execute();
  } finally {
    interruption?.signal.removeEventListener('abort', cancel);
    bar?.clear();
  }
  const interrupted = interruption?.signal.aborted === true && result.error?.code === ErrorCode.CANCELLED;
  if (!result.success && !interrupted) {
    reportFailure(streams, result);
    if (options.json === true) printJson(streams, { path: config.metadata.path, error: { code: result.error.code, message: result.error.message } });
  }
  return { result, exitCode: exitCodeOf(result), interrupted };
}

/** `taskforge: CODE: message` on stderr, in the command line's words. */
function reportFailure(streams: CliStreams, result: TaskResult): void {
  const error = result.error;
  streams.stderr.write(`taskforge: ${error?.code ?? 'FAILED'}: ${inCliWords(error?.message ?? 'the command failed')}\n`);
}
