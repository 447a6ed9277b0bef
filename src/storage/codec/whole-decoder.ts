import { collectBytes, onlyChunk } from '../content.js';
import { ByteReader } from './byte-reader.js';
import { FIXED_HEADER_BYTES, FRAME_FINAL, FRAME_HEADER_BYTES, malformed, parseCipherPrefix, parseFixedHeader, SALT_BYTES, TAG_BYTES, truncated } from './container-format.js';
import { checkChunkLength, openContainer, parseFrameHeader, refusePlain, unlockHeader, type DecodeOptions, type UnlockedHeader } from './decoder.js';
import { decodeFrameSync } from './frame-codec.js';
import { frameError } from './frame-processor.js';
import { loadZstd, type ZstdContexts } from './zstd.js';

/** A stop that never comes: the decode of bytes in memory has nothing to wait on. */
const NEVER_ABORTED = new AbortController().signal;

/**
 * Decodes a whole container already in memory: the bytes
 * {@link openContainer} decodes from a stream of it, and the same error for
 * every damage, key or encryption problem. zstd, brotli and AES-GCM run
 * here, synchronously, with none of a stream's machinery (the generators,
 * ordering and reads a frame at a time cost more than a small file's
 * decode: a restore opens its small files by the thousand). gzip, which
 * inflates on the thread pool, takes the streaming path.
 *
 * @param maxBytes fail with `tooLarge()` as soon as the decoded bytes pass it.
 */
export async function decodeWhole(stored: Buffer, options: DecodeOptions, limit?: { readonly maxBytes: number; readonly tooLarge: () => Error }): Promise<Buffer> {
  const { path } = options;
  const fixed = stored.subarray(0, FIXED_HEADER_BYTES);
  if (fixed.byteLength < FIXED_HEADER_BYTES) throw truncated(path);
  const { header: base, encrypted } = parseFixedHeader(fixed, path);
  if (base.compression === 'gzip') return collectBytes(openedBody(stored, options, limit), NEVER_ABORTED);
  let unlocked: UnlockedHeader = { header: base };
  let offset = FIXED_HEADER_BYTES;
  if (!encrypted) refusePlain(options);
  else {
    const prefix = stored.subarray(offset, offset + 2);
    const { keyIdLength } = parseCipherPrefix(prefix, path);
    const rest = stored.subarray(offset + 2, offset + 2 + keyIdLength + SALT_BYTES);
    if (rest.byteLength < keyIdLength + SALT_BYTES) throw truncated(path);
    unlocked = unlockHeader(base, [fixed, prefix, rest], options);
    offset += 2 + rest.byteLength;
  }
  const { header, secrets } = unlocked;
  const zstd: ZstdContexts | undefined = header.compression === 'zstd' ? await loadZstd() : undefined;
  const settings = { algorithm: header.compression, level: 0, chunkSize: header.chunkSize, ...(secrets === undefined ? {} : { secrets }) };
  const tagBytes = secrets === undefined ? 0 : TAG_BYTES;
  const chunks: Buffer[] = [];
  let total = 0;
  for (let index = 0; ; index += 1) {
    const { flags, length } = parseFrameHeader(stored.subarray(offset, offset + FRAME_HEADER_BYTES), index, header, path);
    offset += FRAME_HEADER_BYTES;
    if (offset + length + tagBytes > stored.byteLength) throw truncated(path);
    const payload = stored.subarray(offset, offset + length);
    const tag = secrets === undefined ? undefined : stored.subarray(offset + length, offset + length + tagBytes);
    offset += length + tagBytes;
    const bytes = decodeFrameSync(settings, zstd, index, flags, payload, tag);
    if (typeof bytes === 'string') throw frameError(path, settings, index, bytes);
    checkChunkLength(index, flags, bytes, header, path);
    total += bytes.byteLength;
    if (limit !== undefined && total > limit.maxBytes) throw limit.tooLarge();
    if (bytes.byteLength > 0) chunks.push(bytes);
    if ((flags & FRAME_FINAL) !== 0) break;
  }
  if (offset !== stored.byteLength) throw malformed(path, 'bytes follow its last chunk');
  const [only] = chunks;
  return chunks.length === 1 && only !== undefined ? only : Buffer.concat(chunks, total);
}

/** The streaming decode of a whole container, the size limit kept as it goes. */
async function* openedBody(stored: Buffer, options: DecodeOptions, limit: { readonly maxBytes: number; readonly tooLarge: () => Error } | undefined): AsyncGenerator<Buffer, void, undefined> {
  const opened = await openContainer(new ByteReader(onlyChunk(stored)), options);
  let total = 0;
  for await (const bytes of opened.body) {
    total += bytes.byteLength;
    if (limit !== undefined && total > limit.maxBytes) throw limit.tooLarge();
    yield bytes;
  }
}
