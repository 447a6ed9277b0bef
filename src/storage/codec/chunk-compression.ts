import { promisify } from 'node:util';
import { brotliCompress, brotliDecompress, constants, gunzip, gzip } from 'node:zlib';
import { TaskforgeError } from '../../core/errors.js';
import type { CompressionAlgorithm } from './container-format.js';
import { malformed } from './container-format.js';
import { zstdCompress, zstdDecompress } from './zstd.js';

const gzipAsync = promisify(gzip);
const gunzipAsync = promisify(gunzip);
const brotliCompressAsync = promisify(brotliCompress);
const brotliDecompressAsync = promisify(brotliDecompress);

/** Compresses and decompresses single chunks; each chunk is independent, so several can run at once. */
export interface ChunkCompressor {
  readonly algorithm: CompressionAlgorithm;
  readonly level: number;
  compress(chunk: Buffer): Promise<Buffer>;
  /** Fails with INTEGRITY_ERROR when the payload is not valid or inflates past `maxOutputBytes`. */
  decompress(payload: Buffer, maxOutputBytes: number, path: string): Promise<Buffer>;
}

/** The levels each algorithm accepts, and its default. */
export const COMPRESSION_LEVELS: Readonly<Record<CompressionAlgorithm, { readonly min: number; readonly max: number; readonly fallback: number }>> = {
  gzip: { min: 1, max: 9, fallback: 1 },
  brotli: { min: 0, max: 11, fallback: 4 },
  zstd: { min: 1, max: 19, fallback: 3 },
};

/**
 * The compressor for an algorithm. gzip and brotli come from node:zlib and
 * run on libuv's thread pool, so chunks compress on every core while the
 * event loop stays free; zstd comes from the optional zstd-napi package,
 * loaded at the first zstd chunk, and runs on the calling thread.
 */
export function chunkCompressor(algorithm: CompressionAlgorithm, level?: number): ChunkCompressor {
  const chosen = level ?? COMPRESSION_LEVELS[algorithm].fallback;
  switch (algorithm) {
    case 'gzip':
      return {
        algorithm,
        level: chosen,
        compress: (chunk) => gzipAsync(chunk, { level: chosen }),
        decompress: (payload, maxOutputBytes, path) => guard(gunzipAsync(payload, { maxOutputLength: maxOutputBytes }), path, algorithm, maxOutputBytes),
      };
    case 'brotli':
      return {
        algorithm,
        level: chosen,
        compress: (chunk) =>
          brotliCompressAsync(chunk, {
            params: { [constants.BROTLI_PARAM_QUALITY]: chosen, [constants.BROTLI_PARAM_SIZE_HINT]: chunk.byteLength },
          }),
        decompress: (payload, maxOutputBytes, path) => guard(brotliDecompressAsync(payload, { maxOutputLength: maxOutputBytes }), path, algorithm, maxOutputBytes),
      };
    case 'zstd':
      return {
        algorithm,
        level: chosen,
        compress: (chunk) => zstdCompress(chunk, chosen),
        decompress: (payload, maxOutputBytes, path) => guard(zstdDecompress(payload, maxOutputBytes), path, algorithm, maxOutputBytes),
      };
  }
}

async function guard(work: Promise<Buffer>, path: string, algorithm: string, maxOutputBytes: number): Promise<Buffer> {
  try {
    return await work;
  } catch (error) {
    if (error instanceof TaskforgeError) throw error; // zstd not installed: UNSUPPORTED_OPTION
    const code = (error as NodeJS.ErrnoException).code;
    const tooLarge = code === 'ERR_BUFFER_TOO_LARGE' || (error instanceof Error && error.message.includes('Destination buffer is too small'));
    if (tooLarge) throw malformed(path, `a ${algorithm} chunk inflates past its ${maxOutputBytes}-byte chunk size`);
    throw malformed(path, `a ${algorithm} chunk does not decompress`);
  }
}
