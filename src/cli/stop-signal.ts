import { STOP_GRACE_MS } from '../orchestrator/task-queue.js';
import type { CliStreams } from './cli-context.js';
import { ExitCode } from './exit-codes.js';
import { Interruption } from './interruption.js';

/** Beyond the running tasks' own time, what closing the queue and the server may take (a Redis that is gone never answers). */
const CLOSE_GRACE_MS = 3000;

/**
 * How a long-running command (`worker`, `serve`) stops: it runs until SIGTERM
 * or Ctrl-C, then `stop` runs with a hard bound: running tasks get
 * `shutdownTimeoutMs`, a task that ignores its cancel STOP_GRACE_MS more,
 * and closing the queue CLOSE_GRACE_MS more. Past that, or at a second
 * signal, the process ends at once with exit 1, saying so: a queue whose
 * server is gone must not hold it for ever (its tasks go back to the queue
 * when their locks lapse).
 */
export async function runUntilStopped(streams: CliStreams, name: string, shutdownTimeoutMs: number, stop: (signal: string) => Promise<void>): Promise<void> {
  const interruption = Interruption.watch(streams);
  await new Promise((resolve) => {
    interruption.signal.addEventListener('abort', resolve, { once: true });
  });
  const limitMs = shutdownTimeoutMs + STOP_GRACE_MS + CLOSE_GRACE_MS;
  const overdue = setTimeout(() => {
    streams.stderr.write(`taskforge ${name}: not stopped after ${String(limitMs)} ms (is the queue's server reachable?); exiting now: tasks it held go back to the queue when their locks lapse\n`);
    process.exit(ExitCode.TASK_FAILED);
  }, limitMs);
  try {
    await stop(interruption.by ?? 'SIGTERM');
  } finally {
    clearTimeout(overdue);
    interruption.stop();
  }
}
