import { ErrorCode, TaskforgeError } from './errors.js';

/**
 * The coded error an aborted signal stands for: the reason itself when it is
 * a {@link TaskforgeError} (TIMEOUT, CANCELLED), else CANCELLED.
 */
export function abortError(signal: AbortSignal): TaskforgeError {
  const reason: unknown = signal.reason;
  if (reason instanceof TaskforgeError) return reason;
  return new TaskforgeError(ErrorCode.CANCELLED, 'the operation was aborted', { cause: reason });
}

/** Throws the coded abort error when `signal` has fired. */
export function throwIfAborted(signal: AbortSignal | undefined): void {
  if (signal?.aborted === true) throw abortError(signal);
}

/**
 * Settles with `promise`, or rejects with the abort error as soon as `signal`
 * fires. The listener is removed either way, so long-lived signals do not leak.
 */
export async function raceAbort<T>(promise: Promise<T>, signal: AbortSignal | undefined): Promise<T> {
  if (signal === undefined) return promise;
  if (signal.aborted) {
    // Nobody will wait for it: its failure, should it fail later, is not an unhandled rejection (which ends the process).
    promise.catch(() => undefined);
    throw abortError(signal);
  }
  let onAbort: (() => void) | undefined;
  const aborted = new Promise<never>((_, reject) => {
    onAbort = () => {
      reject(abortError(signal));
    };
    signal.addEventListener('abort', onAbort, { once: true });
  });
  try {
    return await Promise.race([promise, aborted]);
  } finally {
    if (onAbort !== undefined) signal.removeEventListener('abort', onAbort);
  }
}

/** Waits `ms` milliseconds, or rejects with the abort error when `signal` fires first. */
export function sleep(ms: number, signal?: AbortSignal): Promise<void> {
  return new Promise<void>((resolve, reject) => {
    if (signal?.aborted === true) {
      reject(abortError(signal));
      return;
    }
    const onAbort = (): void => {
      clearTimeout(timer);
      if (signal !== undefined) reject(abortError(signal));
    };
    const timer = setTimeout(() => {
      signal?.removeEventListener('abort', onAbort);
      resolve();
    }, ms);
    signal?.addEventListener('abort', onAbort, { once: true });
  });
}

/**
 * Waits for `promise` (its failure ignored) for at most `ms`: true when it
 * settled in time. Its timer is cleared either way, so it holds no process
 * open. For a close that may wait on a server that is gone.
 */
export async function settledWithin(promise: Promise<unknown>, ms: number): Promise<boolean> {
  let timer: NodeJS.Timeout | undefined;
  const late = new Promise<false>((resolve) => {
    timer = setTimeout(resolve, ms, false);
  });
  try {
    return await Promise.race([promise.then(() => true, () => true), late]);
  } finally {
    clearTimeout(timer);
  }
}

/**
 * A signal that fires `graceMs` after `signal` does (with its reason): for
 * what must not be cut the moment a task is stopped (a commit that may be
 * applied whatever the client does) yet must not be waited for without end.
 * `dispose` lets go of the listener and the timer once that work is done.
 */
export function graceAfter(signal: AbortSignal, graceMs: number): { readonly signal: AbortSignal; dispose(): void } {
  const late = new AbortController();
  let timer: NodeJS.Timeout | undefined;
  const onAbort = (): void => {
    timer = setTimeout(() => {
      late.abort(signal.reason);
    }, graceMs);
  };
  if (signal.aborted) onAbort();
  else signal.addEventListener('abort', onAbort, { once: true });
  return {
    signal: late.signal,
    dispose: () => {
      signal.removeEventListener('abort', onAbort);
      clearTimeout(timer);
    },
  };
}

/**
 * Iterates `source`, but gives up at once when `signal` fires, even while the
 * source is stalled waiting for its next chunk; the source is then closed
 * (a Readable is destroyed) so that nothing keeps running in the background.
 */
export async function* abortable<T>(source: AsyncIterable<T>, signal: AbortSignal): AsyncGenerator<T, void, undefined> {
  const iterator = source[Symbol.asyncIterator]();
  let finished = false;
  try {
    for (;;) {
      const step = await raceAbort(iterator.next(), signal);
      if (step.done === true) {
        finished = true;
        return;
      }
      yield step.value;
    }
  } finally {
    if (!finished && iterator.return !== undefined) {
      // A stalled generator cannot run its return() until its pending next()
      // settles, so do not wait for it; a Readable's return() destroys it at once.
      iterator.return().catch(() => undefined);
    }
  }
}
