import type { FileOutcome, TreeProgress, TreeSummary } from '../orchestrator/trees/tree-tally.js';
import { flushOutput, formatBytes, printJson, type CliStreams } from './cli-context.js';

/** How often, at most, the progress line on a terminal is redrawn. */
const REDRAW_MS = 100;

/**
 * What `write --recursive` and `read --recursive` print: with --json a line
 * per entry and one summary line; for people, a line per entry that was
 * skipped or failed (stderr), a live progress line on a terminal, and a
 * summary at the end.
 */
export class TreeView {
  readonly #streams: CliStreams;
  readonly #json: boolean;
  readonly #live: boolean;
  #drawn = 0;
  #told = false;
  #lastDraw = 0;

  constructor(streams: CliStreams, json: boolean) {
    this.#streams = streams;
    this.#json = json;
    this.#live = !json && streams.stderr.isTTY === true;
  }

  /** Whether any file's outcome was told: a run that failed before one was refused whole. */
  get toldAny(): boolean {
    return this.#told;
  }

  file(outcome: FileOutcome): void {
    this.#told = true;
    if (this.#json) {
      printJson(this.#streams, outcome);
      return;
    }
    if (outcome.action !== 'skipped' && outcome.action !== 'failed') return;
    this.#clear();
    const why = outcome.action === 'skipped' ? `skipped: ${outcome.reason ?? ''}` : `failed: ${outcome.error?.code ?? ''}: ${outcome.error?.message ?? ''}`;
    this.#streams.stderr.write(`taskforge: ${outcome.path}: ${why}\n`);
  }

  progress(progress: TreeProgress): void {
    if (!this.#live) return;
    const now = performance.now();
    if (now - this.#lastDraw < REDRAW_MS) return;
    this.#lastDraw = now;
    const rate = progress.elapsedMs > 0 ? (progress.bytesDone / progress.elapsedMs) * 1000 : 0;
    const left = rate > 0 ? (progress.bytes - progress.bytesDone) / rate : undefined;
    const line = `${String(progress.filesDone)}/${String(progress.files)} files, ${formatBytes(progress.bytesDone)} of ${formatBytes(progress.bytes)}, ${formatBytes(Math.round(rate))}/s${left === undefined ? '' : `, ${formatDuration(left)} left`}`;
    this.#clear();
    this.#streams.stderr.write(line);
    this.#drawn = line.length;
  }

  summary(summary: TreeSummary, verb: 'stored' | 'restored'): void {
    this.#clear();
    if (this.#json) {
      printJson(this.#streams, { summary });
      flushOutput(this.#streams);
      return;
    }
    const seconds = summary.elapsedMs / 1000;
    const rate = seconds > 0 ? summary.bytesRead / seconds : 0;
    const parts = [
      `${verb} ${String(summary.stored)} of ${String(summary.files)} files (${formatBytes(summary.bytesRead)} ${verb === 'stored' ? 'read' : 'written'}, ${formatBytes(summary.bytesStored)} ${verb === 'stored' ? 'stored' : 'read from storage'}) in ${seconds.toFixed(1)} s, ${formatBytes(Math.round(rate))}/s`,
      `${String(summary.unchanged)} unchanged`,
      `${String(summary.links)} links`,
      `${String(summary.skipped)} skipped`,
      `${String(summary.failed)} failed`,
    ];
    if (summary.deleted > 0) parts.push(`${String(summary.deleted)} deleted`);
    this.#streams.stdout.write(`${parts.join(', ')}\n`);
  }

  #clear(): void {
    if (this.#drawn === 0) return;
    this.#streams.stderr.write(`\r${' '.repeat(this.#drawn)}\r`);
    this.#drawn = 0;
  }
}

function formatDuration(seconds: number): string {
  const whole = Math.ceil(seconds);
  return whole < 60 ? `${String(whole)} s` : `${String(Math.floor(whole / 60))} min ${String(whole % 60)} s`;
}
