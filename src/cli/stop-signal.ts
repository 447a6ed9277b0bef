import type { ShutdownReport } from '../orchestrator/orchestrator-options.js';
import { STOP_GRACE_MS } from '../orchestrator/task-queue.js';
import type { CliStreams } from './cli-context.js';
import { ExitCode } from './exit-codes.js';
import { listed, plural } from './cli-words.js';
import { Interruption } from './interruption.js';

/** Beyond the running tasks' own time, what closing the queue and the server may take (a Redis that is gone never answers). */
const CLOSE_GRACE_MS = 3000;
/** How long the process may stay once stopped, held by what it could not close, before it exits with the command's code. */
const LINGER_MS = 2000;

/**
 * How a long-running command (`worker`, `serve`) stops: it runs until SIGTERM
 * or Ctrl-C, then `stop` runs with a hard bound: running tasks get
 * `shutdownTimeoutMs`, a task that ignores its cancel STOP_GRACE_MS more,
 * and closing the queue CLOSE_GRACE_MS more. Past that, at a second signal,
 * or when a task was given up (its work would hold the process until it
 * ends), the process ends at once with exit 1, saying so: a queue whose
 * server is gone must not hold it for ever (its tasks go back to the queue
 * when their locks lapse). Otherwise a line says what the stop cut off and
 * left waiting, and the command's code is returned: 1 when ends of tasks
 * that ran here could not be recorded (they run again). `holding` says how
 * many tasks the process still runs (the line past the bound names them only
 * when there are some).
 */
export async function runUntilStopped(streams: CliStreams, name: string, shutdownTimeoutMs: number, stop: (signal: string) => Promise<StopOutcome>, holding: () => number = () => 0): Promise<ExitCode> {
  const interruption = Interruption.watch(streams);
  await new Promise((resolve) => {
    interruption.signal.addEventListener('abort', resolve, { once: true });
  });
  const limitMs = shutdownTimeoutMs + STOP_GRACE_MS + CLOSE_GRACE_MS;
  const overdue = setTimeout(() => {
    const held = holding();
    // (Only what it still runs: nothing is said of tasks it did not hold.)
    const what = held === 0 ? '' : held === 1 ? ': the task it ran goes back to the queue when its lock lapses' : `: the ${String(held)} tasks it ran go back to the queue when their locks lapse`;
    streams.stderr.write(`taskforge ${name}: not stopped after ${String(limitMs)} ms (is the queue's server reachable?); exiting now${what}\n`);
    process.exit(ExitCode.TASK_FAILED);
  }, limitMs);
  let outcome: StopOutcome;
  try {
    outcome = await stop(interruption.by ?? 'SIGTERM');
  } finally {
    clearTimeout(overdue);
  }
  // The signal handlers stay: a signal while the process ends (a connection still closing) ends it at once with
  // exit 1, saying so, rather than killing it by the signal.
  exitOnceReturned(LINGER_MS);
  const { report, kept } = outcome;
  if (report === undefined) return ExitCode.OK;
  const parts = [
    ...(report.cutOff.length > 0 ? [`${plural(report.cutOff.length, 'running task')} cut off at the timeout ${kept ? '(kept in the queue: run again)' : '(cancelled)'}`] : []),
    ...(report.waiting > 0 ? [`${plural(report.waiting, 'waiting task')} ${kept ? 'kept in the queue' : 'cancelled'}`] : []),
  ];
  if (parts.length > 0) streams.stderr.write(`taskforge ${name}: ${parts.join('; ')}\n`);
  const unrecorded = report.unrecorded ?? [];
  if (unrecorded.length > 0) {
    const them = unrecorded.length === 1 ? 'it runs' : 'they run';
    streams.stderr.write(`taskforge ${name}: the ${unrecorded.length === 1 ? 'end' : 'ends'} of ${plural(unrecorded.length, 'task')} that ran here could not be recorded (${listed(unrecorded)}): the queue's server is unreachable; ${them} again once it is back and ${unrecorded.length === 1 ? 'its lock lapses' : 'their locks lapse'}\n`);
  }
  if (report.abandoned.length > 0) {
    streams.stderr.write(`taskforge ${name}: ${plural(report.abandoned.length, 'task')} ignored ${report.abandoned.length === 1 ? 'its' : 'their'} cancellation for ${String(STOP_GRACE_MS)} ms and ${report.abandoned.length === 1 ? 'was' : 'were'} given up (${listed(report.abandoned)}); exiting now${kept ? ': the queue runs them again' : ''}\n`);
    process.exit(ExitCode.TASK_FAILED);
  }
  return unrecorded.length > 0 ? ExitCode.TASK_FAILED : ExitCode.OK;
}

/**
 * Whatever still holds the process `delayMs` after the command has returned
 * (work a stop gave up on, a client reconnecting to a server that is gone)
 * is not waited for: the process exits with the command's code. (Output is
 * written by then: stdout and stderr are synchronous on files, pipes and
 * terminals on Linux.)
 */
export function exitOnceReturned(delayMs: number): void {
  setTimeout(() => process.exit(), delayMs).unref();
}

/** What a stop did, and whether the queue keeps what it cut off or left waiting (a durable or shared queue). */
export interface StopOutcome {
  /** The orchestrator's shutdownReport (undefined: nothing to say). */
  readonly report: ShutdownReport | undefined;
  readonly kept: boolean;
}

