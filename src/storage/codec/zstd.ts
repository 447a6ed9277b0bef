import { ErrorCode, TaskforgeError } from '../../core/errors.js';

/** The part of zstd-napi's native binding taskforge uses. */
interface ZstdBinding {
  compressBound(size: number): number;
  compress(destination: Uint8Array, source: Uint8Array, level: number): number;
  decompress(destination: Uint8Array, source: Uint8Array): number;
}

let loading: Promise<ZstdBinding> | undefined;

/**
 * zstd-napi's native binding, loaded on first use only: the package is an
 * optional dependency, so installs that cannot build it still work without
 * zstd, and everyone else does not pay for loading it.
 */
export function loadZstd(): Promise<ZstdBinding> {
  loading ??= import('zstd-napi/binding.js').then(
    (module) => (module as { default?: ZstdBinding }).default ?? (module as unknown as ZstdBinding),
    (error: unknown) => {
      loading = undefined;
      throw new TaskforgeError(ErrorCode.UNSUPPORTED_OPTION, 'compression algorithm zstd needs the optional package zstd-napi, which is not installed or did not build here; use gzip or brotli', {
        cause: error,
      });
    },
  );
  return loading;
}

/** Compresses one chunk as one zstd frame. Synchronous in the binding: 64 KiB takes well under a millisecond. */
export async function zstdCompress(chunk: Buffer, level: number): Promise<Buffer> {
  const zstd = await loadZstd();
  const destination = Buffer.allocUnsafe(zstd.compressBound(chunk.byteLength));
  const written = zstd.compress(destination, chunk, level);
  return destination.subarray(0, written);
}

/**
 * Decompresses one chunk into a buffer of exactly `maxOutputBytes`: zstd
 * itself refuses to write past it, so a frame that claims or inflates to
 * more cannot allocate or fill more memory than one chunk.
 */
export async function zstdDecompress(payload: Buffer, maxOutputBytes: number): Promise<Buffer> {
  const zstd = await loadZstd();
  const destination = Buffer.allocUnsafe(maxOutputBytes);
  const written = zstd.decompress(destination, payload);
  return destination.subarray(0, written);
}
