import { LRUCache } from 'lru-cache';
import type { OrchestratorEvents } from '../orchestrator/orchestrator-events.js';
import { fieldsOf } from './event-fields.js';
import type { FeedObserver } from './task-feed.js';

/** Options of {@link TaskEventLog}. */
export interface TaskEventLogOptions {
  /** Tasks whose events are kept; the one heard from longest ago goes first. Default 10,000. */
  readonly maxTasks?: number;
  /** Events kept per task: the first (its submit) and the latest. Default 50. */
  readonly maxEventsPerTask?: number;
  /** The clock, ms since the epoch. Default Date.now. */
  readonly now?: () => number;
}

/** One event as the log keeps it: its name, when this server heard it (ISO), and its fields (never data). */
export interface LoggedEvent {
  readonly event: keyof OrchestratorEvents;
  readonly at: string;
  readonly [field: string]: unknown;
}

/** A task's events, oldest first, and how many were dropped from the middle to stay within bounds. */
export interface TaskEvents {
  readonly events: readonly LoggedEvent[];
  readonly trimmed: number;
}

/** An event as heard: its fields as given (with the task's id and type), and when, in ms. Shaped into a {@link LoggedEvent} only when read. */
interface HeardEvent {
  readonly event: keyof OrchestratorEvents;
  readonly at: number;
  readonly fields: Record<string, unknown>;
}

interface Entry {
  readonly events: HeardEvent[];
  trimmed: number;
}

/**
 * The events of each task this server heard, for a task's detail: a
 * bounded log (tasks and events per task), where a run of progress events
 * is kept as its latest one (a large transfer sends many).
 */
export class TaskEventLog implements FeedObserver {
  /** By the time each task was last heard from: a Map re-inserted per event and evicted from its front costs tens of µs an event, once its deleted slots pile up. */
  readonly #entries: LRUCache<string, Entry>;
  readonly #maxEvents: number;
  readonly #now: () => number;

  constructor(options: TaskEventLogOptions = {}) {
    this.#entries = new LRUCache({ max: Math.max(1, options.maxTasks ?? 10_000) });
    this.#maxEvents = Math.max(2, options.maxEventsPerTask ?? 50);
    this.#now = options.now ?? Date.now;
  }

  observe(name: keyof OrchestratorEvents, payload: OrchestratorEvents[keyof OrchestratorEvents]): void {
    // (Each event is kept as heard and shaped when read: an object rest or a spread after other keys, and an ISO date, cost microseconds per event on the submit path.)
    const fields = fieldsOf(name, payload);
    const id = fields['id'] as string;
    // Heard from now: a get moves it to the end of the eviction order; a set past the budget evicts the one heard from longest ago.
    let entry = this.#entries.get(id);
    if (entry === undefined) {
      entry = { events: [], trimmed: 0 };
      this.#entries.set(id, entry);
    }
    const event: HeardEvent = { event: name, at: this.#now(), fields };
    const { events } = entry;
    if (name === 'progress' && events.at(-1)?.event === 'progress') {
      events[events.length - 1] = event;
    } else if (name === 'submit') {
      const last = events.at(-1)?.event;
      if (last === 'complete' || last === 'error') {
        // A task submitted again under the id of one that ended (its queue lost it, or let it go): its events start anew.
        events.length = 0;
        entry.trimmed = 0;
        events.push(event);
      } else {
        // A queue's worker may start a task before its submitter's submit event is told: the submit still came first.
        events.unshift(event);
      }
    } else {
      events.push(event);
      if (events.length > this.#maxEvents) {
        // The first event says how the task began; the latest say how it is going.
        events.splice(1, 1);
        entry.trimmed += 1;
      }
    }
  }

  /** The task that had this id has ended, and a new one takes the id: its events go. */
  forget(id: string): void {
    this.#entries.delete(id);
  }

  /** A task's events, or undefined when none are kept (it ran before this server listened, or fell out of the log). */
  of(id: string): TaskEvents | undefined {
    const entry = this.#entries.peek(id);
    return entry === undefined ? undefined : { events: entry.events.map(logged), trimmed: entry.trimmed };
  }
}

function logged({ event, at, fields }: HeardEvent): LoggedEvent {
  const { id: _id, type: _type, ...rest } = fields;
  return { event, at: new Date(at).toISOString(), ...rest };
}
