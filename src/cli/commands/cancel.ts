import { ErrorCode, TaskforgeError } from '../../core/errors.js';
import type { RetainedTaskResult } from '../../tasks/task-result.js';
import { printJson, type CliStreams, type CommonOptions } from '../cli-context.js';
import { ExitCode } from '../exit-codes.js';
import { Orchestrator } from '../../orchestrator/orchestrator.js';
import { chooseQueue, openCliQueue } from '../cli-queue.js';
import { UsageError } from '../exit-codes.js';

/** Options of `taskforge cancel`. */
export interface CancelCommandOptions extends CommonOptions {
  readonly queue: string;
  readonly reason?: string;
}

/**
 * Cancels a task in a Redis queue, wherever it runs, and waits for its end.
 * Exit 0 when it ended cancelled; 1 when it had finished, finished anyway
 * (its work committed first), or is unknown.
 */
export async function cancelCommand(id: string, options: CancelCommandOptions, streams: CliStreams): Promise<ExitCode> {
  if (id.trim() === '') throw new UsageError('<id>: the id of the task to cancel is empty');
  const choice = chooseQueue(options.queue);
  if (choice.redis === undefined) throw new UsageError(`--queue: cancel reaches tasks in a Redis queue (got '${options.queue}'); in one process, Ctrl-C cancels`);
  const orchestrator = new Orchestrator({ concurrency: 0, queue: await openCliQueue(choice) });
  try {
    let result: RetainedTaskResult;
    try {
      result = await orchestrator.cancel(id, options.reason);
    } catch (error) {
      // With --json, a task that had already ended is told as its end, as a cancelled one is (the error still goes to stderr).
      if (options.json === true && error instanceof TaskforgeError && error.code === ErrorCode.INVALID_STATE) {
        const ended = (await orchestrator.get(id))?.result;
        if (ended !== undefined) printJson(streams, ended);
      }
      throw error;
    }
    const cancelled = result.error?.code === 'CANCELLED';
    if (options.json === true) printJson(streams, result);
    // Not cancelled: its end came from its own work, which finished (or committed) before the signal reached it, or does not stop on one.
    else streams.stdout.write(cancelled ? `${id}: cancelled\n` : `${id}: ${result.status}${result.error === undefined ? '' : ` (${result.error.code})`}: the cancellation did not stop it (its work went on to its end)\n`);
    return cancelled ? ExitCode.OK : ExitCode.TASK_FAILED;
  } finally {
    await orchestrator.shutdown();
  }
}
