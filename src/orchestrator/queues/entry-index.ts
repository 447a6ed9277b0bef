import { serialOf } from '../../core/ids.js';
import { SerialWindow } from './serial-window.js';

/** What the index holds: an entry with its id, and that id's serial when this process made it. */
export interface IndexedEntry {
  readonly id: string;
  readonly serial: number | undefined;
}

/**
 * The tasks a queue of this process holds, by id. Ids this process made
 * are kept by their serial (core/ids.ts) in a SerialWindow, the rest by
 * the string: putting 300,000 new string ids into a Map and taking them
 * out was a fifth of a no-op task's whole cost (107 ms to fill, against
 * 26 ms for integers, and less again in an array).
 * An entry's `serial` must be `serialOf(id)`; LocalEntry makes it so.
 */
export class EntryIndex<T extends IndexedEntry> {
  readonly #bySerial = new SerialWindow<T>();
  readonly #byId = new Map<string, T>();

  get size(): number {
    return this.#bySerial.size + this.#byId.size;
  }

  get(id: string): T | undefined {
    const serial = serialOf(id);
    return serial === undefined ? this.#byId.get(id) : this.#bySerial.get(serial);
  }

  has(id: string): boolean {
    return this.get(id) !== undefined;
  }

  set(entry: T): void {
    if (entry.serial === undefined) this.#byId.set(entry.id, entry);
    else this.#bySerial.set(entry.serial, entry);
  }

  /** Takes `entry` out, if it is the one held under its id. */
  delete(entry: T): void {
    if (entry.serial === undefined) {
      if (this.#byId.get(entry.id) === entry) this.#byId.delete(entry.id);
    } else {
      this.#bySerial.delete(entry.serial, entry);
    }
  }

  /** Every entry: those with made ids first (in serial order), then the others in the order they were put in. */
  *values(): Generator<T, void, undefined> {
    yield* this.#bySerial.values();
    yield* this.#byId.values();
  }
}
