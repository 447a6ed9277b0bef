import { isoTime } from '../core/clock.js';
import { ErrorCode, TaskforgeError } from '../core/errors.js';
import type { Logger } from '../core/logger.js';
import type { Admission } from './admission.js';
import type { ShutdownReport } from './orchestrator-options.js';
import type { HandleBook } from './handle-book.js';
import type { IdleWaiters } from './idle-waiters.js';
import { LocalQueue } from './queues/local-queue.js';
import { failedWithoutRunning, UNKNOWN_TASK_TYPE } from './task-ends.js';
import { TaskHandle } from './task-handle.js';
import { STOP_GRACE_MS, type Consumption, type TaskQueue } from './task-queue.js';
import type { TaskRunner } from './task-runner.js';

/** Options of {@link Shutdown}: the Orchestrator's parts a shutdown stops or settles. */
export interface ShutdownParts {
  readonly admission: Admission;
  readonly book: HandleBook;
  readonly idle: IdleWaiters;
  readonly logger: Logger;
}

/**
 * An Orchestrator's shutdown, bounded and once: it stops taking work, lets
 * running tasks finish for `timeoutMs`, then the consumption cancels them
 * and gives up, STOP_GRACE_MS later, any that ignores its cancellation;
 * then it closes the queue and settles every handle still waiting here
 * (INTERRUPTED for a task given up, CANCELLED with `requeued` for one a
 * durable queue keeps). Apart from the Orchestrator: the one way out, with
 * its own order of steps.
 */
export class Shutdown {
  readonly #admission: Admission;
  readonly #book: HandleBook;
  readonly #idle: IdleWaiters;
  readonly #logger: Logger;
  #runner: TaskRunner | undefined;
  #consumption: Consumption | undefined;
  #unsubscribe: (() => void) | undefined;
  #stopped: Promise<void> | undefined;
  #report: ShutdownReport | undefined;

  constructor(parts: ShutdownParts) {
    this.#admission = parts.admission;
    this.#book = parts.book;
    this.#idle = parts.idle;
    this.#logger = parts.logger;
  }

  /** What there is to stop once the queue is open: the runner here (if any), its consumption, the subscription to the queue. */
  hold(runner: TaskRunner | undefined, consumption: Consumption | undefined, unsubscribe: () => void): void {
    this.#runner = runner;
    this.#consumption = consumption;
    this.#unsubscribe = unsubscribe;
  }

  /** What the shutdown did, once it has ended. */
  get report(): ShutdownReport | undefined {
    return this.#report;
  }

  /** Whether shutdown has begun. */
  get started(): boolean {
    return this.#stopped !== undefined;
  }

  /** Shuts down (the first call; later calls get the same promise) the queue `opening` opens. */
  run(opening: Promise<TaskQueue>, timeoutMs: number): Promise<void> {
    this.#stopped ??= this.#stop(opening, timeoutMs);
    return this.#stopped;
  }

  async #stop(opening: Promise<TaskQueue>, timeoutMs: number): Promise<void> {
    this.#admission.close();
    let queue: TaskQueue;
    try {
      queue = await opening;
    } catch {
      this.#report = { cutOff: [], abandoned: [], waiting: 0 };
      return;
    }
    this.#logger.info({ queue: queue.name, running: this.#runner?.running ?? 0, timeoutMs }, 'orchestrator shutting down');
    const cancelledWaiting = queue instanceof LocalQueue && !queue.durable ? queue.cancelWaiting('the orchestrator shut down') : 0;
    // Counted before the stop: nothing starts during it, and what it cuts off is told apart.
    const waiting = queue instanceof LocalQueue ? cancelledWaiting + queue.waiting : 0;
    const stopped = (await this.#consumption?.stop(timeoutMs)) ?? { cutOff: [], abandoned: [] };
    for (const id of stopped.abandoned) {
      this.#logger.error({ taskId: id, queue: queue.name }, 'a task ignored its cancellation at shutdown and was given up');
      const tag = queue instanceof LocalQueue ? queue.tagOf(id) : undefined;
      const watched = this.#book.take(id);
      const handle = tag instanceof TaskHandle ? tag : watched;
      if (handle === undefined) continue;
      const error = new TaskforgeError(
        ErrorCode.INTERRUPTED,
        `task '${id}' did not stop within ${String(STOP_GRACE_MS)} ms of its cancellation at shutdown; it was given up${queue.durable ? ' (the queue runs it again when next opened)' : ' (its work may go on until the process exits)'}`,
        { details: { abandoned: true, requeued: queue.durable } },
      );
      const type = handle.type ?? (queue instanceof LocalQueue ? queue.typeOf(id) : undefined) ?? UNKNOWN_TASK_TYPE;
      // What ran, as far as this process saw it: its attempts, and its time from its start to now.
      const progress = this.#runner?.progressOf(id);
      const now = Date.now();
      const ended = failedWithoutRunning({ id, type }, progress?.attempts ?? 0, error, now);
      handle.settle(progress === undefined ? ended : { ...ended, startedAt: isoTime(progress.startedAt), durationMs: now - progress.startedAt });
    }
    // What still waits in a queue of this process goes on with it (a durable one keeps it); its handles here are let go.
    const letGo = queue instanceof LocalQueue ? queue.waitingTags().filter((tag): tag is TaskHandle => tag instanceof TaskHandle) : [];
    // (Taken before the queue closes: it knows their types.)
    const typeOf = new Map(queue instanceof LocalQueue ? letGo.map((handle) => [handle.id, queue.typeOf(handle.id)]) : []);
    this.#unsubscribe?.();
    await queue.close();
    // What is still watched goes on in a durable queue (waiting here, or running elsewhere).
    for (const handle of [...letGo, ...this.#book.drain()]) {
      const error = new TaskforgeError(ErrorCode.CANCELLED, `task '${handle.id}' is no longer watched: the orchestrator shut down (the task stays in the queue ${queue.name})`, {
        details: { requeued: true },
      });
      handle.settle({ ...failedWithoutRunning({ id: handle.id, type: handle.type ?? typeOf.get(handle.id) ?? UNKNOWN_TASK_TYPE }, 0, error), details: { requeued: true } });
    }
    this.#idle.resolve();
    this.#logger.info({ queue: queue.name, cutOff: stopped.cutOff.length, abandoned: stopped.abandoned.length, waiting }, 'orchestrator stopped');
    this.#report = { cutOff: stopped.cutOff, abandoned: stopped.abandoned, waiting, ...(stopped.unrecorded === undefined ? {} : { unrecorded: stopped.unrecorded }) };
  }
}
