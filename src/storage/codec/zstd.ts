import { ErrorCode, TaskforgeError } from '../../core/errors.js';

/** The part of zstd-napi's native binding taskforge uses. */
export interface ZstdBinding {
  compressBound(size: number): number;
  /** The size a frame's header records (null when it records none); throws when the header does not parse. */
  getFrameContentSize(frame: Uint8Array): number | null;
  CCtx: new () => { compress(destination: Uint8Array, source: Uint8Array, level: number): number };
  DCtx: new () => { decompress(destination: Uint8Array, source: Uint8Array): number };
}

/** One context each, reused: ZSTD_compress without one allocates and clears a fresh context per chunk. */
export interface ZstdContexts {
  readonly binding: ZstdBinding;
  readonly compressor: InstanceType<ZstdBinding['CCtx']>;
  readonly decompressor: InstanceType<ZstdBinding['DCtx']>;
}

let loading: Promise<ZstdContexts> | undefined;

/**
 * zstd-napi's native binding, loaded on first use only: the package is an
 * optional dependency, so installs that cannot build it still work without
 * zstd, and everyone else does not pay for loading it.
 */
export function loadZstd(): Promise<ZstdContexts> {
  loading ??= import('zstd-napi/binding.js').then(
    (module) => {
      // A CommonJS module: under import() its exports are the default export.
      const binding = ((module as { default?: unknown }).default ?? module) as ZstdBinding;
      // The binding runs synchronously on this thread, so one context each can never be used twice at once.
      return { binding, compressor: new binding.CCtx(), decompressor: new binding.DCtx() };
    },
    (error: unknown) => {
      loading = undefined;
      throw new TaskforgeError(ErrorCode.UNSUPPORTED_OPTION, 'compression algorithm zstd needs the optional package zstd-napi, which is not installed or did not build here; use gzip or brotli', {
        cause: error,
      });
    },
  );
  return loading;
}

/** Whether zstd can be used here (the optional package is installed and built). */
export async function zstdAvailable(): Promise<boolean> {
  try {
    await loadZstd();
    return true;
  } catch {
    return false;
  }
}
