import { getDefaultLogger, type Logger } from '../core/logger.js';
import type { StorageTaskContext } from '../tasks/storage-task.js';
import type { OrchestratorMetrics } from './metrics.js';
import { invalid } from './submission.js';
import type { TaskQueue } from './task-queue.js';
import type { TaskClass } from './task-registry.js';

/** The default number of tasks that run at once. */
export const DEFAULT_CONCURRENCY = 8;
/** How long shutdown() lets running tasks finish before it cancels them. */
export const DEFAULT_SHUTDOWN_TIMEOUT_MS = 30_000;
/** How many times a durable task may be cut off (a crash, a dead worker) before it ends INTERRUPTED. */
export const DEFAULT_MAX_INTERRUPTIONS = 3;

/** Options of {@link Orchestrator}. */
export interface OrchestratorOptions<TQueue extends TaskQueue | string = TaskQueue | string> {
  /**
   * Tasks this process runs at once. Default 8. 0 (a shared queue only):
   * this orchestrator submits and watches, and other processes run.
   */
  readonly concurrency?: number;
  /**
   * Where tasks wait and finished ones are kept: a queue object, or its URL
   * (`memory`, `sqlite:FILE`, `redis://HOST:PORT[/DB][?name=QUEUE]`).
   * Default `memory`. Nothing else changes between one process and many.
   */
  readonly queue?: TQueue;
  /** Aging against starvation for a queue given by URL (one priority point per `agingMs` waited). Default: off. */
  readonly agingMs?: number;
  /** Custom task types by name (`storage` is built in); the same as register() before anything runs. */
  readonly taskTypes?: Readonly<Record<string, TaskClass>>;
  /** Given to every task this process runs (storage backend, keyring, cache, retry policy). */
  readonly context?: StorageTaskContext & Readonly<Record<string, unknown>>;
  /** Where the orchestrator and its tasks log. Default: pino at `TASKFORGE_LOG_LEVEL`. */
  readonly logger?: Logger;
  /** Prometheus metrics to record into; see {@link OrchestratorMetrics}. Default: none. */
  readonly metrics?: OrchestratorMetrics;
  /** Cut-offs (a crash, a dead worker) a durable task survives before it ends INTERRUPTED. Default 3. */
  readonly maxInterruptions?: number;
  /**
   * Tell every task's events, not only those of tasks this orchestrator
   * submitted, watches or runs (a dashboard over a shared queue). Default false.
   */
  readonly allEvents?: boolean;
}

/** Options of {@link Orchestrator.shutdown}. */
export interface ShutdownOptions {
  /** How long running tasks may go on before they are cancelled. Default 30 s. */
  readonly timeoutMs?: number;
}

/** What {@link Orchestrator.shutdown} did with the work in hand. */
export interface ShutdownReport {
  /**
   * Running tasks the timeout cut off (cancelled). A durable queue (SQLite)
   * or a shared one (Redis) keeps them, to run again with the cut-off attempt
   * counted as an interruption; the memory queue records them CANCELLED.
   */
  readonly cutOff: readonly string[];
  /** Those of `cutOff` that ignored their cancellation and were given up: their work may go on until the process exits. */
  readonly abandoned: readonly string[];
  /**
   * Tasks that ran to their end here but whose ends could not be recorded
   * before the stop's bound (Redis unreachable): the queue still holds them,
   * and runs them again once their locks lapse. Present only when there are
   * some.
   */
  readonly unrecorded?: readonly string[];
  /**
   * Tasks waiting in this process's queue that did not start: a durable
   * queue keeps them for the next orchestrator opened on it, the memory
   * queue ends them CANCELLED. 0 on a shared queue (Redis), whose waiting
   * tasks are not this process's.
   */
  readonly waiting: number;
}

/** The options that have defaults, with them filled in. */
export interface DefaultedOptions {
  readonly queue: TaskQueue | string;
  readonly concurrency: number;
  readonly allEvents: boolean;
  readonly maxInterruptions: number;
  readonly logger: Logger;
}

/**
 * An Orchestrator's options checked and given their defaults, once, in the
 * constructor (VALIDATION_ERROR naming the option). Apart from the
 * Orchestrator with the type, so that what each option means, its default
 * and what it accepts read together.
 */
export function defaultedOptions(options: OrchestratorOptions): DefaultedOptions {
  for (const key of Object.keys(options)) {
    // (A plain-JavaScript caller's misspelt option would otherwise be ignored, its default used.)
    if (!OPTION_NAMES.includes(key)) invalid('', key, `not an option of the Orchestrator (its options: ${OPTION_NAMES.join(', ')})`);
  }
  const queue: TaskQueue | string = options.queue ?? 'memory';
  const shared = isSharedQueue(queue);
  const concurrency = options.concurrency ?? DEFAULT_CONCURRENCY;
  if (!Number.isInteger(concurrency) || concurrency < (shared ? 0 : 1)) {
    invalid('', 'concurrency', `expected a whole number of ${shared ? '0 (submit only)' : '1'} or more (got ${String(concurrency)})`, concurrency);
  }
  const { agingMs, maxInterruptions } = options;
  if (agingMs !== undefined && !(typeof agingMs === 'number' && Number.isFinite(agingMs) && agingMs > 0)) invalid('', 'agingMs', `expected a positive number of ms (got ${String(agingMs)})`, agingMs);
  if (maxInterruptions !== undefined && !(Number.isInteger(maxInterruptions) && maxInterruptions >= 0)) {
    invalid('', 'maxInterruptions', `expected a whole number of 0 or more (got ${String(maxInterruptions)})`, maxInterruptions);
  }
  if (typeof queue !== 'string' && options.agingMs !== undefined) {
    invalid('', 'agingMs', `applies to a queue given by URL; give it to the queue instead (new SqliteQueue(file, { agingMs: ${String(options.agingMs)} }))`);
  }
  return {
    queue,
    concurrency,
    allEvents: options.allEvents ?? false,
    maxInterruptions: options.maxInterruptions ?? DEFAULT_MAX_INTERRUPTIONS,
    logger: options.logger ?? getDefaultLogger(),
  };
}

/** Every option of {@link OrchestratorOptions}, in its order: a record, so that an option added there and not here does not compile. */
const OPTIONS: Record<keyof OrchestratorOptions, true> = { concurrency: true, queue: true, agingMs: true, taskTypes: true, context: true, logger: true, metrics: true, maxInterruptions: true, allEvents: true };
const OPTION_NAMES: readonly string[] = Object.keys(OPTIONS);

/** Whether tasks on `queue` (an object or a URL) may be run by other processes: Redis, not memory or SQLite. */
export function isSharedQueue(queue: TaskQueue | string): boolean {
  return typeof queue === 'string' ? !isLocalUrl(queue) : queue.shared;
}

function isLocalUrl(url: string): boolean {
  return url === 'memory' || url.startsWith('sqlite:');
}
