import { availableParallelism } from 'node:os';
import { setImmediate as yieldToEventLoop } from 'node:timers/promises';
import { malformed } from './container-format.js';
import {
  decodeFrameOnThreadPool,
  decodeFrameSync,
  encodeFrameOnThreadPool,
  encodeFrameOnZstdThread,
  encodeFrameSync,
  type EncodedFrame,
  type FrameFailure,
  type FrameSettings,
} from './frame-codec.js';
import { loadZstd, type ZstdContexts } from './zstd.js';
import { ZSTD_THREAD_LEVEL } from './zstd-threads.js';

/** The brotli level from which a chunk is compressed on the thread pool (see #encodesOnThreadPool). */
const BROTLI_POOL_LEVEL = 6;

/**
 * Encodes and decodes the frames of one object. gzip, slow per byte,
 * compresses and inflates on libuv's thread pool (every core busy, the event
 * loop free). zstd, brotli and AES-GCM run on this thread, which measured
 * faster than any hand-off (zstd-1 with AES-GCM about 250 MB/s, brotli-4
 * about 110 MB/s against 75 on the thread pool), yielding to the event loop
 * between frames (a few ms of work at most). Worker threads were tried too:
 * 30% more gzip throughput for 80 MiB more memory, and slower zstd at its
 * fast levels; its slow levels, tens of ms a chunk, do go to worker threads
 * (zstd-threads.ts), as brotli's go to the pool.
 */
export class FrameProcessor {
  readonly #settings: FrameSettings;
  readonly #path: string;
  #zstd: ZstdContexts | undefined;

  constructor(settings: FrameSettings, path: string) {
    this.#settings = settings;
    this.#path = path;
  }

  /**
   * Frames worth having in flight: encoded off this thread, one per core
   * (at most the thread pool's four threads; more only holds more memory),
   * two (to overlap I/O) otherwise.
   */
  get parallelism(): number {
    // brotli takes a few ms a chunk on this thread: one chunk at a time keeps
    // the event loop's p99 delay near 6 ms (two gave 12 ms) and its memory
    // at the others' level.
    if (this.#settings.algorithm === 'brotli' && !this.#encodesOnThreadPool) return 1;
    return this.#encodesOnThreadPool ? Math.max(2, Math.min(4, availableParallelism())) : 2;
  }

  get #onThreadPool(): boolean {
    return this.#settings.algorithm === 'gzip';
  }

  /**
   * gzip, brotli from level 6 and zstd from level 8 compress off this
   * thread: brotli-11 takes 50-200 ms a chunk and zstd-19 about 76, a stall
   * of the event loop (a server's every request waits) where a hand-off
   * costs little beside it. Their decoding is as fast at every level, and
   * stays on this thread.
   */
  get #encodesOnThreadPool(): boolean {
    return this.#onThreadPool || (this.#settings.algorithm === 'brotli' && this.#settings.level >= BROTLI_POOL_LEVEL) || this.#encodesOnZstdThread;
  }

  /** zstd's slow levels, on worker threads (zstd-napi has no call that runs on libuv's pool). */
  get #encodesOnZstdThread(): boolean {
    return this.#settings.algorithm === 'zstd' && this.#settings.level >= ZSTD_THREAD_LEVEL;
  }

  async encode(index: number, final: boolean, chunk: Buffer): Promise<EncodedFrame> {
    if (this.#encodesOnZstdThread) {
      // Loaded here too: a missing zstd-napi is UNSUPPORTED_OPTION, as at the fast levels.
      this.#zstd ??= await loadZstd();
      return encodeFrameOnZstdThread(this.#settings, index, final, chunk);
    }
    if (this.#encodesOnThreadPool) return encodeFrameOnThreadPool(this.#settings, index, final, chunk);
    await this.#prepareInline();
    return encodeFrameSync(this.#settings, this.#zstd, index, final, chunk);
  }

  /** Authenticates and decodes one frame; INTEGRITY_ERROR naming the frame when it does not check out. */
  async decode(index: number, flags: number, payload: Buffer, tag: Buffer | undefined): Promise<Buffer> {
    let result: Buffer | FrameFailure;
    if (this.#onThreadPool) {
      result = await decodeFrameOnThreadPool(this.#settings, index, flags, payload, tag);
    } else {
      await this.#prepareInline();
      result = decodeFrameSync(this.#settings, this.#zstd, index, flags, payload, tag);
    }
    if (typeof result === 'string') throw frameError(this.#path, this.#settings, index, result);
    return result;
  }

  async #prepareInline(): Promise<void> {
    if (this.#settings.algorithm === 'zstd') this.#zstd ??= await loadZstd();
    // Keep other tasks' I/O flowing between frames of a large object.
    await yieldToEventLoop();
  }
}

/** The INTEGRITY_ERROR for a frame of `path` that did not decode, naming the frame. */
export function frameError(path: string, settings: Pick<FrameSettings, 'algorithm' | 'chunkSize'>, index: number, failure: FrameFailure): Error {
  switch (failure) {
    case 'authentication':
      return malformed(path, `chunk ${index} failed authentication (wrong key, or the bytes, their order, the header or the path changed)`);
    case 'too-large':
      return malformed(path, `a ${settings.algorithm} chunk inflates past its ${settings.chunkSize}-byte chunk size`);
    case 'corrupt':
      return malformed(path, `a ${settings.algorithm} chunk does not decompress`);
  }
}
