import { createDecipheriv, createHash, hkdfSync } from 'node:crypto';
import { gunzipSync } from 'node:zlib';

/*
 * The stored format as docs/format.md describes it, written from that page
 * alone and sharing no code with taskforge's: where the two agree on the test
 * vectors and on what real backends store, the page says what taskforge does.
 * Anything wrong is thrown as a plain Error (this is not taskforge's reader).
 */

/** A decoded container: its content kind byte, its key id (encrypted only) and its plaintext. */
export interface ReferenceDecoded {
  readonly kind: number;
  readonly keyId?: string;
  readonly plaintext: Buffer;
}

/** "Key ids": `k-` and the first 16 lowercase hex digits of SHA-256("taskforge key id" 00 || the 32 raw key bytes). */
export function referenceKeyId(key: Buffer): string {
  if (key.length !== 32) throw new Error(`a key is 32 bytes, not ${String(key.length)}`);
  const digest = createHash('sha256').update(Buffer.concat([Buffer.from('taskforge key id', 'ascii'), Buffer.from([0]), key])).digest();
  return `k-${digest.subarray(0, 8).toString('hex')}`;
}

/** "The path": an S3 object's key is the prefix (given a `/` when it has none) and the path without its leading `/`. */
export function referenceS3Key(prefix: string, path: string): string {
  const slashed = prefix === '' || prefix.endsWith('/') ? prefix : `${prefix}/`;
  return `${slashed}${path.slice(1)}`;
}

/**
 * "Encryption": C = SHA-256("taskforge/v1/context" 00 || header || u32 N || path's UTF-8), N its byte count.
 * `lengthField` replaces N, only to show that a misreading of it fails.
 */
export function referenceContext(header: Buffer, path: string, lengthField?: number): Buffer {
  const pathBytes = Buffer.from(path, 'utf8');
  const length = Buffer.alloc(4);
  length.writeUInt32BE(lengthField ?? pathBytes.length);
  return createHash('sha256').update(Buffer.concat([Buffer.from('taskforge/v1/context', 'ascii'), Buffer.from([0]), header, length, pathBytes])).digest();
}

/** The header of a container: 16 bytes, or 50 + L when encrypted. */
export function referenceHeader(stored: Buffer): Buffer {
  const encrypted = ((stored[9] ?? 0) & 1) === 1;
  return stored.subarray(0, encrypted ? 50 + (stored[17] ?? 0) : 16);
}

/** Decodes a whole container; `options.lengthField` as in {@link referenceContext}. */
export function referenceDecode(stored: Buffer, masterKey: Buffer | undefined, path: string, options: { lengthField?: number } = {}): ReferenceDecoded {
  check(stored.subarray(0, 8).toString('hex') === '895446430d0a1a0a', 'magic');
  check(stored[8] === 1, 'version');
  const encrypted = ((stored[9] ?? 0) & 1) === 1;
  const compression = stored[10];
  const kind = stored[11] ?? -1;
  const chunkSize = stored.readUInt32BE(12);
  const header = referenceHeader(stored);
  let offset = header.length;
  let key: Buffer | undefined;
  let context: Buffer | undefined;
  let keyId: string | undefined;
  if (encrypted) {
    check(stored[16] === 1, 'cipher');
    const keyIdLength = stored[17] ?? 0;
    keyId = stored.subarray(18, 18 + keyIdLength).toString('ascii');
    const salt = stored.subarray(18 + keyIdLength, 18 + keyIdLength + 32);
    if (masterKey === undefined) throw new Error('the object is encrypted and no key was given');
    key = Buffer.from(hkdfSync('sha256', masterKey, salt, Buffer.from('taskforge/v1/aes-256-gcm', 'ascii'), 32));
    context = referenceContext(header, path, options.lengthField);
  }
  const chunks: Buffer[] = [];
  for (let index = 0; ; index += 1) {
    const flags = stored[offset] ?? 0;
    const length = stored.readUInt32BE(offset + 1);
    let payload = stored.subarray(offset + 5, offset + 5 + length);
    offset += 5 + length;
    if (key !== undefined && context !== undefined) {
      const tag = stored.subarray(offset, offset + 16);
      offset += 16;
      const nonce = Buffer.alloc(12);
      nonce.writeBigUInt64BE(BigInt(index), 4);
      const decipher = createDecipheriv('aes-256-gcm', key, nonce);
      decipher.setAAD(Buffer.concat([context, Buffer.from([flags])]));
      decipher.setAuthTag(tag);
      // final() throws when the tag does not check out.
      payload = Buffer.concat([decipher.update(payload), decipher.final()]);
    }
    const isStored = (flags & 2) !== 0;
    if (compression !== 0 && compression !== 1) throw new Error(`compression ${String(compression)} is not in the reference`);
    chunks.push(compression === 1 && !isStored ? gunzipSync(payload) : payload);
    if ((flags & 1) !== 0) break;
    check(chunks.at(-1)?.length === chunkSize, `frame ${String(index)} is not a full chunk`);
  }
  check(offset === stored.length, 'bytes follow the final frame');
  return { kind, ...(keyId === undefined ? {} : { keyId }), plaintext: Buffer.concat(chunks) };
}

function check(condition: boolean, what: string): void {
  if (!condition) throw new Error(`reference decoder: ${what} is wrong`);
}
