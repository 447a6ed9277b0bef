import type { TaskConfig } from '../tasks/task-config.js';
import type { TaskResult } from '../tasks/task-result.js';
import type { OrchestratorEvents } from '../orchestrator/orchestrator-events.js';
import type { Listener } from '../core/typed-emitter.js';
import { printJson, type CliStreams, type CommonOptions } from './cli-context.js';
import { batchLines, bytesOf, LiveBlock, type BatchCounts, type Transfer } from './progress.js';
import { summaryTable } from './summary.js';

/** How often the live view redraws. */
const REDRAW_MS = 100;

/** Where a batch's events come from: an Orchestrator, or a RedisOrchestrator. */
export interface BatchEvents {
  on<K extends keyof OrchestratorEvents>(event: K, listener: Listener<OrchestratorEvents, K>): unknown;
}

/** What `run` shows while and after the batch runs. */
export class BatchView {
  failed = 0;
  readonly #orchestrator: BatchEvents;
  readonly #options: CommonOptions;
  readonly #streams: CliStreams;
  readonly #results: TaskResult[] = [];
  readonly #transfers = new Map<string, Transfer>();
  readonly #started = new Set<string>();
  readonly #meta = new Map<string, { priority: number; operation?: string; path?: string }>();
  readonly #counts: BatchCounts = { total: 0, pending: 0, running: 0, completed: 0, failed: 0, bytes: 0 };
  #live: LiveBlock | undefined;
  #timer: NodeJS.Timeout | undefined;
  #startedAt = 0;

  constructor(orchestrator: BatchEvents, configs: readonly TaskConfig[], options: CommonOptions, streams: CliStreams) {
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
      this.record(result);
    });
    orchestrator.on('error', (event) => {
      this.record(event.result);
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

  /** Counts and prints a task's end (also of a task that ended before this run: a resumed batch). */
  record(result: TaskResult): void {
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
      priority: meta?.priority ?? 0,
      startedAt: result.startedAt,
      finishedAt: result.finishedAt,
      durationMs: result.durationMs,
      ...(result.error === undefined ? {} : { error: { code: result.error.code, message: result.error.message } }),
    };
  }
}
