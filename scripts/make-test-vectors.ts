// Writes test/vectors/container-v1.json: fixed keys, salts, paths and
// plaintexts, and the exact container bytes taskforge stores for them.
// Run once when the format is defined: `npx tsx scripts/make-test-vectors.ts`.
// The vectors are then a contract: the test checks them both ways.
import { writeFileSync } from 'node:fs';
import { encodeBytes } from '../test/helpers/codec.js';
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
}

const key = '000102030405060708090a0b0c0d0e0f101112131415161718191a1b1c1d1e1f';
const salt = 'a0a1a2a3a4a5a6a7a8a9aaabacadaeafb0b1b2b3b4b5b6b7b8b9babbbcbdbebf';
const inputs: VectorInput[] = [
  { name: 'encrypted JSON, one frame', keyHex: key, keyId: 'vector-key', saltHex: salt, path: '/data/file.txt', kind: 'json', chunkSize: 1024, plaintext: '{"content":"Hello World"}' },
  { name: 'encrypted empty object', keyHex: key, keyId: 'vector-key', saltHex: salt, path: '/empty', kind: 'bytes', chunkSize: 1024, plaintext: '' },
  { name: 'encrypted text, three frames', keyHex: key, keyId: 'vector-key', saltHex: salt, path: '/notes/three.txt', kind: 'text', chunkSize: 1024, plaintext: 'taskforge '.repeat(250) },
  { name: 'plain container (no compression, no encryption)', path: '/plain', kind: 'text', chunkSize: 1024, plaintext: 'no compression, no key' },
  { name: 'gzip, encrypted', keyHex: key, keyId: 'vector-key', saltHex: salt, path: '/z', kind: 'text', compression: 'gzip', chunkSize: 1024, plaintext: 'compress me '.repeat(200) },
];

const vectors = [];
for (const input of inputs) {
  const keyring = input.keyHex === undefined ? undefined : new Keyring({ keys: { [input.keyId ?? 'k']: Buffer.from(input.keyHex, 'hex') } });
  const stored = await encodeBytes(Buffer.from(input.plaintext, 'utf8'), {
    path: input.path,
    kind: input.kind,
    chunkSize: input.chunkSize,
    ...(input.compression === undefined ? {} : { compression: input.compression }),
    ...(keyring === undefined ? {} : { keyring }),
    ...(input.saltHex === undefined ? {} : { salt: Buffer.from(input.saltHex, 'hex') }),
  });
  // Compressed bytes depend on the zlib build: those vectors are checked in the decode direction only.
  vectors.push({ ...input, storedHex: stored.toString('hex'), encodeExact: input.compression === undefined });
}
writeFileSync('test/vectors/container-v1.json', `${JSON.stringify({ format: 'taskforge container v1, see docs/format.md', vectors }, null, 2)}\n`);
console.log(`wrote ${vectors.length} vectors`);
