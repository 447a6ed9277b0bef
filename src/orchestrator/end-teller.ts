import type { Logger } from '../core/logger.js';
import type { TypedEmitter } from '../core/typed-emitter.js';
import type { TaskResult } from '../tasks/task-result.js';
import type { HandleBook } from './handle-book.js';
import type { IdleWaiters } from './idle-waiters.js';
import type { OrchestratorMetrics } from './metrics.js';
import type { OrchestratorEvents } from './orchestrator-events.js';
import { isEndNotStored, UNKNOWN_TASK_TYPE } from './task-ends.js';
import { TaskHandle } from './task-handle.js';
import { RecentSet } from '../core/recent-set.js';
import type { TaskQueue } from './task-queue.js';
import type { TaskRunner } from './task-runner.js';

/** Ends told as this process saw them, remembered until the queue's copy comes (it comes within moments). */
const TOLD_REMEMBERED = 10_000;

/** Options of {@link EndTeller}: the Orchestrator's parts it tells. */
export interface EndTellerOptions {
  readonly events: TypedEmitter<OrchestratorEvents>;
  readonly logger: Logger;
  readonly metrics: OrchestratorMetrics | undefined;
  /** For the log line of an end that could not be stored. */
  readonly queueName: string;
  /** Tell every task's events and ends, not only those of tasks submitted, watched or run here. */
  readonly allEvents: boolean;
  readonly book: HandleBook;
  readonly idle: IdleWaiters;
}

/**
 * What an Orchestrator hears of its tasks and whom it tells: each end the
 * queue records settles the task's handles, goes to the listeners and the
 * metrics once, and may make the orchestrator idle; task events are told
 * for the tasks this orchestrator cares about. On a shared queue, a task
 * run here and watched by nobody here is told as it ended here (the
 * queue's copy of that end is then not told again). Apart from the
 * Orchestrator: this is the one place that decides whether an end or an
 * event is told, on every queue.
 */
export class EndTeller {
  readonly #events: TypedEmitter<OrchestratorEvents>;
  readonly #logger: Logger;
  readonly #metrics: OrchestratorMetrics | undefined;
  readonly #queueName: string;
  readonly #allEvents: boolean;
  readonly #book: HandleBook;
  readonly #idle: IdleWaiters;
  /** The queue listened to is shared (false until it is open). */
  #shared = false;
  #runner: TaskRunner | undefined;
  /** On a shared queue, with allEvents: tasks run here whose end was told when they ended here (the queue's copy is not told again). */
  readonly #toldHere = new RecentSet<string>(TOLD_REMEMBERED);

  constructor(options: EndTellerOptions) {
    this.#events = options.events;
    this.#logger = options.logger;
    this.#metrics = options.metrics;
    this.#queueName = options.queueName;
    this.#allEvents = options.allEvents;
    this.#book = options.book;
    this.#idle = options.idle;
  }

  /** Listens to the queue, once open (`runner`: what runs tasks here, if anything does); returns the function that stops. */
  listen(queue: TaskQueue, runner: TaskRunner | undefined): () => void {
    this.#shared = queue.shared;
    this.#runner = runner;
    return queue.subscribe({
      ended: (result, tag) => {
        this.#heard(result, tag);
      },
      event: (kind, payload) => {
        if (this.#tells(payload.id)) this.#events.emit(kind, payload as never);
      },
      wants: (kind) => this.#events.listenerCount(kind) > 0,
      everyTask: this.#allEvents,
      waitingFor: () => this.#book.ids(),
    });
  }

  /**
   * A task this process ran has ended, as it saw it. On a shared queue that
   * is what is told here of a task nobody here watches (a worker's own
   * account, LOCK_LOST included: another worker records the task's end); a
   * watched task's handle waits for the end the queue records.
   */
  ranHere(result: TaskResult): void {
    if (!this.#shared || this.#book.has(result.id)) return;
    // (Only a listener of every task's events hears the queue's copy of an end nobody here watches.)
    if (this.#allEvents) this.#toldHere.add(result.id);
    this.#tell(result);
    // (The queue's copy of this end may never be read here: nobody here waits for it.)
    this.#idle.check();
  }

  /** A task's end, as the queue tells it (once): settles its handles (the one it was submitted with, and any made since) and tells the listeners. */
  #heard(heard: TaskResult, tag?: unknown): void {
    const handle = this.#book.take(heard.id);
    const submitted = tag instanceof TaskHandle ? tag : handle;
    // An end made without the task (its queue lost it) is told under the type it was submitted with.
    const result = heard.type === UNKNOWN_TASK_TYPE && submitted?.type !== undefined ? { ...heard, type: submitted.type } : heard;
    if (tag instanceof TaskHandle) tag.settle(result);
    if (handle !== undefined) handle.settle(result);
    // (The mark of an end told here is spent on the queue's copy: a task submitted again under the id ends, and is told, anew.)
    const toldHere = this.#toldHere.delete(result.id);
    if (!this.#shared || handle !== undefined || (this.#allEvents && !toldHere)) this.#tell(result);
    this.#idle.check();
  }

  /** Whether events of a task are told here: on a shared queue, those of tasks this orchestrator submitted, watches or runs (or all, with allEvents). */
  #tells(id: string): boolean {
    if (!this.#shared || this.#allEvents) return true;
    return this.#book.has(id) || this.#runner?.isRunning(id) === true;
  }

  #tell(result: TaskResult): void {
    this.#metrics?.finished(result);
    if (result.success) {
      if (this.#events.listenerCount('complete') > 0) this.#events.emit('complete', result);
      return;
    }
    if (isEndNotStored(result)) {
      this.#logger.error({ taskId: result.id, taskType: result.type, queue: this.#queueName, code: result.error.code }, 'the end of a task could not be stored');
    } else if (result.attempts === 0 && result.durationMs === 0 && !this.#shared) {
      this.#logger.info({ taskId: result.id, taskType: result.type, code: result.error.code }, 'task ended without running');
    }
    this.#events.emit('error', { id: result.id, type: result.type, error: result.error, result });
  }
}
