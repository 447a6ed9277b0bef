import type { TaskforgeError } from '../core/errors.js';
import type { BaseTask } from '../tasks/base-task.js';
import type { TaskCancelEvent, TaskProgressEvent, TaskRetryEvent, TaskStartEvent } from '../tasks/task-events.js';
import type { TaskConfig } from '../tasks/task-config.js';
import type { RetainedTaskResult, TaskResult } from '../tasks/task-result.js';
import type { TaskStatus } from '../tasks/task-status.js';

/*
 * The one queue contract: what an Orchestrator asks of the place its tasks
 * wait, whether that is this process's memory, a SQLite file on this machine
 * or a Redis server shared by many. Asynchronous, because the last one
 * answers over the network; small, because every queue implements all of it
 * and one conformance suite drives all three (test/orchestrator/queue-contract.test.ts).
 *
 * A queue owns what must be decided in one place for every process that
 * shares it: the order (taskforge's priority, priority-queue.ts), the
 * dependencies (a task is handed out only once every task it depends on
 * completed; one whose dependency failed ends DEPENDENCY_FAILED without
 * running), who runs what (a task handed to one consumer is not handed to
 * another while it runs), cancellation wherever the task is, and the record
 * of every end. The Orchestrator owns what is this process's: handles,
 * listeners, and running the tasks it is handed (task-runner.ts).
 */

/** A task as a queue holds it until it runs. Kept light: the task object is made only when it starts. */
export interface QueuedTask {
  readonly id: string;
  readonly type: string;
  readonly priority: number;
  /** The config as submitted; a task instance only in a queue that is not durable. */
  readonly config: TaskConfig | BaseTask;
  /** Ids that must complete before this task runs. */
  readonly dependsOn: readonly string[] | undefined;
  /** Attempts made before this run: a durable queue counts an attempt a crash cut off. */
  readonly attempts: number;
  /** When it was submitted (ms since the epoch). */
  readonly submittedAt: number;
  /** Its id was made by the submitter (unique by construction): the queue need not look it up. */
  readonly newId?: boolean;
  /** That made id's serial (core/ids.ts), by which a queue of this process indexes it. */
  readonly serial?: number | undefined;
  /**
   * The submitter's own object (its handle), which a queue of this process
   * keeps and gives back with the task's end, so that the submitter needs
   * no index of its own. A shared queue neither stores nor returns it.
   */
  readonly tag?: unknown;
}

/**
 * How long a consumption's stop() waits, after its deadline cancelled the
 * tasks still running, for their work to stop; a task that ignores its
 * signal longer is given up (see Consumption.stop). Shorter than a task's
 * own grace after an abort (GIVE_UP_AFTER_ABORT_MS), so that at a stop the
 * stop's account of the task is the one given.
 */
export const STOP_GRACE_MS = 2000;

/** What a finished task leaves behind in its queue, queryable by id. */
export interface FinishedTask {
  readonly id: string;
  readonly type: string;
  readonly priority: number;
  readonly status: typeof TaskStatus.COMPLETED | typeof TaskStatus.FAILED;
  readonly attempts: number;
  readonly dependsOn: readonly string[] | undefined;
  readonly submittedAt: number;
  /**
   * The result. A durable queue keeps `data` only when it is plain JSON of at
   * most 64 KiB (a write's or a list's result, not a read's payload).
   */
  readonly result: RetainedTaskResult;
}

/** How long finished tasks stay queryable. */
export interface RetentionOptions {
  /** The most finished tasks kept; the oldest go first. Default 10,000 in memory, 100,000 in SQLite. */
  readonly maxFinished?: number;
  /** The longest a finished task is kept, in ms. Default: no limit in memory, 7 days in SQLite. */
  readonly maxAgeMs?: number;
}

/** What a queue knows of every task it holds, whatever its state. */
export interface TaskMeta {
  readonly id: string;
  readonly type: string;
  readonly priority: number;
  readonly dependsOn?: readonly string[] | undefined;
  readonly submittedAt: number;
  readonly attempts: number;
  /** Its config, where the queue has it at hand (a view shows a storage task's operation and path from it). */
  readonly config?: unknown;
}

/** A task as a queue hands it to a consumer to run. */
export interface TakenTask extends QueuedTask {
  /** Times a crash or a dead worker cut it off while it ran (a durable queue counts them). */
  readonly interruptions: number;
  /**
   * Fencing, on a queue other processes take tasks from: rejects with
   * LOCK_LOST once this process no longer holds the task (its lock lapsed
   * while it was paused; another may run it now). Checked right before a
   * write commits. Absent where nobody else can take the task.
   */
  readonly assertHeld?: () => Promise<void>;
}

/** What submit() did with each task: queued ready, queued behind its dependencies, or ended at once (a dependency had failed). */
export type SubmitOutcome = 'ready' | 'blocked' | TaskResult;

/** Options of {@link TaskQueue.submit}. */
export interface QueueSubmitOptions {
  /** Names a task of the batch in messages: `[3].` for the fourth. Default: nothing (a single task). */
  readonly where?: (index: number) => string;
  /** The submitter listens to start, retry and progress events of these tasks (a shared queue publishes them only then). */
  readonly events?: boolean;
}

/** Where a task is, as the queue answers `state(id)`. */
export type TaskState =
  | { readonly status: typeof TaskStatus.PENDING | typeof TaskStatus.RUNNING; readonly task: TaskMeta }
  | { readonly status: 'finished'; readonly finished: FinishedTask };

/** What a cancel() found: nothing, a task already finished, a waiting task it ended, or a running one whose consumer it told. */
export type CancelOutcome =
  | { readonly outcome: 'unknown' }
  | { readonly outcome: 'finished'; readonly finished: FinishedTask }
  | { readonly outcome: 'ended'; readonly result: TaskResult }
  | { readonly outcome: 'signalled'; readonly task: TaskMeta };

/** What runs the tasks a queue hands out: an Orchestrator's runner. */
export interface QueueConsumer {
  /** Tasks it runs at once (1 or more); the queue hands out no more. */
  readonly concurrency: number;
  /**
   * Runs one task; calls `done(task, result)` once, with its end, after its
   * cleanup. The queue records that end, then hands out the next. (One
   * `done` for every task, rather than a closure each: a no-op task's whole
   * cost is a few such allocations.)
   */
  run(task: TakenTask, done: (task: TakenTask, result: TaskResult) => void): void;
  /**
   * A cancellation, asked from anywhere, of a task this consumer was handed
   * (it may have ended since). `stoppedWith`, when given, is the error the
   * task ends with in place of CANCELLED if the cancellation is what stopped
   * it (a shared queue's worker that lost the task: LOCK_LOST).
   */
  cancel(id: string, reason: string | undefined, stoppedWith?: TaskforgeError): void;
  /** The queue has nothing ready and this consumer runs nothing (a queue of one process only: a shared one cannot know). */
  drained?(): void;
  /** Whether it can run tasks of `type`; a durable queue of one process leaves the tasks of a type it cannot run waiting. */
  runs?(type: string): boolean;
  /** The task types it can run (asked again at each take: types may be registered later); a shared queue hands it only tasks of these. */
  types?(): readonly string[];
}

/** A consumer's hold on a queue, from consume(). */
export interface Consumption {
  /** Tasks handed out to this consumer and not yet done. */
  readonly running: number;
  /**
   * Stops handing out tasks and resolves once every task handed out is done
   * or given up. Tasks still running after `timeoutMs` are cancelled through
   * the consumer (a shared queue hands them back, to run again elsewhere,
   * rather than recording their cancellation); those still running
   * STOP_GRACE_MS later are given up: their ends are no longer waited for or
   * recorded here, and a durable queue runs them again (an interruption
   * counted).
   */
  stop(timeoutMs: number): Promise<ConsumptionStopped>;
}

/** How a consumption's stop went: which running tasks it cut off, and which of those it gave up. */
export interface ConsumptionStopped {
  /**
   * Running tasks cancelled at the deadline. A durable or shared queue keeps
   * them (to run again, the cut-off attempt counted as an interruption); the
   * memory queue records them CANCELLED.
   */
  readonly cutOff: readonly string[];
  /** Those of `cutOff` that ignored their cancellation for STOP_GRACE_MS and were given up. */
  readonly abandoned: readonly string[];
  /**
   * Tasks that ended here whose ends the stop could not record (a shared
   * queue whose server is unreachable): the queue runs them again once their
   * locks lapse. Absent when there are none.
   */
  readonly unrecorded?: readonly string[];
}

/** Task events other than ends, as they travel through a queue (from the process that runs the task to those that listen). */
export interface QueueTaskEvents {
  start: TaskStartEvent;
  retry: TaskRetryEvent;
  progress: TaskProgressEvent;
  cancel: TaskCancelEvent;
}

/** What hears a queue: every end it records, and task events published by whichever process runs the task. */
export interface QueueListener {
  /**
   * A task ended: ran, cancelled while waiting, failed by a dependency, cut
   * off too often, or lost. `data` as the recording process had it (a shared
   * queue carries what it retains); `tag` as the task was submitted with
   * (a queue of this process only). A shared queue tells at least the
   * ends of the ids in `waitingFor`, or every end with `everyTask`; it may
   * leave unread the ends of a process that waits for none (a worker that
   * submits nothing need not hear every other worker's ends).
   */
  ended(result: TaskResult, tag?: unknown): void;
  event<K extends keyof QueueTaskEvents>(kind: K, payload: QueueTaskEvents[K]): void;
  /** Whether it listens to `kind` events at all (they are not published when nobody does). */
  wants(kind: keyof QueueTaskEvents): boolean;
  /** It wants the events of every task, not only of those it submitted (a dashboard): a shared queue's workers then publish them all. */
  readonly everyTask?: boolean;
  /**
   * The ids whose ends this listener waits for. A shared queue asks when it
   * may have lost ends (its event stream was trimmed unread, or Redis came
   * back without its data) and reports those it no longer holds as LOST.
   */
  waitingFor?(): Iterable<string>;
}

/**
 * Where tasks wait, in taskforge's priority order, until a consumer runs
 * them; and where their ends are kept for lookup (see {@link RetentionOptions}).
 */
export interface TaskQueue {
  /** `memory`, `sqlite:FILE` or `redis://HOST:PORT?name=QUEUE`, for messages. */
  readonly name: string;
  /** Tasks survive this process: configs must be JSON, and task objects are refused. */
  readonly durable: boolean;
  /** Other processes take tasks from it too: only a queue of this process can say it is drained. */
  readonly shared: boolean;
  /**
   * Why its server cannot be reached now (its connection is down; calls
   * wait until it is back), or undefined while it can: always, on a queue
   * of this process.
   */
  readonly unreachable?: string | undefined;
  /**
   * Stores a batch, all or none, with readiness from the dependencies:
   * ALREADY_EXISTS for an id in use, VALIDATION_ERROR for a dependency the
   * queue does not know (never submitted, or finished longer ago than it keeps).
   */
  submit(tasks: readonly QueuedTask[], options?: QueueSubmitOptions): Promise<SubmitOutcome[]>;
  /**
   * Starts handing ready tasks to `consumer`, at most its concurrency at
   * once, in priority order among the tasks ready then. One consumer per
   * queue object. A task's dependents become ready when its end is
   * recorded: on a shared queue that is a moment after its consumer's slot
   * freed (ends are recorded in batches), so the slot may take another
   * task first; and a dead worker's tasks come back in their place a moment
   * after BullMQ hands them back unprioritized.
   */
  consume(consumer: QueueConsumer): Consumption;
  /**
   * Cancels a task wherever it is: one waiting ends here (FAILED, CANCELLED,
   * its dependents DEPENDENCY_FAILED); for one running, its consumer is told.
   */
  cancel(id: string, reason?: string): Promise<CancelOutcome>;
  /** Where a task is; undefined for an id the queue does not know (or no longer keeps). */
  state(id: string): Promise<TaskState | undefined>;
  /** The tasks not yet ended, oldest first, up to `limit` (a queue that cannot list them has no such method). */
  unfinished?(limit: number): Promise<TaskState[]>;
  /** Tasks waiting (ready or blocked) and running, anywhere. */
  counts(): Promise<{ readonly waiting: number; readonly running: number }>;
  /** Adds a listener of ends and events; returns the function that removes it. */
  subscribe(listener: QueueListener): () => void;
  /** Sends a running task's event to the queue's listeners, in this process and (on a shared queue) others. */
  publish<K extends keyof QueueTaskEvents>(kind: K, payload: QueueTaskEvents[K]): void;
  /** Whether anyone, here or elsewhere, listens to `kind` events of task `id` (a shared queue's events cost a write each). */
  wants(kind: keyof QueueTaskEvents, id: string): boolean;
  /** Releases this process's hold (connections, file); the tasks stay in a durable queue. Idempotent. */
  close(): Promise<void>;
}
