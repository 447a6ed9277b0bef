import { getDefaultLogger } from '../../core/logger.js';
import type { TaskResult } from '../../tasks/task-result.js';
import type { QueueListener, QueueTaskEvents } from '../task-queue.js';

/**
 * The listeners of one queue object, told in the order they subscribed. A
 * listener that throws is the listener's bug: the others are still told,
 * and the queue goes on (the error is reported on the next turn, where it
 * cannot corrupt the queue's state half way through an end).
 */
export class ListenerSet {
  #listeners: QueueListener[] = [];

  add(listener: QueueListener): () => void {
    this.#listeners = [...this.#listeners, listener];
    return () => {
      this.#listeners = this.#listeners.filter((other) => other !== listener);
    };
  }

  get size(): number {
    return this.#listeners.length;
  }

  ended(result: TaskResult, tag?: unknown): void {
    for (const listener of this.#listeners) {
      try {
        listener.ended(result, tag);
      } catch (error) {
        reportLater(error);
      }
    }
  }

  event<K extends keyof QueueTaskEvents>(kind: K, payload: QueueTaskEvents[K]): void {
    for (const listener of this.#listeners) {
      if (!listener.wants(kind)) continue;
      try {
        listener.event(kind, payload);
      } catch (error) {
        reportLater(error);
      }
    }
  }

  /** (Asked three times a task: a loop, not some() and a closure each.) */
  wants(kind: keyof QueueTaskEvents): boolean {
    for (const listener of this.#listeners) if (listener.wants(kind)) return true;
    return false;
  }

  /** Whether any listener wants ends at all: one that hears every task, or one waiting for some id. */
  awaitsAny(): boolean {
    for (const listener of this.#listeners) {
      if (listener.everyTask === true) return true;
      if (listener.waitingFor !== undefined) for (const _id of listener.waitingFor()) return true;
    }
    return false;
  }

  /** Every id some listener waits for. */
  *waitingFor(): Iterable<string> {
    for (const listener of this.#listeners) if (listener.waitingFor !== undefined) yield* listener.waitingFor();
  }
}

function reportLater(error: unknown): void {
  getDefaultLogger().error({ err: error instanceof Error ? error.message : String(error) }, 'a queue listener threw');
}
