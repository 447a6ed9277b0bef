/** What HeldBack needs of a queue's entry: its type, whether it ended, and who waits on it. */
export interface HeldEntry {
  readonly id: string;
  readonly type: string;
  readonly ended: boolean;
  readonly dependents: readonly HeldEntry[] | undefined;
}

/**
 * The tasks a durable queue leaves waiting because this process cannot run
 * them: recovered tasks of a type it does not register (another program
 * submitted them, or this one was started without that type), and every
 * task that waits on one of those. Failing them instead would lose them
 * for good to a process that merely lacks a registration; held back, they
 * run once a process with the type opens the queue (or registers it here).
 */
export class HeldBack {
  /** The held tasks of each type this process cannot run (not their dependents). */
  readonly #roots = new Map<string, HeldEntry[]>();
  /** Ids of the held tasks and of every task that waits on one. */
  readonly #ids = new Set<string>();

  /** Tasks held back, dependents included. */
  get size(): number {
    return this.#ids.size;
  }

  /** The types held back, for the store's take to pass over. */
  get types(): ReadonlySet<string> {
    return new Set(this.#roots.keys());
  }

  /** Holds back those of `entries` (recovered, waiting) whose type `runs` refuses; returns the count per type newly held. */
  hold(entries: Iterable<HeldEntry>, runs: (type: string) => boolean): Map<string, number> {
    const added = new Map<string, number>();
    for (const entry of entries) {
      if (entry.ended || runs(entry.type)) continue;
      const roots = this.#roots.get(entry.type) ?? [];
      roots.push(entry);
      this.#roots.set(entry.type, roots);
      added.set(entry.type, (added.get(entry.type) ?? 0) + 1);
    }
    if (added.size > 0) this.#reach();
    return added;
  }

  /** Lets go of the types `runs` now accepts (registered since); true when any was let go. */
  release(runs: (type: string) => boolean): boolean {
    let released = false;
    for (const type of [...this.#roots.keys()]) {
      if (!runs(type)) continue;
      this.#roots.delete(type);
      released = true;
    }
    if (released) this.#reach();
    return released;
  }

  has(id: string): boolean {
    return this.#ids.has(id);
  }

  /** A task submitted now that waits on a held one is held with it. */
  add(id: string): void {
    this.#ids.add(id);
  }

  /** A task ended (cancelled, or failed with a dependency): no longer held. */
  ended(id: string): void {
    this.#ids.delete(id);
  }

  /** Marks the held tasks and, through their dependents, everything that waits on them. */
  #reach(): void {
    this.#ids.clear();
    const work: HeldEntry[] = [];
    for (const roots of this.#roots.values()) for (const root of roots) if (!root.ended) work.push(root);
    // A worklist, not recursion: a long chain of dependents cannot overflow the stack.
    for (let entry = work.pop(); entry !== undefined; entry = work.pop()) {
      if (this.#ids.has(entry.id)) continue;
      this.#ids.add(entry.id);
      for (const dependent of entry.dependents ?? []) if (!dependent.ended) work.push(dependent);
    }
    for (const [type, roots] of this.#roots) {
      const open = roots.filter((root) => !root.ended);
      if (open.length === 0) this.#roots.delete(type);
      else this.#roots.set(type, open);
    }
  }
}
