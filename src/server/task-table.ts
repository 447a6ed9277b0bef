import type { TaskStatus } from '../tasks/task-status.js';

/** One task as the API lists it and the dashboard shows it. */
export interface TaskRow {
  readonly id: string;
  readonly type: string;
  /** 0 until its submit event is heard, for a task first seen mid-way (another client's, whose start came first). */
  priority: number;
  status: TaskStatus;
  attempts: number;
  /** When the queue took it (or when this server first saw it, until the queue has said). */
  submittedAt: string;
  /** A storage task's operation and path, when this server heard its submit event. */
  operation?: string;
  path?: string;
  /** The task this one retries, when this server submitted it as a retry (POST /tasks/:id/retry). */
  readonly retryOf?: string;
  startedAt?: string;
  finishedAt?: string;
  durationMs?: number;
  bytesDone?: number;
  bytesTotal?: number;
  error?: { code: string; message: string };
}

/** A page of rows, newest first, and the cursor of the next page. */
export interface TaskPage {
  readonly tasks: readonly TaskRow[];
  readonly cursor?: string;
}

/** What a listing asks for. */
export interface TaskFilter {
  readonly statuses?: readonly TaskStatus[];
  readonly type?: string;
  /** Only tasks whose id holds this text, in any case. */
  readonly idContains?: string;
  readonly limit: number;
  readonly cursor?: string;
}

interface Entry {
  readonly seq: number;
  readonly row: TaskRow;
}

/**
 * The tasks this server has seen, newest last: every unfinished one, and
 * the latest `keepFinished` finished ones (older ones fall off; GET
 * /tasks/:id still asks the orchestrator about them).
 */
export class TaskTable {
  readonly #entries = new Map<string, Entry>();
  /** How many finished rows it keeps. */
  readonly keepFinished: number;
  #seq = 0;
  #finished = 0;

  constructor(keepFinished = 10_000) {
    this.keepFinished = keepFinished;
  }

  get size(): number {
    return this.#entries.size;
  }

  /** Adds a task seen for the first time; a row already there is kept. */
  add(row: TaskRow): TaskRow {
    const known = this.#entries.get(row.id);
    if (known !== undefined) return known.row;
    this.#seq += 1;
    this.#entries.set(row.id, { seq: this.#seq, row });
    if (isFinished(row.status)) this.#countFinished();
    return row;
  }

  /**
   * A task submitted again under the id of one that has ended (a queue that
   * lost it, or forgot it past its retention, takes the id again): the old
   * row goes, and the new one is the newest.
   */
  replace(row: TaskRow): TaskRow {
    this.drop(row.id);
    return this.add(row);
  }

  /** Forgets a task's row (one that has ended, whose id a new task takes). */
  drop(id: string): void {
    const known = this.#entries.get(id);
    if (known === undefined) return;
    this.#entries.delete(id);
    if (isFinished(known.row.status)) this.#finished -= 1;
  }

  get(id: string): TaskRow | undefined {
    return this.#entries.get(id)?.row;
  }

  /** Changes a row; a change that finishes it counts against the finished ones kept. */
  update(id: string, change: (row: TaskRow) => void): TaskRow | undefined {
    const row = this.#entries.get(id)?.row;
    if (row === undefined) return undefined;
    const wasFinished = isFinished(row.status);
    change(row);
    if (!wasFinished && isFinished(row.status)) this.#countFinished();
    return row;
  }

  /** Rows newest first, filtered, a page at a time; the cursor is the last row's place. */
  list(filter: TaskFilter): TaskPage {
    const before = filter.cursor === undefined ? Number.POSITIVE_INFINITY : Number(filter.cursor);
    const statuses = filter.statuses === undefined || filter.statuses.length === 0 ? undefined : new Set(filter.statuses);
    const needle = filter.idContains?.toLowerCase();
    const entries = [...this.#entries.values()];
    const tasks: TaskRow[] = [];
    let last: Entry | undefined;
    for (let index = entries.length - 1; index >= 0 && tasks.length < filter.limit; index -= 1) {
      const entry = entries[index];
      if (entry === undefined || entry.seq >= before) continue;
      if (statuses !== undefined && !statuses.has(entry.row.status)) continue;
      if (filter.type !== undefined && entry.row.type !== filter.type) continue;
      if (needle !== undefined && !entry.row.id.toLowerCase().includes(needle)) continue;
      tasks.push(entry.row);
      last = entry;
    }
    if (last === undefined || tasks.length < filter.limit) return { tasks };
    const lastSeq = last.seq;
    return entries.some((entry) => entry.seq < lastSeq) ? { tasks, cursor: String(lastSeq) } : { tasks };
  }

  #countFinished(): void {
    this.#finished += 1;
    if (this.#finished <= this.keepFinished) return;
    for (const [id, entry] of this.#entries) {
      if (isFinished(entry.row.status)) {
        this.#entries.delete(id);
        this.#finished -= 1;
        return;
      }
    }
  }
}

function isFinished(status: TaskStatus): boolean {
  return status === 'completed' || status === 'failed';
}
