import { TaskHandle } from './task-handle.js';

/**
 * The handles an Orchestrator keeps by id until their tasks end: the tasks
 * it submitted to a shared queue, and those it was asked about (result(),
 * cancel()) wherever they were submitted. Apart from the Orchestrator so
 * that admission, the telling of ends and shutdown share one book. (A
 * handle submitted to a queue of this process is not kept here: it goes
 * with its task, as its tag, and comes back with its end.)
 */
export class HandleBook {
  readonly #watched = new Map<string, TaskHandle>();

  /** Handles waiting for their task's end. */
  get size(): number {
    return this.#watched.size;
  }

  has(id: string): boolean {
    return this.#watched.has(id);
  }

  get(id: string): TaskHandle | undefined {
    return this.#watched.get(id);
  }

  /** The ids of the tasks waited for (a shared queue asks, to know whose ends to send here). */
  ids(): IterableIterator<string> {
    return this.#watched.keys();
  }

  /** A new handle, watched at once (before its task is stored: a fast worker's end must find it). */
  add(id: string, type?: string): TaskHandle {
    const handle = new TaskHandle(id, type);
    this.#watched.set(id, handle);
    return handle;
  }

  /** The handle of a task submitted elsewhere (or before): the one watched, or a new one. */
  watch(id: string): TaskHandle {
    return this.#watched.get(id) ?? this.add(id);
  }

  /** Lets go of handles whose tasks the queue did not store (one made since for the same id stays). */
  unwatch(handles: readonly TaskHandle[]): void {
    for (const handle of handles) if (this.#watched.get(handle.id) === handle) this.#watched.delete(handle.id);
  }

  /** The handle of a task that has ended, out of the book; undefined when none waits. */
  take(id: string): TaskHandle | undefined {
    // (Every task's end asks: most often nothing is watched, on a queue of this process.)
    const handle = this.#watched.size === 0 ? undefined : this.#watched.get(id);
    if (handle !== undefined) this.#watched.delete(id);
    return handle;
  }

  /** Every handle still watched, out of the book (shutdown lets them go). */
  drain(): TaskHandle[] {
    const handles = [...this.#watched.values()];
    this.#watched.clear();
    return handles;
  }
}
