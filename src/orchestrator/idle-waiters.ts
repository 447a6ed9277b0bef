/**
 * Who waits in Orchestrator.onIdle(), resolved together once it is idle.
 * Apart from the Orchestrator because ends (end-teller.ts) and shutdown
 * (shutdown.ts) wake them; what idle means is the Orchestrator's, given as
 * `isIdle` (asked after an end only while someone waits: it is not free).
 */
export class IdleWaiters {
  readonly #isIdle: () => boolean;
  #waiters: (() => void)[] = [];

  constructor(isIdle: () => boolean) {
    this.#isIdle = isIdle;
  }

  /** Resolves at once when idle, else when next found idle. */
  wait(): Promise<void> {
    if (this.#isIdle()) return Promise.resolve();
    return new Promise((resolve) => this.#waiters.push(resolve));
  }

  /** Something ended: resolves the waiters if now idle. */
  check(): void {
    if (this.#waiters.length > 0 && this.#isIdle()) this.resolve();
  }

  /** Resolves every waiter (shutdown: nothing is waited for any more). */
  resolve(): void {
    if (this.#waiters.length === 0) return;
    const waiters = this.#waiters;
    this.#waiters = [];
    for (const resolve of waiters) resolve();
  }
}
