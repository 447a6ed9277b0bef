import type { CliStreams } from './cli-context.js';
import { ExitCode } from './exit-codes.js';

const SIGNALS = ['SIGINT', 'SIGTERM'] as const;

/** A new line at a terminal, where Ctrl-C left `^C` on the current one; nothing on a pipe or a file. */
export function afterCaret(streams: CliStreams): string {
  return streams.stderr.isTTY === true ? '\n' : '';
}

/** What `by` says when the reader of stdout went away (`taskforge read x | head`). */
export const OUTPUT_CLOSED = 'EPIPE';

/**
 * Ctrl-C (SIGINT) or SIGTERM while a command runs, or its output closed
 * (EPIPE: the other end of a pipe stopped reading). The first one aborts
 * `signal`, and the command stops its work and removes what it made; a
 * second signal ends the process at once, for a cleanup that hangs (what it
 * leaves, `taskforge sweep` removes).
 */
export class Interruption {
  readonly #controller = new AbortController();
  readonly #streams: CliStreams;
  #by: string | undefined;
  readonly #onSignal = (name: NodeJS.Signals): void => {
    if (this.#by === undefined) {
      this.#by = name;
      this.#controller.abort(new Error(`interrupted by ${name}`));
      return;
    }
    this.#streams.stderr.write(`${afterCaret(this.#streams)}taskforge: ${name} again: stopping now; 'taskforge sweep' removes what an unfinished write left\n`);
    process.exit(ExitCode.TASK_FAILED);
  };

  readonly #onOutputError = (error: NodeJS.ErrnoException): void => {
    if (error.code !== 'EPIPE' || this.#by !== undefined) return;
    this.#by = OUTPUT_CLOSED;
    this.#controller.abort(new Error('the output was closed'));
  };

  private constructor(streams: CliStreams) {
    this.#streams = streams;
    for (const name of SIGNALS) process.on(name, this.#onSignal);
    streams.stdout.on('error', this.#onOutputError);
  }

  /** Starts listening for SIGINT and SIGTERM (the default, dying at once, no longer applies until stop()). */
  static watch(streams: CliStreams): Interruption {
    return new Interruption(streams);
  }

  /** Aborted by the first signal. */
  get signal(): AbortSignal {
    return this.#controller.signal;
  }

  /** The signal that interrupted the command (or OUTPUT_CLOSED), if one did. */
  get by(): string | undefined {
    return this.#by;
  }

  /** Whether the command stopped because nobody reads its output any more: it says nothing and exits as it would have. */
  get outputClosed(): boolean {
    return this.#by === OUTPUT_CLOSED;
  }

  /** Gives the signals back to their default. */
  stop(): void {
    for (const name of SIGNALS) process.off(name, this.#onSignal);
    this.#streams.stdout.off('error', this.#onOutputError);
  }
}
