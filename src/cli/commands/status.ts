import { Orchestrator } from '../../orchestrator/orchestrator.js';
import type { TaskQueue } from '../../orchestrator/task-queue.js';
import type { TaskView } from '../../orchestrator/task-view.js';
import { printJson, type CliStreams, type CommonOptions } from '../cli-context.js';
import { chooseQueue, openCliQueue, unknownTaskMessage } from '../cli-queue.js';
import { ExitCode, UsageError } from '../exit-codes.js';

/** Unfinished tasks read to pick the first --limit of. */
const LOOKED_AT = 10_000;

/** Options of `taskforge status`. */
export interface StatusCommandOptions extends CommonOptions {
  readonly queue: string;
  /** How many unfinished tasks to list (without ids). */
  readonly limit: number;
}

/**
 * Says what a Redis queue holds: with ids, each task's state (its end once
 * it has one); without, how many tasks wait and run, and the unfinished
 * ones (running, then by priority). Exit 1 when a task asked for is not known.
 */
export async function statusCommand(ids: readonly string[], options: StatusCommandOptions, streams: CliStreams): Promise<ExitCode> {
  if (ids.some((id) => id.trim() === '')) throw new UsageError('<id>: a task id is empty');
  const choice = chooseQueue(options.queue);
  if (choice.redis === undefined) throw new UsageError(`--queue: status reads a Redis queue (got '${options.queue}'); a batch run in one process prints its tasks as they end`);
  const queue = await openCliQueue(choice);
  const orchestrator = new Orchestrator({ concurrency: 0, queue });
  try {
    if (ids.length > 0) return await tellTasks(orchestrator, ids, options, streams);
    const counts = await orchestrator.counts();
    // Running first, then by priority, then oldest first: the order they go in (among the first 10,000 the queue gives).
    const unfinished = (await orchestrator.unfinished(Math.max(options.limit, LOOKED_AT)))
      .sort((a, b) => Number(b.status === 'running') - Number(a.status === 'running') || b.priority - a.priority || a.submittedAt.localeCompare(b.submittedAt))
      .slice(0, options.limit);
    if (options.json === true) {
      printJson(streams, { queue: queue.name, ...counts, unfinished });
      return ExitCode.OK;
    }
    const shown = unfinished.length < counts.waiting + counts.running ? `; ${String(unfinished.length)} of them (--limit)` : '';
    streams.stdout.write(`${queue.name}: ${String(counts.waiting)} waiting, ${String(counts.running)} running${shown}\n`);
    for (const task of unfinished) streams.stdout.write(`${line(task)}\n`);
    return ExitCode.OK;
  } finally {
    await orchestrator.shutdown();
  }
}

async function tellTasks(orchestrator: Orchestrator<TaskQueue>, ids: readonly string[], options: StatusCommandOptions, streams: CliStreams): Promise<ExitCode> {
  let unknown = 0;
  for (const id of ids) {
    const task = await orchestrator.get(id);
    if (task === undefined) {
      unknown += 1;
      const message = unknownTaskMessage(id, orchestrator.queueName);
      if (options.json === true) printJson(streams, { id, error: { code: 'NOT_FOUND', message } });
      streams.stderr.write(`taskforge: NOT_FOUND: ${message}\n`);
      continue;
    }
    if (options.json === true) printJson(streams, task);
    else streams.stdout.write(`${line(task)}\n`);
  }
  return unknown > 0 ? ExitCode.TASK_FAILED : ExitCode.OK;
}

/** One task in a line: id, status, type, priority, attempts, when it was submitted, and how it failed. */
function line(task: TaskView): string {
  const error = task.result?.error;
  const ended = task.result === undefined ? '' : `  ${String(task.result.durationMs)} ms`;
  return `${task.id}  ${task.status}  ${task.type}  priority ${String(task.priority)}  attempts ${String(task.attempts)}  submitted ${task.submittedAt}${ended}${error === undefined ? '' : `  ${error.code}: ${error.message}`}`;
}
