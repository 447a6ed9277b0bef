import { randomBytes } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { compressionChoice } from '../../src/storage/codec/chunk-compression.js';
import { Keyring } from '../../src/storage/codec/keyring.js';
import { encodeWhole } from '../../src/storage/codec/whole-encoder.js';
import { decodeBytes, encodeBytes, mixed } from '../helpers/codec.js';
import { zstdHere } from '../helpers/zstd.js';

const keyring = new Keyring({ keys: { 'key-a': randomBytes(32) } });
const salt = randomBytes(32);
const CHUNK = 1024;


describe('encodeWhole', () => {
  const sizes = [0, 1, CHUNK - 1, CHUNK, CHUNK + 1, 2 * CHUNK, 3 * CHUNK + 17];
  for (const compression of [undefined, 'gzip', 'brotli', ...(zstdHere ? (['zstd'] as const) : [])] as const) {
    for (const encrypted of [false, true]) {
      it(`${compression ?? 'no compression'}, ${encrypted ? 'encrypted' : 'not encrypted'}: makes the very bytes the streaming encoder makes, and they decode`, async () => {
        const active = keyring.activeKey();
        for (const size of sizes) {
          const data = mixed(size);
          const streamed = await encodeBytes(data, { path: '/t/f', chunkSize: CHUNK, salt, ...(compression === undefined ? {} : { compression }), ...(encrypted ? { keyring } : {}) });
          const whole = Buffer.concat(
            await encodeWhole(data, {
              kind: 'bytes',
              path: '/t/f',
              chunkSize: CHUNK,
              ...(compression === undefined ? {} : { compression: compressionChoice(compression) }),
              ...(encrypted ? { encryption: { keyId: active.id, key: active.key, salt } } : {}),
            }),
          );
          expect(whole.equals(streamed), `size ${size}`).toBe(true);
          expect((await decodeBytes(whole, { path: '/t/f', keyring })).bytes.equals(data), `size ${size}`).toBe(true);
        }
      });
    }
  }

  it('gives every object a salt of its own, across the blocks salts are drawn in', async () => {
    const active = keyring.activeKey();
    const seen = new Set<string>();
    for (let index = 0; index < 300; index += 1) {
      const [header] = await encodeWhole(Buffer.from('x'), { kind: 'bytes', path: '/t/s', encryption: { keyId: active.id, key: active.key } });
      // The salt is the header's last 32 bytes.
      seen.add((header ?? Buffer.alloc(0)).subarray(-32).toString('hex'));
    }
    expect(seen.size).toBe(300);
  });

  it('binds the path: bytes encoded for one path do not open as another', async () => {
    const active = keyring.activeKey();
    const whole = Buffer.concat(await encodeWhole(mixed(3000), { kind: 'bytes', path: '/t/a', encryption: { keyId: active.id, key: active.key } }));
    await expect(decodeBytes(whole, { path: '/t/b', keyring })).rejects.toMatchObject({ code: 'INTEGRITY_ERROR' });
  });
});
