import { setTimeout as delay } from 'node:timers/promises';
import type { QueueConsumer, QueueListener, QueueTaskEvents, QueuedTask, TakenTask } from '../../src/orchestrator/task-queue.js';
import type { TaskResult } from '../../src/tasks/task-result.js';

/** A consumer a test drives by hand: it records what it is handed, and ends each task when told. */
export class HandConsumer implements QueueConsumer {
  readonly handed: TakenTask[] = [];
  readonly cancels: [string, string | undefined][] = [];
  readonly #done = new Map<string, (result: TaskResult) => void>();
  drainedCount = 0;

  constructor(readonly concurrency = 1) {}

  run(task: TakenTask, done: (task: TakenTask, result: TaskResult) => void): void {
    this.handed.push(task);
    this.#done.set(task.id, (result) => {
      done(task, result);
    });
  }

  cancel(id: string, reason: string | undefined): void {
    this.cancels.push([id, reason]);
  }

  drained(): void {
    this.drainedCount += 1;
  }

  /** Ids handed out, in order. */
  get ids(): string[] {
    return this.handed.map((task) => task.id);
  }

  /** Tasks handed out and not yet ended. */
  get holding(): number {
    return this.#done.size;
  }

  /** Ends a task it holds (completed with `data`, unless a result is given). */
  finish(id: string, result: TaskResult = completed(id)): void {
    const done = this.#done.get(id);
    if (done === undefined) throw new Error(`the consumer holds no task '${id}' (holds: ${[...this.#done.keys()].join(', ')})`);
    this.#done.delete(id);
    done(result);
  }

  /** Waits until `count` tasks have been handed out in all (a shared queue hands out over the network). */
  async handedOut(count: number, withinMs = 10_000): Promise<string[]> {
    for (let waited = 0; this.handed.length < count; waited += 10) {
      if (waited > withinMs) throw new Error(`only ${String(this.handed.length)} of ${String(count)} tasks were handed out within ${String(withinMs)} ms: ${this.ids.join(', ')}`);
      await delay(10);
    }
    return this.ids;
  }

  /** Hands out all that is ready, ending each as it comes (in the order handed out), until `count` have come. */
  async runAll(count: number): Promise<string[]> {
    for (let index = 0; index < count; index += 1) {
      await this.handedOut(index + 1);
      this.finish(this.handed[index]?.id ?? '');
    }
    return this.ids;
  }
}

/** A listener that records every end and event a queue tells. */
export class EndRecorder implements QueueListener {
  readonly ends: TaskResult[] = [];
  readonly events: [keyof QueueTaskEvents, QueueTaskEvents[keyof QueueTaskEvents]][] = [];
  /** It records every end (a shared queue may leave unread the ends nobody waits for). */
  readonly everyTask = true;

  ended(result: TaskResult): void {
    this.ends.push(result);
  }

  event<K extends keyof QueueTaskEvents>(kind: K, payload: QueueTaskEvents[K]): void {
    this.events.push([kind, payload]);
  }

  wants(): boolean {
    return true;
  }

  /** The end of task `id`, once told (a shared queue tells it over the network). */
  async endOf(id: string, withinMs = 10_000): Promise<TaskResult> {
    for (let waited = 0; ; waited += 10) {
      const found = this.ends.find((end) => end.id === id);
      if (found !== undefined) return found;
      if (waited > withinMs) throw new Error(`no end of '${id}' was told within ${String(withinMs)} ms (told: ${this.ends.map((end) => end.id).join(', ')})`);
      await delay(10);
    }
  }
}

/** A task as a submitter gives it to a queue. */
export function queued(id: string, priority = 0, extra: Partial<QueuedTask> = {}): QueuedTask {
  return { id, type: 'probe', priority, config: { id, type: 'probe', priority, metadata: { n: id } }, dependsOn: undefined, attempts: 0, submittedAt: Date.now(), ...extra };
}

/** A result as a consumer ends a task with. */
export function completed(id: string, data: unknown = null, attempts = 1): TaskResult {
  const at = new Date().toISOString();
  return { id, type: 'probe', status: 'completed', success: true, data, attempts, startedAt: at, finishedAt: at, durationMs: 1 };
}

export function failed(id: string, code = 'IO_ERROR', attempts = 1): TaskResult {
  const at = new Date().toISOString();
  return { id, type: 'probe', status: 'failed', success: false, error: { code: code as never, message: 'disk said no', retryable: false }, attempts, startedAt: at, finishedAt: at, durationMs: 1 };
}
