import { setImmediate as yieldToEventLoop } from 'node:timers/promises';
import { ErrorCode, TaskforgeError } from '../../core/errors.js';
import { malformed } from './container-format.js';
import { decodeFrameSync, encodeFrameSync, type EncodedFrame, type FrameFailure, type FrameSettings } from './frame-codec.js';
import type { FrameResponse, WireSettings } from './frame-messages.js';
import { FrameWorkerPool } from './frame-worker-pool.js';
import { loadZstd, type ZstdContexts } from './zstd.js';

/**
 * Encodes and decodes the frames of one object. gzip and brotli, slow per
 * byte, run on the worker pool when there is one (every core busy, the event
 * loop free); zstd and AES-GCM are faster than a round trip to a worker
 * (measured: zstd-1 with AES-GCM at 285 MB/s here against 240 MB/s through
 * workers) and run on this thread, yielding to the event loop between
 * frames (about 1 ms of work each). An object of one frame is always done here.
 */
export class FrameProcessor {
  readonly #settings: FrameSettings;
  readonly #wire: WireSettings;
  readonly #path: string;
  #zstd: ZstdContexts | undefined;

  constructor(settings: FrameSettings, path: string) {
    this.#settings = settings;
    this.#path = path;
    this.#wire = {
      algorithm: settings.algorithm,
      level: settings.level,
      chunkSize: settings.chunkSize,
      ...(settings.secrets === undefined ? {} : { key: settings.secrets.key, context: settings.secrets.context }),
    };
  }

  /** Frames worth having in flight at once: enough to keep the workers busy, or two to overlap I/O here. */
  get parallelism(): number {
    const pool = this.#slow ? FrameWorkerPool.shared() : undefined;
    return pool === undefined ? 2 : 2 * pool.stats.workers;
  }

  /** gzip and brotli: worth sending to a worker. */
  get #slow(): boolean {
    return this.#settings.algorithm === 'gzip' || this.#settings.algorithm === 'brotli';
  }

  async encode(index: number, final: boolean, chunk: Buffer): Promise<EncodedFrame> {
    const pool = this.#slow && !(index === 0 && final) ? FrameWorkerPool.shared() : undefined;
    if (pool !== undefined) {
      // Copied, not transferred: if the worker fails, this thread still has the chunk to do it itself.
      const response = await this.#onWorker(() => pool.run({ op: 'encode', settings: this.#wire, index, final, chunk }));
      if (response !== undefined) {
        if (!response.ok) throw this.#failure(index, response.failure, response.message);
        return { flags: response.flags, payload: asBuffer(response.payload), ...(response.tag === undefined ? {} : { tag: asBuffer(response.tag) }) };
      }
    }
    await this.#prepareInline();
    return encodeFrameSync(this.#settings, this.#zstd, index, final, chunk);
  }

  /** Authenticates and decodes one frame; INTEGRITY_ERROR naming the frame when it does not check out. */
  async decode(index: number, flags: number, final: boolean, payload: Buffer, tag: Buffer | undefined): Promise<Buffer> {
    const pool = this.#slow && !(index === 0 && final) ? FrameWorkerPool.shared() : undefined;
    if (pool !== undefined) {
      const response = await this.#onWorker(() =>
        pool.run({ op: 'decode', settings: this.#wire, index, flags, payload, ...(tag === undefined ? {} : { tag }) }),
      );
      if (response !== undefined) {
        if (!response.ok) throw this.#failure(index, response.failure, response.message);
        return asBuffer(response.payload);
      }
    }
    await this.#prepareInline();
    const result = decodeFrameSync(this.#settings, this.#zstd, index, flags, payload, tag);
    if (typeof result === 'string') throw this.#failure(index, result);
    return result;
  }

  /** Runs a job on the pool; undefined when the pool broke, so the caller does the frame itself. */
  async #onWorker(job: () => Promise<FrameResponse>): Promise<FrameResponse | undefined> {
    try {
      return await job();
    } catch {
      return undefined;
    }
  }

  async #prepareInline(): Promise<void> {
    if (this.#settings.algorithm === 'zstd') this.#zstd ??= await loadZstd();
    // Keep other tasks' I/O flowing between frames of a large object.
    await yieldToEventLoop();
  }

  #failure(index: number, failure: FrameFailure | 'error', message?: string): TaskforgeError {
    switch (failure) {
      case 'authentication':
        return malformed(this.#path, `chunk ${index} failed authentication (wrong key, or the bytes, their order, the header or the path changed)`);
      case 'too-large':
        return malformed(this.#path, `a ${this.#settings.algorithm} chunk inflates past its ${this.#settings.chunkSize}-byte chunk size`);
      case 'corrupt':
        return malformed(this.#path, `a ${this.#settings.algorithm} chunk does not decompress`);
      case 'error':
        return new TaskforgeError(
          message?.includes('zstd-napi') === true ? ErrorCode.UNSUPPORTED_OPTION : ErrorCode.INTERNAL,
          `frame ${index} of '${this.#path}' could not be processed: ${message ?? 'unknown error'}`,
        );
    }
  }
}

function asBuffer(bytes: Uint8Array): Buffer {
  return Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength);
}
