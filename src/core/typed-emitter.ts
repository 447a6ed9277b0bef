import { EventEmitter } from 'node:events';

/** A map from event name to the one payload object its listeners receive. */
export type EventMap<E> = { [K in keyof E]: object };

/** A listener of event `K` of map `E`. */
export type Listener<E extends EventMap<E>, K extends keyof E> = (payload: E[K]) => void;

/**
 * An event emitter whose listener argument type follows from the event name.
 *
 * Two things differ from Node's EventEmitter, on purpose: an `error` event
 * with no listener is dropped instead of thrown (a failed task must not crash
 * the process), and a listener that throws is reported to `onListenerError`
 * instead of unwinding into the code that emitted (the task lifecycle).
 */
export class TypedEmitter<E extends EventMap<E>> {
  /** Made at the first listener: most tasks are never listened to, and tasks are made by the hundred thousand. */
  #emitter: EventEmitter | undefined;
  readonly #onListenerError: (error: unknown, event: string) => void;

  constructor(onListenerError: (error: unknown, event: string) => void) {
    this.#onListenerError = onListenerError;
  }

  on<K extends keyof E & string>(event: K, listener: Listener<E, K>): this {
    this.#listeners().on(event, listener as (payload: unknown) => void);
    return this;
  }

  once<K extends keyof E & string>(event: K, listener: Listener<E, K>): this {
    this.#listeners().once(event, listener as (payload: unknown) => void);
    return this;
  }

  off<K extends keyof E & string>(event: K, listener: Listener<E, K>): this {
    this.#emitter?.off(event, listener as (payload: unknown) => void);
    return this;
  }

  listenerCount(event: keyof E & string): number {
    return this.#emitter?.listenerCount(event) ?? 0;
  }

  /** Calls every listener of `event` in order; returns whether there was any. */
  emit<K extends keyof E & string>(event: K, payload: E[K]): boolean {
    if (this.#emitter === undefined || this.#emitter.listenerCount(event) === 0) return false;
    const listeners = this.#emitter.rawListeners(event) as ((payload: E[K]) => void)[];
    for (const listener of listeners) {
      // rawListeners gives once-wrappers, which remove themselves when called.
      try {
        listener.call(this, payload);
      } catch (error) {
        this.#onListenerError(error, event);
      }
    }
    return true;
  }

  #listeners(): EventEmitter {
    if (this.#emitter === undefined) {
      this.#emitter = new EventEmitter({ captureRejections: false });
      // Orchestrators attach one listener per task they watch; do not warn about it.
      this.#emitter.setMaxListeners(0);
    }
    return this.#emitter;
  }
}
