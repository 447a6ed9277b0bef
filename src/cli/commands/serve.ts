import { createServer as createNetServer } from 'node:net';
import { isTaskforgeError } from '../../core/errors.js';
import { OrchestratorMetrics } from '../../orchestrator/metrics.js';
import { Orchestrator, type AnyOrchestrator } from '../../orchestrator/orchestrator.js';
import type { TaskforgeServer } from '../../server/create-server.js';
import { loadServerPackages, startServer } from '../../server/start-server.js';
import { backendFor, type CliStreams, type CommonOptions } from '../cli-context.js';
import { chooseQueue, openCliQueue } from '../cli-queue.js';
import { tellConnectionChanges } from '../connection-lines.js';
import { watchQueueWorkers } from '../fellow-workers.js';
import type { ExitCode } from '../exit-codes.js';
import { UsageError } from '../exit-codes.js';
import { loadTaskModule, type TaskTypes } from '../task-module.js';
import { runUntilStopped } from '../stop-signal.js';
import { plural } from '../cli-words.js';

/** Options of `taskforge serve`. */
export interface ServeCommandOptions extends CommonOptions {
  readonly port: number;
  readonly host: string;
  readonly queue: string;
  readonly concurrency: number;
  readonly shutdownTimeout: number;
  /** Tasks taken and not ended the server holds at most (POST /tasks past it: 503 BACKLOG_FULL). */
  readonly maxBacklog: number;
  /** Bytes of the requests those tasks came in, at most. */
  readonly maxBacklogBytes: number;
  /** A module whose default export maps custom task type names to task classes. */
  readonly tasks?: string;
}

/**
 * Runs the HTTP API over an orchestrator until SIGTERM or Ctrl-C: in this
 * process on the memory or a SQLite queue, or as a client of a Redis queue
 * whose workers run the tasks. Then stops listening, lets running tasks
 * finish (up to --shutdown-timeout) and exits 0.
 */
export async function serveCommand(options: ServeCommandOptions, streams: CliStreams): Promise<ExitCode> {
  await loadServerPackages();
  const backend = backendFor(options, streams.env);
  const token = streams.env['TASKFORGE_TOKEN'];
  // The server is the process: its CPU, memory and event-loop delay belong in its /metrics.
  const metrics = new OrchestratorMetrics({ process: true });
  const taskTypes = options.tasks === undefined ? {} : await loadTaskModule(options.tasks, process.cwd());
  const orchestrator = await orchestratorFor(options, backend, metrics, taskTypes, streams);
  let server: TaskforgeServer;
  try {
    server = await startServer({
      orchestrator,
      storage: { backend },
      metrics,
      // On Redis this process runs (and counts) no task: the server counts them from the queue's events.
      metricsFromEvents: orchestrator.concurrency === 0,
      host: options.host,
      port: options.port,
      maxBacklog: options.maxBacklog,
      maxBacklogBytes: options.maxBacklogBytes,
      ...(token === undefined || token === '' ? {} : { token }),
    });
  } catch (error) {
    await orchestrator.shutdown({ timeoutMs: 0 });
    if (isTaskforgeError(error)) {
      // Refused for want of a token: a host that cannot be listened on at all is the first thing to fix.
      if (error.details?.['field'] === 'host') throw (await hostProblem(options)) ?? new UsageError(error.message);
      throw new UsageError(error.message);
    }
    throw listenProblem(error, options) ?? error;
  }
  streams.stderr.write(`taskforge serve: ${server.url} (${token === undefined || token === '' ? 'no token: loopback only' : 'bearer token required'}), storage ${backend.name}, queue ${options.queue}; SIGTERM or Ctrl-C stops\n`);
  const code = await runUntilStopped(streams, 'serve', options.shutdownTimeout, async (signal) => {
    streams.stderr.write(`taskforge serve: ${signal}: stopping (running tasks and transfers get up to ${String(options.shutdownTimeout)} ms)\n`);
    // Side by side: an object's transfer in flight and the queue's running tasks share the one timeout.
    const onCut = (connections: number): void => {
      streams.stderr.write(`taskforge serve: ${plural(connections, 'request')} still in flight at the timeout cut (an upload cut stores nothing)\n`);
    };
    await Promise.all([server.close({ timeoutMs: options.shutdownTimeout, onCut }), orchestrator.shutdown({ timeoutMs: options.shutdownTimeout })]);
    return { report: orchestrator.shutdownReport, kept: options.queue !== 'memory' };
  });
  streams.stderr.write('taskforge serve: stopped\n');
  return code;
}

/** What listening on --host (any free port, closed at once) says of it: a usage error when it cannot be listened on, else undefined. */
function hostProblem(options: ServeCommandOptions): Promise<UsageError | undefined> {
  return new Promise((resolve) => {
    const probe = createNetServer();
    probe.once('error', (error) => {
      resolve(listenProblem(error, options));
    });
    probe.listen({ host: options.host, port: 0 }, () => {
      probe.close(() => {
        resolve(undefined);
      });
    });
  });
}

/** What a failed listen says of the options given: a usage error naming the one at fault, or undefined when it is not theirs. */
function listenProblem(error: unknown, options: ServeCommandOptions): UsageError | undefined {
  switch ((error as NodeJS.ErrnoException).code) {
    case 'EADDRINUSE':
      return new UsageError(`--port ${String(options.port)}: already in use on ${options.host}`);
    case 'EACCES':
      return new UsageError(`--port ${String(options.port)}: not allowed to listen on it here (ports under 1024 need privileges)`);
    case 'ENOTFOUND':
    case 'EAI_NONAME':
    case 'EAI_FAIL':
      return new UsageError(`--host ${options.host}: no such host (the name does not resolve)`);
    case 'EADDRNOTAVAIL':
      return new UsageError(`--host ${options.host}: not an address of this machine`);
    default:
      return undefined;
  }
}

async function orchestratorFor(options: ServeCommandOptions, backend: ReturnType<typeof backendFor>, metrics: OrchestratorMetrics, taskTypes: TaskTypes, streams: CliStreams): Promise<AnyOrchestrator> {
  const choice = chooseQueue(options.queue);
  const queue = await openCliQueue(choice);
  tellConnectionChanges(queue, streams, 'taskforge serve');
  watchQueueWorkers(queue, backend, streams, 'taskforge serve');
  try {
    // On Redis the workers run the tasks; allEvents: the dashboard shows every task of the queue, whoever submitted it.
    if (choice.redis !== undefined) return new Orchestrator({ concurrency: 0, queue, allEvents: true, context: { backend }, taskTypes });
    return new Orchestrator({ concurrency: options.concurrency, queue, metrics, context: { backend }, taskTypes });
  } catch (error) {
    await queue.close();
    throw error;
  }
}
