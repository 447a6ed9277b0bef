import type { Listener } from '../core/typed-emitter.js';
import type { OrchestratorEvents } from '../orchestrator/orchestrator-events.js';
import type { TaskResult } from '../tasks/task-result.js';
import { TaskStatus } from '../tasks/task-status.js';
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

const FEED_EVENTS = ['submit', 'start', 'retry', 'progress', 'cancel', 'complete', 'error'] as const;

/**
 * Every task's lifecycle in one place: listens to the orchestrator (and to
 * the tasks the server runs itself, through `record`), keeps the task table
 * current, and hands each event to the /events subscribers.
 */
export class TaskFeed {
  readonly #table: TaskTable;
  readonly #listeners = new Set<FeedListener>();
  readonly #detach: (() => void)[] = [];

  constructor(source: EventSource, table: TaskTable) {
    this.#table = table;
    for (const name of FEED_EVENTS) {
      const listener = (payload: OrchestratorEvents[typeof name]): void => {
        this.record(name, payload);
      };
      source.on(name, listener);
      this.#detach.push(() => source.off(name, listener));
    }
  }

  /** Calls `listener` with every event from now on; returns how to stop. */
  subscribe(listener: FeedListener): () => void {
    this.#listeners.add(listener);
    return () => this.#listeners.delete(listener);
  }

  get subscribers(): number {
    return this.#listeners.size;
  }

  /** Applies one lifecycle event to the table and tells the subscribers. */
  record<K extends keyof OrchestratorEvents>(name: K, payload: OrchestratorEvents[K]): void {
    const row = this.#apply(name, payload);
    // Nobody on /events: the table is current, and no event need be built.
    if (row === undefined || this.#listeners.size === 0) return;
    const event: FeedEvent = { event: name, data: { ...fieldsOf(name, payload), task: { ...row } } };
    for (const listener of this.#listeners) listener(event);
  }

  close(): void {
    for (const detach of this.#detach.splice(0)) detach();
    this.#listeners.clear();
  }

  #apply(name: keyof OrchestratorEvents, payload: OrchestratorEvents[keyof OrchestratorEvents]): TaskRow | undefined {
    const table = this.#table;
    if (name === 'submit') {
      const submitted = payload as OrchestratorEvents['submit'];
      const { operation, path } = submitted;
      return (
        table.get(submitted.id) ??
        table.add({
          id: submitted.id,
          type: submitted.type,
          priority: submitted.priority,
          status: TaskStatus.PENDING,
          attempts: 0,
          submittedAt: new Date().toISOString(),
          ...(operation === undefined || path === undefined ? {} : { operation, path }),
        })
      );
    }
    const id = (payload as { id: string }).id;
    // A task submitted elsewhere (another client of a Redis queue) first seen mid-way.
    if (table.get(id) === undefined) table.add({ id, type: (payload as { type: string }).type, priority: 0, status: TaskStatus.PENDING, attempts: 0, submittedAt: new Date().toISOString() });
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
}

function finish(row: TaskRow, result: TaskResult): void {
  row.status = result.status;
  row.attempts = result.attempts;
  row.startedAt = result.startedAt;
  row.finishedAt = result.finishedAt;
  row.durationMs = result.durationMs;
  if (result.error !== undefined) row.error = { code: result.error.code, message: result.error.message };
}

/** An event's own fields for /events: a result's data and a full result stay out (they may be large, or bytes). */
function fieldsOf(name: keyof OrchestratorEvents, payload: OrchestratorEvents[keyof OrchestratorEvents]): Record<string, unknown> {
  if (name === 'complete') {
    const result = payload as TaskResult;
    return { id: result.id, type: result.type, status: result.status, attempts: result.attempts, durationMs: result.durationMs };
  }
  if (name === 'error') {
    const { id, type, error } = payload as OrchestratorEvents['error'];
    return { id, type, error: { code: error.code, message: error.message, retryable: error.retryable } };
  }
  return { ...payload };
}
