import type * as PromClient from 'prom-client';
import type { Counter, Histogram, Registry } from 'prom-client';
import { requireOptional } from '../core/optional-package.js';
import type { TaskResult } from '../tasks/task-result.js';

/** What the metrics read from an orchestrator when they are scraped. */
export interface ObservedOrchestrator {
  /** Tasks waiting in the queue, and running (anywhere, for a shared one). */
  counts(): Promise<{ readonly waiting: number; readonly running: number }>;
  /** Tasks running in this process. */
  readonly running: number;
  readonly queueName: string;
  /** Why its queue's server cannot be reached now, or undefined while it can. */
  readonly queueUnreachable?: string | undefined;
}

/** Options of {@link OrchestratorMetrics}. */
export interface OrchestratorMetricsOptions {
  /** The registry to add the metrics to. Default: a new one (not prom-client's global one). */
  readonly registry?: Registry;
  /** Name prefix. Default `taskforge_`. */
  readonly prefix?: string;
  /**
   * Also Node's process metrics, under their usual names: CPU time,
   * memory, open descriptors, collections, and the event loop's delay
   * (`nodejs_eventloop_lag_p99_seconds` and the like, sampled every
   * millisecond, over the time since the last scrape). For a process that
   * is mostly this orchestrator (`taskforge serve` turns it on); a program
   * that collects them already would count them twice. Default false.
   */
  readonly process?: boolean;
}

/** Duration buckets, in seconds: 1 ms to 5 minutes. */
const DURATION_BUCKETS = [0.001, 0.005, 0.01, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 300];

let promClient: typeof PromClient | undefined;

/** How long a scrape waits for a queue's counts: a queue's server that has just gone is not yet known to be gone. */
const COUNTS_WAIT_MS = 2000;

/**
 * The queue's counts, or undefined while it cannot answer (its server is
 * gone, or does not answer in COUNTS_WAIT_MS): that queue has no sample
 * then, and the rest of the scrape answers at once.
 */
async function countsOf(orchestrator: ObservedOrchestrator): Promise<{ readonly waiting: number; readonly running: number } | undefined> {
  if (orchestrator.queueUnreachable !== undefined) return undefined;
  let timer: NodeJS.Timeout | undefined;
  try {
    return await Promise.race([orchestrator.counts(), new Promise<undefined>((resolve) => (timer = setTimeout(() => { resolve(undefined); }, COUNTS_WAIT_MS)))]);
  } catch {
    return undefined;
  } finally {
    clearTimeout(timer);
  }
}

/** prom-client, loaded when the first metrics are made: a program without metrics never loads it. */
export function loadPromClient(): typeof PromClient {
  promClient ??= requireOptional('Prometheus metrics (OrchestratorMetrics)', ['prom-client'])['prom-client'] as typeof PromClient;
  return promClient;
}

/**
 * Prometheus metrics of an orchestrator's tasks, through prom-client: tasks
 * by type and status, durations, bytes read and written, read-cache hits
 * and misses, queue depth and running tasks. Label children are cached, so
 * recording a finished task costs well under a microsecond.
 */
export class OrchestratorMetrics {
  readonly registry: Registry;
  readonly #submitted: Counter<'type'>;
  readonly #finished: Counter<'type' | 'status' | 'code'>;
  readonly #duration: Histogram<'type' | 'status'>;
  readonly #bytes: Counter<'direction'>;
  readonly #cache: Counter<'result'>;
  /** Each orchestrator observed, and whether its running tasks are the queue's (it runs none itself: a submitter over Redis). */
  readonly #observed = new Map<ObservedOrchestrator, { readonly runningFromQueue: boolean }>();
  readonly #children = new Map<string, { inc: (value?: number) => void }>();
  readonly #durationChildren = new Map<string, { observe: (value: number) => void }>();

  /** @throws UNSUPPORTED_OPTION when the prom-client package is not installed. */
  constructor(options: OrchestratorMetricsOptions = {}) {
    const { Counter, Gauge, Histogram, Registry, collectDefaultMetrics } = loadPromClient();
    this.registry = options.registry ?? new Registry();
    if (options.process === true) collectDefaultMetrics({ register: this.registry, eventLoopMonitoringPrecision: 1 });
    const prefix = options.prefix ?? 'taskforge_';
    const registers = [this.registry];
    this.#submitted = new Counter({ name: `${prefix}tasks_submitted_total`, help: 'Tasks accepted by submit(), by type.', labelNames: ['type'], registers });
    this.#finished = new Counter({
      name: `${prefix}tasks_finished_total`,
      help: 'Tasks that ended, by type, status (completed, failed) and error code (empty when completed).',
      labelNames: ['type', 'status', 'code'],
      registers,
    });
    this.#duration = new Histogram({
      name: `${prefix}task_duration_seconds`,
      help: 'Time from a task start to its end, retries included, by type and status.',
      labelNames: ['type', 'status'],
      buckets: DURATION_BUCKETS,
      registers,
    });
    this.#bytes = new Counter({ name: `${prefix}storage_bytes_total`, help: 'Stored bytes moved by storage tasks, by direction (read, written).', labelNames: ['direction'], registers });
    this.#cache = new Counter({ name: `${prefix}read_cache_requests_total`, help: 'Storage reads that asked for the cache, by result (hit, miss).', labelNames: ['result'], registers });
    const observed = this.#observed;
    new Gauge({
      name: `${prefix}queue_depth`,
      help: 'Tasks waiting to run (ready or blocked by dependencies).',
      labelNames: ['queue'],
      registers,
      async collect() {
        // (Asked before the reset: a shared queue answers over the network, and a scrape meanwhile must not see zeros.)
        const depths = await Promise.all([...observed.keys()].map(async (orchestrator) => [orchestrator.queueName, (await countsOf(orchestrator))?.waiting] as const));
        this.reset();
        for (const [queue, waiting] of depths) if (waiting !== undefined) this.inc({ queue }, waiting);
      },
    });
    new Gauge({
      name: `${prefix}tasks_running`,
      help: 'Tasks running now (in this process; for a server that submits to Redis, on every worker of the queue).',
      labelNames: ['queue'],
      registers,
      async collect() {
        const running = await Promise.all(
          [...observed].map(async ([orchestrator, how]) => [orchestrator.queueName, how.runningFromQueue ? (await countsOf(orchestrator))?.running : orchestrator.running] as const),
        );
        this.reset();
        for (const [queue, count] of running) if (count !== undefined) this.inc({ queue }, count);
      },
    });
  }

  /**
   * Reports the orchestrator's queue depth and running tasks at every
   * scrape: those it runs, or with `runningFromQueue` those its queue says
   * run anywhere (for one that runs none itself, submitting to Redis).
   */
  observe(orchestrator: ObservedOrchestrator, options: { readonly runningFromQueue?: boolean } = {}): void {
    this.#observed.set(orchestrator, { runningFromQueue: options.runningFromQueue === true });
  }

  /** Stops reporting the orchestrator's gauges (it is closed). */
  unobserve(orchestrator: ObservedOrchestrator): void {
    this.#observed.delete(orchestrator);
  }

  submitted(type: string): void {
    this.#child('submitted', this.#submitted, type).inc();
  }

  started(_type: string): void {
    // Running tasks are read from the orchestrator at scrape time.
  }

  finished(result: TaskResult): void {
    const code = result.error?.code ?? '';
    this.#child('finished', this.#finished, result.type, result.status, code).inc();
    const key = `${result.type}\u0000${result.status}`;
    let duration = this.#durationChildren.get(key);
    if (duration === undefined) {
      duration = this.#duration.labels(result.type, result.status);
      this.#durationChildren.set(key, duration);
    }
    duration.observe(result.durationMs / 1000);
    const details = result.details;
    if (details === undefined) return;
    if (typeof details['bytesRead'] === 'number') this.#child('bytes', this.#bytes, 'read').inc(details['bytesRead']);
    if (typeof details['bytesWritten'] === 'number') this.#child('bytes', this.#bytes, 'written').inc(details['bytesWritten']);
    if (details['cache'] === 'hit' || details['cache'] === 'miss') this.#child('cache', this.#cache, details['cache']).inc();
  }

  /** The metrics in Prometheus' text format. */
  text(): Promise<string> {
    return this.registry.metrics();
  }

  #child(name: string, counter: Counter, ...labels: string[]): { inc: (value?: number) => void } {
    const key = `${name}\u0000${labels.join('\u0000')}`;
    let child = this.#children.get(key);
    if (child === undefined) {
      child = counter.labels(...labels);
      this.#children.set(key, child);
    }
    return child;
  }
}
