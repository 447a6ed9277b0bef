import { describe, expect, it } from 'vitest';
import { comparePaths, decodeCursor, encodeCursor, PageCollector } from '../../src/storage/list-pager.js';

/** mulberry32: a small seeded generator, so a failure can be replayed. */
function seeded(seed: number): () => number {
  let state = seed >>> 0;
  return () => {
    state = (state + 0x6d2b79f5) >>> 0;
    let t = state;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4_294_967_296;
  };
}

describe('list paging', () => {
  it('pages of any size over names in any order give every name once, sorted', () => {
    for (let seed = 1; seed <= 40; seed += 1) {
      const random = seeded(seed);
      const alphabet = ['a', 'b', 'B', '-', '.', '0', 'é', '~'];
      const names = new Set<string>();
      const count = 1 + Math.floor(random() * 300);
      while (names.size < count) {
        const length = 1 + Math.floor(random() * 6);
        names.add(`/${Array.from({ length }, () => alphabet[Math.floor(random() * alphabet.length)] ?? 'a').join('')}`);
      }
      const shuffled = [...names];
      const expected = [...names].sort(comparePaths);
      const limit = 1 + Math.floor(random() * 50);
      const seen: string[] = [];
      let after: string | undefined;
      for (;;) {
        const collector = new PageCollector<{ path: string }>(limit, after);
        for (const path of shuffled) collector.add({ path });
        const { items, hasMore } = collector.finish();
        seen.push(...items.map((item) => item.path));
        if (!hasMore) break;
        after = items.at(-1)?.path;
      }
      expect(seen, `seed ${seed}`).toEqual(expected);
    }
  });

  it('skips directories whose every descendant lies before the cursor or past a full page', () => {
    const collector = new PageCollector<{ path: string }>(2, '/m');
    expect(collector.wantsDescendantsOf('/b')).toBe(false);
    expect(collector.wantsDescendantsOf('/m')).toBe(true);
    expect(collector.wantsDescendantsOf('/z')).toBe(true);
    for (const path of ['/n', '/o', '/p', '/q', '/r', '/s']) collector.add({ path });
    expect(collector.wantsDescendantsOf('/z')).toBe(false);
    expect(collector.wantsDescendantsOf('/n')).toBe(true);
  });

  it('cursors round-trip, and a foreign cursor is a VALIDATION_ERROR', () => {
    expect(decodeCursor(encodeCursor('/a/b c/ü'))).toBe('/a/b c/ü');
    expect(() => decodeCursor('bm9wZQ')).toThrow(expect.objectContaining({ code: 'VALIDATION_ERROR' }) as Error);
  });
});
