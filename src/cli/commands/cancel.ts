import { ErrorCode, TaskforgeError } from '../../core/errors.js';
import type { RetainedTaskResult } from '../../tasks/task-result.js';
import { printJson, type CliStreams, type CommonOptions } from '../cli-context.js';
import { ExitCode } from '../exit-codes.js';
import { Orchestrator } from '../../orchestrator/orchestrator.js';
import { chooseQueue, openCliQueue, unknownTaskMessage } from '../cli-queue.js';
import { UsageError } from '../exit-codes.js';

/** How long a cancel waits for the task's end before it says that it waits (the HTTP cancel answers 202 then). */
const CANCEL_WAIT_TOLD_MS = 5000;

/** Options of `taskforge cancel`. */
export interface CancelCommandOptions extends CommonOptions {
  readonly queue: string;
  readonly reason?: string;
}

/**
 * Cancels a task in a Redis queue, wherever it runs, and waits for its end.
 * Exit 0 when it ended cancelled (by this command or an earlier cancel); 1
 * when it had finished otherwise, finished anyway (its work committed
 * first), or is unknown; 2 when Redis refused the request (nothing done).
 */
export async function cancelCommand(id: string, options: CancelCommandOptions, streams: CliStreams): Promise<ExitCode> {
  if (id.trim() === '') throw new UsageError('<id>: the id of the task to cancel is empty');
  const choice = chooseQueue(options.queue);
  if (choice.redis === undefined) throw new UsageError(`--queue: cancel reaches tasks in a Redis queue (got '${options.queue}'); in one process, Ctrl-C cancels`);
  const queue = await openCliQueue(choice);
  const orchestrator = new Orchestrator({ concurrency: 0, queue });
  // A task whose worker died ends only once another worker takes it over: the wait is told, not silent.
  const waiting = setTimeout(() => {
    streams.stderr.write(
      `taskforge cancel: '${id}' is asked to stop; waiting for its end (the worker running it stops it; if that worker died, the task ends when another takes it over, once its lock lapses). Ctrl-C stops the waiting: the cancel stays asked.\n`,
    );
  }, CANCEL_WAIT_TOLD_MS);
  try {
    let result: RetainedTaskResult;
    let already = false;
    try {
      result = await orchestrator.cancel(id, options.reason);
    } catch (error) {
      if (!(error instanceof TaskforgeError)) throw error;
      // Refused by Redis (the URL's user lacks the queue's channels): nothing was done, as a queue refused at open (exit 2).
      if (error.code === ErrorCode.PERMISSION_DENIED) throw new UsageError(`--queue: ${error.message}`, { cause: error });
      if (error.code === ErrorCode.NOT_FOUND) {
        const message = unknownTaskMessage(id, queue.name);
        // With --json, named by its id as `status` names one (a script may cancel many).
        if (options.json === true) {
          printJson(streams, { id, error: { code: ErrorCode.NOT_FOUND, message } });
          streams.stderr.write(`taskforge: ${ErrorCode.NOT_FOUND}: ${message}\n`);
          return ExitCode.TASK_FAILED;
        }
        throw new TaskforgeError(ErrorCode.NOT_FOUND, message, { details: { taskId: id } });
      }
      const ended = error.code === ErrorCode.INVALID_STATE ? (await orchestrator.get(id))?.result : undefined;
      // Cancelled before: what was asked holds, so the same command twice succeeds twice (a script may retry it).
      if (ended?.error?.code !== ErrorCode.CANCELLED) {
        // With --json, a task that had already ended is told as its end, as a cancelled one is (the refusal goes to stderr): that line, not an error line too.
        if (options.json === true && ended !== undefined) {
          printJson(streams, ended);
          streams.stderr.write(`taskforge: ${error.code}: ${error.message}\n`);
          return ExitCode.TASK_FAILED;
        }
        throw error;
      }
      result = ended;
      already = true;
    }
    const cancelled = result.error?.code === ErrorCode.CANCELLED;
    if (options.json === true) printJson(streams, result);
    else if (cancelled) streams.stdout.write(already ? `${id}: already cancelled\n` : `${id}: cancelled\n`);
    // Not cancelled: its end came from its own work, which finished (or committed) before the signal reached it, or does not stop on one.
    else streams.stdout.write(`${id}: ${result.status}${result.error === undefined ? '' : ` (${result.error.code})`}: the cancellation did not stop it (its work went on to its end)\n`);
    return cancelled ? ExitCode.OK : ExitCode.TASK_FAILED;
  } finally {
    clearTimeout(waiting);
    await orchestrator.shutdown();
  }
}
