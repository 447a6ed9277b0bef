import { availableParallelism } from 'node:os';
import { setImmediate as yieldToEventLoop } from 'node:timers/promises';
import { malformed } from './container-format.js';
import {
  decodeFrameOnThreadPool,
  decodeFrameSync,
  encodeFrameOnThreadPool,
  encodeFrameSync,
  type EncodedFrame,
  type FrameFailure,
  type FrameSettings,
} from './frame-codec.js';
import { loadZstd, type ZstdContexts } from './zstd.js';

/**
 * Encodes and decodes the frames of one object. gzip and brotli, slow per
 * byte, compress and inflate on libuv's thread pool (four threads: every
 * core busy, the event loop free). zstd and AES-GCM run on this thread,
 * which is faster than any hand-off (zstd-1 with AES-GCM: about 285 MB/s
 * here), yielding to the event loop between frames (about 1 ms of work
 * each). Worker threads were tried and measured: 30% more gzip throughput
 * for 80 MiB more memory, and slower zstd; not worth it.
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
   * Frames worth having in flight: for gzip and brotli, one per core (at most
   * the thread pool's four threads; more only holds more memory), two (to
   * overlap I/O) otherwise.
   */
  get parallelism(): number {
    // brotli holds the most memory per chunk in flight: one at a time keeps a
    // 1 GiB write near the others' peak RSS (measured 123-129 MiB, against
    // 133-135 with two), at about the same speed.
    if (this.#settings.algorithm === 'brotli') return 1;
    return this.#onThreadPool ? Math.max(2, Math.min(4, availableParallelism())) : 2;
  }

  get #onThreadPool(): boolean {
    return this.#settings.algorithm === 'gzip' || this.#settings.algorithm === 'brotli';
  }

  async encode(index: number, final: boolean, chunk: Buffer): Promise<EncodedFrame> {
    if (this.#onThreadPool) return encodeFrameOnThreadPool(this.#settings, index, final, chunk);
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
    if (typeof result === 'string') throw this.#failure(index, result);
    return result;
  }

  async #prepareInline(): Promise<void> {
    if (this.#settings.algorithm === 'zstd') this.#zstd ??= await loadZstd();
    // Keep other tasks' I/O flowing between frames of a large object.
    await yieldToEventLoop();
  }

  #failure(index: number, failure: FrameFailure): Error {
    switch (failure) {
      case 'authentication':
        return malformed(this.#path, `chunk ${index} failed authentication (wrong key, or the bytes, their order, the header or the path changed)`);
      case 'too-large':
        return malformed(this.#path, `a ${this.#settings.algorithm} chunk inflates past its ${this.#settings.chunkSize}-byte chunk size`);
      case 'corrupt':
        return malformed(this.#path, `a ${this.#settings.algorithm} chunk does not decompress`);
    }
  }
}
