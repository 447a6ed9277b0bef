import { randomBytes } from 'node:crypto';
import type { ContentKind } from '../content.js';
import type { ChunkCompressor } from './chunk-compression.js';
import { DEFAULT_CHUNK_BYTES, encodeHeader, FRAME_FINAL, FRAME_HEADER_BYTES, FRAME_STORED, SALT_BYTES, type ContainerHeader } from './container-format.js';
import { FrameCipher } from './frame-cipher.js';
import { orderedMap } from './ordered-map.js';

/** How to encode one object. */
export interface EncodeOptions {
  readonly kind: ContentKind;
  /** The storage path, bound into every encrypted frame. */
  readonly path: string;
  readonly compression?: ChunkCompressor;
  readonly encryption?: {
    readonly keyId: string;
    readonly key: Buffer;
    /** Fixed salt, for test vectors only; otherwise 32 random bytes per object. */
    readonly salt?: Buffer;
  };
  /** Plaintext bytes per frame. Default 64 KiB. */
  readonly chunkSize?: number;
  /** Frames compressed at once (on the thread pool). Default 4. */
  readonly parallelism?: number;
}

interface Chunk {
  readonly index: number;
  readonly bytes: Buffer;
  readonly final: boolean;
}

/**
 * Encodes a stream of bytes as a taskforge container (docs/format.md):
 * the header, then one frame per chunk, each compressed (kept as is when
 * that does not make it smaller) and then encrypted. Holds about
 * `parallelism` chunks in memory whatever the object's size.
 */
export async function* encodeContainer(source: AsyncIterable<Uint8Array>, options: EncodeOptions): AsyncGenerator<Buffer, void, undefined> {
  const chunkSize = options.chunkSize ?? DEFAULT_CHUNK_BYTES;
  const encryption = options.encryption === undefined ? undefined : { keyId: options.encryption.keyId, salt: options.encryption.salt ?? randomBytes(SALT_BYTES) };
  const header: ContainerHeader = {
    compression: options.compression?.algorithm ?? 'none',
    kind: options.kind,
    chunkSize,
    ...(encryption === undefined ? {} : { encryption }),
  };
  const headerBytes = encodeHeader(header);
  const cipher = options.encryption === undefined || encryption === undefined ? undefined : new FrameCipher(options.encryption.key, encryption.salt, headerBytes, options.path);
  yield headerBytes;
  const encodeFrame = async ({ index, bytes, final }: Chunk): Promise<Buffer> => {
    let flags = final ? FRAME_FINAL : 0;
    let payload = bytes;
    if (options.compression !== undefined) {
      const compressed = await options.compression.compress(bytes);
      // Random or already compressed data: store the chunk as it is, and say so.
      if (compressed.byteLength < bytes.byteLength) payload = compressed;
      else flags |= FRAME_STORED;
    }
    const frameHeader = Buffer.alloc(FRAME_HEADER_BYTES);
    frameHeader.writeUInt8(flags, 0);
    frameHeader.writeUInt32BE(payload.byteLength, 1);
    if (cipher === undefined) return Buffer.concat([frameHeader, payload]);
    const { ciphertext, tag } = cipher.seal(index, flags, payload);
    return Buffer.concat([frameHeader, ciphertext, tag]);
  };
  yield* orderedMap(rechunk(source, chunkSize), encodeFrame, options.parallelism ?? 4);
}

/** Cuts a stream into chunks of exactly `size` bytes (the last may be shorter, or empty for an empty stream), marking the last. */
async function* rechunk(source: AsyncIterable<Uint8Array>, size: number): AsyncGenerator<Chunk, void, undefined> {
  let parts: Buffer[] = [];
  let partsBytes = 0;
  let held: Buffer | undefined;
  let index = 0;
  for await (const incoming of source) {
    let chunk = Buffer.from(incoming.buffer, incoming.byteOffset, incoming.byteLength);
    while (chunk.byteLength > 0) {
      const take = Math.min(size - partsBytes, chunk.byteLength);
      parts.push(chunk.subarray(0, take));
      partsBytes += take;
      chunk = chunk.subarray(take);
      if (partsBytes === size) {
        // One chunk is held back: only the next one tells whether it is the last.
        if (held !== undefined) yield { index: index++, bytes: held, final: false };
        held = Buffer.concat(parts, partsBytes);
        parts = [];
        partsBytes = 0;
      }
    }
  }
  if (partsBytes > 0) {
    if (held !== undefined) yield { index: index++, bytes: held, final: false };
    held = Buffer.concat(parts, partsBytes);
  }
  yield { index, bytes: held ?? Buffer.alloc(0), final: true };
}
