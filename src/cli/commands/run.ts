import { readFileSync } from 'node:fs';
import { isTaskforgeError } from '../../core/errors.js';
import { Orchestrator } from '../../orchestrator/orchestrator.js';
import { MemoryQueue } from '../../orchestrator/queues/memory-queue.js';
import { SqliteQueue } from '../../orchestrator/queues/sqlite-queue.js';
import type { TaskQueue } from '../../orchestrator/task-queue.js';
import type { TaskConfig } from '../../tasks/task-config.js';
import type { TaskResult } from '../../tasks/task-result.js';
import { TaskType } from '../../tasks/task-type.js';
import { validateTaskConfig } from '../../tasks/validate.js';
import { parseBatch } from '../batch-file.js';
import { backendFor, printJson, type CliStreams, type CommonOptions } from '../cli-context.js';
import { ExitCode, UsageError } from '../exit-codes.js';
import { batchLines, bytesOf, LiveBlock, type BatchCounts, type Transfer } from '../progress.js';
import { summaryTable } from '../summary.js';

/** Options of `taskforge run`. */
export interface RunCommandOptions extends CommonOptions {
  readonly concurrency: number;
  readonly queue: string;
  readonly aging?: number;
}

/** How often the live view redraws. */
const REDRAW_MS = 100;

/** Runs a batch of task configs through the orchestrator; prints each result as it finishes (--json) or a summary. */
export async function runCommand(file: string, options: RunCommandOptions, streams: CliStreams): Promise<ExitCode> {
  const source = file === '-' ? 'stdin' : file;
  const openQueue = queueOpener(options);
  const configs = parseBatch(await readInput(file, streams), source);
  configs.forEach((config, index) => {
    checkConfig(config, index);
  });
  const queue = openQueue();
  let orchestrator: Orchestrator;
  try {
    orchestrator = new Orchestrator({ concurrency: options.concurrency, queue, context: { backend: backendFor(options, streams.env) } });
  } catch (error) {
    queue.close();
    throw error;
  }
  const view = new BatchView(orchestrator, configs as TaskConfig[], options, streams);
  // A durable queue may hold this batch from an interrupted run: what it knows is not submitted again.
  const fresh = (configs as TaskConfig[]).filter((config) => config.id === undefined || orchestrator.get(config.id) === undefined);
  if (fresh.length < configs.length) streams.stderr.write(`taskforge: ${String(configs.length - fresh.length)} tasks are already in ${queue.name}; not submitted again\n`);
  try {
    orchestrator.submitAll(fresh);
  } catch (error) {
    await orchestrator.shutdown({ timeoutMs: 0 });
    if (isTaskforgeError(error)) throw new UsageError(`${source}: ${error.code}: ${error.message}`);
    throw error;
  }
  view.start(orchestrator.waiting);
  const stopOnSignal = (): void => {
    streams.stderr.write('\ntaskforge: interrupted; waiting tasks are cancelled, running ones get 10 s to finish\n');
    void orchestrator.shutdown({ timeoutMs: 10_000 });
  };
  process.once('SIGINT', stopOnSignal);
  try {
    await orchestrator.onIdle();
    await orchestrator.shutdown();
  } finally {
    process.off('SIGINT', stopOnSignal);
    view.stop();
  }
  return view.failed > 0 ? ExitCode.TASK_FAILED : ExitCode.OK;
}

async function readInput(file: string, streams: CliStreams): Promise<string> {
  if (file === '-') {
    const chunks: Buffer[] = [];
    for await (const chunk of streams.stdin) chunks.push(typeof chunk === 'string' ? Buffer.from(chunk) : chunk);
    return Buffer.concat(chunks).toString('utf8');
  }
  try {
    return readFileSync(file, 'utf8');
  } catch (error) {
    const code = (error as NodeJS.ErrnoException).code;
    throw new UsageError(code === 'ENOENT' ? `no such file '${file}'` : `cannot read '${file}': ${error instanceof Error ? error.message : String(error)}`);
  }
}

/** Refuses a config that could never run, before anything runs: the whole batch is checked first. */
function checkConfig(config: unknown, index: number): void {
  const where = `task [${String(index)}]${idSuffix(config)}`;
  if (config === null || typeof config !== 'object' || Array.isArray(config)) throw new UsageError(`${where}: expected a task config object`);
  const type = (config as { type?: unknown }).type;
  if (type !== TaskType.STORAGE) throw new UsageError(`${where}: type: the command line runs 'storage' tasks (got ${type === undefined ? 'nothing' : JSON.stringify(type)})`);
  const checked = validateTaskConfig(config);
  if (!checked.ok) throw new UsageError(`${where}: ${checked.error.code}: ${checked.error.message}`);
}

function idSuffix(config: unknown): string {
  const id = config !== null && typeof config === 'object' ? (config as { id?: unknown }).id : undefined;
  return typeof id === 'string' ? ` (id '${id}')` : '';
}

/** Checks `--queue` at once; the queue itself is opened once the batch is known to be good. */
function queueOpener(options: RunCommandOptions): () => TaskQueue {
  const aging = options.aging === undefined ? {} : { agingMs: options.aging };
  if (options.queue === 'memory') return () => new MemoryQueue(aging);
  if (options.queue.startsWith('sqlite:') && options.queue.length > 'sqlite:'.length) {
    const file = options.queue.slice('sqlite:'.length);
    return () => {
      try {
        return new SqliteQueue(file, aging);
      } catch (error) {
        if (isTaskforgeError(error)) throw new UsageError(`--queue: ${error.message}`);
        throw error;
      }
    };
  }
  throw new UsageError(`--queue: expected 'memory' or 'sqlite:FILE' (got '${options.queue}')`);
}

/** What `run` shows while and after the batch runs. */
class BatchView {
  failed = 0;
  readonly #orchestrator: Orchestrator;
  readonly #options: RunCommandOptions;
  readonly #streams: CliStreams;
  readonly #results: TaskResult[] = [];
  readonly #transfers = new Map<string, Transfer>();
  readonly #started = new Set<string>();
  readonly #meta = new Map<string, { priority: number; operation?: string; path?: string }>();
  readonly #counts: BatchCounts = { total: 0, pending: 0, running: 0, completed: 0, failed: 0, bytes: 0 };
  #live: LiveBlock | undefined;
  #timer: NodeJS.Timeout | undefined;
  #startedAt = 0;

  constructor(orchestrator: Orchestrator, configs: readonly TaskConfig[], options: RunCommandOptions, streams: CliStreams) {
    this.#orchestrator = orchestrator;
    this.#options = options;
    this.#streams = streams;
    for (const config of configs) {
      const metadata = (config.metadata ?? {}) as { operation?: unknown; path?: unknown };
      if (config.id === undefined) continue;
      this.#meta.set(config.id, {
        priority: config.priority ?? 0,
        ...(typeof metadata.operation === 'string' ? { operation: metadata.operation } : {}),
        ...(typeof metadata.path === 'string' ? { path: metadata.path } : {}),
      });
    }
    orchestrator.on('start', (event) => {
      this.#started.add(event.id);
      this.#counts.pending -= 1;
      this.#counts.running += 1;
    });
    orchestrator.on('complete', (result) => {
      this.#finished(result);
    });
    orchestrator.on('error', (event) => {
      this.#finished(event.result);
    });
  }

  start(waiting: number): void {
    this.#startedAt = performance.now();
    this.#counts.pending = waiting;
    this.#counts.total = waiting;
    if (this.#streams.stderr.isTTY !== true) return;
    const live = new LiveBlock(this.#streams.stderr);
    this.#live = live;
    this.#orchestrator.on('progress', (event) => {
      const transfer = this.#transfers.get(event.id);
      if (transfer === undefined) this.#transfers.set(event.id, { id: event.id, done: event.bytesDone, total: event.bytesTotal });
      else transfer.done = event.bytesDone;
    });
    this.#timer = setInterval(() => {
      live.draw(batchLines(this.#counts, [...this.#transfers.values()], performance.now() - this.#startedAt, this.#streams.stderr.columns));
    }, REDRAW_MS);
    this.#timer.unref();
  }

  stop(): void {
    clearInterval(this.#timer);
    this.#live?.clear();
    if (this.#options.json !== true) this.#streams.stdout.write(summaryTable(this.#results, performance.now() - this.#startedAt));
  }

  #finished(result: TaskResult): void {
    this.#results.push(result);
    this.#transfers.delete(result.id);
    if (this.#started.delete(result.id)) this.#counts.running -= 1;
    else this.#counts.pending -= 1;
    if (result.success) this.#counts.completed += 1;
    else {
      this.#counts.failed += 1;
      this.failed += 1;
    }
    this.#counts.bytes += bytesOf(result);
    if (this.#options.json === true) printJson(this.#streams, this.#line(result));
  }

  #line(result: TaskResult): Record<string, unknown> {
    const meta = this.#meta.get(result.id);
    return {
      id: result.id,
      type: result.type,
      ...(meta?.operation === undefined ? {} : { operation: meta.operation }),
      ...(meta?.path === undefined ? {} : { path: meta.path }),
      status: result.status,
      success: result.success,
      attempts: result.attempts,
      priority: meta?.priority ?? this.#orchestrator.get(result.id)?.priority ?? 0,
      startedAt: result.startedAt,
      finishedAt: result.finishedAt,
      durationMs: result.durationMs,
      ...(result.error === undefined ? {} : { error: { code: result.error.code, message: result.error.message } }),
    };
  }
}
