// Writes test/vectors/container-v1.json: fixed keys, salts, paths and
// plaintexts, and the exact container bytes taskforge stores for them; the
// context C of each encrypted one; and the key ids of single keys.
// Run when the format or a vector is added: `npx tsx scripts/make-test-vectors.ts`
// (it rewrites the file, and the vectors already there come out the same).
// The vectors are then a contract: the tests check them both ways.
import { writeFileSync } from 'node:fs';
import { encodeBytes } from '../test/helpers/codec.js';
import { objectSecrets } from '../src/storage/codec/frame-cipher.js';
import { Keyring } from '../src/storage/codec/keyring.js';
import type { CompressionAlgorithm } from '../src/storage/codec/container-format.js';
import type { ContentKind } from '../src/storage/content.js';

interface VectorInput {
  readonly name: string;
  readonly keyHex?: string;
  readonly keyId?: string;
  readonly saltHex?: string;
  readonly path: string;
  readonly kind: ContentKind;
  readonly compression?: CompressionAlgorithm;
  readonly chunkSize: number;
  readonly plaintext: string;
  /** Encrypted under a single key (`Keyring.fromKey`): the key id is the key's fingerprint. */
  readonly singleKey?: true;
  /** Paths the object must not decode under (INTEGRITY_ERROR). */
  readonly refusedPaths?: readonly string[];
  /** Stored on S3 under this key prefix, at this key. */
  readonly s3?: { readonly prefix: string; readonly key: string };
}

const key = '000102030405060708090a0b0c0d0e0f101112131415161718191a1b1c1d1e1f';
const salt = 'a0a1a2a3a4a5a6a7a8a9aaabacadaeafb0b1b2b3b4b5b6b7b8b9babbbcbdbebf';
const nfc = '/caf\u00e9.txt';
const nfd = '/cafe\u0301.txt';

/** The id `Keyring.fromKey` gives a key (docs/format.md, "Key ids"). */
function fingerprintId(keyHex: string): string {
  return Keyring.fromKey(Buffer.from(keyHex, 'hex').toString('base64')).activeKeyId;
}

/** The context C of an encrypted container, as taskforge computes it: its header is 50 + L bytes, the salt the last 32. */
function contextOf(stored: Buffer, masterKey: Buffer, path: string): Buffer {
  const headerBytes = 50 + stored.readUInt8(17);
  return objectSecrets(masterKey, stored.subarray(headerBytes - 32, headerBytes), stored.subarray(0, headerBytes), path).context;
}

const inputs: VectorInput[] = [
  { name: 'encrypted JSON, one frame', keyHex: key, keyId: 'vector-key', saltHex: salt, path: '/data/file.txt', kind: 'json', chunkSize: 1024, plaintext: '{"content":"Hello World"}' },
  { name: 'encrypted empty object', keyHex: key, keyId: 'vector-key', saltHex: salt, path: '/empty', kind: 'bytes', chunkSize: 1024, plaintext: '' },
  { name: 'encrypted text, three frames', keyHex: key, keyId: 'vector-key', saltHex: salt, path: '/notes/three.txt', kind: 'text', chunkSize: 1024, plaintext: 'taskforge '.repeat(250) },
  { name: 'plain container (no compression, no encryption)', path: '/plain', kind: 'text', chunkSize: 1024, plaintext: 'no compression, no key' },
  { name: 'gzip, encrypted', keyHex: key, keyId: 'vector-key', saltHex: salt, path: '/z', kind: 'text', compression: 'gzip', chunkSize: 1024, plaintext: 'compress me '.repeat(200) },
  { name: 'single key: its id is k- and its fingerprint', keyHex: key, keyId: fingerprintId(key), singleKey: true, saltHex: salt, path: '/data/file.txt', kind: 'text', chunkSize: 1024, plaintext: 'under TASKFORGE_ENCRYPTION_KEY' },
  // Non-ASCII is written as escapes here and in the JSON, so that no editor can normalise it.
  { name: 'multi-byte UTF-8 path: N counts its 18 bytes, not its 14 code points or 15 UTF-16 units', keyHex: key, keyId: 'vector-key', saltHex: salt, path: '/donn\u00e9es/\u{1F4C4}.txt', kind: 'text', chunkSize: 1024, plaintext: 'N = 18' },
  { name: 'NFC path /caf\u00e9.txt (U+00E9): no normalisation, the NFD path is another object', keyHex: key, keyId: 'vector-key', saltHex: salt, path: nfc, kind: 'text', chunkSize: 1024, plaintext: 'same visible name', refusedPaths: [nfd] },
  { name: 'NFD path /cafe\u0301.txt (e, U+0301): no normalisation, the NFC path is another object', keyHex: key, keyId: 'vector-key', saltHex: salt, path: nfd, kind: 'text', chunkSize: 1024, plaintext: 'same visible name', refusedPaths: [nfc] },
  {
    name: 'S3 object under the key prefix tenant-a/: the path is without the prefix',
    keyHex: key, keyId: 'vector-key', saltHex: salt, path: '/reports/q1.json', kind: 'json', chunkSize: 1024, plaintext: '{"tenant":"a"}',
    s3: { prefix: 'tenant-a/', key: 'tenant-a/reports/q1.json' },
    refusedPaths: ['/tenant-a/reports/q1.json', 'tenant-a/reports/q1.json'],
  },
];

const vectors = [];
for (const input of inputs) {
  const keyBytes = input.keyHex === undefined ? undefined : Buffer.from(input.keyHex, 'hex');
  const keyring = keyBytes === undefined ? undefined : input.singleKey === true ? Keyring.fromKey(keyBytes.toString('base64')) : new Keyring({ keys: { [input.keyId ?? 'k']: keyBytes } });
  if (keyring !== undefined && keyring.activeKeyId !== input.keyId) throw new Error(`${input.name}: the keyring names its key '${keyring.activeKeyId}', not '${String(input.keyId)}'`);
  const stored = await encodeBytes(Buffer.from(input.plaintext, 'utf8'), {
    path: input.path,
    kind: input.kind,
    chunkSize: input.chunkSize,
    ...(input.compression === undefined ? {} : { compression: input.compression }),
    ...(keyring === undefined ? {} : { keyring }),
    ...(input.saltHex === undefined ? {} : { salt: Buffer.from(input.saltHex, 'hex') }),
  });
  const context = keyBytes === undefined ? undefined : contextOf(stored, keyBytes, input.path);
  vectors.push({
    ...input,
    pathUtf8Hex: Buffer.from(input.path, 'utf8').toString('hex'),
    ...(context === undefined ? {} : { contextHex: context.toString('hex') }),
    storedHex: stored.toString('hex'),
    // Compressed bytes depend on the zlib build: those vectors are checked in the decode direction only.
    encodeExact: input.compression === undefined,
  });
}

const singleKeys = [key, '00'.repeat(32), 'ff'.repeat(32)];
const keyIds = singleKeys.map((keyHex) => ({ keyHex, keyBase64: Buffer.from(keyHex, 'hex').toString('base64'), keyId: fingerprintId(keyHex) }));

const json = JSON.stringify({ format: 'taskforge container v1, see docs/format.md', vectors, keyIds }, null, 2);
// ASCII only: a path's exact code points (NFC or NFD) survive any editor.
const ascii = json.replace(/[\u0080-\uffff]/g, (char) => `\\u${char.charCodeAt(0).toString(16).padStart(4, '0')}`);
writeFileSync('test/vectors/container-v1.json', `${ascii}\n`);
console.log(`wrote ${vectors.length} vectors and ${keyIds.length} key ids`);
