import { constants } from 'node:buffer';
import { describe, expect, it } from 'vitest';
import { bytesToForm } from '../../src/storage/content.js';

describe('an object read as text or JSON', () => {
  it('longer than a string can be is LIMIT_EXCEEDED, saying to read it as a buffer or a stream (not "not valid UTF-8")', () => {
    const bytes = Buffer.alloc(constants.MAX_STRING_LENGTH + 1, 0x61);
    for (const form of ['text', 'json'] as const) {
      expect(() => bytesToForm(bytes, 'bytes', '/big.txt', form)).toThrow(
        expect.objectContaining({
          code: 'LIMIT_EXCEEDED',
          message: `read of '/big.txt' as ${form} failed: its ${String(bytes.byteLength)} bytes make a longer string than Node allows (${String(constants.MAX_STRING_LENGTH)} characters); read it as a buffer or a stream`,
        }),
      );
    }
  });

  it('that is not UTF-8 is INVALID_CONTENT, naming the form asked for', () => {
    const bytes = Buffer.from([0xff, 0xfe, 0x41]);
    expect(() => bytesToForm(bytes, 'bytes', '/bad', 'text')).toThrow(expect.objectContaining({ code: 'INVALID_CONTENT', message: "read of '/bad' as text failed: the object is not valid UTF-8" }));
    expect(() => bytesToForm(bytes, 'bytes', '/bad', 'json')).toThrow(expect.objectContaining({ code: 'INVALID_CONTENT', message: "read of '/bad' as json failed: the object is not valid UTF-8" }));
  });
});
