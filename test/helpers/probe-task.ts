import { BaseTask, type AttemptContext, type TaskContext } from '../../src/tasks/base-task.js';
import { ErrorCode, TaskforgeError } from '../../src/core/errors.js';
import type { TaskConfig, ValidTaskConfig } from '../../src/tasks/task-config.js';

/** What a probe task records, shared by every probe of one test. */
export class Journal {
  readonly lines: string[] = [];
  running = 0;
  maxRunning = 0;
  readonly signals = new Map<string, AbortSignal>();

  started(id: string): void {
    this.lines.push(`start:${id}`);
    this.running += 1;
    this.maxRunning = Math.max(this.maxRunning, this.running);
  }

  ended(id: string): void {
    this.lines.push(`end:${id}`);
    this.running -= 1;
  }

  /** Ids in the order they started. */
  get startOrder(): string[] {
    return this.lines.filter((line) => line.startsWith('start:')).map((line) => line.slice('start:'.length));
  }
}

/** What a probe does, from its config's metadata. */
export interface ProbeScript {
  /** How long the work takes. Default 0. */
  readonly ms?: number;
  /** Fail with this error code (not retryable). */
  readonly fail?: string;
  /** Keep working for `ms` even after the signal aborts (a badly behaved task). */
  readonly ignoreAbort?: boolean;
  /** Fail this many first attempts with BACKEND_UNAVAILABLE (retryable), then go on. */
  readonly flaky?: number;
}

/** A custom task type for orchestrator tests: works for a while, records when it runs. */
export class ProbeTask extends BaseTask<string> {
  readonly #journal: Journal;

  constructor(config: TaskConfig, context: TaskContext & { journal?: Journal }) {
    super(config, context);
    this.#journal = context.journal ?? new Journal();
  }

  protected override async executeTask(signal: AbortSignal, { config, attempt }: AttemptContext<ValidTaskConfig>): Promise<string> {
    const script = (config.metadata ?? {}) as ProbeScript;
    this.#journal.started(this.id);
    this.#journal.signals.set(this.id, signal);
    try {
      if ((script.ms ?? 0) > 0) await pause(script.ms ?? 0, script.ignoreAbort === true ? undefined : signal);
      signal.throwIfAborted();
      if (attempt <= (script.flaky ?? 0)) throw new TaskforgeError(ErrorCode.BACKEND_UNAVAILABLE, `probe '${this.id}' attempt ${String(attempt)} failed on purpose`, { retryable: true });
      if (script.fail !== undefined) throw new TaskforgeError(script.fail as ErrorCode, `probe '${this.id}' failed on purpose`, { retryable: false });
      return `done:${this.id}`;
    } finally {
      this.#journal.ended(this.id);
    }
  }

  protected override cleanupTask(): void {
    this.#journal.lines.push(`cleanup:${this.id}`);
  }
}

/** A probe config. */
export function probe(id: string, priority = 0, script: ProbeScript = {}, extra: Partial<TaskConfig> = {}): TaskConfig {
  return { id, type: 'probe', priority, metadata: { ...script }, ...extra };
}

function pause(ms: number, signal: AbortSignal | undefined): Promise<void> {
  return new Promise((resolve, reject) => {
    const timer = setTimeout(resolve, ms);
    signal?.addEventListener(
      'abort',
      () => {
        clearTimeout(timer);
        reject(signal.reason instanceof Error ? signal.reason : new TaskforgeError(ErrorCode.CANCELLED, 'aborted'));
      },
      { once: true },
    );
  });
}
