import type { BigIntStats } from 'node:fs';
import { closeSync, constants, fstatSync } from 'node:fs';
import { abortable, throwIfAborted } from '../../core/abort.js';
import type { ObjectMetadata } from '../backend.js';
import { fsyncFd, writevFd } from './fd-calls.js';
import type { MetadataAttributes } from './filesystem-xattr.js';
import type { PathCalls } from './path-calls.js';

// fstat, close and an attribute set on a file just made touch only what
// the kernel holds in memory: made synchronously they take microseconds,
// where a trip through the thread pool costs tens (a wake-up of a pool
// thread and of the event loop, on both cores). The create, the writes
// and the fsync go to the pool (see path-calls.ts).

/** Collects this many bytes of a body before writing them in one writev. */
const WRITE_BATCH_BYTES = 1024 * 1024;

/**
 * Creates `temporary` (it must not exist), writes `body` to it, records the
 * metadata on it and syncs it: once this resolves the bytes and the
 * attribute are durable. `recorded` is false when the attribute could not be
 * set (the caller keeps the metadata in a sidecar).
 */
export async function writeDurableFile(
  temporary: string,
  body: AsyncIterable<Uint8Array>,
  options: { readonly signal: AbortSignal; readonly metadata: ObjectMetadata },
  attributes: MetadataAttributes,
  calls: PathCalls,
): Promise<{ stats: BigIntStats; recorded: boolean }> {
  const fd = await calls.open(temporary, constants.O_WRONLY | constants.O_CREAT | constants.O_EXCL, 0o666);
  // One batch is written while the next is read and encoded: the write (on
  // the thread pool) overlaps the source's reads and the encryption (here).
  let writing: Promise<void> = Promise.resolve();
  try {
    let batch: Uint8Array[] = [];
    let batchBytes = 0;
    for await (const chunk of abortable(body, options.signal)) {
      batch.push(chunk);
      batchBytes += chunk.byteLength;
      if (batchBytes >= WRITE_BATCH_BYTES) {
        await writing;
        writing = writeAll(fd, batch);
        // Its failure is thrown where it is awaited; until then it is not an unhandled rejection.
        writing.catch(() => undefined);
        batch = [];
        batchBytes = 0;
      }
    }
    await writing;
    await writeAll(fd, batch);
    throwIfAborted(options.signal);
    // Every object gets one, even with no metadata: a read that finds it looks for no sidecar.
    const recorded = await attributes.record(temporary, options.metadata);
    await fsyncFd(fd);
    return { stats: fstatSync(fd, { bigint: true }), recorded };
  } finally {
    // Never close under a write in flight (its descriptor number could be reused by another file meanwhile).
    await writing.catch(() => undefined);
    closeSync(fd);
  }
}

/** Writes every byte of `chunks` at the descriptor's offset, in order, resuming after a short write. */
export async function writeAll(fd: number, chunks: Uint8Array[]): Promise<void> {
  let pending = chunks;
  while (pending.length > 0) {
    const { bytesWritten } = await writevFd(fd, pending);
    pending = unwritten(pending, bytesWritten);
  }
}

/** What is left of `chunks` once their first `bytesWritten` bytes are written. */
function unwritten(chunks: Uint8Array[], bytesWritten: number): Uint8Array[] {
  let skip = bytesWritten;
  const rest: Uint8Array[] = [];
  for (const chunk of chunks) {
    if (skip >= chunk.byteLength) skip -= chunk.byteLength;
    else {
      rest.push(skip === 0 ? chunk : chunk.subarray(skip));
      skip = 0;
    }
  }
  return rest;
}
