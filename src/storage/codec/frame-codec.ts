import { brotliCompressSync, brotliDecompressSync, constants, gunzipSync, gzipSync } from 'node:zlib';
import { FRAME_FINAL, FRAME_STORED, type CompressionAlgorithm } from './container-format.js';
import { openPayload, sealPayload, type ObjectSecrets } from './frame-cipher.js';
import type { ZstdContexts } from './zstd.js';

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
 * Compresses (keeping the chunk as it is when that does not shrink it) and
 * encrypts one chunk, synchronously: run on a worker thread, or inline for
 * small objects.
 */
export function encodeFrameSync(settings: FrameSettings, zstd: ZstdContexts | undefined, index: number, final: boolean, chunk: Buffer): EncodedFrame {
  let flags = final ? FRAME_FINAL : 0;
  let payload = chunk;
  if (settings.algorithm !== 'none') {
    const compressed = compressSync(settings, zstd, chunk);
    if (compressed.byteLength < chunk.byteLength) payload = compressed;
    else flags |= FRAME_STORED;
  }
  if (settings.secrets === undefined) return { flags, payload };
  const { ciphertext, tag } = sealPayload(settings.secrets, index, flags, payload);
  return { flags, payload: ciphertext, tag };
}

/** Authenticates, decrypts and decompresses one frame, synchronously; a failure is returned, not thrown. */
export function decodeFrameSync(
  settings: FrameSettings,
  zstd: ZstdContexts | undefined,
  index: number,
  flags: number,
  payload: Buffer,
  tag: Buffer | undefined,
): Buffer | FrameFailure {
  let plain = payload;
  if (settings.secrets !== undefined) {
    const opened = tag === undefined ? undefined : openPayload(settings.secrets, index, flags, payload, tag);
    if (opened === undefined) return 'authentication';
    plain = opened;
  }
  if (settings.algorithm === 'none' || (flags & FRAME_STORED) !== 0) return plain;
  try {
    return decompressSync(settings, zstd, plain);
  } catch (error) {
    const tooLarge = (error as NodeJS.ErrnoException).code === 'ERR_BUFFER_TOO_LARGE' || (error instanceof Error && error.message.includes('Destination buffer is too small'));
    return tooLarge ? 'too-large' : 'corrupt';
  }
}

function compressSync(settings: FrameSettings, zstd: ZstdContexts | undefined, chunk: Buffer): Buffer {
  switch (settings.algorithm) {
    case 'gzip':
      return gzipSync(chunk, { level: settings.level });
    case 'brotli':
      return brotliCompressSync(chunk, { params: { [constants.BROTLI_PARAM_QUALITY]: settings.level, [constants.BROTLI_PARAM_SIZE_HINT]: chunk.byteLength } });
    case 'zstd': {
      if (zstd === undefined) throw new Error('zstd is not loaded');
      const destination = Buffer.allocUnsafe(zstd.binding.compressBound(chunk.byteLength));
      return destination.subarray(0, zstd.compressor.compress(destination, chunk, settings.level));
    }
    case 'none':
      return chunk;
  }
}

/** Decompresses into at most one chunk: a payload that inflates further fails instead of growing. */
function decompressSync(settings: FrameSettings, zstd: ZstdContexts | undefined, payload: Buffer): Buffer {
  switch (settings.algorithm) {
    case 'gzip':
      return gunzipSync(payload, { maxOutputLength: settings.chunkSize });
    case 'brotli':
      return brotliDecompressSync(payload, { maxOutputLength: settings.chunkSize });
    case 'zstd': {
      if (zstd === undefined) throw new Error('zstd is not loaded');
      const destination = Buffer.allocUnsafe(settings.chunkSize);
      return destination.subarray(0, zstd.decompressor.decompress(destination, payload));
    }
    case 'none':
      return payload;
  }
}
