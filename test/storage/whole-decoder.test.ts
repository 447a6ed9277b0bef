import { randomBytes } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { Keyring } from '../../src/storage/codec/keyring.js';
import { decodeWhole } from '../../src/storage/codec/whole-decoder.js';
import { decodeBytes, encodeBytes, mixed } from '../helpers/codec.js';
import { zstdHere } from '../helpers/zstd.js';

const keyring = new Keyring({ keys: { 'key-a': randomBytes(32) } });
const otherKeyring = new Keyring({ keys: { 'key-b': randomBytes(32) } });
const CHUNK = 1024;
const ALGORITHMS = [undefined, 'gzip', 'brotli', ...(zstdHere ? (['zstd'] as const) : [])] as const;

/** What a decode ends with: its bytes, or its error's code and message. */
async function outcome(work: Promise<Buffer>): Promise<{ bytes?: string; code?: unknown; message?: string }> {
  try {
    return { bytes: (await work).toString('hex') };
  } catch (error) {
    return { code: (error as { code?: unknown }).code, message: (error as Error).message };
  }
}

function whole(stored: Buffer, options: { path?: string; keyring?: Keyring; requireEncryption?: boolean } = {}): Promise<Buffer> {
  const ring = options.keyring;
  return decodeWhole(stored, { path: options.path ?? '/t/f', requireEncryption: options.requireEncryption ?? false, ...(ring === undefined ? {} : { keyring: () => ring }) });
}

async function streamed(stored: Buffer, options: { path?: string; keyring?: Keyring; requireEncryption?: boolean } = {}): Promise<Buffer> {
  return (await decodeBytes(stored, { path: '/t/f', ...options })).bytes;
}

describe('decodeWhole', () => {
  for (const compression of ALGORITHMS) {
    for (const encrypted of [false, true]) {
      const label = `${compression ?? 'no compression'}, ${encrypted ? 'encrypted' : 'not encrypted'}`;
      const encode = (data: Buffer): Promise<Buffer> =>
        encodeBytes(data, { path: '/t/f', chunkSize: CHUNK, ...(compression === undefined ? {} : { compression }), ...(encrypted ? { keyring } : {}) });

      it(`${label}: gives the bytes the streaming decoder gives`, async () => {
        for (const size of [0, 1, CHUNK - 1, CHUNK, CHUNK + 1, 3 * CHUNK + 17]) {
          const data = mixed(size);
          const stored = await encode(data);
          expect((await whole(stored, { keyring })).equals(data), `size ${size}`).toBe(true);
        }
      });

      it(`${label}: fails every damage with the error the streaming decoder gives`, async () => {
        const stored = await encode(mixed(3 * CHUNK + 17));
        const damaged: [string, Buffer][] = [
          ['empty', Buffer.alloc(0)],
          ['appended', Buffer.concat([stored, Buffer.from([0])])],
        ];
        for (let cut = 1; cut < stored.byteLength; cut += Math.max(1, Math.floor(stored.byteLength / 40))) damaged.push([`cut at ${cut}`, stored.subarray(0, cut)]);
        for (let at = 0; at < stored.byteLength; at += Math.max(1, Math.floor(stored.byteLength / 60))) {
          const flipped = Buffer.from(stored);
          flipped[at] = (flipped[at] ?? 0) ^ 0x41;
          damaged.push([`byte ${at} changed`, flipped]);
        }
        for (const [what, bytes] of damaged) {
          const expected = await outcome(streamed(bytes, { keyring }));
          expect(await outcome(whole(bytes, { keyring })), what).toEqual(expected);
        }
      });

      it(`${label}: refuses another path, a missing key and a plain object when encryption is required, as the streaming decoder does`, async () => {
        const stored = await encode(mixed(2 * CHUNK));
        const cases: [string, { path?: string; keyring?: Keyring; requireEncryption?: boolean }][] = [
          ['another path', { path: '/t/g', keyring }],
          ['no keyring', {}],
          ['another keyring', { keyring: otherKeyring }],
          ['encryption required', { keyring, requireEncryption: true }],
        ];
        for (const [what, options] of cases) {
          const expected = await outcome(streamed(stored, options));
          expect(await outcome(whole(stored, options)), what).toEqual(expected);
        }
      });

      it(`${label}: stops with the limit's error as soon as the decoded bytes pass it`, async () => {
        const stored = await encode(mixed(3 * CHUNK));
        const limited = decodeWhole(stored, { path: '/t/f', requireEncryption: false, keyring: () => keyring }, { maxBytes: 3 * CHUNK - 1, tooLarge: () => new Error('too large') });
        await expect(limited).rejects.toThrow('too large');
        await expect(decodeWhole(stored, { path: '/t/f', requireEncryption: false, keyring: () => keyring }, { maxBytes: 3 * CHUNK, tooLarge: () => new Error('too large') })).resolves.toHaveLength(3 * CHUNK);
      });
    }
  }
});
