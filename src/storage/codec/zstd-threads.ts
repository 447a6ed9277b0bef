import { availableParallelism } from 'node:os';
import { WorkerThreads } from '../../core/worker-threads.js';

/**
 * The zstd level from which a chunk is compressed on a worker thread. A
 * 256 KiB chunk of text took 1-5.4 ms up to level 7 here, 5.5-6.5 ms at
 * 8-10, 24 ms at 12 and 76 ms at 19: on the calling thread, every request
 * of a server waits that long.
 */
export const ZSTD_THREAD_LEVEL = 8;

/** One chunk to compress (its bytes handed over). */
export interface ZstdJob {
  readonly id: number;
  readonly level: number;
  readonly chunk: Uint8Array;
}

/** The chunk compressed, or undefined when that did not shrink it. */
export interface ZstdReply {
  readonly id: number;
  readonly compressed: Uint8Array | undefined;
}

/** The process's zstd threads, started at the first slow-level chunk; made afresh after one failed. */
let threads: WorkerThreads<Omit<ZstdJob, 'id'>, ZstdReply> | undefined;

/**
 * Compresses `chunk` with zstd at `level` on a worker thread (the event
 * loop stays free); undefined when that does not shrink it. The bytes are
 * the same as the calling thread's compression makes (one context, the
 * same level).
 */
export async function compressOnZstdThread(chunk: Uint8Array, level: number): Promise<Buffer | undefined> {
  // (Its workers ended already; the close only forgets them.)
  if (threads?.broken !== undefined) threads.close().catch(() => undefined);
  if (threads === undefined || threads.broken !== undefined) threads = new WorkerThreads(new URL('./zstd-thread', import.meta.url), undefined, Math.min(2, availableParallelism()));
  // A copy of its own to hand over: the chunk may be a view of a buffer the caller still uses.
  const own = new Uint8Array(chunk);
  const { compressed } = await threads.run({ level, chunk: own }, [own.buffer]);
  return compressed === undefined ? undefined : Buffer.from(compressed.buffer, compressed.byteOffset, compressed.byteLength);
}
