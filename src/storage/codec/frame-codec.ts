import { promisify } from 'node:util';
import { brotliCompress, brotliCompressSync, brotliDecompressSync, constants, gunzip, gzip, type BrotliOptions } from 'node:zlib';
import { FRAME_FINAL, FRAME_STORED, type CompressionAlgorithm } from './container-format.js';
import { openPayload, sealPayload, type ObjectSecrets } from './frame-cipher.js';
import type { ZstdContexts } from './zstd.js';
import { compressOnZstdThread } from './zstd-threads.js';

/** Reused by zstd compression, which is synchronous: one chunk at a time on this thread. */
let scratch = Buffer.alloc(0);

const gzipAsync = promisify(gzip);
const brotliAsync = promisify<Buffer, BrotliOptions, Buffer>(brotliCompress);
const gunzipAsync = promisify(gunzip);

/** How the frames of one object are encoded; the same for every frame. */
export interface FrameSettings {
  readonly algorithm: CompressionAlgorithm | 'none';
  readonly level: number;
  readonly chunkSize: number;
  readonly secrets?: ObjectSecrets;
}

/** One encoded frame, before framing. */
export interface EncodedFrame {
  readonly flags: number;
  readonly payload: Buffer;
  readonly tag?: Buffer;
}

/** Why a frame did not decode; the caller turns it into an INTEGRITY_ERROR naming the frame. */
export type FrameFailure = 'authentication' | 'too-large' | 'corrupt';

/**
 * Compresses with zstd or brotli, if asked (keeping the chunk as it is when
 * that does not shrink it), and encrypts one chunk, synchronously, on this
 * thread. gzip goes through {@link encodeFrameOnThreadPool} instead.
 */
export function encodeFrameSync(settings: FrameSettings, zstd: ZstdContexts | undefined, index: number, final: boolean, chunk: Buffer): EncodedFrame {
  let compressed: Buffer | undefined;
  // Sealed at once below, so an encrypted frame's compressed bytes need no copy out of the scratch buffer.
  if (settings.algorithm === 'zstd') compressed = zstdCompress(zstd, chunk, settings.level, settings.secrets === undefined);
  else if (settings.algorithm === 'brotli') compressed = brotliCompressSync(chunk, brotliOptions(settings, chunk.byteLength));
  return sealFrame(settings, index, final, chunk, compressed);
}

/** The same as {@link encodeFrameSync} for gzip (and brotli's slow levels), compressing on libuv's thread pool. */
export async function encodeFrameOnThreadPool(settings: FrameSettings, index: number, final: boolean, chunk: Buffer): Promise<EncodedFrame> {
  const compressed = settings.algorithm === 'brotli' ? await brotliAsync(chunk, brotliOptions(settings, chunk.byteLength)) : await gzipAsync(chunk, { level: settings.level });
  return sealFrame(settings, index, final, chunk, compressed);
}

/** The same as {@link encodeFrameSync} for zstd's slow levels, compressing on a worker thread (see zstd-threads.ts). */
export async function encodeFrameOnZstdThread(settings: FrameSettings, index: number, final: boolean, chunk: Buffer): Promise<EncodedFrame> {
  // Not shrunk: the chunk itself, which sealFrame flags as stored.
  const compressed = (await compressOnZstdThread(chunk, settings.level)) ?? chunk;
  return sealFrame(settings, index, final, chunk, compressed);
}

/** The same as {@link decodeFrameSync} for gzip, inflating on libuv's thread pool after the tag checked out. */
export async function decodeFrameOnThreadPool(settings: FrameSettings, index: number, flags: number, payload: Buffer, tag: Buffer | undefined): Promise<Buffer | FrameFailure> {
  const opened = openFrame(settings, index, flags, payload, tag);
  if (typeof opened === 'string' || (flags & FRAME_STORED) !== 0) return opened;
  try {
    return await gunzipAsync(opened, { maxOutputLength: settings.chunkSize });
  } catch (error) {
    return failureOf(error);
  }
}

/** Keeps the compressed form when it is smaller (else flags the chunk as stored), then encrypts. */
function sealFrame(settings: FrameSettings, index: number, final: boolean, chunk: Buffer, compressed: Buffer | undefined): EncodedFrame {
  let flags = final ? FRAME_FINAL : 0;
  let payload = chunk;
  if (compressed !== undefined) {
    if (compressed.byteLength < chunk.byteLength) payload = compressed;
    else flags |= FRAME_STORED;
  }
  if (settings.secrets === undefined) return { flags, payload };
  const { ciphertext, tag } = sealPayload(settings.secrets, index, flags, payload);
  return { flags, payload: ciphertext, tag };
}

/**
 * Authenticates, decrypts and (zstd, brotli) decompresses one frame,
 * synchronously; a failure is returned, not thrown. gzip: {@link decodeFrameOnThreadPool}.
 */
export function decodeFrameSync(
  settings: FrameSettings,
  zstd: ZstdContexts | undefined,
  index: number,
  flags: number,
  payload: Buffer,
  tag: Buffer | undefined,
): Buffer | FrameFailure {
  const plain = openFrame(settings, index, flags, payload, tag);
  if (typeof plain === 'string' || settings.algorithm === 'none' || (flags & FRAME_STORED) !== 0) return plain;
  try {
    return settings.algorithm === 'brotli'
      ? brotliDecompressSync(plain, { maxOutputLength: settings.chunkSize })
      : zstdDecompress(zstd, plain, settings.chunkSize);
  } catch (error) {
    return failureOf(error);
  }
}

/** Decrypts and authenticates a frame's payload (a no-op without encryption). */
function openFrame(settings: FrameSettings, index: number, flags: number, payload: Buffer, tag: Buffer | undefined): Buffer | FrameFailure {
  if (settings.secrets === undefined) return payload;
  const opened = tag === undefined ? undefined : openPayload(settings.secrets, index, flags, payload, tag);
  return opened ?? 'authentication';
}

function failureOf(error: unknown): FrameFailure {
  const tooLarge = (error as NodeJS.ErrnoException).code === 'ERR_BUFFER_TOO_LARGE' || (error instanceof Error && error.message.includes('Destination buffer is too small'));
  return tooLarge ? 'too-large' : 'corrupt';
}

/**
 * zstd into one reused scratch buffer; only a result smaller than the chunk
 * is kept, as a copy of its own unless `copy` is false (the caller uses it
 * before the next frame is compressed).
 */
function zstdCompress(zstd: ZstdContexts | undefined, chunk: Buffer, level: number, copy: boolean): Buffer {
  if (zstd === undefined) throw new Error('zstd is not loaded');
  const bound = zstd.binding.compressBound(chunk.byteLength);
  if (scratch.byteLength < bound) scratch = Buffer.allocUnsafe(bound);
  const written = zstd.compressor.compress(scratch, chunk, level);
  if (written >= chunk.byteLength) return chunk;
  return copy ? Buffer.from(scratch.subarray(0, written)) : scratch.subarray(0, written);
}

/**
 * zstd into a buffer of the size the frame's header records (zstd records
 * it when it compresses a chunk whole), else of one chunk; zstd itself
 * refuses to write past it, so a header that understates fails as
 * corrupt. Not a whole chunk for every frame: a restore of small files
 * allocated 256 KiB per file, and the collector ran a full collection every
 * 40 ms after that memory (43 in a 5,000-file restore, against 1).
 */
function zstdDecompress(zstd: ZstdContexts | undefined, payload: Buffer, chunkSize: number): Buffer {
  if (zstd === undefined) throw new Error('zstd is not loaded');
  const recorded = zstd.binding.getFrameContentSize(payload);
  const size = recorded === null || recorded > chunkSize ? chunkSize : recorded;
  const destination = Buffer.allocUnsafe(size);
  const written = zstd.decompressor.decompress(destination, payload);
  return written === size ? destination : destination.subarray(0, written);
}

/**
 * brotli tuned to one chunk: a window as large as the chunk (a larger one
 * finds nothing more in 256 KiB, and costs memory for every chunk in flight).
 */
function brotliOptions(settings: FrameSettings, chunkBytes: number): BrotliOptions {
  const window = Math.min(24, Math.max(16, Math.ceil(Math.log2(Math.max(chunkBytes, 1)))));
  return {
    params: {
      [constants.BROTLI_PARAM_QUALITY]: settings.level,
      [constants.BROTLI_PARAM_SIZE_HINT]: chunkBytes,
      [constants.BROTLI_PARAM_LGWIN]: window,
    },
  };
}
