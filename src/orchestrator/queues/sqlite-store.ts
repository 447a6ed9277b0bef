import { makeFoldersSync } from '../../core/make-folders.js';
import { createRequire } from 'node:module';
import { dirname, resolve } from 'node:path';
import type BetterSqlite3 from 'better-sqlite3';
import { ErrorCode, TaskforgeError } from '../../core/errors.js';
import type { TaskConfig } from '../../tasks/task-config.js';
import type { RetainedTaskResult, TaskResult } from '../../tasks/task-result.js';
import { checkAgingMs, rankOf } from '../priority-queue.js';
import { retainedResult } from '../retained-result.js';
import type { FinishedTask, QueuedTask, RetentionOptions, TaskStore, UnfinishedTask } from '../task-store.js';
import { checkedLimit } from './memory-store.js';
import { SQLITE_SCHEMA, SQLITE_SCHEMA_VERSION } from './sqlite-schema.js';

/** Finished tasks a SQLite queue keeps by default. */
export const DEFAULT_SQLITE_RETENTION = 100_000;
/** How long a SQLite queue keeps finished tasks by default: 7 days. */
export const DEFAULT_SQLITE_RETENTION_MS = 7 * 24 * 60 * 60 * 1000;
/** Finishes between two retention sweeps. */
const PRUNE_EVERY = 1000;

/** Options of {@link SqliteStore}. */
export interface SqliteStoreOptions extends RetentionOptions {
  /** Aging against starvation (see PriorityQueue). Default: off. */
  readonly agingMs?: number;
  /**
   * `normal` (the default) survives a killed process: SQLite's WAL is in the
   * operating system's hands once a call returns. `full` also survives power
   * loss, at the cost of an fsync per change.
   */
  readonly synchronous?: 'normal' | 'full';
}

interface TaskRow {
  id: string;
  type: string;
  priority: number;
  state: string;
  config: string;
  depends_on: string | null;
  attempts: number;
  interruptions: number;
  submitted_at: number;
  result: string | null;
}

/**
 * A durable queue in one SQLite file (better-sqlite3), for one machine.
 * Every change is committed before the call returns, so a process killed
 * with SIGKILL loses nothing: the next queue opened on the file hands back
 * the waiting tasks, and the running ones as ready again with their cut-off
 * attempt counted. The file is held with an exclusive lock while open, so
 * two processes cannot run the same tasks.
 */
export class SqliteStore implements TaskStore {
  readonly name: string;
  readonly durable = true;
  readonly file: string;
  readonly #db: BetterSqlite3.Database;
  readonly #agingMs: number | undefined;
  readonly #maxFinished: number;
  readonly #maxAgeMs: number;
  /** Waiting ids, kept here so `waiting` costs no query: the lock makes this process the only writer. */
  readonly #waiting = new Set<string>();
  readonly #statements: ReturnType<typeof prepare>;
  #finishesSincePrune = 0;
  /** The types take() passes over, as a JSON array (see holdBack), or undefined. */
  #heldTypes: string | undefined;
  #closed = false;

  constructor(file: string, options: SqliteStoreOptions = {}) {
    checkAgingMs(options.agingMs);
    this.#agingMs = options.agingMs;
    this.#maxFinished = checkedLimit('maxFinished', options.maxFinished) ?? DEFAULT_SQLITE_RETENTION;
    this.#maxAgeMs = checkedLimit('maxAgeMs', options.maxAgeMs) ?? DEFAULT_SQLITE_RETENTION_MS;
    this.file = file === ':memory:' ? file : resolve(file);
    this.name = `sqlite:${this.file}`;
    this.#db = openDatabase(this.file, options.synchronous ?? 'normal');
    this.#statements = prepare(this.#db);
    this.#rerankIfAgingChanged();
    this.#prune();
  }

  get waiting(): number {
    return this.#waiting.size;
  }

  add(task: QueuedTask, ready: boolean): void {
    if (!isConfig(task.config)) {
      throw new TaskforgeError(ErrorCode.VALIDATION_ERROR, `task '${task.id}': a durable queue stores task configs, not task objects`);
    }
    const now = Date.now();
    this.#statements.insert.run({
      id: task.id,
      type: task.type,
      priority: task.priority,
      rank: rankOf(task.priority, now, this.#agingMs),
      state: ready ? 'ready' : 'blocked',
      config: JSON.stringify(task.config),
      depends_on: task.dependsOn === undefined ? null : JSON.stringify(task.dependsOn),
      attempts: task.attempts,
      submitted_at: task.submittedAt,
      ready_at: now,
    });
    this.#waiting.add(task.id);
  }

  release(id: string): void {
    const now = Date.now();
    this.#statements.release.run({ id, now, aging: this.#agingMs ?? null });
  }

  take(): QueuedTask | undefined {
    const row = (this.#heldTypes === undefined ? this.#statements.take.get() : this.#statements.takeOtherTypes.get({ held: this.#heldTypes })) as TaskRow | undefined;
    if (row === undefined) return undefined;
    this.#waiting.delete(row.id);
    return toQueuedTask(row);
  }

  holdBack(types: ReadonlySet<string>): void {
    this.#heldTypes = types.size === 0 ? undefined : JSON.stringify([...types]);
  }

  finish(task: QueuedTask, result: TaskResult): void {
    const { id } = task;
    const kept = retainedResult(result);
    this.#statements.finish.run({ id, state: result.status, attempts: result.attempts, finished_at: Date.now(), result: stringifyResult(kept) });
    this.#waiting.delete(id);
    this.#finishesSincePrune += 1;
    if (this.#finishesSincePrune >= PRUNE_EVERY) this.#prune();
  }

  finished(id: string): FinishedTask | undefined {
    const row = this.#statements.finished.get(id) as TaskRow | undefined;
    if (row?.result === undefined || row.result === null) return undefined;
    return {
      id: row.id,
      type: row.type,
      priority: row.priority,
      status: row.state === 'completed' ? 'completed' : 'failed',
      attempts: row.attempts,
      dependsOn: parseDependsOn(row.depends_on),
      submittedAt: row.submitted_at,
      result: JSON.parse(row.result) as RetainedTaskResult,
    };
  }

  recover(): UnfinishedTask[] {
    const now = Date.now();
    const rows = this.#db.transaction(() => {
      this.#statements.interrupt.run({ now, aging: this.#agingMs ?? null });
      return this.#statements.unfinished.all() as TaskRow[];
    })();
    this.#waiting.clear();
    for (const row of rows) this.#waiting.add(row.id);
    return rows.map((row) => ({ ...toQueuedTask(row), ready: row.state === 'ready', interruptions: row.interruptions }));
  }

  transaction(work: () => void): void {
    try {
      this.#db.transaction(work)();
    } catch (error) {
      // Rolled back: what this process counts as waiting must be what the file says.
      this.#waiting.clear();
      for (const row of this.#statements.waitingIds.all() as { id: string }[]) this.#waiting.add(row.id);
      throw error;
    }
  }

  close(): void {
    if (this.#closed) return;
    this.#closed = true;
    this.#db.close();
  }

  /** Deletes finished tasks past the retention limits. */
  #prune(): void {
    this.#finishesSincePrune = 0;
    this.#statements.pruneOld.run(Date.now() - this.#maxAgeMs);
    this.#statements.pruneMany.run(this.#maxFinished);
  }

  /** Ranks depend on agingMs: a file reopened with another setting is re-ranked once. */
  #rerankIfAgingChanged(): void {
    const stored = this.#statements.getMeta.get('aging_ms') as { value: string } | undefined;
    const wanted = String(this.#agingMs ?? 'off');
    if (stored?.value === wanted) return;
    this.#db.transaction(() => {
      this.#statements.rerank.run({ aging: this.#agingMs ?? null });
      this.#statements.setMeta.run('aging_ms', wanted);
    })();
  }
}

/** Why a queue file could not be opened, in words: a system error by what stands in the way, else its message. */
function openFailure(file: string, error: unknown): string {
  const code = (error as NodeJS.ErrnoException).code;
  if (code === 'EEXIST' || code === 'ENOTDIR') return `a part of its folder ${dirname(file)} is a file, not a folder`;
  if (code === 'EACCES' || code === 'EPERM') return `permission denied (${(error as Error).message})`;
  return error instanceof Error ? error.message : String(error);
}

function openDatabase(file: string, synchronous: 'normal' | 'full'): BetterSqlite3.Database {
  const Database = loadBetterSqlite3();
  let db: BetterSqlite3.Database;
  try {
    // Its folder is made, as a storage root is; a file in its way is told as such.
    if (file !== ':memory:') makeFoldersSync(dirname(file));
    db = new Database(file, { timeout: 0 });
  } catch (error) {
    throw new TaskforgeError(ErrorCode.BACKEND_UNAVAILABLE, `cannot open the SQLite queue '${file}': ${openFailure(file, error)}`, { cause: error, retryable: false });
  }
  try {
    // Exclusive locking: one process per queue file, and no shared-memory index to keep.
    db.pragma('locking_mode = EXCLUSIVE');
    db.pragma('journal_mode = WAL');
    db.pragma(`synchronous = ${synchronous === 'full' ? 'FULL' : 'NORMAL'}`);
    db.exec('BEGIN EXCLUSIVE; COMMIT;');
    const version = db.pragma('user_version', { simple: true }) as number;
    if (version > SQLITE_SCHEMA_VERSION) {
      throw new TaskforgeError(ErrorCode.UNSUPPORTED_OPTION, `the SQLite queue '${file}' has schema version ${String(version)}; this taskforge reads up to ${String(SQLITE_SCHEMA_VERSION)}`);
    }
    db.exec(SQLITE_SCHEMA);
    db.pragma(`user_version = ${String(SQLITE_SCHEMA_VERSION)}`);
    return db;
  } catch (error) {
    db.close();
    if (error instanceof TaskforgeError) throw error;
    const code = (error as { code?: unknown }).code;
    if (code === 'SQLITE_BUSY') {
      throw new TaskforgeError(ErrorCode.BACKEND_UNAVAILABLE, `the SQLite queue '${file}' is in use by another process`, { cause: error, retryable: true });
    }
    throw new TaskforgeError(ErrorCode.BACKEND_UNAVAILABLE, `cannot use the SQLite queue '${file}': ${error instanceof Error ? error.message : String(error)}`, { cause: error, retryable: false });
  }
}

/** better-sqlite3 is an optional native dependency, loaded only when a SQLite queue is opened. */
function loadBetterSqlite3(): typeof BetterSqlite3 {
  try {
    return createRequire(import.meta.url)('better-sqlite3') as typeof BetterSqlite3;
  } catch (error) {
    throw new TaskforgeError(ErrorCode.UNSUPPORTED_OPTION, 'the SQLite queue needs the optional dependency better-sqlite3, which is not installed or did not build (npm install better-sqlite3)', {
      cause: error,
    });
  }
}

function prepare(db: BetterSqlite3.Database) {
  const rankExpression = `CASE WHEN @aging IS NULL THEN priority ELSE priority - @now / @aging END`;
  return {
    insert: db.prepare(
      `INSERT INTO tasks (id, type, priority, rank, state, config, depends_on, attempts, submitted_at, ready_at)
       VALUES (@id, @type, @priority, @rank, @state, @config, @depends_on, @attempts, @submitted_at, @ready_at)`,
    ),
    release: db.prepare(`UPDATE tasks SET state = 'ready', ready_at = @now, rank = ${rankExpression} WHERE id = @id AND state = 'blocked'`),
    take: db.prepare(
      `UPDATE tasks SET state = 'running'
       WHERE seq = (SELECT seq FROM tasks WHERE state = 'ready' ORDER BY rank DESC, seq LIMIT 1)
       RETURNING id, type, priority, state, config, depends_on, attempts, interruptions, submitted_at, NULL AS result`,
    ),
    // (Only while some types are held back: it walks past their ready rows.)
    takeOtherTypes: db.prepare(
      `UPDATE tasks SET state = 'running'
       WHERE seq = (SELECT seq FROM tasks WHERE state = 'ready' AND type NOT IN (SELECT value FROM json_each(@held)) ORDER BY rank DESC, seq LIMIT 1)
       RETURNING id, type, priority, state, config, depends_on, attempts, interruptions, submitted_at, NULL AS result`,
    ),
    finish: db.prepare(`UPDATE tasks SET state = @state, attempts = @attempts, finished_at = @finished_at, result = @result WHERE id = @id`),
    finished: db.prepare(`SELECT id, type, priority, state, config, depends_on, attempts, interruptions, submitted_at, result FROM tasks WHERE id = ? AND finished_at IS NOT NULL`),
    interrupt: db.prepare(
      `UPDATE tasks SET state = 'ready', attempts = attempts + 1, interruptions = interruptions + 1, ready_at = @now, rank = ${rankExpression} WHERE state = 'running'`,
    ),
    unfinished: db.prepare(
      `SELECT id, type, priority, state, config, depends_on, attempts, interruptions, submitted_at, NULL AS result FROM tasks WHERE finished_at IS NULL ORDER BY seq`,
    ),
    rerank: db.prepare(`UPDATE tasks SET rank = CASE WHEN @aging IS NULL THEN priority ELSE priority - ready_at / @aging END WHERE state IN ('ready', 'blocked')`),
    pruneOld: db.prepare(`DELETE FROM tasks WHERE finished_at IS NOT NULL AND finished_at < ?`),
    pruneMany: db.prepare(
      `DELETE FROM tasks WHERE seq IN (SELECT seq FROM tasks WHERE finished_at IS NOT NULL ORDER BY finished_at DESC, seq DESC LIMIT -1 OFFSET ?)`,
    ),
    waitingIds: db.prepare(`SELECT id FROM tasks WHERE state IN ('ready', 'blocked')`),
    getMeta: db.prepare(`SELECT value FROM meta WHERE key = ?`),
    setMeta: db.prepare(`INSERT INTO meta (key, value) VALUES (?, ?) ON CONFLICT (key) DO UPDATE SET value = excluded.value`),
  };
}

function toQueuedTask(row: TaskRow): QueuedTask {
  return {
    id: row.id,
    type: row.type,
    priority: row.priority,
    config: JSON.parse(row.config) as TaskConfig,
    dependsOn: parseDependsOn(row.depends_on),
    attempts: row.attempts,
    submittedAt: row.submitted_at,
  };
}

function parseDependsOn(text: string | null): readonly string[] | undefined {
  return text === null ? undefined : (JSON.parse(text) as string[]);
}

function stringifyResult(result: RetainedTaskResult): string {
  try {
    return JSON.stringify(result);
  } catch {
    // Details a task type put in its error that JSON cannot carry: keep the rest.
    return JSON.stringify({ ...result, details: undefined });
  }
}

function isConfig(config: QueuedTask['config']): config is TaskConfig {
  return typeof (config as { execute?: unknown }).execute !== 'function';
}
