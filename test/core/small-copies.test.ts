import { describe, expect, it } from 'vitest';
import { privateCopy } from '../../src/core/small-copies.js';

describe('private copies', () => {
  it('hold the same bytes, and changing one changes neither the source nor any other copy', () => {
    const source = Buffer.from('cached bytes');
    const copies = Array.from({ length: 1000 }, () => privateCopy(source));
    copies[0]?.fill(0);
    copies[500]?.write('XXXXXX');
    expect(source.toString()).toBe('cached bytes');
    expect(copies[1]?.toString()).toBe('cached bytes');
    expect(copies[999]?.toString()).toBe('cached bytes');
    expect(copies[500]?.toString()).toBe('XXXXXX bytes');
  });

  it('copies of every size up to the slab limit and beyond come back equal', () => {
    for (const size of [0, 1, 7, 4096, 65_536, 65_537, 2 * 1024 * 1024]) {
      const source = Buffer.alloc(size, size % 251);
      expect(privateCopy(source).equals(source), String(size)).toBe(true);
    }
  });
});
