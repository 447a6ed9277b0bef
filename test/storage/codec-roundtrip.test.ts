import { spawnSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { Keyring } from '../../src/storage/codec/keyring.js';
import { decodeBytes, encodeBytes, mixed, pieces } from '../helpers/codec.js';
import { zstdHere } from '../helpers/zstd.js';

const TSX_LOADER = join(process.cwd(), 'node_modules', 'tsx', 'dist', 'loader.mjs');
const keyring = new Keyring({ keys: { 'key-a': randomBytes(32) } });
const CHUNK = 1024;


describe('container round trip', () => {
  const sizes = [0, 1, CHUNK - 1, CHUNK, CHUNK + 1, 3 * CHUNK, 10 * CHUNK + 17];
  for (const compression of [undefined, 'gzip', 'brotli', ...(zstdHere ? (['zstd'] as const) : [])] as const) {
    for (const encrypted of [false, true]) {
      it(`${compression ?? 'no compression'}, ${encrypted ? 'encrypted' : 'not encrypted'}: every size comes back byte for byte`, async () => {
        for (const size of sizes) {
          const data = mixed(size);
          const stored = await encodeBytes(data, { chunkSize: CHUNK, ...(compression === undefined ? {} : { compression }), ...(encrypted ? { keyring } : {}) });
          const back = await decodeBytes(stored, { keyring });
          expect(back.bytes.equals(data), `size ${size}`).toBe(true);
        }
      });
    }
  }

  it('brotli at a slow level (compressed on the thread pool, several chunks at once) comes back byte for byte, its frames in order', async () => {
    for (const encrypted of [false, true]) {
      const data = mixed(40 * CHUNK + 5);
      const stored = await encodeBytes(data, { chunkSize: CHUNK, compression: 'brotli', level: 11, ...(encrypted ? { keyring } : {}) });
      expect((await decodeBytes(stored, { keyring })).bytes.equals(data)).toBe(true);
    }
  });

  it.skipIf(!zstdHere)('a small zstd object decodes into memory of its size, not of a whole chunk', async () => {
    const data = mixed(10_000);
    const stored = await encodeBytes(data, { compression: 'zstd', keyring });
    const { ByteReader } = await import('../../src/storage/codec/byte-reader.js');
    const { openContainer } = await import('../../src/storage/codec/decoder.js');
    const opened = await openContainer(new ByteReader(pieces(stored)), { path: '/object', requireEncryption: false, keyring: () => keyring });
    const parts: Buffer[] = [];
    for await (const part of opened.body) parts.push(part);
    expect(parts).toHaveLength(1);
    expect(parts[0]?.equals(data)).toBe(true);
    // (The default chunk is 256 KiB: a buffer of a whole chunk per small object was a restore's largest allocation.)
    expect(parts[0]?.buffer.byteLength).toBeLessThan(64 * 1024);
  });

  it('compresses text and stores random chunks as they are, flagged, so random data barely grows', async () => {
    const text = Buffer.from('abc '.repeat(50_000));
    const random = randomBytes(200_000);
    const storedText = await encodeBytes(text, { compression: 'gzip' });
    const storedRandom = await encodeBytes(random, { compression: 'gzip' });
    expect(storedText.byteLength).toBeLessThan(text.byteLength / 20);
    // Per 64 KiB chunk: 5 bytes of frame header; plus the container header.
    expect(storedRandom.byteLength).toBeLessThan(random.byteLength + 64);
  });

  it('records the content kind in the header', async () => {
    const stored = await encodeBytes(Buffer.from('{"a":1}'), { kind: 'json', keyring });
    expect((await decodeBytes(stored, { keyring })).kind).toBe('json');
  });

  it('two writes of the same data under the same key differ (a random salt per object)', async () => {
    const data = Buffer.from('same data');
    const first = await encodeBytes(data, { keyring });
    const second = await encodeBytes(data, { keyring });
    expect(first.equals(second)).toBe(false);
  });

  it('streams in bounded memory: live memory does not grow with the object (gzip + encryption, both ways)', () => {
    const peaks = [64, 256].map((sizeMiB) => {
      const child = spawnSync(process.execPath, ['--expose-gc', '--import', TSX_LOADER, 'test/fixtures/codec-memory.ts', String(sizeMiB)], { encoding: 'utf8' });
      expect(child.stderr).toBe('');
      return (JSON.parse(child.stdout) as { peakMiB: number }).peakMiB;
    });
    // 256 MiB moved with under 24 MiB of live memory: it cannot be holding the object.
    for (const peak of peaks) expect(peak).toBeLessThan(24);
  });
});
