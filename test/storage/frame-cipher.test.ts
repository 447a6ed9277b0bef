import { hkdfSync, randomBytes } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { hkdfSha256Key } from '../../src/storage/codec/frame-cipher.js';

const INFO = Buffer.from('taskforge/v1/aes-256-gcm', 'ascii');

describe("an object's key (HKDF-SHA256 by two HMACs)", () => {
  it('is the same 32 bytes as crypto.hkdfSync for any master key and salt', () => {
    for (const saltBytes of [0, 1, 16, 32, 64, 200]) {
      for (let round = 0; round < 20; round += 1) {
        const master = randomBytes(32);
        const salt = randomBytes(saltBytes);
        const expected = Buffer.from(hkdfSync('sha256', master, salt, INFO, 32));
        expect(hkdfSha256Key(master, salt).equals(expected), `salt of ${String(saltBytes)} bytes`).toBe(true);
      }
    }
  });

});
