import { randomBytes } from 'node:crypto';
import { gzipSync } from 'node:zlib';
import { beforeAll, describe, expect, it } from 'vitest';
import { encodeHeader, FRAME_FINAL } from '../../src/storage/codec/container-format.js';
import { Keyring } from '../../src/storage/codec/keyring.js';
import { decodeBytes, encodeBytes, failureCode } from '../helpers/codec.js';
import { zstdHere } from '../helpers/zstd.js';

const CHUNK = 1024;
const keyring = new Keyring({ keys: { 'key-a': randomBytes(32) } });
const plaintext = Buffer.from('sensitive payroll line\n'.repeat(160)); // 3,680 bytes: 4 frames

/** Offsets where each frame starts, read from the container's own lengths. */
function frameOffsets(stored: Buffer, headerBytes: number): number[] {
  const offsets: number[] = [];
  let offset = headerBytes;
  while (offset < stored.length) {
    offsets.push(offset);
    offset += 5 + stored.readUInt32BE(offset + 1) + 16;
  }
  return offsets;
}

describe('tamper suite: encrypted containers', () => {
  for (const compression of [undefined, 'gzip'] as const) {
    describe(compression ?? 'no compression', () => {
      let stored: Buffer;
      let headerBytes: number;

      beforeAll(async () => {
        stored = await encodeBytes(plaintext, { chunkSize: CHUNK, keyring, path: '/payroll', ...(compression === undefined ? {} : { compression }) });
        headerBytes = 16 + 2 + 'key-a'.length + 32;
        expect((await decodeBytes(stored, { keyring, path: '/payroll' })).bytes.equals(plaintext)).toBe(true);
      });

      it('a flipped bit in any byte (header, frame headers, payloads, tags) is refused', async () => {
        const outcomes = new Map<string, number>();
        for (let offset = 0; offset < stored.length; offset += 1) {
          for (const bit of [0x01, 0x80]) {
            const damaged = Buffer.from(stored);
            damaged[offset] = (damaged[offset] ?? 0) ^ bit;
            const code = await failureCode(decodeBytes(damaged, { keyring, path: '/payroll' }));
            outcomes.set(code, (outcomes.get(code) ?? 0) + 1);
          }
        }
        expect([...outcomes.keys()].sort()).toEqual(expect.arrayContaining(['INTEGRITY_ERROR']));
        for (const code of outcomes.keys()) expect(['INTEGRITY_ERROR', 'KEY_NOT_FOUND']).toContain(code);
      });

      it('a truncation at any length, frame boundaries included, is refused', async () => {
        const boundaries = frameOffsets(stored, headerBytes);
        expect(boundaries.length).toBe(4);
        for (let length = 0; length < stored.length; length += 1) {
          const code = await failureCode(decodeBytes(stored.subarray(0, length), { keyring, path: '/payroll' }));
          expect(code, `truncated to ${length} bytes${boundaries.includes(length) ? ' (a frame boundary)' : ''}`).toBe('INTEGRITY_ERROR');
        }
      });

      it('frames swapped, dropped or repeated are refused', async () => {
        const [first, second, third, fourth] = frameOffsets(stored, headerBytes) as [number, number, number, number];
        const header = stored.subarray(0, first);
        const frames = [stored.subarray(first, second), stored.subarray(second, third), stored.subarray(third, fourth), stored.subarray(fourth)];
        const [f0, f1, f2, f3] = frames as [Buffer, Buffer, Buffer, Buffer];
        for (const [what, body] of [
          ['swapped', [f0, f2, f1, f3]],
          ['dropped', [f0, f2, f3]],
          ['repeated', [f0, f1, f1, f2, f3]],
          ['last moved first', [f3, f0, f1, f2]],
        ] as const) {
          expect(await failureCode(decodeBytes(Buffer.concat([header, ...body]), { keyring, path: '/payroll' })), what).toBe('INTEGRITY_ERROR');
        }
      });

      it('bytes appended after the last frame are refused', async () => {
        expect(await failureCode(decodeBytes(Buffer.concat([stored, Buffer.from([0])]), { keyring, path: '/payroll' }))).toBe('INTEGRITY_ERROR');
      });

      it('the object read under another path (a swapped file) is refused', async () => {
        expect(await failureCode(decodeBytes(stored, { keyring, path: '/payroll-2' }))).toBe('INTEGRITY_ERROR');
      });

      it('a wrong key under the same id is refused', async () => {
        const impostor = new Keyring({ keys: { 'key-a': randomBytes(32) } });
        expect(await failureCode(decodeBytes(stored, { keyring: impostor, path: '/payroll' }))).toBe('INTEGRITY_ERROR');
      });

      it('a key id the keyring does not hold gives KEY_NOT_FOUND, and so does no keyring', async () => {
        const other = new Keyring({ keys: { 'key-b': randomBytes(32) } });
        expect(await failureCode(decodeBytes(stored, { keyring: other, path: '/payroll' }))).toBe('KEY_NOT_FOUND');
        expect(await failureCode(decodeBytes(stored, { path: '/payroll' }))).toBe('KEY_NOT_FOUND');
      });
    });
  }
});

describe('containers that are not encrypted', () => {
  it('a read that requires encryption refuses them with ENCRYPTION_REQUIRED', async () => {
    const stored = await encodeBytes(plaintext, { compression: 'gzip' });
    expect(await failureCode(decodeBytes(stored, { requireEncryption: true }))).toBe('ENCRYPTION_REQUIRED');
  });

  it('a chunk that inflates past the chunk size (a zip bomb) is refused without inflating it', async () => {
    const chunkSize = 64 * 1024;
    const header = encodeHeader({ compression: 'gzip', kind: 'bytes', chunkSize });
    const bomb = gzipSync(Buffer.alloc(16 * 1024 * 1024));
    expect(bomb.length).toBeLessThan(chunkSize);
    const frame = Buffer.alloc(5);
    frame.writeUInt8(FRAME_FINAL, 0);
    frame.writeUInt32BE(bomb.length, 1);
    const before = process.memoryUsage().arrayBuffers;
    expect(await failureCode(decodeBytes(Buffer.concat([header, frame, bomb])))).toBe('INTEGRITY_ERROR');
    expect(process.memoryUsage().arrayBuffers - before).toBeLessThan(8 * 1024 * 1024);
  });

  it.skipIf(!zstdHere)('a zstd chunk that inflates past the chunk size is refused, its output capped at one chunk', async () => {
    const chunkSize = 64 * 1024;
    const { loadZstd } = await import('../../src/storage/codec/zstd.js');
    const zstd = await loadZstd();
    const zeros = Buffer.alloc(16 * 1024 * 1024);
    const room = Buffer.alloc(zstd.binding.compressBound(zeros.length));
    const bomb = room.subarray(0, zstd.compressor.compress(room, zeros, 19));
    expect(bomb.length).toBeLessThan(chunkSize);
    const frame = Buffer.alloc(5);
    frame.writeUInt8(FRAME_FINAL, 0);
    frame.writeUInt32BE(bomb.length, 1);
    const header = encodeHeader({ compression: 'zstd', kind: 'bytes', chunkSize });
    expect(await failureCode(decodeBytes(Buffer.concat([header, frame, bomb])))).toBe('INTEGRITY_ERROR');
  });

  it.skipIf(!zstdHere)('a zstd chunk whose header understates its size is refused, not written past its buffer', async () => {
    const { loadZstd } = await import('../../src/storage/codec/zstd.js');
    const zstd = await loadZstd();
    const data = Buffer.from('taskforge '.repeat(100));
    const room = Buffer.alloc(zstd.binding.compressBound(data.length));
    const compressed = Buffer.from(room.subarray(0, zstd.compressor.compress(room, data, 3)));
    expect(zstd.binding.getFrameContentSize(compressed)).toBe(data.length);
    // The frame header: magic (4), descriptor (1), window descriptor unless single-segment (1), dictionary id, then the content size.
    const descriptor = compressed.readUInt8(4);
    const sizeField = [1, 2, 4, 8][descriptor >> 6] ?? 0;
    const singleSegment = (descriptor & 0x20) !== 0;
    const at = 5 + (singleSegment ? 0 : 1) + ([0, 1, 2, 4][descriptor & 3] ?? 0);
    expect(sizeField).toBe(2);
    compressed.writeUInt16LE(0, at); // 256 bytes (a 2-byte field counts from 256), of 1,000
    expect(zstd.binding.getFrameContentSize(compressed)).toBe(256);
    const frame = Buffer.alloc(5);
    frame.writeUInt8(FRAME_FINAL, 0);
    frame.writeUInt32BE(compressed.length, 1);
    const header = encodeHeader({ compression: 'zstd', kind: 'bytes', chunkSize: 64 * 1024 });
    expect(await failureCode(decodeBytes(Buffer.concat([header, frame, compressed])))).toBe('INTEGRITY_ERROR');
  });

  it('a frame that claims more bytes than a chunk is refused before they are read', async () => {
    const header = encodeHeader({ compression: 'none', kind: 'bytes', chunkSize: 1024 });
    const frame = Buffer.alloc(5);
    frame.writeUInt8(FRAME_FINAL, 0);
    frame.writeUInt32BE(0xffffffff, 1);
    expect(await failureCode(decodeBytes(Buffer.concat([header, frame])))).toBe('INTEGRITY_ERROR');
  });

  it('an unknown version, flags, compression, kind or chunk size is refused', async () => {
    const good = encodeHeader({ compression: 'none', kind: 'bytes', chunkSize: 1024 });
    for (const [offset, value] of [
      [8, 2],
      [9, 0x80],
      [10, 9],
      [11, 7],
      [12, 0xff],
    ] as const) {
      const header = Buffer.from(good);
      header[offset] = value;
      expect(await failureCode(decodeBytes(Buffer.concat([header, Buffer.from([1, 0, 0, 0, 0])]))), `byte ${offset}`).toBe('INTEGRITY_ERROR');
    }
  });
});
