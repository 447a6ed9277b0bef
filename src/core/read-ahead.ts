/**
 * Iterates `source` ahead of the consumer, once `startAfterBytes` have
 * passed, holding up to `maxBytes` read and not yet taken: the source's
 * work (a stream's reads, one small read at a time) goes on while the
 * consumer does its own (encrypting, writing), instead of only when the
 * consumer asks. Chunks come out in order; the
 * source's failure is thrown after the chunks read before it. When the
 * consumer stops early, the source is closed (its return() is asked for,
 * not awaited: a stalled source could not answer it until its pending read
 * settles).
 */
export async function* readAhead(source: AsyncIterable<Uint8Array>, maxBytes: number, startAfterBytes = 0): AsyncGenerator<Uint8Array, void, undefined> {
  const iterator = source[Symbol.asyncIterator]();
  // The first `startAfterBytes` pass straight through: a small body costs no reader of its own.
  let passed = 0;
  let throughEnded = false;
  try {
    while (passed < startAfterBytes) {
      const step = await iterator.next();
      if (step.done === true) {
        throughEnded = true;
        return;
      }
      passed += step.value.byteLength;
      yield step.value;
    }
    throughEnded = true;
  } finally {
    // Stopped early (or failed) while passing through: the source is closed, as below.
    if (!throughEnded) iterator.return?.().catch(() => undefined);
  }
  const held: Uint8Array[] = [];
  let heldBytes = 0;
  // (An object: the reader, a closure, changes them between the consumer's looks.)
  const state: { finished: boolean; failure: { readonly error: unknown } | undefined; stopped: boolean } = { finished: false, failure: undefined, stopped: false };
  /** Wakes the consumer, waiting for a chunk or the end. */
  let wakeConsumer: (() => void) | undefined;
  /** Wakes the reader, waiting for room. */
  let wakeReader: (() => void) | undefined;
  const consumerMayGoOn = (): void => {
    const waiting = wakeConsumer;
    wakeConsumer = undefined;
    waiting?.();
  };
  const readerMayGoOn = (): void => {
    const waiting = wakeReader;
    wakeReader = undefined;
    waiting?.();
  };

  const reader = async (): Promise<void> => {
    try {
      while (!state.stopped) {
        if (heldBytes >= maxBytes) {
          await new Promise<void>((resolve) => (wakeReader = resolve));
          continue;
        }
        const step = await iterator.next();
        if (step.done === true) return;
        held.push(step.value);
        heldBytes += step.value.byteLength;
        consumerMayGoOn();
      }
    } catch (error) {
      state.failure = { error };
    } finally {
      state.finished = true;
      consumerMayGoOn();
    }
  };
  // (It catches its own failures: they are the consumer's to throw.)
  reader().catch(() => undefined);

  try {
    for (;;) {
      const chunk = held.shift();
      if (chunk !== undefined) {
        heldBytes -= chunk.byteLength;
        readerMayGoOn();
        yield chunk;
        continue;
      }
      if (state.failure !== undefined) throw state.failure.error;
      if (state.finished) return;
      await new Promise<void>((resolve) => (wakeConsumer = resolve));
    }
  } finally {
    if (!state.finished) {
      state.stopped = true;
      readerMayGoOn();
      iterator.return?.().catch(() => undefined);
    }
  }
}
