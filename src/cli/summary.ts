import type { TaskResult } from '../tasks/task-result.js';
import { storeBytesOf, storedBytes } from './progress.js';

/** Rows shown in full when a batch has at most this many tasks; beyond, only the failed ones. */
const FULL_TABLE_ROWS = 50;

/**
 * The table `taskforge run` prints at the end: one row per task (or per
 * failed task), then the totals. `labelOf` names a task as its user knows
 * it: the id they gave, else where it came from in the batch. The bytes and
 * the rate are this run's: tasks in `earlier` ended in an earlier run of the
 * batch, and are only counted as completed or failed. `messageOf` words a
 * failed task's message as its user knows the task.
 */
export function summaryTable(
  results: readonly TaskResult[],
  elapsedMs: number,
  labelOf: (result: TaskResult) => string = (result) => result.id,
  earlier: ReadonlySet<string> = new Set(),
  messageOf: (result: TaskResult) => string = (result) => result.error?.message ?? '',
): string {
  const failed = results.filter((result) => !result.success);
  const shown = results.length <= FULL_TABLE_ROWS ? results : failed.slice(0, FULL_TABLE_ROWS);
  const rows = shown.map((result) => [labelOf(result), result.type, result.status, String(result.attempts), `${String(result.durationMs)} ms`, result.error?.code ?? '']);
  const header = ['task', 'type', 'status', 'attempts', 'duration', 'error'];
  const widths = header.map((title, column) => Math.max(title.length, ...rows.map((row) => (row[column] ?? '').length)));
  const format = (cells: readonly string[]): string => cells.map((cell, column) => cell.padEnd(widths[column] ?? 0)).join('  ').trimEnd();
  const lines = rows.length === 0 ? [] : [format(header), ...rows.map(format)];
  const unshown = failed.length - shown.filter((result) => !result.success).length;
  if (unshown > 0) lines.push(`... and ${String(unshown)} more failed tasks (--json prints every task)`);
  // Why each failed: the code in the table rarely says what to fix (a path, a key id, a limit); the message does.
  const why = shown.flatMap((result) => (result.success ? [] : [`${labelOf(result)}: ${oneLine(messageOf(result))}`]));
  if (unshown > 0) why.push(`(the messages of ${String(unshown)} more failed tasks are not shown: --json prints every task)`);
  if (why.length > 0) lines.push('', ...why, '');
  let stored = 0;
  let read = 0;
  let ranNow = 0;
  for (const result of results) {
    if (earlier.has(result.id)) continue;
    ranNow += 1;
    const bytes = storeBytesOf(result);
    stored += bytes.stored;
    read += bytes.read;
  }
  const seconds = elapsedMs / 1000;
  const exact = seconds > 0 ? ranNow / seconds : ranNow;
  // Two significant digits below 10/s: a long run of big tasks (0.04 tasks/s) is not '0 tasks/s'.
  const rate = exact >= 10 || exact === 0 ? Math.round(exact) : Number(exact.toPrecision(2));
  const before = results.length - ranNow;
  const ended = `${String(results.length - failed.length)} completed · ${String(failed.length)} failed${before === 0 ? '' : ` (${String(before)} of them in an earlier run)`}`;
  lines.push(`${ended} · ${storedBytes(stored, read)} · ${seconds.toFixed(2)} s · ${String(rate)} ${rate === 1 ? 'task' : 'tasks'}/s`);
  return `${lines.join('\n')}\n`;
}

/** A message on one line of the table's notes (a message may carry a newline from a task's own error). */
function oneLine(message: string): string {
  return message.replace(/\s*\n\s*/g, ' ');
}
