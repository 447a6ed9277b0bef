import { ErrorCode, TaskforgeError } from '../core/errors.js';
import type { OrchestratorEvents } from '../orchestrator/orchestrator-events.js';
import type { FeedObserver } from './task-feed.js';
import type { TaskRow } from './task-table.js';

/** Options of {@link EndHistory}. */
export interface EndHistoryOptions {
  /** How far back ends are kept, in seconds. Default 3600 (an hour). */
  readonly keepSeconds?: number;
  /** The clock, ms since the epoch. Default Date.now. */
  readonly now?: () => number;
}

/** What a reading asks for: the last `windowSeconds`, in steps of `stepSeconds` (which divide it), of one type or all. */
export interface EndWindowQuery {
  readonly windowSeconds: number;
  readonly stepSeconds: number;
  readonly type?: string;
}

/** Ends in one step: it began at `start` (ISO) and lasts the step. */
export interface EndBucket {
  readonly start: string;
  readonly completed: number;
  readonly failed: number;
}

/** A reading: the server's time, since when it counts, and the steps, oldest first; the last one is the current, partial step. */
export interface EndWindow {
  readonly now: string;
  readonly since: string;
  readonly windowSeconds: number;
  readonly stepSeconds: number;
  readonly buckets: readonly EndBucket[];
}

interface Counts {
  completed: number;
  failed: number;
}

interface Slot {
  /** The second (since the epoch) this slot counts; a slot of an older second is stale. */
  second: number;
  readonly byType: Map<string, Counts>;
}

/**
 * The ends of tasks this server heard, counted per second and per type for
 * the last `keepSeconds`, in a ring of one slot per second: memory is
 * bounded by the window and the number of task types, not by the number of
 * tasks. A chart opened late reads it to show what ended before it looked.
 */
export class EndHistory implements FeedObserver {
  readonly #slots: Slot[];
  readonly #keepSeconds: number;
  readonly #now: () => number;
  readonly #since: number;

  constructor(options: EndHistoryOptions = {}) {
    this.#keepSeconds = options.keepSeconds ?? 3600;
    this.#now = options.now ?? Date.now;
    this.#since = this.#now();
    this.#slots = Array.from({ length: this.#keepSeconds }, () => ({ second: -1, byType: new Map<string, Counts>() }));
  }

  /** The longest window a reading may ask for, in seconds. */
  get keepSeconds(): number {
    return this.#keepSeconds;
  }

  /** Counts one end, now. */
  record(type: string, status: 'completed' | 'failed'): void {
    const second = Math.floor(this.#now() / 1000);
    const slot = this.#slots[second % this.#keepSeconds];
    if (slot === undefined) return;
    if (slot.second !== second) {
      slot.second = second;
      slot.byType.clear();
    }
    let counts = slot.byType.get(type);
    if (counts === undefined) {
      counts = { completed: 0, failed: 0 };
      slot.byType.set(type, counts);
    }
    counts[status] += 1;
  }

  observe(name: keyof OrchestratorEvents, _payload: unknown, row: TaskRow): void {
    if ((name === 'complete' || name === 'error') && (row.status === 'completed' || row.status === 'failed')) this.record(row.type, row.status);
  }

  /** The last `windowSeconds` in steps aligned to the clock (a step of 10 s starts at :00, :10, ...). */
  window(query: EndWindowQuery): EndWindow {
    const { windowSeconds, stepSeconds, type } = query;
    if (!Number.isInteger(windowSeconds) || windowSeconds < 1 || windowSeconds > this.#keepSeconds) {
      throw invalid('windowSeconds', `expected a whole number from 1 to ${String(this.#keepSeconds)} (got ${String(windowSeconds)})`);
    }
    if (!Number.isInteger(stepSeconds) || stepSeconds < 1 || windowSeconds % stepSeconds !== 0) {
      throw invalid('stepSeconds', `expected a whole number that divides ${String(windowSeconds)} (got ${String(stepSeconds)})`);
    }
    const now = this.#now();
    const nowSecond = Math.floor(now / 1000);
    const lastStart = Math.floor(nowSecond / stepSeconds) * stepSeconds;
    const steps = windowSeconds / stepSeconds;
    const firstStart = lastStart - (steps - 1) * stepSeconds;
    const buckets: EndBucket[] = [];
    for (let start = firstStart; start <= lastStart; start += stepSeconds) {
      const sum: Counts = { completed: 0, failed: 0 };
      for (let second = start; second < start + stepSeconds && second <= nowSecond; second += 1) this.#add(sum, second, type);
      buckets.push({ start: new Date(start * 1000).toISOString(), ...sum });
    }
    return { now: new Date(now).toISOString(), since: new Date(this.#since).toISOString(), windowSeconds, stepSeconds, buckets };
  }

  #add(sum: Counts, second: number, type: string | undefined): void {
    const slot = this.#slots[second % this.#keepSeconds];
    if (slot?.second !== second) return;
    for (const [slotType, counts] of slot.byType) {
      if (type !== undefined && slotType !== type) continue;
      sum.completed += counts.completed;
      sum.failed += counts.failed;
    }
  }
}

function invalid(field: string, message: string): TaskforgeError {
  return new TaskforgeError(ErrorCode.VALIDATION_ERROR, `${field}: ${message}`, { details: { fields: [{ field, message }] } });
}
