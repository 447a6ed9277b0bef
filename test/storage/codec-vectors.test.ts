import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { objectSecrets } from '../../src/storage/codec/frame-cipher.js';
import { parseStoragePath } from '../../src/storage/storage-path.js';
import { Keyring, keyFingerprint } from '../../src/index.js';
import { decodeBytes, encodeBytes, failureCode } from '../helpers/codec.js';
import { referenceContext, referenceDecode, referenceHeader, referenceKeyId } from '../helpers/reference-format.js';

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
  singleKey?: true;
  refusedPaths?: string[];
  s3?: { prefix: string; key: string };
  pathUtf8Hex: string;
  contextHex?: string;
  storedHex: string;
  encodeExact: boolean;
}

interface KeyIdVector {
  keyHex: string;
  keyBase64: string;
  keyId: string;
}

const { vectors, keyIds } = JSON.parse(readFileSync('test/vectors/container-v1.json', 'utf8')) as { vectors: Vector[]; keyIds: KeyIdVector[] };
/** docs/format.md with its line breaks and indents as single spaces, as it reads. */
const formatPage = readFileSync('docs/format.md', 'utf8').replace(/\s+/g, ' ');

/** The keyring a vector was written with: one named key, or a single key named by its fingerprint. */
function keyringOf(vector: Vector): Keyring | undefined {
  if (vector.keyHex === undefined) return undefined;
  const key = Buffer.from(vector.keyHex, 'hex');
  return vector.singleKey === true ? Keyring.fromKey(key.toString('base64')) : new Keyring({ keys: { [vector.keyId ?? 'k']: key } });
}

function masterKeyOf(vector: Vector): Buffer | undefined {
  return vector.keyHex === undefined ? undefined : Buffer.from(vector.keyHex, 'hex');
}

function vectorNamed(start: string): Vector {
  const found = vectors.find((vector) => vector.name.startsWith(start));
  if (found === undefined) throw new Error(`no vector named '${start}…'`);
  return found;
}

/** Code points, which is what a reader counting characters counts (a UTF-16 unit count is `length`). */
function codePoints(text: string): number {
  return Array.from(text).length;
}

/** `00 00 00 12`: bytes as docs/format.md writes them. */
function spaced(hex: string): string {
  return hex.match(/../g)?.join(' ') ?? '';
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
      const decoded = referenceDecode(Buffer.from(vector.storedHex, 'hex'), masterKeyOf(vector), vector.path);
      expect(decoded.plaintext.toString('utf8')).toBe(vector.plaintext);
      expect(decoded.kind).toBe({ bytes: 0, text: 1, json: 2 }[vector.kind]);
      expect(decoded.keyId).toBe(vector.keyId);
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

    it(`${vector.name}: its path is these UTF-8 bytes, which taskforge keeps as they are (no normalisation)`, () => {
      expect(Buffer.from(vector.path, 'utf8').toString('hex')).toBe(vector.pathUtf8Hex);
      expect(parseStoragePath(vector.path)).toBe(vector.path);
    });

    const { contextHex } = vector;
    const masterKey = masterKeyOf(vector);
    if (contextHex !== undefined && masterKey !== undefined) {
      it(`${vector.name}: the context C is what the document computes and what taskforge computes`, () => {
        const stored = Buffer.from(vector.storedHex, 'hex');
        const header = referenceHeader(stored);
        expect(referenceContext(header, vector.path).toString('hex')).toBe(contextHex);
        expect(objectSecrets(masterKey, header.subarray(-32), header, vector.path).context.toString('hex')).toBe(contextHex);
      });
    }

    // A vector whose path has as many bytes as code points or UTF-16 units could not tell N's readings apart.
    const bytes = Buffer.byteLength(vector.path, 'utf8');
    const misreadings = [...new Set([vector.path.length, codePoints(vector.path)])].filter((length) => length !== bytes);
    if (masterKey !== undefined && misreadings.length > 0) {
      it(`${vector.name}: N read as code points or UTF-16 units (${misreadings.join(', ')}) instead of bytes (${String(bytes)}) fails`, () => {
        const stored = Buffer.from(vector.storedHex, 'hex');
        expect(referenceDecode(stored, masterKey, vector.path).plaintext.toString('utf8')).toBe(vector.plaintext);
        for (const lengthField of misreadings) {
          expect(() => referenceDecode(stored, masterKey, vector.path, { lengthField })).toThrow(/authenticate/);
        }
      });
    }

    for (const refused of vector.refusedPaths ?? []) {
      it(`${vector.name}: under the path ${JSON.stringify(refused)} it fails, in taskforge (INTEGRITY_ERROR) and in the reference`, async () => {
        const stored = Buffer.from(vector.storedHex, 'hex');
        const keyring = keyringOf(vector);
        expect(await failureCode(decodeBytes(stored, { path: refused, ...(keyring === undefined ? {} : { keyring }) }))).toBe('INTEGRITY_ERROR');
        expect(() => referenceDecode(stored, masterKey, refused)).toThrow(/authenticate/);
      });
    }
  }

  it('the NFC and NFD vectors are one visible name, two paths, two different objects', () => {
    const nfc = vectorNamed('NFC path');
    const nfd = vectorNamed('NFD path');
    expect(nfc.path.normalize('NFD')).toBe(nfd.path);
    expect(nfd.path.normalize('NFC')).toBe(nfc.path);
    expect(nfc.pathUtf8Hex).not.toBe(nfd.pathUtf8Hex);
    expect(nfc.contextHex).not.toBe(nfd.contextHex);
    expect(nfc.plaintext).toBe(nfd.plaintext);
    expect(nfc.storedHex).not.toBe(nfd.storedHex);
  });
});

describe('key ids of single keys (docs/format.md, "Key ids")', () => {
  for (const vector of keyIds) {
    it(`key ${vector.keyHex.slice(0, 8)}…: taskforge, the vector and the document give ${vector.keyId}`, () => {
      const key = Buffer.from(vector.keyHex, 'hex');
      expect(Buffer.from(vector.keyBase64, 'base64').equals(key)).toBe(true);
      expect(Keyring.fromKey(vector.keyBase64).activeKeyId).toBe(vector.keyId);
      expect(keyFingerprint(key)).toBe(vector.keyId);
      expect(referenceKeyId(key)).toBe(vector.keyId);
      expect(vector.keyId).toMatch(/^k-[0-9a-f]{16}$/);
    });
  }

  it('white space around the base64 of a key does not change its id', () => {
    const [first] = keyIds;
    if (first === undefined) throw new Error('no key id vectors');
    expect(Keyring.fromKey(`  ${first.keyBase64}\n`).activeKeyId).toBe(first.keyId);
  });

  it('an object written under a single key carries the key id in its header, and another single key is KEY_NOT_FOUND', async () => {
    const vector = vectorNamed('single key');
    const key = masterKeyOf(vector);
    if (key === undefined) throw new Error('the single key vector has no key');
    const stored = Buffer.from(vector.storedHex, 'hex');
    expect(stored[17]).toBe(18);
    expect(stored.subarray(18, 36).toString('ascii')).toBe(referenceKeyId(key));
    const other = Keyring.fromKey(Buffer.alloc(32, 7).toString('base64'));
    expect(await failureCode(decodeBytes(stored, { path: vector.path, keyring: other }))).toBe('KEY_NOT_FOUND');
  });

  it('a keyring that names a former single key by its id reads that key\'s objects', async () => {
    const vector = vectorNamed('single key');
    const key = masterKeyOf(vector);
    if (key === undefined) throw new Error('the single key vector has no key');
    const keyring = new Keyring({ keys: { '2026-11': Buffer.alloc(32, 9), [keyFingerprint(key)]: key }, active: '2026-11' });
    const back = await decodeBytes(Buffer.from(vector.storedHex, 'hex'), { path: vector.path, keyring });
    expect(back.bytes.toString('utf8')).toBe(vector.plaintext);
  });
});

describe('the examples in docs/format.md are the vectors', () => {
  it('the key id example', () => {
    const [first] = keyIds;
    expect(first?.keyHex).toBe('000102030405060708090a0b0c0d0e0f101112131415161718191a1b1c1d1e1f');
    expect(formatPage).toContain(`(base64 \`${first?.keyBase64 ?? ''}\`)`);
    expect(formatPage).toContain(`has the id \`${first?.keyId ?? ''}\``);
  });

  it('the byte length N of a multi-byte path', () => {
    const vector = vectorNamed('multi-byte UTF-8 path');
    const bytes = Buffer.from(vector.pathUtf8Hex, 'hex');
    const length = Buffer.alloc(4);
    length.writeUInt32BE(bytes.length);
    expect(formatPage).toContain(`\`${vector.path}\` is ${String(codePoints(vector.path))} code points and ${String(vector.path.length)} UTF-16 code`);
    expect(formatPage).toContain(`N is ${String(bytes.length)} (\`${spaced(length.toString('hex'))}\`)`);
  });

  it('the NFC and NFD bytes of café', () => {
    // The vectors' paths are `/café.txt`: the document shows the bytes of `café`.
    const cafe = (vector: Vector): string => spaced(vector.pathUtf8Hex.slice(2, -8));
    expect(formatPage).toContain(`(NFC: \`${cafe(vectorNamed('NFC path'))}\`)`);
    expect(formatPage).toContain(`(NFD: \`${cafe(vectorNamed('NFD path'))}\`)`);
  });

  it('the S3 key of a path under a prefix', () => {
    const vector = vectorNamed('S3 object');
    expect(vector.s3?.prefix).toBe('tenant-a/');
    expect(formatPage).toContain(`stores \`${vector.path}\` at the key \`${vector.s3?.key ?? ''}\``);
    expect(formatPage).toContain(`and authenticates \`${vector.path}\``);
  });
});
