import { ErrorCode, TaskforgeError } from '../../core/errors.js';
import { releaseDataStream } from '../../storage/data-stream.js';
import type { TaskResult } from '../../tasks/task-result.js';
import { TaskStatus } from '../../tasks/task-status.js';
import { invalid } from '../submission.js';
import { cancelledWhileWaiting, dependencyFailed, endNotStored, failedDependency, failedWithoutRunning, type FailedDependency } from '../task-ends.js';
import { STOP_GRACE_MS } from '../task-queue.js';
import type { CancelOutcome, Consumption, ConsumptionStopped, QueueConsumer, QueueListener, QueueSubmitOptions, QueueTaskEvents, QueuedTask, SubmitOutcome, TakenTask, TaskMeta, TaskQueue, TaskState } from '../task-queue.js';
import type { TaskStore, UnfinishedTask } from '../task-store.js';
import { serialOf } from '../../core/ids.js';
import { EntryIndex } from './entry-index.js';
import { HeldBack } from './held-back.js';
import { ListenerSet } from './listener-set.js';

/**
 * How long task starts may run back to back on microtasks before the event
 * loop gets a turn. At 10 ms the loop's p99 delay under 300,000 instant
 * tasks was 14 ms (the turns plus garbage collection); at 5 ms it is 8-10 ms,
 * at the same rate of tasks.
 */
const SLICE_MS = 5;

/**
 * A task this queue holds until it ends: what the store holds and the
 * consumer is handed (one object for both: the memory store keeps it as it
 * is), and its place in the dependency graph.
 */
class LocalEntry implements TakenTask {
  status: typeof TaskStatus.PENDING | typeof TaskStatus.RUNNING = TaskStatus.PENDING;
  /** Dependencies that have not completed yet. */
  unmet = 0;
  /** Entries that wait for this one. */
  dependents: LocalEntry[] | undefined = undefined;
  ended = false;
  readonly id: string;
  /** The id's serial when this process made it (see EntryIndex). */
  readonly serial: number | undefined;
  readonly type: string;
  readonly priority: number;
  readonly config: QueuedTask['config'];
  readonly dependsOn: readonly string[] | undefined;
  readonly attempts: number;
  readonly submittedAt: number;
  /** The submitter's handle, given back with the end. */
  readonly tag: unknown;

  constructor(
    task: QueuedTask,
    readonly interruptions: number,
  ) {
    this.id = task.id;
    this.serial = task.serial ?? serialOf(task.id);
    this.type = task.type;
    this.priority = task.priority;
    this.config = task.config;
    this.dependsOn = task.dependsOn;
    this.attempts = task.attempts;
    this.submittedAt = task.submittedAt;
    this.tag = task.tag;
  }
}

/**
 * A queue of this process: the memory queue and the SQLite queue are this
 * class over their stores (memory-store.ts, sqlite-store.ts). One process
 * holds the store (the SQLite file is locked), so the dependency graph and
 * the hand-out live here, in memory, and every change is written through to
 * the store before it is acted on: a durable store killed at any point
 * holds what the next open needs to go on (sqlite-store.ts, recover()).
 */
export class LocalQueue implements TaskQueue {
  readonly name: string;
  readonly durable: boolean;
  readonly shared = false;
  readonly #store: TaskStore;
  /** Every task not yet ended, by id. */
  readonly #entries = new EntryIndex<LocalEntry>();
  readonly #listeners = new ListenerSet();
  #consumer: QueueConsumer | undefined;
  #running = 0;
  #stopping = false;
  #closed = false;
  #pumpScheduled = false;
  #pumping = false;
  #sliceStartedAt = Number.NEGATIVE_INFINITY;
  readonly #abandoned = new Set<string>();
  /** Tasks a durable queue's stop cut off: their cancellations are not recorded, so they run again. */
  readonly #handingBack = new Set<string>();
  /** Running tasks the shutdown's deadline cut off (cancelled, and not ended first with a result of their own). */
  readonly #cancelledAtDeadline = new Set<string>();
  /** The end #end last recorded (not a tuple returned per task: this is the path every task takes). */
  #lastRecorded: TaskResult | undefined;
  #stopWaiters: (() => void)[] = [];
  /** Recovered tasks whose types the consumer has not yet been asked about (at its first hand-out). */
  #recovered: LocalEntry[] | undefined;
  /** Waiting tasks the consumer cannot run (a type it lacks), and those that wait on them. */
  readonly #heldBack = new HeldBack();

  protected constructor(store: TaskStore) {
    this.#store = store;
    this.name = store.name;
    this.durable = store.durable;
    try {
      this.#recover();
    } catch (error) {
      store.close();
      throw error;
    }
  }

  submit(tasks: readonly QueuedTask[], options: QueueSubmitOptions = {}): Promise<SubmitOutcome[]> {
    try {
      return Promise.resolve(this.submitNow(tasks, options));
    } catch (error) {
      return Promise.reject(error instanceof Error ? error : new Error(String(error)));
    }
  }

  /**
   * submit(), answered at once: the memory and SQLite queues need no wait,
   * and the Orchestrator's submit of one task (300,000 in a loop) saves a
   * promise each by asking here.
   */
  submitNow(tasks: readonly QueuedTask[], options: QueueSubmitOptions = {}): SubmitOutcome[] {
    this.#assertOpen();
    const where = options.where ?? (() => '');
    const inBatch = tasks.length > 1 ? new Set(tasks.map((task) => task.id)) : undefined;
    tasks.forEach((task, index) => {
      this.#admit(task, where(index), inBatch);
    });
    const entries = tasks.map((task) => new LocalEntry(task, 0));
    // Indexed first, so that tasks of the batch can name later ones.
    for (const entry of entries) this.#entries.set(entry);
    const failures: (FailedDependency | undefined)[] = [];
    try {
      this.#inTransaction(() => {
        for (const entry of entries) {
          const failed = this.#link(entry);
          failures.push(failed);
          this.#store.add(entry, entry.unmet === 0 && failed === undefined);
        }
      });
    } catch (error) {
      // The store refused (a full disk) and rolled the batch back: so does the graph.
      for (const entry of entries) this.#forget(entry);
      throw error;
    }
    return entries.map((entry, index) => {
      const failed = failures[index];
      if (failed !== undefined) return this.#endAll(entry, failedWithoutRunning(entry, entry.attempts, dependencyFailed(entry.id, failed)));
      if (entry.unmet > 0) return 'blocked';
      this.#schedulePump();
      return 'ready';
    });
  }

  /**
   * One task, at once: submitNow() without a batch's arrays and closures
   * (the loop that queues 300,000 tasks one by one is this path).
   */
  submitOneNow(task: QueuedTask): SubmitOutcome {
    this.#assertOpen();
    if (task.dependsOn !== undefined || this.#store.transaction !== undefined) {
      const [outcome] = this.submitNow([task]);
      return outcome ?? 'blocked';
    }
    this.#admit(task, '', undefined);
    const entry = new LocalEntry(task, 0);
    this.#store.add(entry, true);
    this.#entries.set(entry);
    this.#schedulePump();
    return 'ready';
  }

  /** The tag a task was submitted with, while the queue holds it (a task given up at stop included). */
  tagOf(id: string): unknown {
    return this.#entries.get(id)?.tag;
  }

  /** The type of a task this queue holds. */
  typeOf(id: string): string | undefined {
    return this.#entries.get(id)?.type;
  }

  /** The handles (tags) of the tasks still waiting, given up by a queue that keeps them (its orchestrator shuts down). */
  waitingTags(): unknown[] {
    const tags: unknown[] = [];
    for (const entry of this.#entries.values()) if (entry.status === TaskStatus.PENDING && !entry.ended && entry.tag !== undefined) tags.push(entry.tag);
    return tags;
  }

  consume(consumer: QueueConsumer): Consumption {
    this.#assertOpen();
    if (this.#consumer !== undefined) throw new TaskforgeError(ErrorCode.INVALID_STATE, `the queue ${this.name} has a consumer already`);
    this.#consumer = consumer;
    this.#sliceStartedAt = Number.NEGATIVE_INFINITY;
    // Recovered tasks start on the next turn, after the consumer's owner has finished setting up.
    this.#schedulePump();
    const running = (): number => this.#running;
    return {
      get running() {
        return running();
      },
      stop: (timeoutMs) => this.#stop(timeoutMs),
    };
  }

  cancel(id: string, reason?: string): Promise<CancelOutcome> {
    try {
      return Promise.resolve(this.cancelNow(id, reason));
    } catch (error) {
      return Promise.reject(error instanceof Error ? error : new Error(String(error)));
    }
  }

  /** cancel(), answered at once. */
  cancelNow(id: string, reason?: string): CancelOutcome {
    this.#assertOpen();
    const entry = this.#entries.get(id);
    if (entry === undefined) {
      const finished = this.#store.finished(id);
      return finished === undefined ? { outcome: 'unknown' } : { outcome: 'finished', finished };
    }
    const event = { id, type: entry.type, previousStatus: entry.status, ...(reason === undefined ? {} : { reason }) };
    if (entry.status === TaskStatus.PENDING) {
      this.#listeners.event('cancel', event);
      const result = failedWithoutRunning(entry, entry.attempts, cancelledWhileWaiting(id, entry.attempts, reason));
      return { outcome: 'ended', result: this.#endAll(entry, result) };
    }
    this.#listeners.event('cancel', event);
    this.#consumer?.cancel(id, reason);
    return { outcome: 'signalled', task: metaOf(entry) };
  }

  /** Ends every task waiting (not running) FAILED with CANCELLED: a queue that is not durable, whose orchestrator shuts down. */
  cancelWaiting(why: string): number {
    let cancelled = 0;
    for (const entry of [...this.#entries.values()]) {
      if (entry.status !== TaskStatus.PENDING || entry.ended) continue;
      const error = new TaskforgeError(ErrorCode.CANCELLED, `task '${entry.id}' did not run: ${why}`, { details: { requeued: false } });
      this.#endAll(entry, failedWithoutRunning(entry, entry.attempts, error));
      cancelled += 1;
    }
    return cancelled;
  }

  state(id: string): Promise<TaskState | undefined> {
    return Promise.resolve(this.stateNow(id));
  }

  /** state(), answered at once. */
  stateNow(id: string): TaskState | undefined {
    const entry = this.#entries.get(id);
    if (entry !== undefined) return stateOf(entry);
    const finished = this.#closed ? undefined : this.#store.finished(id);
    return finished === undefined ? undefined : { status: 'finished', finished };
  }

  /** The tasks not yet ended (waiting, blocked or running), oldest first, up to `limit`. */
  unfinished(limit: number): Promise<TaskState[]> {
    const states: TaskState[] = [];
    for (const entry of this.#entries.values()) {
      if (states.length >= limit) break;
      if (!entry.ended) states.push(stateOf(entry));
    }
    return Promise.resolve(states);
  }

  counts(): Promise<{ waiting: number; running: number }> {
    return Promise.resolve({ waiting: this.#store.waiting, running: this.#running });
  }

  /** Tasks waiting, answered at once. */
  get waiting(): number {
    return this.#closed ? 0 : this.#store.waiting;
  }

  /** Tasks waiting that this process's consumer can run: not held back for a type it lacks (see HeldBack). */
  get waitingToRun(): number {
    return this.waiting - this.heldBack;
  }

  /** Tasks waiting held back for a type this process's consumer cannot run, with those that wait on them (see HeldBack). */
  get heldBack(): number {
    // (Asked before the first hand-out: the consumer is asked about the recovered tasks' types now.)
    if (this.#recovered !== undefined && this.#consumer !== undefined && !this.#closed) this.#holdBackUnrunnable(this.#consumer);
    return this.#heldBack.size;
  }

  /**
   * The consumer may run more types now (one was registered since): tasks
   * held back for lacking it are handed out.
   */
  typesChanged(): void {
    const consumer = this.#consumer;
    if (consumer?.runs === undefined || this.#closed || !this.#heldBack.release((type) => consumer.runs?.(type) ?? true)) return;
    this.#store.holdBack?.(this.#heldBack.types);
    this.#schedulePump();
  }

  subscribe(listener: QueueListener): () => void {
    return this.#listeners.add(listener);
  }

  publish<K extends keyof QueueTaskEvents>(kind: K, payload: QueueTaskEvents[K]): void {
    this.#listeners.event(kind, payload);
  }

  wants(kind: keyof QueueTaskEvents): boolean {
    return this.#listeners.wants(kind);
  }

  close(): Promise<void> {
    if (!this.#closed) {
      this.#closed = true;
      this.#store.close();
    }
    return Promise.resolve();
  }

  /** Refuses what the queue cannot take: an id in use, a dependency it does not know or a task's own id. */
  #admit(task: QueuedTask, where: string, inBatch: ReadonlySet<string> | undefined): void {
    const { id, dependsOn } = task;
    if (task.newId !== true && (this.#entries.has(id) || this.#store.finished(id) !== undefined)) {
      const at = where === '' ? '' : ` (${where.slice(0, -1)})`;
      throw new TaskforgeError(ErrorCode.ALREADY_EXISTS, `a task with id '${id}' already exists${at}`, { details: { field: `${where}id`, taskId: id } });
    }
    dependsOn?.forEach((dependency, index) => {
      if (dependency === id) invalid(where, `dependsOn[${String(index)}]`, `a dependency cycle: task '${id}' depends on itself`, dependency);
      if (inBatch?.has(dependency) !== true && !this.#entries.has(dependency) && this.#store.finished(dependency) === undefined) {
        invalid(where, `dependsOn[${String(index)}]`, `no task with id '${dependency}' is known (it was never submitted, or it finished longer ago than the queue keeps)`, dependency);
      }
    });
  }

  /** Counts unmet dependencies and registers as their dependent; returns the first failed one. */
  #link(entry: LocalEntry): FailedDependency | undefined {
    for (const dependency of entry.dependsOn ?? []) {
      const parent = this.#entries.get(dependency);
      if (parent !== undefined && !parent.ended) {
        entry.unmet += 1;
        (parent.dependents ??= []).push(entry);
        if (this.#heldBack.size > 0 && this.#heldBack.has(parent.id)) this.#heldBack.add(entry.id);
        continue;
      }
      const result = this.#store.finished(dependency)?.result;
      if (result === undefined) return failedDependency(dependency, undefined);
      if (result.status !== TaskStatus.COMPLETED) return failedDependency(dependency, result.error);
    }
    return undefined;
  }

  /** Undoes a submit the store did not keep: out of the index, off its dependencies' lists. */
  #forget(entry: LocalEntry): void {
    this.#entries.delete(entry);
    for (const dependency of entry.dependsOn ?? []) {
      const parent = this.#entries.get(dependency);
      if (parent?.dependents !== undefined) parent.dependents = parent.dependents.filter((dependent) => dependent !== entry);
    }
    entry.unmet = 0;
  }

  #schedulePump(): void {
    if (this.#pumpScheduled || this.#consumer === undefined) return;
    this.#pumpScheduled = true;
    // Back-to-back starts of instant tasks would never leave the microtask
    // queue: give the event loop a turn every SLICE_MS.
    if (performance.now() - this.#sliceStartedAt < SLICE_MS) {
      queueMicrotask(this.#pumpNow);
    } else {
      setImmediate(this.#pumpInNewSlice);
    }
  }

  readonly #pumpNow = (): void => {
    this.#pumpScheduled = false;
    this.#pump();
  };

  readonly #pumpInNewSlice = (): void => {
    this.#sliceStartedAt = performance.now();
    this.#pumpNow();
  };

  /** Hands ready tasks to the consumer while it has free slots. */
  #pump(): void {
    const consumer = this.#consumer;
    if (consumer === undefined || this.#stopping || this.#closed) return;
    if (this.#recovered !== undefined) this.#holdBackUnrunnable(consumer);
    this.#pumping = true;
    let exhausted = false;
    try {
      while (this.#running < consumer.concurrency) {
        const next = this.#store.take();
        if (next === undefined) {
          exhausted = true;
          break;
        }
        // The memory store hands back the object it was given; the SQLite store, a copy.
        const entry = next instanceof LocalEntry ? next : this.#entries.get(next.id);
        if (entry === undefined || entry.ended) continue;
        entry.status = TaskStatus.RUNNING;
        this.#running += 1;
        consumer.run(entry, this.#doneWith);
      }
    } finally {
      this.#pumping = false;
    }
    if (this.#running === 0 && (exhausted || this.#store.waiting === 0)) consumer.drained?.();
  }

  /**
   * Asked once, at the first hand-out (so that types registered right after
   * the queue opened count): recovered tasks of a type the consumer cannot
   * run stay waiting, with what waits on them, and the process is told once.
   */
  #holdBackUnrunnable(consumer: QueueConsumer): void {
    const recovered = this.#recovered ?? [];
    this.#recovered = undefined;
    if (consumer.runs === undefined || this.#store.holdBack === undefined) return;
    const held = this.#heldBack.hold(recovered, (type) => consumer.runs?.(type) ?? true);
    if (held.size === 0) return;
    this.#store.holdBack(this.#heldBack.types);
    const roots = [...held.values()].reduce((sum, count) => sum + count, 0);
    const counts = [...held].map(([type, count]) => `${String(count)} ${count === 1 ? 'task' : 'tasks'} of type '${type}'`).join(', ');
    const dependents = this.#heldBack.size - roots;
    const behind = dependents > 0 ? `, with ${String(dependents)} ${dependents === 1 ? 'task that waits' : 'tasks that wait'} on ${roots === 1 ? 'it' : 'them'},` : '';
    const types = held.size === 1 ? 'type' : 'types';
    process.emitWarning(
      `${counts} ${roots === 1 ? 'waits' : 'wait'} in the queue ${this.name}, and no such task type is registered in this process: ${roots === 1 ? 'it stays' : 'they stay'} waiting${behind} until a process that registers the ${types} opens the queue`,
      'TaskforgeWarning',
    );
  }

  readonly #doneWith = (task: TakenTask, result: TaskResult): void => {
    const entry = task instanceof LocalEntry ? task : this.#entries.get(task.id);
    if (entry !== undefined) this.#done(entry, result);
  };

  /** A task the consumer ran has ended: record it, free its slot, and hand out what can start. */
  #done(entry: LocalEntry, result: TaskResult): void {
    if (this.#abandoned.delete(entry.id)) return;
    this.#running -= 1;
    // A task the deadline's cancellation reached that ended with its own result first was not cut off: it keeps its end.
    if (this.#cancelledAtDeadline.has(entry.id) && result.error?.code !== ErrorCode.CANCELLED) this.#cancelledAtDeadline.delete(entry.id);
    if (this.#handingBack.delete(entry.id) && result.error?.code === ErrorCode.CANCELLED) {
      // Not recorded: the store holds it as running, and the queue next opened on it runs it again (the cut-off
      // attempt counted as an interruption). Here it waits again, so its handle is let go with the waiting ones.
      entry.status = TaskStatus.PENDING;
    } else if (!this.#closed) this.#endAll(entry, result);
    if (this.#stopping) {
      if (this.#running === 0) this.#resolveStopped();
      return;
    }
    // Starting the next task here, rather than on a new microtask, saves a
    // hop per task; within the time slice, and never from inside #pump.
    if (!this.#pumping && performance.now() - this.#sliceStartedAt < SLICE_MS) this.#pump();
    else this.#schedulePump();
  }

  /** Records a task's end and fails, transitively, the tasks that depended on it when it did not complete. Returns the first's end as recorded. */
  #endAll(first: LocalEntry, firstResult: TaskResult): TaskResult {
    const failed = this.#end(first, firstResult);
    const recorded = this.#lastRecorded ?? firstResult;
    if (failed === undefined) return recorded;
    // Dependents of a failed task fail in turn: a worklist, not recursion, so a long chain cannot overflow the stack.
    const work = [...failed];
    for (let item = work.pop(); item !== undefined; item = work.pop()) {
      const more = this.#end(item[0], item[1]);
      // (One by one: a task with a hundred thousand dependents, spread into push, would overflow the stack.)
      if (more !== undefined) for (const next of more) work.push(next);
    }
    return recorded;
  }

  /** Records one task's end (in #lastRecorded), tells the listeners and releases its dependents; returns the dependents that fail with it. */
  #end(entry: LocalEntry, ended: TaskResult): [LocalEntry, TaskResult][] | undefined {
    this.#lastRecorded = undefined;
    if (entry.ended) return undefined;
    entry.ended = true;
    this.#entries.delete(entry);
    if (this.#heldBack.size > 0) this.#heldBack.ended(entry.id);
    // A task that never ran leaves its data stream unread: close it.
    if (entry.status === TaskStatus.PENDING && typeof (entry.config as { execute?: unknown }).execute !== 'function') {
      releaseDataStream((entry.config as { metadata?: { data?: unknown } }).metadata?.data);
    }
    const result = this.#record(entry, ended);
    this.#listeners.ended(result, entry.tag);
    // Set after the listeners ran: one that submits or cancels in its turn ends other tasks first.
    this.#lastRecorded = result;
    const dependents = entry.dependents;
    if (dependents === undefined) return undefined;
    entry.dependents = undefined;
    let failed: [LocalEntry, TaskResult][] | undefined;
    for (const dependent of dependents) {
      if (dependent.ended) continue;
      if (result.status === TaskStatus.COMPLETED) {
        dependent.unmet -= 1;
        if (dependent.unmet === 0) {
          this.#store.release(dependent.id);
          this.#schedulePump();
        }
      } else {
        const error = dependencyFailed(dependent.id, failedDependency(entry.id, result.error));
        (failed ??= []).push([dependent, failedWithoutRunning(dependent, dependent.attempts, error)]);
      }
    }
    return failed;
  }

  /**
   * Stores a task's end. Should the store fail (a full disk), the end is
   * still told: FAILED with the storing error, saying how the task itself
   * ended; a durable store then still holds the task as unfinished, and the
   * next queue opened on it runs the task again.
   */
  #record(entry: LocalEntry, result: TaskResult): TaskResult {
    try {
      this.#store.finish(entry, result);
      return result;
    } catch (error) {
      return endNotStored(result, error);
    }
  }

  /** Adopts the tasks a previous process left in a durable store. */
  #recover(): void {
    const unfinished = this.#store.recover();
    if (unfinished.length === 0) return;
    const entries = unfinished.map((task: UnfinishedTask) => new LocalEntry(task, task.interruptions));
    this.#recovered = entries;
    for (const entry of entries) this.#entries.set(entry);
    for (const entry of entries) {
      if (entry.ended) continue;
      const failed = this.#link(entry);
      if (failed !== undefined) {
        this.#endAll(entry, failedWithoutRunning(entry, entry.attempts, dependencyFailed(entry.id, failed)));
      } else if (entry.unmet === 0) {
        this.#store.release(entry.id);
      }
    }
  }

  #stop(timeoutMs: number): Promise<ConsumptionStopped> {
    this.#stopping = true;
    if (this.#running === 0) return Promise.resolve({ cutOff: [], abandoned: [] });
    return new Promise((resolve) => {
      const running = (): LocalEntry[] => [...this.#entries.values()].filter((entry) => entry.status === TaskStatus.RUNNING && !entry.ended);
      const cutOff = (): string[] => [...this.#cancelledAtDeadline];
      const cancel = setTimeout(() => {
        const cancelled = running().map((entry) => entry.id);
        for (const id of cancelled) this.#cancelledAtDeadline.add(id);
        // A durable queue keeps what the deadline cut off, as a crash would have left it: run again when next opened.
        if (this.durable) for (const id of cancelled) this.#handingBack.add(id);
        const reason = this.durable ? 'the orchestrator shut down; the task stays in the queue and runs again when it is next opened' : 'the orchestrator shut down';
        for (const id of cancelled) this.#consumer?.cancel(id, reason);
      }, timeoutMs);
      const giveUp = setTimeout(() => {
        const abandoned = running().map((entry) => entry.id);
        for (const id of abandoned) this.#abandoned.add(id);
        this.#running = 0;
        this.#stopWaiters = [];
        resolve({ cutOff: cutOff(), abandoned });
      }, timeoutMs + STOP_GRACE_MS);
      this.#stopWaiters.push(() => {
        clearTimeout(cancel);
        clearTimeout(giveUp);
        resolve({ cutOff: cutOff(), abandoned: [] });
      });
    });
  }

  #resolveStopped(): void {
    const waiters = this.#stopWaiters;
    this.#stopWaiters = [];
    for (const resolve of waiters) resolve();
  }

  #inTransaction(work: () => void): void {
    if (this.#store.transaction === undefined) work();
    else this.#store.transaction(work);
  }

  #assertOpen(): void {
    if (this.#closed) throw new TaskforgeError(ErrorCode.INVALID_STATE, `the queue ${this.name} is closed`);
  }
}

/** A task's state; a running one counts the attempt under way (its attempts are those made before). */
function stateOf(entry: LocalEntry): TaskState {
  const task = metaOf(entry);
  return { status: entry.status, task: entry.status === TaskStatus.RUNNING ? { ...task, attempts: task.attempts + 1 } : task };
}

function metaOf(entry: LocalEntry): TaskMeta {
  return { id: entry.id, type: entry.type, priority: entry.priority, dependsOn: entry.dependsOn, submittedAt: entry.submittedAt, attempts: entry.attempts, config: entry.config };
}
