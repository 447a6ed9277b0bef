import { describe, expect, it } from 'vitest';
import { ByteReader } from '../../src/storage/codec/byte-reader.js';

async function* chunksOf(...chunks: Buffer[]): AsyncGenerator<Buffer> {
  for (const chunk of chunks) yield await Promise.resolve(chunk);
}

describe('ByteReader', () => {
  it('gives exact counts across chunk boundaries, in order, and fewer bytes only at the end', async () => {
    const whole = Buffer.from(Array.from({ length: 100 }, (_, index) => index));
    const reader = new ByteReader(chunksOf(whole.subarray(0, 7), whole.subarray(7, 8), whole.subarray(8, 60), whole.subarray(60)));
    const counts = [3, 10, 1, 50, 30, 20];
    const parts: Buffer[] = [];
    for (const count of counts) parts.push(await reader.read(count));
    expect(parts.map((part) => part.byteLength)).toEqual([3, 10, 1, 50, 30, 6]);
    expect(Buffer.concat(parts).equals(whole)).toBe(true);
    expect((await reader.read(5)).byteLength).toBe(0);
    expect(await reader.atEnd()).toBe(true);
  });

  it('hands out a view of the chunk that holds the bytes asked for, copying only bytes that span chunks', async () => {
    const big = Buffer.alloc(64 * 1024, 1);
    const next = Buffer.alloc(16, 2);
    const reader = new ByteReader(chunksOf(big, next));
    const peeked = await reader.peek(4);
    expect(peeked.buffer).toBe(big.buffer);
    const header = await reader.read(16);
    // (After a peek the first bytes sit apart from the rest, as two views of the same chunk: the read joins them, 16 bytes copied, not 64 KiB.)
    expect(header.byteLength).toBe(16);
    const body = await reader.read(big.byteLength - 16);
    expect(body.buffer).toBe(big.buffer);
    const spanning = await reader.read(16);
    expect(spanning.equals(next)).toBe(true);
    expect(spanning.buffer).toBe(next.buffer);
  });

  it('a peek leaves the bytes for the next read, and remaining() yields the rest unread', async () => {
    const reader = new ByteReader(chunksOf(Buffer.from('abc'), Buffer.from('defgh')));
    expect((await reader.peek(5)).toString()).toBe('abcde');
    expect((await reader.read(2)).toString()).toBe('ab');
    const rest: Buffer[] = [];
    for await (const chunk of reader.remaining()) rest.push(chunk);
    expect(Buffer.concat(rest).toString()).toBe('cdefgh');
  });
});
