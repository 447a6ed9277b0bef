import { ErrorCode, TaskforgeError } from '../core/errors.js';
import type { TypedEmitter } from '../core/typed-emitter.js';
import { releaseDataStream } from '../storage/data-stream.js';
import type { BaseTask } from '../tasks/base-task.js';
import type { TaskConfig } from '../tasks/task-config.js';
import type { HandleBook } from './handle-book.js';
import type { OrchestratorMetrics } from './metrics.js';
import { submitEvent, type OrchestratorEvents } from './orchestrator-events.js';
import type { LocalQueue } from './queues/local-queue.js';
import { assertNoCycle, invalid, readSubmission, type Submission, type SubmitOptions } from './submission.js';
import { TaskHandle } from './task-handle.js';
import type { QueueTaskEvents, TaskQueue } from './task-queue.js';
import type { TaskRegistry } from './task-registry.js';
import { isTaskObject } from './task-runner.js';

/** Options of {@link Admission}: the Orchestrator's parts a submit reads or tells. */
export interface AdmissionOptions {
  readonly registry: TaskRegistry;
  /** What tasks are made with (a custom config is checked by its class, with it). */
  readonly context: Readonly<Record<string, unknown>>;
  readonly events: TypedEmitter<OrchestratorEvents>;
  readonly metrics: OrchestratorMetrics | undefined;
  /** Every task's events are wanted (a dashboard), whoever listens here. */
  readonly allEvents: boolean;
  readonly book: HandleBook;
}

/**
 * How an Orchestrator takes tasks in: each config read and checked before
 * anything is queued (submission.ts's rules, a registered type, a custom
 * config's own check), given its handle, queued all or none, and its submit
 * told. A queue of this process answers at once, with no promise per task;
 * a shared one over the network. Nothing is taken once shutdown has begun.
 * Apart from the Orchestrator, whose public methods only choose the path.
 */
export class Admission {
  readonly #registry: TaskRegistry;
  readonly #context: Readonly<Record<string, unknown>>;
  readonly #events: TypedEmitter<OrchestratorEvents>;
  readonly #metrics: OrchestratorMetrics | undefined;
  readonly #allEvents: boolean;
  readonly #book: HandleBook;
  #accepting = true;

  constructor(options: AdmissionOptions) {
    this.#registry = options.registry;
    this.#context = options.context;
    this.#events = options.events;
    this.#metrics = options.metrics;
    this.#allEvents = options.allEvents;
    this.#book = options.book;
  }

  /** Takes no more tasks (shutdown has begun): every submit then throws INVALID_STATE. */
  close(): void {
    this.#accepting = false;
  }

  /** One task to a queue of this process, at once: no promise, no array (the 300,000-task loop is this path). */
  submitOne(queue: LocalQueue, config: TaskConfig | BaseTask, options: SubmitOptions): TaskHandle {
    let submission: Submission;
    let handle: TaskHandle;
    try {
      this.#assertAccepting();
      submission = this.#readOne(config, queue, '', options);
      handle = new TaskHandle(submission.id);
      submission.tag = handle;
      queue.submitOneNow(submission);
    } catch (error) {
      releaseStreamsOf([config]);
      throw error;
    }
    this.#submitted(submission);
    return handle;
  }

  /** Submits to a queue of this process, at once; each handle goes with its task (the queue gives it back with the end). */
  submitLocal(queue: LocalQueue, configs: readonly (TaskConfig | BaseTask)[], where: ((index: number) => string) | undefined, options: SubmitOptions): TaskHandle[] {
    let submissions: Submission[];
    let handles: TaskHandle[];
    try {
      this.#assertAccepting();
      submissions = this.#read(configs, queue, where, options);
      handles = submissions.map((submission) => {
        const handle = new TaskHandle(submission.id);
        submission.tag = handle;
        return handle;
      });
      queue.submitNow(submissions, where === undefined ? {} : { where });
    } catch (error) {
      releaseStreamsOf(configs);
      throw error;
    }
    for (const submission of submissions) this.#submitted(submission);
    return handles;
  }

  /** Submits to a shared queue (once `opening` has it), over the network. */
  async submitShared(
    opening: Promise<TaskQueue>,
    configs: readonly (TaskConfig | BaseTask)[],
    where: ((index: number) => string) | undefined,
    options: SubmitOptions,
  ): Promise<TaskHandle[]> {
    try {
      return await this.#submitShared(opening, configs, where, options);
    } catch (error) {
      releaseStreamsOf(configs);
      throw error;
    }
  }

  async #submitShared(
    opening: Promise<TaskQueue>,
    configs: readonly (TaskConfig | BaseTask)[],
    where: ((index: number) => string) | undefined,
    options: SubmitOptions,
  ): Promise<TaskHandle[]> {
    this.#assertAccepting();
    const queue = await opening;
    const submissions = this.#read(configs, queue, where, options);
    // A task this orchestrator watches has not ended: refused here, before its handle could be replaced.
    submissions.forEach((submission, index) => {
      if (this.#book.has(submission.id)) {
        const at = where?.(index) ?? '';
        throw new TaskforgeError(ErrorCode.ALREADY_EXISTS, `a task with id '${submission.id}' already exists${at === '' ? '' : ` (${at.slice(0, -1)})`}`, {
          details: { field: `${at}id`, taskId: submission.id },
        });
      }
    });
    // Watched before they are stored: a fast worker's end must find them.
    const handles = submissions.map((submission) => this.#book.add(submission.id, submission.type));
    try {
      await queue.submit(submissions, { ...(where === undefined ? {} : { where }), events: this.#wantsTaskEvents() });
    } catch (error) {
      this.#book.unwatch(handles);
      throw error;
    }
    for (const submission of submissions) this.#submitted(submission);
    return handles;
  }

  /** Reads and checks a batch (`where` names its tasks; undefined for a single submit) before anything is queued. */
  #read(configs: readonly (TaskConfig | BaseTask)[], queue: TaskQueue, where: ((index: number) => string) | undefined, options: SubmitOptions): Submission[] {
    const inBatch = where === undefined ? undefined : new Set<string>();
    const submissions = configs.map((config, index) => {
      const at = where?.(index) ?? '';
      const submission = this.#readOne(config, queue, at, where === undefined ? options : {});
      if (inBatch !== undefined) {
        if (inBatch.has(submission.id)) invalid(at, 'id', `'${submission.id}' appears twice in the batch`, submission.id);
        inBatch.add(submission.id);
      }
      return submission;
    });
    if (where !== undefined) assertNoCycle(submissions, where);
    return submissions;
  }

  /** Reads and checks one config (`at` names it in a batch). */
  #readOne(config: TaskConfig | BaseTask, queue: TaskQueue, at: string, options: SubmitOptions): Submission {
    const submission = readSubmission(config, options, queue.durable, at);
    if (!isTaskObject(submission.config)) {
      if (!this.#registry.has(submission.type)) invalid(at, 'type', `no task type '${submission.type}' is registered (registered: ${this.#registry.types.join(', ')})`, submission.type);
      // A custom config is checked here, by its class: on a shared queue a worker would only fail it later.
      this.#registry.checkConfig(submission.type, submission.config, submission.id, at, this.#context);
    }
    return submission;
  }

  /** Tells the submit event. (A task that ended at once, a dependency having failed, was told by the queue, as every end is.) */
  #submitted(submission: Submission): void {
    if (this.#events.listenerCount('submit') > 0) this.#events.emit('submit', submitEvent(submission));
    this.#metrics?.submitted(submission.type);
  }

  /** Whether anyone here listens to start, retry, progress or cancel events (a shared queue publishes them only then: a write each). */
  #wantsTaskEvents(): boolean {
    return this.#allEvents || (['start', 'retry', 'progress', 'cancel'] as const).some((event: keyof QueueTaskEvents) => this.#events.listenerCount(event) > 0);
  }

  #assertAccepting(): void {
    if (!this.#accepting) throw new TaskforgeError(ErrorCode.INVALID_STATE, 'the orchestrator is shutting down and takes no more tasks');
  }
}

/**
 * Closes the data streams of configs a submit refused (all of a batch: it is
 * queued whole or not at all): no task will read them, and an open file
 * would stay open.
 */
function releaseStreamsOf(configs: readonly (TaskConfig | BaseTask)[]): void {
  // (A refusal may be of something that is no config at all: a plain-JavaScript caller's null.)
  for (const config of configs as readonly unknown[]) {
    if (typeof config === 'object' && config !== null && !isTaskObject(config as TaskConfig)) releaseDataStream((config as TaskConfig).metadata?.['data']);
  }
}
