import { PassThrough, Writable } from 'node:stream';
import { describe, expect, it } from 'vitest';
import { flushOutput, printJson, type CliStreams } from '../../src/cli/cli-context.js';

/** Streams whose stdout records each write it is given, as one string per write. */
function recording(): { streams: CliStreams; writes: string[] } {
  const writes: string[] = [];
  const stdout = new Writable({
    write(chunk: Buffer, _encoding, done) {
      writes.push(chunk.toString());
      done();
    },
  });
  return { streams: { stdout, stderr: new PassThrough(), stdin: new PassThrough(), env: {} }, writes };
}

function nextTurn(): Promise<void> {
  return new Promise((resolve) => setImmediate(resolve));
}

describe('JSON lines on stdout', () => {
  it('the lines of one turn of the event loop go out in one write, in order, by the end of that turn', async () => {
    const { streams, writes } = recording();
    printJson(streams, { n: 1 });
    printJson(streams, { n: 2 });
    printJson(streams, { n: 3 });
    expect(writes).toEqual([]);
    await nextTurn();
    expect(writes).toEqual(['{"n":1}\n{"n":2}\n{"n":3}\n']);
    printJson(streams, { n: 4 });
    await nextTurn();
    expect(writes).toEqual(['{"n":1}\n{"n":2}\n{"n":3}\n', '{"n":4}\n']);
  });

  it('flushOutput writes what is held at once, and nothing when nothing is', () => {
    const { streams, writes } = recording();
    flushOutput(streams);
    expect(writes).toEqual([]);
    printJson(streams, 'a');
    flushOutput(streams);
    expect(writes).toEqual(['"a"\n']);
    flushOutput(streams);
    expect(writes).toEqual(['"a"\n']);
  });

  it('a long burst is written in bounded pieces, every line once and in order', async () => {
    const { streams, writes } = recording();
    for (let n = 0; n < 2000; n += 1) printJson(streams, n);
    expect(writes.length).toBeGreaterThan(0);
    await nextTurn();
    const lines = writes.join('').trim().split('\n').map(Number);
    expect(lines).toEqual(Array.from({ length: 2000 }, (_, n) => n));
    expect(writes.length).toBe(4);
  });
});
