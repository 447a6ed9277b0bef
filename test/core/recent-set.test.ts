import { describe, expect, it } from 'vitest';
import { RecentSet } from '../../src/core/recent-set.js';

describe('RecentSet', () => {
  it('remembers at least the last `size` keys added and forgets the ones long before', () => {
    const recent = new RecentSet<number>(100);
    for (let key = 0; key < 1000; key += 1) {
      recent.add(key);
      // The last 100 are always there.
      for (let back = 0; back < 100 && back <= key; back += 7) expect(recent.has(key - back)).toBe(true);
    }
    expect(recent.has(999)).toBe(true);
    expect(recent.has(900)).toBe(true);
    // At most 200 are kept: a key 200 or more adds back is gone.
    expect(recent.has(799)).toBe(false);
    expect(recent.has(0)).toBe(false);
    expect(recent.has(-1)).toBe(false);
  });

  it('refuses a size that is not a positive integer', () => {
    expect(() => new RecentSet(0)).toThrow(RangeError);
    expect(() => new RecentSet(1.5)).toThrow(RangeError);
  });
});
