import { describe, expect, it } from 'vitest';
import { parseBatch } from '../../src/cli/batch-file.js';

const bytes = (text: string): Buffer => Buffer.from(text, 'utf8');

describe('parsing a batch file', () => {
  it('NDJSON: a config per line, blank lines and CRLF endings skipped, each entry naming its line; a last line without a newline counts', () => {
    const text = '{"a":1}\r\n\n   \n{"b":"two"}\n{"c":[3]}';
    const expected = [
      { config: { a: 1 }, from: 'b.ndjson:1' },
      { config: { b: 'two' }, from: 'b.ndjson:4' },
      { config: { c: [3] }, from: 'b.ndjson:5' },
    ];
    expect(parseBatch(bytes(text), 'b.ndjson')).toEqual(expected);
    expect(parseBatch(text, 'b.ndjson')).toEqual(expected);
  });

  it('text beyond ASCII is decoded as UTF-8, wherever it is in the batch', () => {
    const text = `${'{"n":"plain"}\n'.repeat(3)}{"n":"naïve – 日本 🎉"}\n`;
    expect(parseBatch(bytes(text), 's').map((entry) => entry.config)).toEqual([{ n: 'plain' }, { n: 'plain' }, { n: 'plain' }, { n: 'naïve – 日本 🎉' }]);
  });

  it('a JSON array, after any whitespace, gives an entry per item; nothing but whitespace is an empty batch', () => {
    expect(parseBatch(bytes('\n  [{"a":1},{"b":"é"}]'), 'arr.json')).toEqual([
      { config: { a: 1 }, from: 'arr.json[0]' },
      { config: { b: 'é' }, from: 'arr.json[1]' },
    ]);
    expect(parseBatch(bytes(' \r\n\t'), 'empty')).toEqual([]);
    expect(parseBatch(new Uint8Array(0), 'empty')).toEqual([]);
  });

  it('a line that is not JSON is named by its number; a bad array and an array of the wrong shape are named too', () => {
    expect(() => parseBatch(bytes('{"a":1}\n\n{"b":\n'), 'b.ndjson')).toThrow(/^b\.ndjson: line 3: bad JSON: /);
    expect(() => parseBatch(bytes('[{"a":1},'), 'arr.json')).toThrow(/^arr\.json: bad JSON: /);
    expect(() => parseBatch(bytes('{"a":1}\n[1]\n{"c":'), 'x')).toThrow(/^x: line 3: bad JSON/);
  });

  it('a view into a larger buffer is read from its own bytes only', () => {
    const whole = bytes('XXXX{"a":1}\n{"b":2}YYYY');
    expect(parseBatch(whole.subarray(4, whole.length - 4), 'v').map((entry) => entry.config)).toEqual([{ a: 1 }, { b: 2 }]);
  });
});
