/** The schema version a SQLite queue file records in `PRAGMA user_version`. */
export const SQLITE_SCHEMA_VERSION = 1;

/**
 * One row per task, from submit until retention deletes it. `state` is the
 * queue's own: `blocked` (waiting for dependencies), `ready`, `running`,
 * then the task's final status. `rank` is the order key (priority, less
 * the aging credit of a later arrival; see priority-queue.ts), indexed for
 * the ready rows only. Times are ms since the epoch.
 */
export const SQLITE_SCHEMA = `
CREATE TABLE IF NOT EXISTS tasks (
  seq INTEGER PRIMARY KEY AUTOINCREMENT,
  id TEXT NOT NULL UNIQUE,
  type TEXT NOT NULL,
  priority REAL NOT NULL,
  rank REAL NOT NULL,
  state TEXT NOT NULL CHECK (state IN ('blocked', 'ready', 'running', 'completed', 'failed')),
  config TEXT NOT NULL,
  depends_on TEXT,
  attempts INTEGER NOT NULL DEFAULT 0,
  interruptions INTEGER NOT NULL DEFAULT 0,
  submitted_at INTEGER NOT NULL,
  ready_at INTEGER NOT NULL,
  finished_at INTEGER,
  result TEXT
);
CREATE INDEX IF NOT EXISTS tasks_ready ON tasks (rank DESC, seq) WHERE state = 'ready';
CREATE INDEX IF NOT EXISTS tasks_finished ON tasks (finished_at) WHERE finished_at IS NOT NULL;
CREATE INDEX IF NOT EXISTS tasks_unfinished ON tasks (seq) WHERE finished_at IS NULL;
CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);
`;
