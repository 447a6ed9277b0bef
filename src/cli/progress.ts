import type { TaskResult } from '../tasks/task-result.js';
import { formatBytes } from './cli-context.js';

type Terminal = NodeJS.WritableStream & { columns?: number };

const BAR_WIDTH = 24;

/** `[#######.........]  42%` for a fraction from 0 to 1. */
export function bar(fraction: number, width = BAR_WIDTH): string {
  const clamped = Math.min(1, Math.max(0, fraction));
  const filled = Math.round(clamped * width);
  return `[${'#'.repeat(filled)}${'.'.repeat(width - filled)}] ${String(Math.floor(clamped * 100)).padStart(3)}%`;
}

/** One transfer's progress line, redrawn in place on a terminal. */
export class TransferBar {
  readonly #out: Terminal;
  readonly #label: string;
  #drawn = false;

  constructor(out: Terminal, label: string) {
    this.#out = out;
    this.#label = label;
  }

  update(done: number, total: number | undefined): void {
    const line = total === undefined || total === 0 ? `${this.#label}  ${formatBytes(done)}` : `${this.#label}  ${bar(done / total)}  ${formatBytes(done)} / ${formatBytes(total)}`;
    this.#out.write(`\r\u001b[2K${line}`);
    this.#drawn = true;
  }

  clear(): void {
    if (this.#drawn) this.#out.write('\r\u001b[2K');
    this.#drawn = false;
  }
}

/** What the batch view counts. */
export interface BatchCounts {
  total: number;
  pending: number;
  running: number;
  completed: number;
  failed: number;
  /** Bytes written to the store, as stored (compressed, encrypted). */
  bytesStored: number;
  /** Bytes read from the store, as stored. */
  bytesReadFromStore: number;
}

/** One running transfer the batch view shows a bar for. */
export interface Transfer {
  readonly id: string;
  done: number;
  total: number | undefined;
}

/**
 * The lines `taskforge run` redraws on a terminal: counts by status, bytes
 * moved, an overall bar, and a bar for each of the longest running transfers.
 */
export function batchLines(counts: BatchCounts, transfers: readonly Transfer[], elapsedMs: number, columns = 80): string[] {
  const finished = counts.completed + counts.failed;
  const rate = elapsedMs > 0 ? (finished / elapsedMs) * 1000 : 0;
  const lines = [
    `${bar(counts.total === 0 ? 1 : finished / counts.total)}  ${String(finished)}/${String(counts.total)} tasks  ${rate.toFixed(0)}/s`,
    `pending ${String(counts.pending)} · running ${String(counts.running)} · completed ${String(counts.completed)} · failed ${String(counts.failed)} · stored ${formatBytes(counts.bytesStored)} · read ${formatBytes(counts.bytesReadFromStore)}`,
  ];
  const longest = [...transfers].filter((transfer) => transfer.total !== undefined && transfer.total >= 1024 * 1024).sort((a, b) => (b.total ?? 0) - (a.total ?? 0));
  for (const transfer of longest.slice(0, 3)) {
    lines.push(`  ${transfer.id.slice(0, 24).padEnd(24)} ${bar(transfer.done / (transfer.total ?? 1), 16)}  ${formatBytes(transfer.done)} / ${formatBytes(transfer.total ?? 0)}`);
  }
  // A terminal that reports no size (0) gets the classic 80 columns.
  const width = columns > 0 ? columns : 80;
  return lines.map((line) => (line.length > width ? line.slice(0, width - 1) : line));
}

/** Redraws a block of lines in place (cursor up, clear, write). */
export class LiveBlock {
  readonly #out: Terminal;
  #height = 0;

  constructor(out: Terminal) {
    this.#out = out;
  }

  draw(lines: readonly string[]): void {
    this.#out.write(`${this.#moveUp()}${lines.map((line) => `\u001b[2K${line}`).join('\n')}\n`);
    this.#height = lines.length;
  }

  clear(): void {
    this.#out.write(`${this.#moveUp()}\u001b[J`);
    this.#height = 0;
  }

  #moveUp(): string {
    return this.#height === 0 ? '\r' : `\r\u001b[${String(this.#height)}A`;
  }
}

/** Bytes a finished storage task wrote to and read from the store, as stored, from its result details. */
export function storeBytesOf(result: TaskResult): { readonly stored: number; readonly read: number } {
  const details = result.details;
  const read = details?.['bytesRead'];
  const written = details?.['bytesWritten'];
  return { stored: typeof written === 'number' ? written : 0, read: typeof read === 'number' ? read : 0 };
}

/** `12.0 KiB stored · 4.0 KiB read from the store`: sizes as stored (after compression and encryption). */
export function storedBytes(stored: number, read: number): string {
  return `${formatBytes(stored)} stored · ${formatBytes(read)} read from the store`;
}
