import { randomBytes } from 'node:crypto';
import { ErrorCode } from '../../core/errors.js';
import { Orchestrator } from '../../orchestrator/orchestrator.js';
import type { TaskResult } from '../../tasks/task-result.js';
import { defaultKeyring } from '../../storage/codec/default-keyring.js';
import { backendFor, printJson, type CliStreams, type CommonOptions } from '../cli-context.js';
import { chooseQueue, openCliQueue, WaitEnded, type QueueChoice } from '../cli-queue.js';
import type { TaskQueue } from '../../orchestrator/task-queue.js';
import { tellConnectionChanges } from '../connection-lines.js';
import { watchFellowWorkers } from '../fellow-workers.js';
import { ExitCode, UsageError } from '../exit-codes.js';
import { loadTaskModule } from '../task-module.js';
import { plural } from '../cli-words.js';
import { runUntilStopped } from '../stop-signal.js';

/** The signals that stop a worker (while it waits for its Redis too). */
const STOP_SIGNALS = ['SIGINT', 'SIGTERM'] as const;

/** Options of `taskforge worker`. */
export interface WorkerCommandOptions extends CommonOptions {
  readonly queue: string;
  readonly concurrency: number;
  /** How long running tasks may finish after SIGTERM before they go back to the queue. */
  readonly shutdownTimeout: number;
  /** How long a running task's lock lasts (renewed at half that): a dead worker's tasks come back after it. */
  readonly lockDuration: number;
  /** A module whose default export maps custom task type names to task classes. */
  readonly tasks?: string;
}

/**
 * Runs storage tasks, and the custom types of --tasks, from a Redis queue
 * until SIGTERM or SIGINT, then lets the running ones finish (for up to
 * --shutdown-timeout ms; the rest go back to the queue for another worker)
 * and exits 0. With --json, one line per task this worker ended on stdout;
 * without, a line per failed task on stderr. Either way it says at its stop
 * how many tasks it ended.
 */
export async function workerCommand(options: WorkerCommandOptions, streams: CliStreams): Promise<ExitCode> {
  const choice = chooseQueue(options.queue);
  if (choice.redis === undefined) throw new UsageError(`--queue: a worker takes tasks from a Redis queue (got '${options.queue}'); 'taskforge run' runs a batch in this process`);
  const backend = backendFor(options, streams.env);
  const taskTypes = options.tasks === undefined ? {} : await loadTaskModule(options.tasks, process.cwd());
  // A worker may start before its Redis (machines boot in any order): it waits for it, saying so once.
  const waitForServer = (reason: string): void => {
    streams.stderr.write(`taskforge worker: ${reason}; waiting for it (SIGTERM or Ctrl-C stops)\n`);
  };
  const queue = await openWaiting(choice, options, waitForServer, streams);
  if (queue === undefined) return ExitCode.OK;
  // A worker is an orchestrator with nothing to submit: it runs what others queue.
  const orchestrator = new Orchestrator({ concurrency: options.concurrency, queue, context: { backend }, taskTypes });
  // One id for this worker, in its lines and its logs alike: the queue's consumer's.
  const consumerId = (queue as { readonly workerId?: string }).workerId;
  const worker = { id: consumerId ?? `w${randomBytes(4).toString('hex')}`, orchestrator };
  // With --json a line per task on stdout; without, each failure on stderr (an operator must see those; a line per success would drown them).
  const ended = { completed: 0, failed: 0 };
  // A task the stop's timeout cuts off ends CANCELLED here but goes back to the queue, to run elsewhere: not an end
  // of this worker's to tell or count. Held until the stop says which were cut off (a cancel asked meanwhile is one).
  const stopping = { now: false, cancelled: new Map<string, TaskResult>() };
  const told = (result: TaskResult): void => {
    if (stopping.now && result.error?.code === ErrorCode.CANCELLED) {
      stopping.cancelled.set(result.id, result);
      return;
    }
    if (result.status === 'completed') ended.completed += 1;
    else ended.failed += 1;
    if (options.json === true) {
      printJson(streams, { id: result.id, type: result.type, status: result.status, attempts: result.attempts, durationMs: result.durationMs, worker: worker.id, ...(result.error === undefined ? {} : { error: { code: result.error.code, message: result.error.message } }) });
    } else if (result.error !== undefined) {
      streams.stderr.write(`taskforge worker ${worker.id}: ${result.id} (${result.type}) failed: ${result.error.code}: ${result.error.message}\n`);
    }
  };
  worker.orchestrator.on('complete', told);
  worker.orchestrator.on('error', (event) => {
    told(event.result);
  });
  warnOfUnusableKeyring(streams, `taskforge worker ${worker.id}`);
  streams.stderr.write(`taskforge worker ${worker.id}: running tasks from ${queue.name}, ${String(options.concurrency)} at a time (SIGTERM or Ctrl-C stops)\n`);
  tellConnectionChanges(queue, streams, `taskforge worker ${worker.id}`);
  // (Not awaited: a signal must find the worker's stop in place, whatever Redis does meanwhile.)
  warnIfDeafToCancels(queue, streams, `taskforge worker ${worker.id}`).catch(() => undefined);
  const leaveRoster = watchFellowWorkers(queue, { id: worker.id, backend, types: Object.keys(taskTypes) }, streams, `taskforge worker ${worker.id}`);
  const code = await runUntilStopped(streams, `worker ${worker.id}`, options.shutdownTimeout, async (signal) => {
    streams.stderr.write(`taskforge worker ${worker.id}: ${signal}: finishing ${plural(worker.orchestrator.running, 'running task')} (up to ${String(options.shutdownTimeout)} ms), then stopping\n`);
    // Off the roster while its connection is open (a worker started meanwhile must not warn of this one); it takes no more tasks.
    await leaveRoster();
    stopping.now = true;
    await worker.orchestrator.shutdown({ timeoutMs: options.shutdownTimeout });
    const report = worker.orchestrator.shutdownReport;
    stopping.now = false;
    for (const [id, result] of stopping.cancelled) if (report?.cutOff.includes(id) !== true) told(result);
    return { report, kept: true };
  }, () => worker.orchestrator.running);
  const total = ended.completed + ended.failed;
  streams.stderr.write(`taskforge worker ${worker.id}: stopped: it ended ${total === 0 ? 'no task' : `${plural(total, 'task')} (${String(ended.completed)} completed, ${String(ended.failed)} failed)`}\n`);
  return code;
}

/**
 * A worker runs what others submit, for as long as it lives: a keyring set
 * in its environment that cannot be used (a file missing or not JSON, a
 * short key) would fail every task that encrypts or reads encrypted data,
 * each with the same VALIDATION_ERROR, while the worker looked healthy. Said
 * once at start; the worker still runs the tasks that need no key (as
 * `write` without --encrypt does), and reads the keyring again for each
 * task, so mending the file mends the worker.
 */
function warnOfUnusableKeyring(streams: CliStreams, who: string): void {
  try {
    defaultKeyring();
  } catch (error) {
    const why = error instanceof Error ? error.message : String(error);
    streams.stderr.write(`${who}: warning: ${why}; the tasks that encrypt, or read encrypted objects, fail until it is mended (the others run)\n`);
  }
}

/**
 * The queue, waited for while its Redis does not answer; undefined when
 * SIGTERM or Ctrl-C came first: the worker held nothing, and stops as a
 * worker stopped later does (says so, exit 0), not by the signal's default.
 */
async function openWaiting(choice: QueueChoice, options: WorkerCommandOptions, waitForServer: (reason: string) => void, streams: CliStreams): Promise<TaskQueue | undefined> {
  const stop = new AbortController();
  let by: string | undefined;
  const onSignal = (name: NodeJS.Signals): void => {
    by = name;
    stop.abort();
  };
  for (const name of STOP_SIGNALS) process.once(name, onSignal);
  let queue: TaskQueue;
  try {
    queue = await openCliQueue(choice, { lockDurationMs: options.lockDuration, waitForServer, signal: stop.signal });
  } catch (error) {
    if (!(error instanceof WaitEnded)) throw error;
    streams.stderr.write(`taskforge worker: ${by ?? 'a signal'}: stopped while waiting for Redis (it had taken no task)\n`);
    return undefined;
  } finally {
    for (const name of STOP_SIGNALS) process.off(name, onSignal);
  }
  // (A signal during the last try, which then connected: the worker stops before it takes anything.)
  if (stop.signal.aborted) {
    await queue.close();
    streams.stderr.write(`taskforge worker: ${by ?? 'a signal'}: stopped before taking a task\n`);
    return undefined;
  }
  return queue;
}

/** A worker that Redis refuses the cancel channel would run every cancelled task to its end: said once at start. */
async function warnIfDeafToCancels(queue: TaskQueue, streams: CliStreams, who: string): Promise<void> {
  const { cancelsRefused } = queue as { cancelsRefused?: () => Promise<string | undefined> };
  if (typeof cancelsRefused !== 'function') return;
  const why = await cancelsRefused.call(queue).catch(() => undefined);
  if (why === undefined) return;
  streams.stderr.write(`${who}: warning: this worker cannot hear cancellations (${why}): a cancelled task it runs goes on to its end; give the URL's user the queue's channels (ACL: &taskforge:NAME:*)\n`);
}
