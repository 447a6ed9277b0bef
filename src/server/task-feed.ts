import type { Listener } from '../core/typed-emitter.js';
import type { OrchestratorEvents } from '../orchestrator/orchestrator-events.js';
import type { TaskView } from '../orchestrator/task-view.js';
import type { TaskResult } from '../tasks/task-result.js';
import { parseStoragePath } from '../storage/storage-path.js';
import { TaskStatus } from '../tasks/task-status.js';
import { FEED_EVENTS, fieldsOf } from './event-fields.js';
import type { TaskRow, TaskTable } from './task-table.js';

/** The events a served orchestrator emits (the in-process one and the Redis client alike). */
export interface EventSource {
  on<K extends keyof OrchestratorEvents>(event: K, listener: Listener<OrchestratorEvents, K>): unknown;
  off<K extends keyof OrchestratorEvents>(event: K, listener: Listener<OrchestratorEvents, K>): unknown;
}

/** One lifecycle event as /events sends it: its name, its fields (never a task's data), and the task's row after it. */
export interface FeedEvent {
  readonly event: keyof OrchestratorEvents;
  readonly data: Readonly<Record<string, unknown>> & { readonly task: TaskRow };
}

type FeedListener = (event: FeedEvent) => void;

/** Keeps its own record of every lifecycle event (the history of ends, the event log, the configs), told before the /events subscribers. */
export interface FeedObserver {
  /** `row` is the task's row after the event. An end the feed had already heard (a second copy) is not told again. */
  observe(name: keyof OrchestratorEvents, payload: OrchestratorEvents[keyof OrchestratorEvents], row: TaskRow): void;
  /** The task that had this id has ended, and a new one takes the id: what is kept of the old one goes. */
  forget?(id: string): void;
}

/**
 * Every task's lifecycle in one place: listens to the orchestrator (and to
 * the tasks the server runs itself, through `record`), keeps the task table
 * current, and hands each event to the /events subscribers.
 */
export class TaskFeed {
  readonly #table: TaskTable;
  readonly #lookUp: ((id: string) => Promise<TaskView | undefined>) | undefined;
  readonly #observers: readonly FeedObserver[];
  readonly #listeners = new Set<FeedListener>();
  readonly #closers = new Map<FeedListener, () => void>();
  readonly #detach: (() => void)[] = [];
  /** Retries this server is submitting: the id of each, and the task it retries, until its row is made. */
  readonly #retryOf = new Map<string, string>();
  /** Ids this server is submitting, until their first event: a row of an ended task under one is another task's. */
  readonly #submitting = new Set<string>();

  /**
   * `lookUp` (the orchestrator's get) fills in what a row first seen mid-way
   * cannot know from its event (a task another client of a shared queue
   * submitted): its submission time and priority.
   */
  constructor(source: EventSource, table: TaskTable, observers: readonly FeedObserver[] = [], lookUp?: (id: string) => Promise<TaskView | undefined>) {
    this.#table = table;
    this.#observers = observers;
    this.#lookUp = lookUp;
    for (const name of FEED_EVENTS) {
      const listener = (payload: OrchestratorEvents[typeof name]): void => {
        this.record(name, payload);
      };
      source.on(name, listener);
      this.#detach.push(() => source.off(name, listener));
    }
  }

  /** Calls `listener` with every event from now on; returns how to stop. */
  subscribe(listener: FeedListener, onClose?: () => void): () => void {
    this.#listeners.add(listener);
    if (onClose !== undefined) this.#closers.set(listener, onClose);
    return () => {
      this.#listeners.delete(listener);
      this.#closers.delete(listener);
    };
  }

  get subscribers(): number {
    return this.#listeners.size;
  }

  /**
   * Names the task `retryId` retries, before it is submitted, so that its
   * row says so from its first event on; returns how to take that back
   * (its submit was refused).
   */
  expectRetry(retryId: string, originalId: string): () => void {
    this.#retryOf.set(retryId, originalId);
    return () => this.#retryOf.delete(retryId);
  }

  /**
   * Names tasks this server is about to submit, so that a task of the same
   * id that has ended (its queue lost it, or let it go) gives way to the new
   * one at its first event, whichever comes first (a worker's start may
   * come before the submit event); returns how to take that back.
   */
  expectSubmits(ids: readonly string[]): () => void {
    for (const id of ids) this.#submitting.add(id);
    return () => {
      for (const id of ids) this.#submitting.delete(id);
    };
  }

  /** Applies one lifecycle event to the table, tells the observers, then the subscribers. */
  record<K extends keyof OrchestratorEvents>(name: K, payload: OrchestratorEvents[K]): void {
    const id = (payload as { id: string }).id;
    if (this.#submitting.delete(id)) this.#makeWay(id);
    const before = this.#table.get(id)?.status;
    const row = this.#apply(name, payload);
    if (row === undefined) return;
    const repeatedEnd = (name === 'complete' || name === 'error') && (before === TaskStatus.COMPLETED || before === TaskStatus.FAILED);
    if (!repeatedEnd) for (const observer of this.#observers) observer.observe(name, payload, row);
    // Nobody on /events: the table is current, and no event need be built.
    if (this.#listeners.size === 0) return;
    const event: FeedEvent = { event: name, data: { ...fieldsOf(name, payload), task: { ...row } } };
    for (const listener of this.#listeners) listener(event);
  }

  /** Detaches from the orchestrator and ends every subscription (each subscriber's onClose is called). */
  close(): void {
    for (const detach of this.#detach.splice(0)) detach();
    const closers = [...this.#closers.values()];
    this.#listeners.clear();
    this.#closers.clear();
    for (const onClose of closers) onClose();
  }

  /** A new task takes the id of one that has ended: the old one's row, and what the observers keep of it, go. */
  #makeWay(id: string): void {
    const status = this.#table.get(id)?.status;
    if (status !== TaskStatus.COMPLETED && status !== TaskStatus.FAILED) return;
    this.#table.drop(id);
    for (const observer of this.#observers) observer.forget?.(id);
  }

  #apply(name: keyof OrchestratorEvents, payload: OrchestratorEvents[keyof OrchestratorEvents]): TaskRow | undefined {
    const table = this.#table;
    if (name === 'submit') {
      const submitted = payload as OrchestratorEvents['submit'];
      const { operation } = submitted;
      const path = shownPath(submitted.path);
      const known = table.get(submitted.id);
      // A queue's worker may start a task before its submitter's own submit event is told: the row made from that start learns the rest now.
      // (A row that has ended is another task's, whose id the queue took again: it gives way to a new one.)
      if (known !== undefined && known.status !== TaskStatus.COMPLETED && known.status !== TaskStatus.FAILED) {
        return table.update(submitted.id, (row) => {
          row.priority = submitted.priority;
          if (operation !== undefined && path !== undefined) {
            row.operation = operation;
            row.path = path;
          }
        });
      }
      return (
        table.replace({
          id: submitted.id,
          type: submitted.type,
          priority: submitted.priority,
          status: TaskStatus.PENDING,
          attempts: 0,
          // The queue's own time: the row and the task's view agree to the millisecond.
          submittedAt: submitted.submittedAt ?? new Date().toISOString(),
          ...(operation === undefined || path === undefined ? {} : { operation, path }),
          ...this.#lineage(submitted.id),
        })
      );
    }
    const id = (payload as { id: string }).id;
    // A task submitted elsewhere (another client of a Redis queue) first seen mid-way: the queue says when it was submitted.
    if (table.get(id) === undefined) {
      table.add({ id, type: (payload as { type: string }).type, priority: 0, status: TaskStatus.PENDING, attempts: 0, submittedAt: new Date().toISOString(), ...this.#lineage(id) });
      this.#learn(id);
    }
    return table.update(id, (row) => {
      switch (name) {
        case 'start':
          row.status = TaskStatus.RUNNING;
          row.startedAt = (payload as OrchestratorEvents['start']).startedAt;
          row.attempts = Math.max(row.attempts, 1);
          break;
        case 'retry':
          row.attempts = (payload as OrchestratorEvents['retry']).attempt;
          break;
        case 'progress': {
          const progress = payload as OrchestratorEvents['progress'];
          row.bytesDone = progress.bytesDone;
          if (progress.bytesTotal !== undefined) row.bytesTotal = progress.bytesTotal;
          break;
        }
        case 'complete':
          finish(row, payload as TaskResult);
          break;
        case 'error':
          finish(row, (payload as OrchestratorEvents['error']).result);
          break;
        default:
          break;
      }
    });
  }

  /** Sets a row's submission time and priority from the queue's view of its task (one lookup, not awaited). */
  #learn(id: string): void {
    this.#lookUp?.(id).then(
      (view) => {
        if (view === undefined) return;
        this.#table.update(id, (row) => {
          row.submittedAt = view.submittedAt;
          row.priority = view.priority;
        });
      },
      // A queue that cannot answer now leaves the time it was first seen.
      () => undefined,
    );
  }

  /** `{ retryOf }` for a retry this server submitted, once: the row keeps it from then on. */
  #lineage(id: string): { retryOf?: string } {
    const retryOf = this.#retryOf.get(id);
    if (retryOf === undefined) return {};
    this.#retryOf.delete(id);
    return { retryOf };
  }
}

/** A storage path as the task will use it (`x.txt` is `/x.txt`): the row and the result name one place; one the task will refuse is shown as given. */
export function shownPath(path: string | undefined): string | undefined {
  if (path === undefined) return undefined;
  try {
    return parseStoragePath(path);
  } catch {
    return path;
  }
}

function finish(row: TaskRow, result: TaskResult): void {
  Object.assign(row, endFields(result));
}

/** What a row says of a task's end, read from its result. */
export function endFields(result: Pick<TaskResult, 'status' | 'attempts' | 'startedAt' | 'finishedAt' | 'durationMs' | 'error'>): Pick<TaskRow, 'status' | 'attempts' | 'startedAt' | 'finishedAt' | 'durationMs' | 'error'> {
  const { status, attempts, startedAt, finishedAt, durationMs, error } = result;
  // A task that never ran (cancelled while waiting, its dependency failed) has a result whose start is its end: no start to show.
  return { status, attempts, ...(attempts === 0 ? {} : { startedAt }), finishedAt, durationMs, ...(error === undefined ? {} : { error: { code: error.code, message: error.message } }) };
}
