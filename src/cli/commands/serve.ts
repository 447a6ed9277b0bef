import { isTaskforgeError } from '../../core/errors.js';
import { RedisOrchestrator } from '../../distributed/redis-orchestrator.js';
import { OrchestratorMetrics } from '../../orchestrator/metrics.js';
import { Orchestrator } from '../../orchestrator/orchestrator.js';
import { MemoryQueue } from '../../orchestrator/queues/memory-queue.js';
import { SqliteQueue } from '../../orchestrator/queues/sqlite-queue.js';
import type { TaskQueue } from '../../orchestrator/task-queue.js';
import type { TaskforgeServer } from '../../server/create-server.js';
import { loadServerPackages, startServer } from '../../server/start-server.js';
import type { ServedOrchestrator } from '../../server/served.js';
import { backendFor, type CliStreams, type CommonOptions } from '../cli-context.js';
import { ExitCode, UsageError } from '../exit-codes.js';
import { redisLocation } from './run.js';

/** Options of `taskforge serve`. */
export interface ServeCommandOptions extends CommonOptions {
  readonly port: number;
  readonly host: string;
  readonly queue: string;
  readonly concurrency: number;
  readonly shutdownTimeout: number;
}

type Served = ServedOrchestrator & { shutdown(options?: { timeoutMs?: number }): Promise<void> };

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
  const metrics = new OrchestratorMetrics();
  const orchestrator = await orchestratorFor(options, backend, metrics);
  let server: TaskforgeServer;
  try {
    server = await startServer({
      orchestrator,
      storage: { backend },
      metrics,
      // A Redis client does not run (or count) tasks: the server counts them from the queue's events.
      metricsFromEvents: orchestrator instanceof RedisOrchestrator,
      host: options.host,
      port: options.port,
      ...(token === undefined || token === '' ? {} : { token }),
    });
  } catch (error) {
    await orchestrator.shutdown({ timeoutMs: 0 });
    if (isTaskforgeError(error)) throw new UsageError(error.message);
    if ((error as NodeJS.ErrnoException).code === 'EADDRINUSE') throw new UsageError(`--port ${String(options.port)}: already in use on ${options.host}`);
    throw error;
  }
  streams.stderr.write(`taskforge serve: ${server.url} (${token === undefined || token === '' ? 'no token: loopback only' : 'bearer token required'}), storage ${backend.name}, queue ${options.queue}; SIGTERM or Ctrl-C stops\n`);
  const signal = await new Promise<string>((resolve) => {
    process.once('SIGTERM', () => {
      resolve('SIGTERM');
    });
    process.once('SIGINT', () => {
      resolve('SIGINT');
    });
  });
  streams.stderr.write(`taskforge serve: ${signal}: stopping (running tasks get up to ${String(options.shutdownTimeout)} ms)\n`);
  await server.close();
  await orchestrator.shutdown({ timeoutMs: options.shutdownTimeout });
  streams.stderr.write('taskforge serve: stopped\n');
  return ExitCode.OK;
}

async function orchestratorFor(options: ServeCommandOptions, backend: ReturnType<typeof backendFor>, metrics: OrchestratorMetrics): Promise<Served> {
  if (options.queue.startsWith('redis://') || options.queue.startsWith('rediss://')) {
    const location = redisLocation(options.queue);
    try {
      // allEvents: the dashboard shows every task of the queue, whoever submitted it.
      return await RedisOrchestrator.connect({ url: location.url, name: location.name, connectTimeoutMs: 5000, allEvents: true });
    } catch (error) {
      if (isTaskforgeError(error)) throw new UsageError(`--queue: ${error.message}`);
      throw error;
    }
  }
  return new Orchestrator({ concurrency: options.concurrency, queue: localQueue(options.queue), metrics, context: { backend } });
}

function localQueue(queue: string): TaskQueue {
  if (queue === 'memory') return new MemoryQueue();
  if (queue.startsWith('sqlite:') && queue.length > 'sqlite:'.length) {
    try {
      return new SqliteQueue(queue.slice('sqlite:'.length));
    } catch (error) {
      if (isTaskforgeError(error)) throw new UsageError(`--queue: ${error.message}`);
      throw error;
    }
  }
  throw new UsageError(`--queue: expected 'memory', 'sqlite:FILE' or 'redis://HOST:PORT' (got '${queue}')`);
}
