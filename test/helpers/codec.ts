import { randomBytes } from 'node:crypto';
import { ByteReader } from '../../src/storage/codec/byte-reader.js';
import { compressionChoice } from '../../src/storage/codec/chunk-compression.js';
import type { CompressionAlgorithm } from '../../src/storage/codec/container-format.js';
import { openContainer } from '../../src/storage/codec/decoder.js';
import { encodeContainer } from '../../src/storage/codec/encoder.js';
import type { Keyring } from '../../src/storage/codec/keyring.js';
import type { ContentKind } from '../../src/storage/content.js';

/** Yields `bytes` in pieces of `pieceSize`, as a stream would. */
export async function* pieces(bytes: Buffer, pieceSize = 7_000): AsyncGenerator<Buffer> {
  await Promise.resolve();
  for (let offset = 0; offset < bytes.byteLength; offset += pieceSize) yield bytes.subarray(offset, offset + pieceSize);
}

/** Encodes `bytes` into a whole container in memory. */
export async function encodeBytes(
  bytes: Buffer,
  options: { path?: string; kind?: ContentKind; compression?: CompressionAlgorithm; level?: number; keyring?: Keyring; salt?: Buffer; chunkSize?: number } = {},
): Promise<Buffer> {
  const parts: Buffer[] = [];
  const active = options.keyring?.activeKey();
  for await (const part of encodeContainer(pieces(bytes), {
    kind: options.kind ?? 'bytes',
    path: options.path ?? '/object',
    ...(options.compression === undefined ? {} : { compression: compressionChoice(options.compression, options.level) }),
    ...(active === undefined ? {} : { encryption: { keyId: active.id, key: active.key, ...(options.salt === undefined ? {} : { salt: options.salt }) } }),
    ...(options.chunkSize === undefined ? {} : { chunkSize: options.chunkSize }),
  })) {
    parts.push(part);
  }
  return Buffer.concat(parts);
}

/** Decodes a whole container in memory; throws the coded error of any damage. */
export async function decodeBytes(stored: Buffer, options: { path?: string; keyring?: Keyring; requireEncryption?: boolean } = {}): Promise<{ bytes: Buffer; kind: ContentKind }> {
  const keyring = options.keyring;
  const opened = await openContainer(new ByteReader(pieces(stored, 5_000)), {
    path: options.path ?? '/object',
    requireEncryption: options.requireEncryption ?? false,
    ...(keyring === undefined ? {} : { keyring: () => keyring }),
  });
  const parts: Buffer[] = [];
  for await (const part of opened.body) parts.push(part);
  return { bytes: Buffer.concat(parts), kind: opened.header.kind };
}

/** The code of the error `work` fails with, or 'SUCCEEDED'. */
export async function failureCode(work: Promise<unknown>): Promise<string> {
  try {
    await work;
    return 'SUCCEEDED';
  } catch (error) {
    const code = (error as { code?: unknown }).code;
    return typeof code === 'string' ? code : `UNCODED: ${String(error)}`;
  }
}

/** Half random, half text: what the benchmark calls mixed data. */
export function mixed(size: number): Buffer {
  const text = Buffer.from('the quick brown fox jumps over the lazy dog; '.repeat(Math.ceil(size / 90)));
  return Buffer.concat([randomBytes(Math.floor(size / 2)), text]).subarray(0, size);
}
