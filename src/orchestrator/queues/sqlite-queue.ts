import { LocalQueue } from './local-queue.js';
import { SqliteStore, type SqliteStoreOptions } from './sqlite-store.js';

export { DEFAULT_SQLITE_RETENTION, DEFAULT_SQLITE_RETENTION_MS } from './sqlite-store.js';

/** Options of {@link SqliteQueue}: aging, retention, and how durable each change is. */
export type SqliteQueueOptions = SqliteStoreOptions;

/**
 * A durable queue in one SQLite file, for one machine: every change is
 * committed before it is acted on, so a process killed at any point loses
 * nothing. The next queue opened on the file goes on: waiting tasks wait
 * again, and running ones run again with their cut-off attempt counted. The
 * file is locked while open: one process at a time.
 */
export class SqliteQueue extends LocalQueue {
  /** The queue file's absolute path (or `:memory:`). */
  readonly file: string;

  constructor(file: string, options: SqliteQueueOptions = {}) {
    const store = new SqliteStore(file, options);
    super(store);
    this.file = store.file;
  }
}
