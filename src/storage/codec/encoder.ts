import { randomBytes } from 'node:crypto';
import type { ContentKind } from '../content.js';
import type { CompressionChoice } from './chunk-compression.js';
import { BROTLI_CHUNK_BYTES, DEFAULT_CHUNK_BYTES, encodeHeader, FRAME_HEADER_BYTES, SALT_BYTES, type ContainerHeader } from './container-format.js';
import { objectSecrets } from './frame-cipher.js';
import type { FrameSettings } from './frame-codec.js';
import { FrameProcessor } from './frame-processor.js';
import { orderedMap } from './ordered-map.js';

/** How to encode one object. */
export interface EncodeOptions {
  readonly kind: ContentKind;
  /** The storage path, bound into every encrypted frame. */
  readonly path: string;
  readonly compression?: CompressionChoice;
  readonly encryption?: {
    readonly keyId: string;
    readonly key: Buffer;
    /** Fixed salt, for test vectors only; otherwise 32 random bytes per object. */
    readonly salt?: Buffer;
  };
  /** Plaintext bytes per frame. Default 256 KiB (64 KiB for brotli). */
  readonly chunkSize?: number;
  /** Frames in flight at once. Default: what the frame processor can use. */
  readonly parallelism?: number;
}

interface Chunk {
  readonly index: number;
  readonly bytes: Buffer;
  readonly final: boolean;
}

/**
 * Encodes a stream of bytes as a taskforge container (docs/format.md): the
 * header, then one frame per chunk, each compressed (kept as is when that
 * does not make it smaller) and then encrypted, several at once on the
 * frame workers. Holds about `parallelism` chunks whatever the object's size.
 */
export async function* encodeContainer(source: AsyncIterable<Uint8Array>, options: EncodeOptions): AsyncGenerator<Buffer, void, undefined> {
  const { headerBytes, settings, chunkSize } = containerPlan(options);
  const processor = new FrameProcessor(settings, options.path);
  yield headerBytes;
  // A frame is yielded as its parts (header, payload, tag), never joined: no copy of the data.
  const encodeFrame = async ({ index, bytes, final }: Chunk): Promise<Buffer[]> => {
    const frame = await processor.encode(index, final, bytes);
    const head = frameHeader(frame.flags, frame.payload.byteLength);
    return frame.tag === undefined ? [head, frame.payload] : [head, frame.payload, frame.tag];
  };
  for await (const parts of orderedMap(rechunk(source, chunkSize), encodeFrame, options.parallelism ?? processor.parallelism)) yield* parts;
}

/** The header of one object's container, and how its frames are encoded. */
export interface ContainerPlan {
  readonly headerBytes: Buffer;
  readonly settings: FrameSettings;
  readonly chunkSize: number;
}

/** The header (with a fresh salt unless one is given) and the frame settings of an object encoded with `options`. */
export function containerPlan(options: EncodeOptions): ContainerPlan {
  // brotli's per-chunk state and outputs are the largest: 64 KiB frames kept a
  // 1 GiB write at 123 MiB peak RSS where 256 KiB ones took 128, for 0.2% of ratio.
  const chunkSize = options.chunkSize ?? (options.compression?.algorithm === 'brotli' ? BROTLI_CHUNK_BYTES : DEFAULT_CHUNK_BYTES);
  const encryption = options.encryption === undefined ? undefined : { ...options.encryption, salt: options.encryption.salt ?? freshSalt() };
  const header: ContainerHeader = {
    compression: options.compression?.algorithm ?? 'none',
    kind: options.kind,
    chunkSize,
    ...(encryption === undefined ? {} : { encryption: { keyId: encryption.keyId, salt: encryption.salt } }),
  };
  const headerBytes = encodeHeader(header);
  const settings: FrameSettings = {
    algorithm: options.compression?.algorithm ?? 'none',
    level: options.compression?.level ?? 0,
    chunkSize,
    ...(encryption === undefined ? {} : { secrets: objectSecrets(encryption.key, encryption.salt, headerBytes, options.path) }),
  };
  return { headerBytes, settings, chunkSize };
}

/** Salts drawn at once from the system's random source: one draw per object cost a tree of 5,000 small files 80 ms of CPU. */
const SALTS_PER_DRAW = 128;
let salts = Buffer.alloc(0);
let saltsUsed = 0;

/** 32 fresh random bytes. A drawn block is never refilled: a salt handed out keeps its bytes. */
function freshSalt(): Buffer {
  if (saltsUsed + SALT_BYTES > salts.byteLength) {
    salts = randomBytes(SALT_BYTES * SALTS_PER_DRAW);
    saltsUsed = 0;
  }
  const salt = salts.subarray(saltsUsed, saltsUsed + SALT_BYTES);
  saltsUsed += SALT_BYTES;
  return salt;
}

/** A frame's 5-byte header: its flags and its payload's length. */
export function frameHeader(flags: number, payloadBytes: number): Buffer {
  const bytes = Buffer.alloc(FRAME_HEADER_BYTES);
  bytes.writeUInt8(flags, 0);
  bytes.writeUInt32BE(payloadBytes, 1);
  return bytes;
}

/**
 * Cuts a stream into chunks of exactly `size` bytes (the last may be shorter,
 * or empty for an empty stream), marking the last. A chunk made of several
 * pieces is a copy: views into the source's buffers were measured to keep
 * more memory alive (25 MiB against 3 MiB over a 64 MiB object) than the
 * copies cost. A last chunk of a single piece (a small object's only one)
 * is that piece. The source's pieces are taken as theirs, as a Node stream's
 * chunks are: one changed after it was yielded changes what is stored.
 */
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
    // (A small object's only chunk: its copy was a sixth of a tree store's allocations.)
    const [only] = parts;
    held = parts.length === 1 && only !== undefined ? only : Buffer.concat(parts, partsBytes);
  }
  yield { index, bytes: held ?? Buffer.alloc(0), final: true };
}
