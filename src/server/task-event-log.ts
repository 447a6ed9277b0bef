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

interface Entry {
  readonly events: LoggedEvent[];
  trimmed: number;
}

/**
 * The events of each task this server heard, for a task's detail: a
 * bounded log (tasks and events per task), where a run of progress events
 * is kept as its latest one (a large transfer sends many).
 */
export class TaskEventLog implements FeedObserver {
  readonly #entries = new Map<string, Entry>();
  readonly #maxTasks: number;
  readonly #maxEvents: number;
  readonly #now: () => number;

  constructor(options: TaskEventLogOptions = {}) {
    this.#maxTasks = options.maxTasks ?? 10_000;
    this.#maxEvents = Math.max(2, options.maxEventsPerTask ?? 50);
    this.#now = options.now ?? Date.now;
  }

  observe(name: keyof OrchestratorEvents, payload: OrchestratorEvents[keyof OrchestratorEvents]): void {
    const { id, type: _type, ...fields } = fieldsOf(name, payload) as { id: string; type: string };
    let entry = this.#entries.get(id);
    if (entry === undefined) {
      entry = { events: [], trimmed: 0 };
    } else {
      // Heard from now: it goes to the end of the eviction order.
      this.#entries.delete(id);
    }
    this.#entries.set(id, entry);
    const event: LoggedEvent = { event: name, at: new Date(this.#now()).toISOString(), ...fields };
    const { events } = entry;
    if (name === 'progress' && events.at(-1)?.event === 'progress') {
      events[events.length - 1] = event;
    } else if (name === 'submit') {
      // A queue's worker may start a task before its submitter's submit event is told: the submit still came first.
      events.unshift(event);
    } else {
      events.push(event);
      if (events.length > this.#maxEvents) {
        // The first event says how the task began; the latest say how it is going.
        events.splice(1, 1);
        entry.trimmed += 1;
      }
    }
    if (this.#entries.size > this.#maxTasks) {
      const oldest = this.#entries.keys().next();
      if (oldest.done !== true) this.#entries.delete(oldest.value);
    }
  }

  /** A task's events, or undefined when none are kept (it ran before this server listened, or fell out of the log). */
  of(id: string): TaskEvents | undefined {
    const entry = this.#entries.get(id);
    return entry === undefined ? undefined : { events: [...entry.events], trimmed: entry.trimmed };
  }
}
