/** New serials may leave this many unused serials behind the last one held before they go to the overflow map. */
const MAX_GAP = 1024;
/** The window drops its cleared head once that head is this long and at least half of it. */
const MIN_DROP = 4096;
/** The window is emptied into the overflow map once it holds fewer than one entry in this many slots (past MIN_DROP slots); at 8, the finished records of ten priorities (one serial in ten) went back and forth between the two. */
const MIN_DENSITY = 16;

/**
 * Entries keyed by small increasing integers (the serials of task ids this
 * process made, core/ids.ts), kept in an array indexed by serial: tasks are
 * submitted in serial order and mostly end in it, so an entry is put in at
 * the array's end and taken out near its start. A Map of numbers did the
 * same at 270-370 ns a put or delete for 300,000 tasks (its hash table far
 * larger than the caches, and rehashed as it grew and shrank): 14% of a
 * no-op task's whole cost. Serials that do not fit the window (an old id
 * given again, a serial far past the last) go to an overflow Map, as does
 * everything the window holds when it has become mostly empty slots (one
 * task that never ends, with a million others passing it), so that memory
 * follows the entries held, not the serials seen.
 */
export class SerialWindow<T> {
  /** slots[i] holds serial base + i. */
  #base = 0;
  #slots: (T | undefined)[] = [];
  /** No entry lies before this slot. */
  #head = 0;
  /** Entries held in the slots. */
  #held = 0;
  readonly #overflow = new Map<number, T>();

  get size(): number {
    return this.#held + this.#overflow.size;
  }

  get(serial: number): T | undefined {
    const slot = serial - this.#base;
    const held = slot >= 0 && slot < this.#slots.length ? this.#slots[slot] : undefined;
    // (A serial far ahead went to the overflow; the window may have grown over it since.)
    return held ?? (this.#overflow.size === 0 ? undefined : this.#overflow.get(serial));
  }

  set(serial: number, entry: T): void {
    if (this.#overflow.size > 0 && this.#overflow.has(serial)) {
      this.#overflow.set(serial, entry);
      return;
    }
    if (this.#held === 0) this.#restartAt(serial);
    const slot = serial - this.#base;
    if (slot >= 0 && slot < this.#slots.length) {
      if (this.#slots[slot] === undefined) this.#held += 1;
      this.#slots[slot] = entry;
      // Behind the cleared head (a serial put back after its slot was emptied): the head moves back to it.
      if (slot < this.#head) this.#head = slot;
    } else if (slot >= this.#slots.length && slot - this.#slots.length <= MAX_GAP) {
      while (this.#slots.length < slot) this.#slots.push(undefined);
      this.#slots.push(entry);
      this.#held += 1;
    } else {
      this.#overflow.set(serial, entry);
    }
  }

  /** Takes out the entry held under `serial`, if it is `entry`. */
  delete(serial: number, entry: T): void {
    const slot = serial - this.#base;
    if (slot >= 0 && slot < this.#slots.length && this.#slots[slot] === entry) {
      this.#slots[slot] = undefined;
      this.#held -= 1;
      this.#shrink();
    } else if (this.#overflow.size > 0 && this.#overflow.get(serial) === entry) {
      this.#overflow.delete(serial);
    }
  }

  /** Every entry: the window's in serial order, then the overflow's in the order they were put in. */
  *values(): Generator<T, void, undefined> {
    for (let slot = this.#head; slot < this.#slots.length; slot += 1) {
      const entry = this.#slots[slot];
      if (entry !== undefined) yield entry;
    }
    yield* this.#overflow.values();
  }

  #restartAt(serial: number): void {
    this.#base = serial;
    this.#slots = [];
    this.#head = 0;
  }

  #shrink(): void {
    if (this.#held === 0) {
      this.#slots = [];
      this.#head = 0;
      return;
    }
    while (this.#head < this.#slots.length && this.#slots[this.#head] === undefined) this.#head += 1;
    if (this.#head >= MIN_DROP && this.#head * 2 >= this.#slots.length) {
      this.#slots = this.#slots.slice(this.#head);
      this.#base += this.#head;
      this.#head = 0;
    } else if (this.#slots.length >= MIN_DROP && this.#held * MIN_DENSITY < this.#slots.length - this.#head) {
      for (let slot = this.#head; slot < this.#slots.length; slot += 1) {
        const entry = this.#slots[slot];
        if (entry !== undefined) this.#overflow.set(this.#base + slot, entry);
      }
      this.#held = 0;
      this.#slots = [];
      this.#head = 0;
    }
  }
}
