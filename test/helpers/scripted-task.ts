import { BaseTask, type AttemptContext, type TaskContext } from '../../src/tasks/base-task.js';
import type { TaskConfig } from '../../src/tasks/task-config.js';

/** One attempt's behaviour: gets the attempt's signal and number. */
export type AttemptScript = (signal: AbortSignal, attempt: number) => Promise<unknown>;

/** A custom task type whose attempts run a script, for lifecycle tests. */
export class ScriptedTask extends BaseTask {
  readonly #script: AttemptScript;
  readonly hookCalls: string[] = [];

  constructor(config: TaskConfig, script: AttemptScript, context: TaskContext = {}) {
    super(config, context);
    this.#script = script;
  }

  protected override executeTask(signal: AbortSignal, context: AttemptContext<TaskConfig>): Promise<unknown> {
    return this.#script(signal, context.attempt);
  }

  protected override cancelTask(): void {
    this.hookCalls.push('cancelTask');
  }

  protected override cleanupTask(): void {
    this.hookCalls.push('cleanupTask');
  }
}

/** A config for a scripted task with the given lifecycle options. */
export function scriptedConfig(options: { timeout?: number; retries?: number } = {}, id = 'scripted-1'): TaskConfig {
  return { id, type: 'scripted', priority: 0, metadata: { options } };
}

/** Resolves after `ms`, or rejects with the signal's reason when it aborts. */
export function workFor(ms: number, signal: AbortSignal): Promise<void> {
  return new Promise((resolve, reject) => {
    const timer = setTimeout(resolve, ms);
    signal.addEventListener(
      'abort',
      () => {
        clearTimeout(timer);
        reject(signal.reason as Error);
      },
      { once: true },
    );
  });
}

/** An error as Node's fs gives it, with an errno code. */
export function systemError(code: string): NodeJS.ErrnoException {
  return Object.assign(new Error(`${code}: simulated by the test`), { code });
}

/** A retry policy with no waiting, so retry tests run at once. */
export const NO_WAIT = { retryPolicy: { baseDelayMs: 1, maxDelayMs: 1, random: () => 0 } } as const;
