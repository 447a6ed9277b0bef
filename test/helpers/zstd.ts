import { zstdAvailable } from '../../src/storage/codec/zstd.js';

/**
 * Whether the optional zstd-napi package works here. Where it does not (no
 * compiler to build it), zstd cases are skipped, loudly; in CI they must run.
 */
export const zstdHere = await zstdAvailable();

if (!zstdHere) {
  if (process.env['CI'] === 'true') throw new Error('zstd-napi did not build: CI must run the zstd cases (is a C++ compiler installed?)');
  console.warn('SKIPPED zstd cases: the optional zstd-napi package is not installed or did not build here');
}
