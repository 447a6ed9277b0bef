import { ErrorCode, TaskforgeError } from '../../core/errors.js';
import type { ByteReader } from './byte-reader.js';
import {
  FIXED_HEADER_BYTES,
  FRAME_FINAL,
  FRAME_HEADER_BYTES,
  FRAME_STORED,
  malformed,
  parseCipherPrefix,
  parseFixedHeader,
  SALT_BYTES,
  TAG_BYTES,
  truncated,
  type ContainerHeader,
} from './container-format.js';
import { objectSecrets, type ObjectSecrets } from './frame-cipher.js';
import { FrameProcessor } from './frame-processor.js';
import type { Keyring } from './keyring.js';
import { orderedMap } from './ordered-map.js';

/** How to decode one object. */
export interface DecodeOptions {
  /** The storage path, which encrypted frames are bound to. */
  readonly path: string;
  /** The keys, asked for only when the object is encrypted. */
  readonly keyring?: () => Keyring | undefined;
  /** Refuse a container that is not encrypted (ENCRYPTION_REQUIRED). */
  readonly requireEncryption: boolean;
  /** Frames decoded at once. Default: what the frame processor can use. */
  readonly parallelism?: number;
}

/** An opened container: what its header says, and its decoded bytes. */
export interface OpenedContainer {
  readonly header: ContainerHeader;
  readonly body: AsyncGenerator<Buffer, void, undefined>;
  /** The key an encrypted container was opened with. */
  readonly key?: KeyBinding;
}

/** Which key opened an object: its id in the keyring, and the key's own fingerprint. */
export interface KeyBinding {
  readonly id: string;
  readonly fingerprint: string;
}

interface Frame {
  readonly index: number;
  readonly flags: number;
  readonly payload: Buffer;
  readonly tag: Buffer | undefined;
}

/**
 * Reads a container's header from `reader` (positioned at its start) and
 * returns its decoded body. Every malformation, truncation, reordering or
 * tampering surfaces as INTEGRITY_ERROR, an unknown key as KEY_NOT_FOUND; no
 * frame's plaintext is released before its tag checks out.
 */
export async function openContainer(reader: ByteReader, options: DecodeOptions): Promise<OpenedContainer> {
  try {
    return await readHeader(reader, options);
  } catch (error) {
    await reader.close();
    throw error;
  }
}

async function readHeader(reader: ByteReader, options: DecodeOptions): Promise<OpenedContainer> {
  const { path } = options;
  const fixed = await reader.read(FIXED_HEADER_BYTES);
  if (fixed.byteLength < FIXED_HEADER_BYTES) throw truncated(path);
  const { header: base, encrypted } = parseFixedHeader(fixed, path);
  let unlocked: UnlockedHeader = { header: base };
  if (!encrypted) refusePlain(options);
  else {
    const prefix = await reader.read(2);
    const { keyIdLength } = parseCipherPrefix(prefix, path);
    const rest = await reader.read(keyIdLength + SALT_BYTES);
    if (rest.byteLength < keyIdLength + SALT_BYTES) throw truncated(path);
    unlocked = unlockHeader(base, [fixed, prefix, rest], options);
  }
  const { header, secrets, key } = unlocked;
  const processor = new FrameProcessor(
    { algorithm: header.compression, level: 0, chunkSize: header.chunkSize, ...(secrets === undefined ? {} : { secrets }) },
    path,
  );
  const frames = readFrames(reader, header, secrets !== undefined, path);
  const body = decodeFrames(frames, header, processor, options);
  return key === undefined ? { header, body } : { header, body, key };
}

/** A header read and, for an encrypted object, its key found and its secrets derived. */
export interface UnlockedHeader {
  readonly header: ContainerHeader;
  readonly secrets?: ObjectSecrets;
  readonly key?: KeyBinding;
}

/** ENCRYPTION_REQUIRED for a plain container when encryption is required. */
export function refusePlain(options: Pick<DecodeOptions, 'path' | 'requireEncryption'>): void {
  if (!options.requireEncryption) return;
  const { path } = options;
  throw new TaskforgeError(ErrorCode.ENCRYPTION_REQUIRED, `read of '${path}' failed: encryption was required and the object is not encrypted`, { details: { path } });
}

/**
 * The key of an encrypted container's header, from its three parts (the
 * fixed part, the cipher prefix, then the key id and salt), and the
 * object's secrets; KEY_NOT_FOUND when the keyring does not hold the key.
 */
export function unlockHeader(base: ContainerHeader, parts: readonly [Buffer, Buffer, Buffer], options: DecodeOptions): Required<UnlockedHeader> {
  const { path } = options;
  const [, prefix, rest] = parts;
  const keyIdLength = prefix.readUInt8(1);
  const keyId = rest.subarray(0, keyIdLength).toString('latin1');
  const salt = Buffer.from(rest.subarray(keyIdLength));
  const keyring = options.keyring?.();
  if (keyring === undefined) {
    throw new TaskforgeError(ErrorCode.KEY_NOT_FOUND, `read of '${path}' failed: it is encrypted under key '${printable(keyId)}' and no keyring is configured (set TASKFORGE_ENCRYPTION_KEY or TASKFORGE_KEYRING)`, {
      details: { path, keyId: printable(keyId) },
    });
  }
  const id = printable(keyId);
  const masterKey = keyring.key(id, path);
  const key = { id, fingerprint: keyring.fingerprintOf(id) ?? '' };
  const header = { ...base, encryption: { keyId, salt } };
  return { header, secrets: objectSecrets(masterKey, salt, Buffer.concat(parts), path), key };
}

/** Reads frames in order, checking their framing; stops at the final one, which must end the stream. */
async function* readFrames(reader: ByteReader, header: ContainerHeader, encrypted: boolean, path: string): AsyncGenerator<Frame, void, undefined> {
  try {
    for (let index = 0; ; index += 1) {
      const { flags, length } = parseFrameHeader(await reader.read(FRAME_HEADER_BYTES), index, header, path);
      const tagBytes = encrypted ? TAG_BYTES : 0;
      const body = await reader.read(length + tagBytes);
      if (body.byteLength < length + tagBytes) throw truncated(path);
      yield { index, flags, payload: body.subarray(0, length), tag: encrypted ? body.subarray(length) : undefined };
      if ((flags & FRAME_FINAL) !== 0) {
        if (!(await reader.atEnd())) throw malformed(path, 'bytes follow its last chunk');
        return;
      }
    }
  } finally {
    await reader.close();
  }
}

async function* decodeFrames(frames: AsyncIterable<Frame>, header: ContainerHeader, processor: FrameProcessor, options: DecodeOptions): AsyncGenerator<Buffer, void, undefined> {
  const { path } = options;
  // Authentication comes first in the processor: a tampered compression byte
  // is an integrity error, not a missing codec, and no plaintext of a frame
  // leaves it before its tag checked out.
  const decode = async (frame: Frame): Promise<{ frame: Frame; bytes: Buffer }> => {
    return { frame, bytes: await processor.decode(frame.index, frame.flags, frame.payload, frame.tag) };
  };
  for await (const { frame, bytes } of orderedMap(frames, decode, options.parallelism ?? processor.parallelism)) {
    checkChunkLength(frame.index, frame.flags, bytes, header, path);
    if (bytes.byteLength > 0) yield bytes;
  }
}

/** A frame's header (flags, payload length), checked; INTEGRITY_ERROR when it is cut short or cannot be one. */
export function parseFrameHeader(bytes: Buffer, index: number, header: ContainerHeader, path: string): { readonly flags: number; readonly length: number } {
  if (bytes.byteLength < FRAME_HEADER_BYTES) throw truncated(path);
  const flags = bytes.readUInt8(0);
  if ((flags & ~(FRAME_FINAL | FRAME_STORED)) !== 0) throw malformed(path, `chunk ${index} has unknown flags 0x${flags.toString(16)}`);
  const length = bytes.readUInt32BE(1);
  // A payload is never larger than a chunk: a chunk that does not shrink is stored as it is.
  if (length > header.chunkSize) throw malformed(path, `chunk ${index} claims ${length} bytes, more than the chunk size ${header.chunkSize}`);
  return { flags, length };
}

/** Every chunk but the last is full: anything else means frames were cut or joined. */
export function checkChunkLength(index: number, flags: number, bytes: Buffer, header: ContainerHeader, path: string): void {
  if ((flags & FRAME_FINAL) === 0 && bytes.byteLength !== header.chunkSize) throw malformed(path, `chunk ${index} holds ${bytes.byteLength} bytes instead of ${header.chunkSize}`);
}

/** Key ids from a header are shown in messages only as printable ASCII. */
function printable(keyId: string): string {
  return keyId.replace(/[^\x20-\x7e]/g, '?');
}
