import { Readable } from 'node:stream';

/** Streams taken in charge, with the first error each emitted. */
const adopted = new WeakMap<Readable, { error: Error | undefined }>();

/**
 * Takes charge of a Readable given as a write's data, from the moment a task
 * is made or submitted with it: an error it emits while the task waits (a
 * file that cannot be opened) is kept for the task to report, instead of
 * being an `error` event nobody hears, which would end the process.
 * Anything else passes through untouched.
 */
export function adoptDataStream(data: unknown): void {
  if (!(data instanceof Readable) || adopted.has(data)) return;
  const state: { error: Error | undefined } = { error: undefined };
  adopted.set(data, state);
  data.on('error', (error: Error) => {
    state.error ??= error;
  });
}

/** The error a taken-in-charge stream emitted before it was read, if any. */
export function dataStreamError(data: Readable): Error | undefined {
  return adopted.get(data)?.error ?? (data.errored ?? undefined);
}

/**
 * Closes a data stream whose task ended without reading it to the end
 * (cancelled while waiting, a failed dependency, a bad config), so its file
 * descriptor or socket does not stay open.
 */
export function releaseDataStream(data: unknown): void {
  if (data instanceof Readable && !data.destroyed && !data.readableEnded) data.destroy();
}
