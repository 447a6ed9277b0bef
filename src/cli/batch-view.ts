import type { TaskConfig } from '../tasks/task-config.js';
import type { TaskResult } from '../tasks/task-result.js';
import type { OrchestratorEvents } from '../orchestrator/orchestrator-events.js';
import { retainedResult } from '../orchestrator/retained-result.js';
import type { Listener } from '../core/typed-emitter.js';
import { printJson, type CliStreams, type CommonOptions } from './cli-context.js';
import { batchLines, LiveBlock, storeBytesOf, type BatchCounts, type Transfer } from './progress.js';
import { summaryTable } from './summary.js';

/** How often the live view redraws. */
const REDRAW_MS = 100;

/** Where a batch's events come from: the Orchestrator it was submitted to, on any queue. */
export interface BatchEvents {
  on<K extends keyof OrchestratorEvents>(event: K, listener: Listener<OrchestratorEvents, K>): unknown;
}

/** A task of the batch, with its id (given, or made from the batch) and where it came from. */
export interface BatchTask {
  readonly config: TaskConfig & { readonly id: string };
  /** `batch.ndjson:3` or `batch.json[2]`. */
  readonly from: string;
  /** Whether the batch gave the id; a made one is never shown to a person. */
  readonly idGiven: boolean;
}

interface TaskFacts {
  readonly priority: number;
  readonly operation?: string;
  readonly path?: string;
  readonly from: string;
  readonly idGiven: boolean;
}

/**
 * What `run` shows while and after the batch runs: every task of the batch
 * once, whether it ends now or ended in an earlier run on the same queue;
 * tasks of other batches that share the queue are not counted.
 */
export class BatchView {
  failed = 0;
  readonly #orchestrator: BatchEvents;
  readonly #options: CommonOptions;
  readonly #streams: CliStreams;
  readonly #results: TaskResult[] = [];
  readonly #transfers = new Map<string, Transfer>();
  readonly #started = new Set<string>();
  readonly #meta = new Map<string, TaskFacts>();
  readonly #recorded = new Set<string>();
  /** Tasks of the batch that ended in an earlier run of it (reported, not counted as this run's work). */
  readonly #earlier = new Set<string>();
  readonly #counts: BatchCounts = { total: 0, pending: 0, running: 0, completed: 0, failed: 0, bytesStored: 0, bytesReadFromStore: 0 };
  #live: LiveBlock | undefined;
  #timer: NodeJS.Timeout | undefined;
  #startedAt = 0;
  /** A task of the batch was heard to start or end (see heardOfAny). */
  #heardOfAny = false;
  /** A list task of the batch completed with no entry (see listedNothing). */
  #listedNothing = false;

  constructor(orchestrator: BatchEvents, tasks: readonly BatchTask[], options: CommonOptions, streams: CliStreams) {
    this.#orchestrator = orchestrator;
    this.#options = options;
    this.#streams = streams;
    for (const { config, from, idGiven } of tasks) {
      const metadata = (config.metadata ?? {}) as { operation?: unknown; path?: unknown };
      this.#meta.set(config.id, {
        priority: config.priority ?? 0,
        ...(typeof metadata.operation === 'string' ? { operation: metadata.operation } : {}),
        ...(typeof metadata.path === 'string' ? { path: metadata.path } : {}),
        from,
        idGiven,
      });
    }
    orchestrator.on('start', (event) => {
      if (!this.#meta.has(event.id)) return;
      this.#heardOfAny = true;
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
      if (!this.#meta.has(event.id)) return;
      const transfer = this.#transfers.get(event.id);
      if (transfer === undefined) this.#transfers.set(event.id, { id: event.id, done: event.bytesDone, total: event.bytesTotal });
      else transfer.done = event.bytesDone;
    });
    this.#timer = setInterval(() => {
      live.draw(batchLines(this.#counts, [...this.#transfers.values()], performance.now() - this.#startedAt, this.#streams.stderr.columns));
    }, REDRAW_MS);
    this.#timer.unref();
  }

  /** Ends the live block and prints the summary table (none for a batch the queue refused: nothing ran). */
  stop(): void {
    clearInterval(this.#timer);
    this.#live?.clear();
    if (this.#startedAt === 0) return;
    // The table in the batch's order (a person finds a task where they wrote it); --json lines stay in finishing order.
    const order = new Map([...this.#meta.keys()].map((id, index) => [id, index]));
    const results = [...this.#results].sort((a, b) => (order.get(a.id) ?? 0) - (order.get(b.id) ?? 0));
    if (this.#options.json !== true) this.#streams.stdout.write(summaryTable(results, performance.now() - this.#startedAt, (result) => this.#label(result.id), this.#earlier, (result) => this.#words(result.id, result.error?.message ?? '')));
  }

  /** Whether any task of the batch has been heard to start or end (on a shared queue: whether a worker has taken one). */
  get heardOfAny(): boolean {
    return this.#heardOfAny;
  }

  /** Whether a list task of the batch completed with no entry (its root may not be there: see root-missing.ts). */
  get listedNothing(): boolean {
    return this.#listedNothing;
  }

  /** Whether the end of the batch's task `id` has been counted. */
  hasEnded(id: string): boolean {
    return this.#recorded.has(id);
  }

  /** Tasks of the batch counted so far. */
  get recorded(): number {
    return this.#recorded.size;
  }

  /**
   * Counts and prints a task's end; `earlier` for a task that ended before
   * this run (a resumed batch), whose bytes this run did not move.
   */
  record(result: TaskResult, earlier = false): void {
    if (!this.#meta.has(result.id) || this.#recorded.has(result.id)) return;
    this.#recorded.add(result.id);
    this.#heardOfAny = true;
    if (earlier) this.#earlier.add(result.id);
    this.#results.push(result);
    this.#transfers.delete(result.id);
    if (this.#started.delete(result.id)) this.#counts.running -= 1;
    else this.#counts.pending -= 1;
    if (result.success) {
      this.#counts.completed += 1;
      if (this.#meta.get(result.id)?.operation === 'list' && (result.data as { entries?: unknown[] } | undefined)?.entries?.length === 0) this.#listedNothing = true;
    } else {
      this.#counts.failed += 1;
      this.failed += 1;
    }
    if (!earlier) {
      const bytes = storeBytesOf(result);
      this.#counts.bytesStored += bytes.stored;
      this.#counts.bytesReadFromStore += bytes.read;
    }
    if (this.#options.json === true) printJson(this.#streams, this.#line(result));
  }

  #line(result: TaskResult): Record<string, unknown> {
    const meta = this.#meta.get(result.id);
    // What the task gave back, as a queue keeps it: JSON of up to 64 KiB (a custom task's value, a write's or a list's result); a read's bytes or a stream are left out, saying so.
    const kept = result.success ? retainedResult(result) : undefined;
    const data = kept?.success === true && kept.data !== undefined ? { data: kept.data } : {};
    const omitted = kept?.details?.['dataRetained'] === false ? { dataOmitted: true } : {};
    return {
      id: result.id,
      ...(meta === undefined ? {} : { from: meta.from }),
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
      ...data,
      ...omitted,
      ...(result.error === undefined ? {} : { error: { code: result.error.code, message: this.#words(result.id, result.error.message) } }),
    };
  }

  /** The id the batch gave, else where the task came from. */
  #label(id: string): string {
    const meta = this.#meta.get(id);
    return meta === undefined || meta.idGiven ? id : meta.from;
  }

  /** A message with a made id replaced by where the task came from. */
  #words(id: string, message: string): string {
    const meta = this.#meta.get(id);
    return meta === undefined || meta.idGiven ? message : message.replaceAll(`'${id}'`, `at ${meta.from}`);
  }
}
