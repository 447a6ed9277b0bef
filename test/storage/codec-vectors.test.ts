import { createDecipheriv, createHash, hkdfSync } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { gunzipSync } from 'node:zlib';
import { describe, expect, it } from 'vitest';
import { Keyring } from '../../src/storage/codec/keyring.js';
import { decodeBytes, encodeBytes } from '../helpers/codec.js';

interface Vector {
  name: string;
  keyHex?: string;
  keyId?: string;
  saltHex?: string;
  path: string;
  kind: 'bytes' | 'text' | 'json';
  compression?: 'gzip' | 'brotli';
  chunkSize: number;
  plaintext: string;
  storedHex: string;
  encodeExact: boolean;
}

const { vectors } = JSON.parse(readFileSync('test/vectors/container-v1.json', 'utf8')) as { vectors: Vector[] };

function keyringOf(vector: Vector): Keyring | undefined {
  return vector.keyHex === undefined ? undefined : new Keyring({ keys: { [vector.keyId ?? 'k']: Buffer.from(vector.keyHex, 'hex') } });
}

/**
 * A decoder written from docs/format.md alone, sharing no code with
 * taskforge's: if the two agree on the vectors, the document describes what
 * taskforge really stores.
 */
function referenceDecode(stored: Buffer, masterKey: Buffer | undefined, path: string): { kind: number; plaintext: Buffer } {
  expect(stored.subarray(0, 8).toString('hex')).toBe('895446430d0a1a0a');
  expect(stored[8]).toBe(1);
  const encrypted = ((stored[9] ?? 0) & 1) === 1;
  const compression = stored[10];
  const kind = stored[11] ?? -1;
  const chunkSize = stored.readUInt32BE(12);
  let offset = 16;
  let key: Buffer | undefined;
  let context: Buffer | undefined;
  if (encrypted) {
    expect(stored[16]).toBe(1);
    const keyIdLength = stored[17] ?? 0;
    const salt = stored.subarray(18 + keyIdLength, 18 + keyIdLength + 32);
    offset = 18 + keyIdLength + 32;
    if (masterKey === undefined) throw new Error('vector needs a key');
    key = Buffer.from(hkdfSync('sha256', masterKey, salt, Buffer.from('taskforge/v1/aes-256-gcm'), 32));
    const pathBytes = Buffer.from(path, 'utf8');
    const pathLength = Buffer.alloc(4);
    pathLength.writeUInt32BE(pathBytes.length);
    context = createHash('sha256')
      .update(Buffer.concat([Buffer.from('taskforge/v1/context\0'), stored.subarray(0, offset), pathLength, pathBytes]))
      .digest();
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
      payload = Buffer.concat([decipher.update(payload), decipher.final()]);
    }
    const isStored = (flags & 2) !== 0;
    chunks.push(compression === 1 && !isStored ? gunzipSync(payload) : payload);
    if ((flags & 1) !== 0) break;
    expect(chunks.at(-1)?.length).toBe(chunkSize);
  }
  expect(offset).toBe(stored.length);
  return { kind, plaintext: Buffer.concat(chunks) };
}

describe('container test vectors (docs/format.md)', () => {
  for (const vector of vectors) {
    it(`${vector.name}: the stored bytes decode to the plaintext`, async () => {
      const keyring = keyringOf(vector);
      const back = await decodeBytes(Buffer.from(vector.storedHex, 'hex'), { path: vector.path, ...(keyring === undefined ? {} : { keyring }) });
      expect(back.bytes.toString('utf8')).toBe(vector.plaintext);
      expect(back.kind).toBe(vector.kind);
    });

    it(`${vector.name}: the reference decoder written from the document agrees`, () => {
      const decoded = referenceDecode(Buffer.from(vector.storedHex, 'hex'), vector.keyHex === undefined ? undefined : Buffer.from(vector.keyHex, 'hex'), vector.path);
      expect(decoded.plaintext.toString('utf8')).toBe(vector.plaintext);
      expect(decoded.kind).toBe({ bytes: 0, text: 1, json: 2 }[vector.kind]);
    });

    if (vector.encodeExact) {
      it(`${vector.name}: encoding the plaintext gives exactly the stored bytes`, async () => {
        const keyring = keyringOf(vector);
        const stored = await encodeBytes(Buffer.from(vector.plaintext, 'utf8'), {
          path: vector.path,
          kind: vector.kind,
          chunkSize: vector.chunkSize,
          ...(keyring === undefined ? {} : { keyring }),
          ...(vector.saltHex === undefined ? {} : { salt: Buffer.from(vector.saltHex, 'hex') }),
        });
        expect(stored.toString('hex')).toBe(vector.storedHex);
      });
    }
  }
});
