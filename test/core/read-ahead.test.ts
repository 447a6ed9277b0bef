import { describe, expect, it } from 'vitest';
import { readAhead } from '../../src/core/read-ahead.js';

/** A source of `count` chunks of `size` bytes that records how many it has given, and whether it was closed. */
function countingSource(count: number, size: number, failAfter?: number): { source: AsyncGenerator<Uint8Array>; given: () => number; closed: () => boolean } {
  let given = 0;
  let closed = false;
  async function* source(): AsyncGenerator<Uint8Array> {
    try {
      for (let index = 0; index < count; index += 1) {
        if (failAfter !== undefined && index === failAfter) throw new Error('the source broke');
        await new Promise((resolve) => setImmediate(resolve));
        given += 1;
        yield new Uint8Array(size).fill(index);
      }
    } finally {
      closed = true;
    }
  }
  return { source: source(), given: () => given, closed: () => closed };
}

const settle = async (turns = 20): Promise<void> => {
  for (let turn = 0; turn < turns; turn += 1) await new Promise((resolve) => setImmediate(resolve));
};

describe('readAhead', () => {
  it('gives every chunk in order', async () => {
    const { source } = countingSource(50, 10);
    const seen: number[] = [];
    for await (const chunk of readAhead(source, 35)) seen.push(chunk[0] ?? -1);
    expect(seen).toEqual(Array.from({ length: 50 }, (_, index) => index));
  });

  it('reads ahead while the consumer waits, but never holds more than its bound (plus the chunk that crossed it)', async () => {
    const { source, given } = countingSource(100, 10);
    const ahead = readAhead(source, 35);
    await ahead.next();
    await settle();
    // One taken, then four held (the fourth crosses 35 bytes): five given, not a hundred.
    expect(given()).toBe(5);
    await ahead.next();
    await settle();
    expect(given()).toBe(6);
    await ahead.return(undefined);
  });

  it("throws the source's failure after the chunks read before it", async () => {
    const { source } = countingSource(10, 10, 3);
    const seen: number[] = [];
    await expect(
      (async () => {
        for await (const chunk of readAhead(source, 1000)) seen.push(chunk[0] ?? -1);
      })(),
    ).rejects.toThrow('the source broke');
    expect(seen).toEqual([0, 1, 2]);
  });

  it('closes the source when the consumer stops early', async () => {
    const { source, closed } = countingSource(100, 10);
    for await (const chunk of readAhead(source, 25)) if (chunk[0] === 2) break;
    await settle();
    expect(closed()).toBe(true);
  });

  it('passes the first bytes straight through, reading ahead only past them', async () => {
    const { source, given } = countingSource(100, 10);
    const ahead = readAhead(source, 35, 50);
    for (let index = 0; index < 4; index += 1) await ahead.next();
    await settle();
    // Four taken, 40 bytes: still passing through, nothing read beyond.
    expect(given()).toBe(4);
    await ahead.next();
    await ahead.next();
    await settle();
    // Past 50 bytes: read ahead up to the bound.
    expect(given()).toBeGreaterThan(6);
    await ahead.return(undefined);
  });

  it('closes the source when the consumer stops while passing through, and gives a short source whole', async () => {
    const early = countingSource(100, 10);
    for await (const chunk of readAhead(early.source, 35, 1000)) if (chunk[0] === 1) break;
    await settle();
    expect(early.closed()).toBe(true);
    const short = countingSource(3, 10);
    const seen: number[] = [];
    for await (const chunk of readAhead(short.source, 35, 1000)) seen.push(chunk[0] ?? -1);
    expect(seen).toEqual([0, 1, 2]);
  });
});
