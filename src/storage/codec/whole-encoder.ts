import { containerPlan, encodeContainer, frameHeader, type EncodeOptions } from './encoder.js';
import { encodeFrameSync } from './frame-codec.js';
import { loadZstd } from './zstd.js';
import { onlyChunk } from '../content.js';

/**
 * Encodes bytes already in memory as one container, the same bytes
 * {@link encodeContainer} makes of them, as parts (header, then each
 * frame's header, payload and tag), copying nothing. zstd, brotli and
 * AES-GCM run here, synchronously, with none of a stream's machinery: a
 * tree's small files are encoded by the thousand, and the generator,
 * ordering and abort plumbing cost as much as the work for each of them.
 * gzip, which runs on the thread pool, takes the streaming path.
 */
export async function encodeWhole(bytes: Buffer, options: EncodeOptions): Promise<Buffer[]> {
  const algorithm = options.compression?.algorithm;
  if (algorithm === 'gzip') {
    const parts: Buffer[] = [];
    for await (const part of encodeContainer(onlyChunk(bytes), options)) parts.push(part);
    return parts;
  }
  const zstd = algorithm === 'zstd' ? await loadZstd() : undefined;
  const { headerBytes, settings, chunkSize } = containerPlan(options);
  const parts = [headerBytes];
  // An empty object is one empty final frame, as a stream's is.
  let start = 0;
  let index = 0;
  do {
    const end = Math.min(start + chunkSize, bytes.byteLength);
    const final = end === bytes.byteLength;
    const frame = encodeFrameSync(settings, zstd, index, final, bytes.subarray(start, end));
    parts.push(frameHeader(frame.flags, frame.payload.byteLength), frame.payload);
    if (frame.tag !== undefined) parts.push(frame.tag);
    start = end;
    index += 1;
  } while (start < bytes.byteLength);
  return parts;
}

