import { ErrorCode, TaskforgeError } from '../../core/errors.js';
import type { ContentKind } from '../content.js';

/**
 * The taskforge container, version 1: a header, then frames. Byte by byte in
 * docs/format.md. All integers are big-endian.
 */
export const CONTAINER_MAGIC = Buffer.from([0x89, 0x54, 0x46, 0x43, 0x0d, 0x0a, 0x1a, 0x0a]); // \x89 T F C \r \n \x1a \n
export const CONTAINER_VERSION = 1;

/** Compression algorithms and their byte in the header. */
export const COMPRESSION_IDS = { none: 0, gzip: 1, brotli: 2, zstd: 3 } as const;
export type CompressionAlgorithm = Exclude<keyof typeof COMPRESSION_IDS, 'none'>;

const KIND_IDS: Readonly<Record<ContentKind, number>> = { bytes: 0, text: 1, json: 2 };
const CIPHER_AES_256_GCM = 1;

export const FLAG_ENCRYPTED = 0x01;
export const FRAME_FINAL = 0x01;
export const FRAME_STORED = 0x02;
export const FRAME_HEADER_BYTES = 5;
export const TAG_BYTES = 16;
export const SALT_BYTES = 32;
export const MIN_CHUNK_BYTES = 1024;
export const MAX_CHUNK_BYTES = 16 * 1024 * 1024;
export const DEFAULT_CHUNK_BYTES = 256 * 1024;
/** brotli objects use smaller chunks: its memory per chunk in flight is the largest. */
export const BROTLI_CHUNK_BYTES = 64 * 1024;
/** Key ids: short, printable, safe in a header and a message. */
export const KEY_ID_PATTERN = /^[A-Za-z0-9._-]{1,64}$/;

/** What the header says about an object. */
export interface ContainerHeader {
  readonly compression: CompressionAlgorithm | 'none';
  readonly kind: ContentKind;
  readonly chunkSize: number;
  readonly encryption?: { readonly keyId: string; readonly salt: Buffer };
}

/** The header's bytes. */
export function encodeHeader(header: ContainerHeader): Buffer {
  const keyId = header.encryption === undefined ? Buffer.alloc(0) : Buffer.from(header.encryption.keyId, 'ascii');
  const fixed = Buffer.alloc(CONTAINER_MAGIC.length + 8);
  CONTAINER_MAGIC.copy(fixed, 0);
  let offset = CONTAINER_MAGIC.length;
  offset = fixed.writeUInt8(CONTAINER_VERSION, offset);
  offset = fixed.writeUInt8(header.encryption === undefined ? 0 : FLAG_ENCRYPTED, offset);
  offset = fixed.writeUInt8(COMPRESSION_IDS[header.compression], offset);
  offset = fixed.writeUInt8(KIND_IDS[header.kind], offset);
  fixed.writeUInt32BE(header.chunkSize, offset);
  if (header.encryption === undefined) return fixed;
  const cipher = Buffer.from([CIPHER_AES_256_GCM, keyId.length]);
  return Buffer.concat([fixed, cipher, keyId, header.encryption.salt]);
}

/** True when `bytes` start like a container (the magic and a version byte). */
export function looksLikeContainer(bytes: Buffer): boolean {
  return bytes.byteLength >= CONTAINER_MAGIC.length && bytes.subarray(0, CONTAINER_MAGIC.length).equals(CONTAINER_MAGIC);
}

/**
 * Whether `head` (an object's first bytes, fewer only when the object is
 * that short) is a container's start damaged or cut short: all but one or
 * two of the magic bytes, or a whole object that is a part of them. Read
 * as a plain file of another program, it would hand back the container's
 * bytes as a success. Other files stay theirs: a PNG's signature shares
 * five of the eight.
 */
export function looksLikeDamagedContainer(head: Buffer): boolean {
  if (head.byteLength === 0) return false;
  if (head.byteLength < CONTAINER_MAGIC.length) return head.equals(CONTAINER_MAGIC.subarray(0, head.byteLength));
  let matching = 0;
  for (let index = 0; index < CONTAINER_MAGIC.length; index += 1) if (head[index] === CONTAINER_MAGIC[index]) matching += 1;
  return matching >= CONTAINER_MAGIC.length - 2 && matching < CONTAINER_MAGIC.length;
}

/** Bytes of the fixed part of the header, and of the encryption part that follows it when flagged. */
export const FIXED_HEADER_BYTES = CONTAINER_MAGIC.length + 8;

/** Parses the fixed part; says how many more header bytes to read for the encryption part. */
export function parseFixedHeader(bytes: Buffer, path: string): { readonly header: Omit<ContainerHeader, 'encryption'>; readonly encrypted: boolean } {
  if (bytes.byteLength < FIXED_HEADER_BYTES || !looksLikeContainer(bytes)) throw malformed(path, 'it does not start with a taskforge container header');
  const version = bytes.readUInt8(8);
  if (version !== CONTAINER_VERSION) throw malformed(path, `container version ${version} is not supported (this build reads version ${CONTAINER_VERSION})`);
  const flags = bytes.readUInt8(9);
  if ((flags & ~FLAG_ENCRYPTED) !== 0) throw malformed(path, `unknown header flags 0x${flags.toString(16)}`);
  const compressionId = bytes.readUInt8(10);
  const compression = (Object.keys(COMPRESSION_IDS) as (keyof typeof COMPRESSION_IDS)[]).find((name) => COMPRESSION_IDS[name] === compressionId);
  if (compression === undefined) throw malformed(path, `unknown compression id ${compressionId}`);
  const kindId = bytes.readUInt8(11);
  const kind = (Object.keys(KIND_IDS) as ContentKind[]).find((name) => KIND_IDS[name] === kindId);
  if (kind === undefined) throw malformed(path, `unknown content kind id ${kindId}`);
  const chunkSize = bytes.readUInt32BE(12);
  if (chunkSize < MIN_CHUNK_BYTES || chunkSize > MAX_CHUNK_BYTES) throw malformed(path, `chunk size ${chunkSize} is out of range`);
  return { header: { compression, kind, chunkSize }, encrypted: (flags & FLAG_ENCRYPTED) !== 0 };
}

/** Parses the two bytes after the fixed header of an encrypted object: cipher and key id length. */
export function parseCipherPrefix(bytes: Buffer, path: string): { readonly keyIdLength: number } {
  if (bytes.byteLength < 2) throw truncated(path);
  const cipher = bytes.readUInt8(0);
  if (cipher !== CIPHER_AES_256_GCM) throw malformed(path, `unknown cipher id ${cipher}`);
  const keyIdLength = bytes.readUInt8(1);
  if (keyIdLength === 0 || keyIdLength > 64) throw malformed(path, `key id length ${keyIdLength} is out of range`);
  return { keyIdLength };
}

/** The error for bytes that are not a well-formed container. */
export function malformed(path: string, reason: string): TaskforgeError {
  return new TaskforgeError(ErrorCode.INTEGRITY_ERROR, `read of '${path}' failed: the stored object is damaged or was tampered with: ${reason}`, {
    details: { path },
  });
}

/** The error for a container that ends too soon. */
export function truncated(path: string): TaskforgeError {
  return malformed(path, 'it ends before its last chunk (truncated)');
}
