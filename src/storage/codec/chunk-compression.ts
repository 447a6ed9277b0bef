import type { CompressionAlgorithm } from './container-format.js';

/** A compression algorithm and its level. */
export interface CompressionChoice {
  readonly algorithm: CompressionAlgorithm;
  readonly level: number;
}

/** The levels each algorithm accepts, and the one used when none is given. */
export const COMPRESSION_LEVELS: Readonly<Record<CompressionAlgorithm, { readonly min: number; readonly max: number; readonly fallback: number }>> = {
  gzip: { min: 1, max: 9, fallback: 1 },
  brotli: { min: 0, max: 11, fallback: 4 },
  zstd: { min: 1, max: 19, fallback: 3 },
};

/** The choice for an algorithm and an optional level (already range-checked by the config schema). */
export function compressionChoice(algorithm: CompressionAlgorithm, level?: number): CompressionChoice {
  return { algorithm, level: level ?? COMPRESSION_LEVELS[algorithm].fallback };
}
