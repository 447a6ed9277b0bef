import { abortError, sleep } from '../core/abort.js';
import { backoffDelay, DEFAULT_RETRY_POLICY, type RetryPolicy } from '../core/backoff.js';
import { isoTime } from '../core/clock.js';
import { ErrorCode, TaskforgeError, toErrorInfo, type TaskErrorInfo } from '../core/errors.js';
import { newTaskId } from '../core/ids.js';
import { getDefaultLogger, type Logger } from '../core/logger.js';
import { codeOfErrno, errnoOf, fromSystemError } from '../core/system-errors.js';
import { messageOf } from '../core/thrown-message.js';
import { TypedEmitter, type Listener } from '../core/typed-emitter.js';
import { configRefusal } from './config-refusal.js';
import { attemptOptionsOf, type AttemptOptions, type TaskConfig, type ValidTaskConfig } from './task-config.js';
import { validTaskConfig } from './task-config-check.js';
import type { TaskEvents } from './task-events.js';
import type { TaskResult, TaskResultBase } from './task-result.js';
import { assertTransition, isFinalStatus, TaskStatus, type FinalTaskStatus } from './task-status.js';

/** What a task is given besides its config; the orchestrator fills it for the tasks it runs. */
export interface TaskContext {
  /** Where the task logs. Default: pino at `TASKFORGE_LOG_LEVEL`, silent when unset. */
  readonly logger?: Logger;
  /** Backoff between retries. Default: 100 ms base, 10 s cap, full jitter. */
  readonly retryPolicy?: Partial<RetryPolicy>;
}

/** What one attempt is told about itself. */
export interface AttemptContext<TConfig> {
  /** 1 for the first attempt, 2 for the first retry, and so on. */
  readonly attempt: number;
  /** The validated config. */
  readonly config: TConfig;
  /**
   * The attempt's own signal, which its timeout and cancel() fire: the one
   * `executeTask` is handed, unless its type declares `ignoresSignal`; such
   * a type reads it here when some of its work needs one after all (it is
   * made when first read).
   */
  readonly signal: AbortSignal;
}

/** An attempt's context: its signal made only when read (see BaseTask.ignoresSignal). */
class Attempt<TConfig> implements AttemptContext<TConfig> {
  readonly #controller: AbortController;

  constructor(
    readonly attempt: number,
    readonly config: TConfig,
    controller: AbortController,
  ) {
    this.#controller = controller;
  }

  get signal(): AbortSignal {
    return this.#controller.signal;
  }
}

/** The cleanup of a task type with nothing to release: one settled promise for all. */
const CLEANED: Promise<void> = Promise.resolve();

/** The fewest milliseconds between two `progress` events of one task. */
const PROGRESS_INTERVAL_MS = 100;

/**
 * How long an attempt's work may go on after its timeout or cancel before
 * the task gives it up: it ends with that error (noting that its work did
 * not stop), and its work is left to run: in an orchestrator, outside the
 * concurrency limit, its cleanup waiting for it (see {@link workStillGoing}).
 * Longer than a shutdown's grace for the tasks it cancels (STOP_GRACE_MS,
 * 2 s), which gives such a task up first, with its own account (INTERRUPTED,
 * or handed back to a durable queue).
 */
export const GIVE_UP_AFTER_ABORT_MS = 2500;

/** Work of tasks that gave it up, until it settles. */
const abandonedWork = new WeakMap<object, Promise<void>>();

/**
 * The work of `task` that it gave up, still going (it settles when that work
 * does), or undefined when the task's work stopped before its end, as it
 * should. An orchestrator cleans the task up only once it has stopped.
 */
export function workStillGoing(task: object): Promise<void> | undefined {
  return abandonedWork.get(task);
}

function ignore(): void {
  // The outcome of work given up is nobody's.
}

/** What the attempts of a task type that declares {@link BaseTask.ignoresSignal} are given: it never fires. */
const UNREAD_SIGNAL = new AbortController().signal;

/**
 * The lifecycle every task shares: PENDING -> RUNNING -> COMPLETED | FAILED,
 * with events, validation, per-attempt timeout, retries, cancellation and
 * cleanup, all decided here. A task type implements `executeTask(signal)` and,
 * if it holds resources, `cancelTask()` and `cleanupTask()`; it never sets the
 * status or emits lifecycle events itself.
 *
 * @typeParam TData what a successful attempt returns (the result's `data`).
 * @typeParam TConfig the validated config the attempts are given.
 */
export abstract class BaseTask<TData = unknown, TConfig extends object = ValidTaskConfig> {
  /**
   * Set to true by a task type whose `executeTask` never reads its `signal`
   * argument: its attempts are then all handed one shared signal that never
   * fires, and the attempt's own signal is made only if the work reads
   * `context.signal` (a storage read that a cache serves never does; one
   * that goes to the backend does). On Node 20 making a signal costs 1-5 µs,
   * more than the rest of a no-op task's lifecycle or a cache hit's work. A
   * timeout or cancel still aborts the attempt's own controller, which
   * decides how the attempt ends once `executeTask` settles; work that never
   * read `context.signal` is not stopped by it. A subclass that reads the
   * argument sets it back to false. Default false: every attempt is handed
   * a signal of its own that fires on its timeout and on cancel.
   */
  static readonly ignoresSignal: boolean = false;

  /**
   * How long an attempt's work may go on after its timeout or cancel before
   * the task gives it up (see GIVE_UP_AFTER_ABORT_MS, the default). A type
   * whose own work waits, bounded, after an abort (an upload's commit, its
   * removal) sets it above those bounds, so that its own account of how it
   * stopped is the one given.
   */
  static readonly abortGraceMs: number = GIVE_UP_AFTER_ABORT_MS;

  readonly id: string;
  readonly type: string;
  readonly priority: number;
  /** The config exactly as given; validated when execute() runs. */
  protected readonly rawConfig: unknown;
  protected readonly logger: Logger;

  readonly #retryPolicy: Partial<RetryPolicy> | undefined;
  /** Made at the first listener: tasks are made by the hundred thousand, and most are never listened to. */
  #listeners: TypedEmitter<TaskEvents> | undefined;
  /** Set by cancel(): why the task stops. */
  #cancelReason: TaskforgeError | undefined;
  /**
   * What cancel() must abort: the attempt in flight or the wait before the
   * next. Controllers are made per attempt, not linked to a task-wide one: an
   * AbortController and an addEventListener link cost microseconds a task.
   */
  #inFlight: AbortController | undefined;
  /** The attempt under way: its work, and how to stop waiting for it (see #giveUpUnlessStopped). */
  #work: Promise<TData> | undefined;
  #giveUp: ((error: TaskforgeError) => void) | undefined;
  #giveUpTimer: NodeJS.Timeout | undefined;
  #status: TaskStatus = TaskStatus.PENDING;
  #execution: Promise<TaskResult<TData>> | undefined;
  #result: TaskResult<TData> | undefined;
  #cleanup: Promise<void> | undefined;
  #lastProgressAt = Number.NEGATIVE_INFINITY;
  /** The bytesDone of the last progress event told: the last count is not told twice. */
  #lastProgressDone = -1;
  #details: Readonly<Record<string, unknown>> | undefined;

  /**
   * Accepts any input: a config that is wrong becomes a FAILED result with
   * VALIDATION_ERROR when execute() runs, never a throw here, so a bad config
   * read from a file cannot crash the program that runs it.
   */
  constructor(config: TaskConfig, context: TaskContext = {}) {
    const raw: unknown = config;
    const fields = raw !== null && typeof raw === 'object' ? (raw as Record<string, unknown>) : {};
    this.rawConfig = raw;
    this.id = typeof fields['id'] === 'string' && fields['id'].length > 0 ? fields['id'] : newTaskId();
    this.type = typeof fields['type'] === 'string' ? fields['type'] : 'unknown';
    const priority = fields['priority'];
    this.priority = typeof priority === 'number' && Number.isFinite(priority) ? priority : 0;
    this.logger = context.logger ?? getDefaultLogger();
    this.#retryPolicy = context.retryPolicy;
  }

  /** The current status. */
  get status(): TaskStatus {
    return this.#status;
  }

  /** The result, once the task has ended. */
  get result(): TaskResult<TData> | undefined {
    return this.#result;
  }

  /** Listens to one of the task's events; see {@link TaskEvents} for the payloads. */
  on<K extends keyof TaskEvents>(event: K, listener: Listener<TaskEvents, K>): this {
    this.#events().on(event, listener);
    return this;
  }

  once<K extends keyof TaskEvents>(event: K, listener: Listener<TaskEvents, K>): this {
    this.#events().once(event, listener);
    return this;
  }

  off<K extends keyof TaskEvents>(event: K, listener: Listener<TaskEvents, K>): this {
    this.#listeners?.off(event, listener);
    return this;
  }

  /**
   * Runs the task: validates the config, then makes up to `1 + retries`
   * attempts. Resolves with the result whether the task succeeded or failed;
   * it never rejects for a task failure. Calling it again returns the same
   * promise.
   */
  execute(): Promise<TaskResult<TData>> {
    this.#execution ??= this.#run();
    return this.#execution;
  }

  /**
   * Cancels a pending or running task. A running attempt's signal is aborted
   * and this resolves once the attempt has really stopped and the task has
   * ended FAILED with CANCELLED (or COMPLETED, if the work had already
   * committed). A finished task cannot be cancelled: INVALID_STATE.
   */
  async cancel(reason?: string): Promise<void> {
    const previousStatus = this.#status;
    if (isFinalStatus(previousStatus)) {
      throw new TaskforgeError(ErrorCode.INVALID_STATE, `task '${this.id}' cannot be cancelled: it is already ${previousStatus}`, {
        details: { taskId: this.id, status: previousStatus },
      });
    }
    if (this.#cancelReason === undefined) {
      const because = reason === undefined ? '' : `: ${reason}`;
      const error = new TaskforgeError(ErrorCode.CANCELLED, `task '${this.id}' was cancelled${because}`);
      this.#cancelReason = error;
      this.#inFlight?.abort(error);
      this.#giveUpUnlessStopped();
      this.#listeners?.emit('cancel', { id: this.id, type: this.type, previousStatus, ...(reason === undefined ? {} : { reason }) });
      if (previousStatus === TaskStatus.PENDING) {
        this.#execution = Promise.resolve(this.#fail(Date.now(), 0, error));
      } else {
        await this.#runHook('cancelTask', () => this.cancelTask());
      }
    }
    await this.#execution;
  }

  /**
   * Releases what the task holds, once: later calls return the same promise.
   * Only a finished task can be cleaned up; otherwise INVALID_STATE.
   */
  cleanup(): Promise<void> {
    if (!isFinalStatus(this.#status)) {
      return Promise.reject(
        new TaskforgeError(ErrorCode.INVALID_STATE, `task '${this.id}' cannot be cleaned up while ${this.#status}; cancel it or wait for it to end`, {
          details: { taskId: this.id, status: this.#status },
        }),
      );
    }
    if (this.#cleanup !== undefined) return this.#cleanup;
    if (this.cleanupTask === BaseTask.prototype.cleanupTask) {
      // Nothing to release: no hook to await, so no promise chain per task.
      this.#cleanup = CLEANED;
      if (this.#listenerCount('cleanup') > 0) this.#listeners?.emit('cleanup', { id: this.id, type: this.type });
      return CLEANED;
    }
    this.#cleanup = (async () => {
      await this.#runHook('cleanupTask', () => this.cleanupTask());
      this.#listeners?.emit('cleanup', { id: this.id, type: this.type });
    })();
    return this.#cleanup;
  }

  /** One attempt of the task's work. It must stop promptly when `signal` aborts. */
  protected abstract executeTask(signal: AbortSignal, context: AttemptContext<TConfig>): Promise<TData>;

  /** Extra work on cancel(), beside the abort of the signal. Default: nothing. */
  protected cancelTask(): Promise<void> | void {
    return undefined;
  }

  /** Releases resources after the task ended. Default: nothing. */
  protected cleanupTask(): Promise<void> | void {
    return undefined;
  }

  /**
   * A result known without doing any work (a read served from memory):
   * returned, the task completes in one attempt with no signal or timer set
   * up. Default: none.
   */
  protected completeSynchronously(_config: TConfig): { readonly data: TData } | undefined {
    return undefined;
  }

  /** Facts for the result's `details` (how the work was done); the last call wins. */
  protected setResultDetails(details: Readonly<Record<string, unknown>>): void {
    this.#details = details;
  }

  /** Validates the raw config; throws VALIDATION_ERROR. Task types override it with their schema. */
  protected validateConfig(raw: unknown): TConfig {
    return validTaskConfig(raw, this.id) as TConfig;
  }

  /**
   * The timeout and retries of a validated config. Default: its
   * `metadata.options`; a type whose validated config has another shape
   * overrides this.
   */
  protected attemptOptions(config: TConfig): AttemptOptions {
    return attemptOptionsOf(config as ValidTaskConfig);
  }

  /** Reports bytes moved; throttled to one event per 100 ms, plus the last one (`last`: the data has ended, its total known or not), told once. */
  protected reportProgress(bytesDone: number, bytesTotal?: number, last = false): void {
    if (this.#listenerCount('progress') === 0) return;
    const now = performance.now();
    const finished = last || (bytesTotal !== undefined && bytesDone >= bytesTotal);
    if (!finished && now - this.#lastProgressAt < PROGRESS_INTERVAL_MS) return;
    if (last && bytesDone === this.#lastProgressDone) return;
    this.#lastProgressAt = now;
    this.#lastProgressDone = bytesDone;
    this.#listeners?.emit('progress', {
      id: this.id,
      type: this.type,
      bytesDone,
      ...(bytesTotal === undefined ? {} : { bytesTotal }),
    });
  }

  /** Turns anything an attempt threw into a coded error. Task types may refine it. */
  protected toTaskError(error: unknown): TaskforgeError {
    if (error instanceof TaskforgeError) return error;
    const system = systemErrorIn(error);
    if (system !== undefined) return fromSystemError(system, { operation: `task ${this.type}`, path: this.id });
    return new TaskforgeError(ErrorCode.TASK_FAILED, `task '${this.id}' failed: ${messageOf(error)}`, { cause: error, retryable: false });
  }

  async #run(): Promise<TaskResult<TData>> {
    const startedAt = Date.now();
    this.#setStatus(TaskStatus.RUNNING);
    if (this.#listenerCount('start') > 0) {
      this.#listeners?.emit('start', { id: this.id, type: this.type, startedAt: isoTime(startedAt) });
    }
    let attempts = 0;
    try {
      const config = this.#validated();
      const immediate = this.completeSynchronously(config);
      if (immediate !== undefined) return this.#complete(startedAt, 1, immediate.data);
      const { timeout, retries = 0 } = this.attemptOptions(config);
      for (;;) {
        if (this.#cancelReason !== undefined) throw this.#cancelReason;
        attempts += 1;
        // One attempt, under its own signal, which the timeout and cancel()
        // abort. (Written here rather than as a method of its own: an async
        // method more per task was a tenth of a no-op task's cost.)
        const controller = new AbortController();
        this.#inFlight = controller;
        const timer = this.#timeOut(controller, attempts, timeout);
        let data: TData;
        try {
          // Awaited to the end even after an abort: the next attempt or the
          // task's end must not overlap work that is still running.
          data = await this.#heeded(this.executeTask(this.#signalOf(controller), new Attempt(attempts, config, controller)));
        } catch (thrown) {
          this.#attemptEnded(timer);
          const error = this.#classify(controller.signal.aborted ? stoppedBy(controller.signal, thrown) : thrown);
          if (!error.retryable || attempts > retries) throw error;
          await this.#waitBeforeRetry(attempts, error);
          continue;
        }
        this.#attemptEnded(timer);
        return this.#complete(startedAt, attempts, data);
      }
    } catch (thrown) {
      return this.#fail(startedAt, attempts, this.#classify(thrown));
    }
  }

  /**
   * The config, validated by the type's own check: whatever that check
   * throws is a VALIDATION_ERROR (a plain Error from a hand-written check
   * too), as an orchestrator's submit refuses it.
   */
  #validated(): TConfig {
    try {
      return this.validateConfig(this.rawConfig);
    } catch (error) {
      throw error instanceof TaskforgeError ? error : configRefusal(error, this.type, this.id);
    }
  }

  /** The timer that aborts attempt `attempt` after `timeoutMs`; none without a timeout. */
  #timeOut(controller: AbortController, attempt: number, timeoutMs: number | undefined): NodeJS.Timeout | undefined {
    if (timeoutMs === undefined || timeoutMs === 0) return undefined;
    return setTimeout(() => {
      const message = `attempt ${attempt} of task '${this.id}' timed out after ${timeoutMs} ms`;
      controller.abort(new TaskforgeError(ErrorCode.TIMEOUT, message, { details: { taskId: this.id, timeoutMs, attempt } }));
      this.#giveUpUnlessStopped();
    }, timeoutMs);
  }

  /** The attempt's work, as awaited: it settles with the work, or with the error it was given up with. */
  #heeded(work: Promise<TData>): Promise<TData> {
    this.#work = work;
    return new Promise<TData>((resolve, reject) => {
      this.#giveUp = reject;
      work.then(resolve, reject);
    });
  }

  /**
   * The attempt was aborted (timeout, cancel): work that has not stopped
   * its type's abortGraceMs later is given up. Its end must not wait for ever
   * on work that ignores its signal (a caller, a cancel, a shutdown would);
   * the end says that its work was left running, so its outcome is not known.
   */
  #giveUpUnlessStopped(): void {
    const giveUp = this.#giveUp;
    const work = this.#work;
    const aborted = this.#inFlight;
    if (giveUp === undefined || work === undefined || aborted === undefined || this.#giveUpTimer !== undefined) return;
    const graceMs = (this.constructor as typeof BaseTask).abortGraceMs;
    this.#giveUpTimer = setTimeout(() => {
      const reason = abortError(aborted.signal);
      this.logger.error({ taskId: this.id, taskType: this.type, code: reason.code }, `the task's work did not stop within ${String(graceMs)} ms of its abort: given up, and left running`);
      abandonedWork.set(
        this,
        work.then(ignore, ignore).then(() => {
          abandonedWork.delete(this);
        }),
      );
      giveUp(
        new TaskforgeError(reason.code, `${reason.message}; its work did not stop within ${String(graceMs)} ms of that and was given up (it may still be running: what it did is not known)`, {
          details: { ...reason.details, abandoned: true, outcome: 'unknown' },
          retryable: false,
        }),
      );
    }, graceMs);
  }

  #attemptEnded(timer: NodeJS.Timeout | undefined): void {
    if (timer !== undefined) clearTimeout(timer);
    if (this.#giveUpTimer !== undefined) {
      clearTimeout(this.#giveUpTimer);
      this.#giveUpTimer = undefined;
    }
    this.#inFlight = undefined;
    this.#work = undefined;
    this.#giveUp = undefined;
  }

  async #waitBeforeRetry(attempt: number, error: TaskforgeError): Promise<void> {
    const delayMs = backoffDelay(attempt, { ...DEFAULT_RETRY_POLICY, ...this.#retryPolicy });
    const info = toErrorInfo(error);
    this.logger.warn({ taskId: this.id, taskType: this.type, attempt, delayMs, code: error.code }, 'task attempt failed; retrying');
    this.#listeners?.emit('retry', { id: this.id, type: this.type, attempt, nextAttempt: attempt + 1, delayMs, error: info });
    const wait = new AbortController();
    this.#inFlight = wait;
    try {
      await sleep(delayMs, wait.signal);
    } finally {
      this.#inFlight = undefined;
    }
  }

  /**
   * The signal `executeTask` is handed. Node makes a controller's signal
   * on first use, so a task type that declares it never reads this one (see
   * ignoresSignal) costs no signal per attempt unless it asks its context.
   * Declared, never guessed: what a function's source text shows depends on
   * the tools that compiled it.
   */
  #signalOf(controller: AbortController): AbortSignal {
    return (this.constructor as typeof BaseTask).ignoresSignal ? UNREAD_SIGNAL : controller.signal;
  }

  #events(): TypedEmitter<TaskEvents> {
    this.#listeners ??= new TypedEmitter<TaskEvents>((error, event) => {
      this.logger.error({ taskId: this.id, event, err: describeError(error) }, 'a task event listener threw');
    });
    return this.#listeners;
  }

  #listenerCount(event: keyof TaskEvents): number {
    return this.#listeners?.listenerCount(event) ?? 0;
  }

  #classify(thrown: unknown): TaskforgeError {
    const cancelled = this.#cancelReason;
    if (cancelled !== undefined) {
      // The work's own account of how it stopped where it adds to the cancel's (an upload whose parts the store would not remove), else the cancel's.
      return thrown instanceof TaskforgeError && thrown !== cancelled && thrown.code === cancelled.code && thrown.message.includes(cancelled.message) ? thrown : cancelled;
    }
    return this.toTaskError(thrown);
  }

  #complete(startedAt: number, attempts: number, data: TData): TaskResult<TData> {
    this.#setStatus(TaskStatus.COMPLETED);
    const result = this.#buildResult(startedAt, attempts, TaskStatus.COMPLETED, data, undefined);
    this.#result = result;
    this.logger.debug({ taskId: this.id, taskType: this.type, attempts, durationMs: result.durationMs }, 'task completed');
    this.#listeners?.emit('complete', result);
    return result;
  }

  /** The spec's error flow: log, set FAILED, emit `error`, return the result. */
  #fail(startedAt: number, attempts: number, error: TaskforgeError): TaskResult<TData> {
    const info = toErrorInfo(error);
    // The log keeps the cause's own words, host paths included: results and events carry them scrubbed.
    const cause = error.cause instanceof Error ? { cause: error.cause.message } : {};
    this.logger.error({ taskId: this.id, taskType: this.type, attempts, code: info.code, err: info.message, ...cause }, 'task failed');
    this.#setStatus(TaskStatus.FAILED);
    const result = this.#buildResult(startedAt, attempts, TaskStatus.FAILED, undefined, info);
    this.#result = result;
    this.#listeners?.emit('error', { id: this.id, type: this.type, error: info, result });
    return result;
  }

  /** Builds the result in one literal of one shape: spreads of optional parts cost more than the rest of a cached read. */
  #buildResult(startedAt: number, attempts: number, status: FinalTaskStatus, data: TData | undefined, error: TaskErrorInfo | undefined): TaskResult<TData> {
    const finishedAt = Date.now();
    const result: { -readonly [K in keyof TaskResultBase]: TaskResultBase[K] } & { status: FinalTaskStatus; success: boolean; data?: TData; error?: TaskErrorInfo } = {
      id: this.id,
      type: this.type,
      status,
      success: status === TaskStatus.COMPLETED,
      attempts,
      startedAt: isoTime(startedAt),
      finishedAt: isoTime(finishedAt),
      durationMs: finishedAt - startedAt,
    };
    if (status === TaskStatus.COMPLETED) result.data = data as TData;
    if (error !== undefined) result.error = error;
    if (this.#details !== undefined) result.details = this.#details;
    // One of the two shapes: data exactly when it completed, error exactly when it failed (the callers give one or the other).
    return result as TaskResult<TData>;
  }

  #setStatus(next: TaskStatus): void {
    assertTransition(this.id, this.#status, next);
    this.#status = next;
  }

  async #runHook(name: string, hook: () => Promise<void> | void): Promise<void> {
    try {
      await hook();
    } catch (error) {
      this.logger.error({ taskId: this.id, hook: name, err: describeError(error) }, 'task hook threw');
      throw this.toTaskError(error);
    }
  }
}

/**
 * Why an aborted attempt stopped: whatever the work threw on the way out
 * (AbortError, EBADF), the reason is the abort's; the work's own error is
 * kept when it already says so (it may know more, such as "not retryable").
 */
function stoppedBy(signal: AbortSignal, thrown: unknown): unknown {
  const reason = abortError(signal);
  return thrown instanceof TaskforgeError && thrown.code === reason.code ? thrown : reason;
}

/**
 * The system error taskforge maps (ECONNREFUSED, ENOSPC…) that `error` is,
 * or that caused it, a few causes deep: libraries wrap them (fetch rejects
 * with "fetch failed", its cause the ECONNREFUSED), and the errno decides
 * the code and whether a retry may help.
 */
function systemErrorIn(error: unknown): Error | undefined {
  let current: unknown = error;
  for (let depth = 0; depth < 4 && current instanceof Error; depth += 1) {
    if (codeOfErrno(errnoOf(current)) !== undefined) return current;
    current = current.cause;
  }
  return undefined;
}

/** What a thrown value says: an Error's message, a thrown object's `message`, else the value shown. */
function describeError(error: unknown): string {
  return error instanceof Error ? error.message : String(error);
}
