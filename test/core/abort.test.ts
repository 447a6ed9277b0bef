import { afterEach, describe, expect, it } from 'vitest';
import { abortable, raceAbort, settledWithin } from '../../src/core/abort.js';

// A promise left behind by an abort may still fail later (a body whose check
// refuses the write, after the refusal aborted the upload): that failure must
// not reach the process as an unhandled rejection, which ends a CLI run with a
// stack trace after its error was already told.

const unhandled: unknown[] = [];
const listener = (reason: unknown): void => {
  unhandled.push(reason);
};
process.on('unhandledRejection', listener);
afterEach(() => {
  unhandled.length = 0;
});

/** A promise and how to reject it later. */
function later(): { promise: Promise<never>; fail: (error: Error) => void } {
  let fail: (error: Error) => void = () => undefined;
  const promise = new Promise<never>((_, reject) => {
    fail = reject;
  });
  return { promise, fail };
}

async function settle(): Promise<void> {
  await new Promise((resolve) => setTimeout(resolve, 20));
}

describe('settledWithin', () => {
  it('says whether a promise settled (a failure counts) before the bound, and gives up on one that never does', async () => {
    expect(await settledWithin(Promise.resolve(1), 1000)).toBe(true);
    expect(await settledWithin(Promise.reject(new Error('failed')), 1000)).toBe(true);
    expect(await settledWithin(new Promise(() => undefined), 20)).toBe(false);
  });
});

describe('raceAbort', () => {
  it('given a signal already aborted, rejects with the abort, and the promise it was given failing later is no unhandled rejection', async () => {
    const controller = new AbortController();
    controller.abort(new Error('stopped'));
    const { promise, fail } = later();
    await expect(raceAbort(promise, controller.signal)).rejects.toThrow();
    fail(new Error('the late failure'));
    await settle();
    expect(unhandled).toEqual([]);
  });

  it('aborted while it waits, rejects with the abort, and the promise failing later is no unhandled rejection', async () => {
    const controller = new AbortController();
    const { promise, fail } = later();
    const raced = raceAbort(promise, controller.signal);
    controller.abort(new Error('stopped'));
    await expect(raced).rejects.toThrow();
    fail(new Error('the late failure'));
    await settle();
    expect(unhandled).toEqual([]);
  });

  it('settles with the promise when no abort comes', async () => {
    expect(await raceAbort(Promise.resolve(7), new AbortController().signal)).toBe(7);
    await expect(raceAbort(Promise.reject(new Error('its own')), new AbortController().signal)).rejects.toThrow('its own');
  });
});

describe('abortable', () => {
  it('a source whose pending step fails after the abort (a write refused by its check) leaves no unhandled rejection', async () => {
    const controller = new AbortController();
    const { promise, fail } = later();
    async function* source(): AsyncGenerator<number> {
      yield 1;
      // The step the consumer asks for after the abort: it fails only later.
      await promise;
    }
    const steps = abortable(source(), controller.signal);
    expect((await steps.next()).value).toBe(1);
    controller.abort(new Error('refused'));
    await expect(steps.next()).rejects.toThrow();
    fail(new Error('refused, told by the source'));
    await settle();
    expect(unhandled).toEqual([]);
  });
});
