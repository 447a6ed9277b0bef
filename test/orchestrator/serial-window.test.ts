import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { SerialWindow } from '../../src/orchestrator/queues/serial-window.js';

interface Entry {
  readonly serial: number;
}

/** Puts the same operations through a window and a Map, and checks that they agree on every answer. */
function agreeWithMap(operations: readonly ['set' | 'delete' | 'deleteOther', number][]): void {
  const window = new SerialWindow<Entry>();
  const model = new Map<number, Entry>();
  for (const [operation, serial] of operations) {
    if (operation === 'set') {
      const entry = { serial };
      window.set(serial, entry);
      model.set(serial, entry);
    } else {
      const held = model.get(serial);
      // A delete names the entry it means: another entry under the same serial is left alone.
      const named = operation === 'delete' && held !== undefined ? held : { serial };
      window.delete(serial, named);
      if (held === named) model.delete(serial);
    }
    expect(window.get(serial)).toBe(model.get(serial));
    expect(window.size).toBe(model.size);
  }
  for (const [serial, entry] of model) expect(window.get(serial)).toBe(entry);
  expect(new Set(window.values())).toEqual(new Set(model.values()));
  expect([...window.values()]).toHaveLength(model.size);
}

describe('the serial window of a local queue', () => {
  it('holds tasks put in in serial order and taken out in about that order, as a Map would', () => {
    const operations: ['set' | 'delete', number][] = [];
    for (let serial = 1; serial <= 20_000; serial += 1) operations.push(['set', serial]);
    // Taken out in runs of a hundred, each run backwards: near the order they came in, never quite it.
    for (let run = 0; run < 200; run += 1) for (let serial = run * 100 + 100; serial > run * 100; serial -= 1) operations.push(['delete', serial]);
    agreeWithMap(operations);
  });

  it('keeps finding one entry that never leaves while a hundred thousand others pass it, and keeps the rest found too', () => {
    const window = new SerialWindow<Entry>();
    const stuck = { serial: 1 };
    window.set(1, stuck);
    for (let serial = 2; serial <= 100_000; serial += 1) {
      const entry = { serial };
      window.set(serial, entry);
      if (serial > 10) window.delete(serial - 9, window.get(serial - 9) ?? entry);
    }
    expect(window.get(1)).toBe(stuck);
    expect(window.get(100_000)?.serial).toBe(100_000);
    expect(window.get(99_992)?.serial).toBe(99_992);
    expect(window.get(99_991)).toBeUndefined();
    expect(window.get(50_000)).toBeUndefined();
    expect(window.size).toBe(10);
  });

  it('finds serials behind its start and far past its end, also once it has grown over them', () => {
    agreeWithMap([
      ['set', 5000],
      ['set', 5001],
      ['set', 3],
      ['set', 900_000],
      ['delete', 5000],
      ['set', 4000],
      ...Array.from({ length: 3000 }, (_, index): ['set', number] => ['set', 5002 + index]),
      ['set', 7000],
      ['deleteOther', 7000],
      ['delete', 3],
      ['delete', 900_000],
      ['delete', 4000],
    ]);
  });

  it('finds an entry put back behind a head that has moved on, and keeps counting right when everything after it leaves', () => {
    const operations: ['set' | 'delete', number][] = [];
    for (let serial = 1; serial <= 10_000; serial += 1) operations.push(['set', serial]);
    // (Fewer than the 4,096 cleared slots after which the window drops its head.)
    for (let serial = 1; serial <= 3_000; serial += 1) operations.push(['delete', serial]);
    operations.push(['set', 10]);
    for (let serial = 3_001; serial <= 10_000; serial += 1) operations.push(['delete', serial]);
    operations.push(['set', 10_001], ['delete', 10]);
    agreeWithMap(operations);
  });

  it('takes entries out in the order of ten priorities, as a queue of mixed priorities ends them', () => {
    const operations: ['set' | 'delete', number][] = [];
    for (let serial = 1; serial <= 100_000; serial += 1) operations.push(['set', serial]);
    for (let priority = 9; priority >= 0; priority -= 1) for (let serial = 1; serial <= 100_000; serial += 1) if (serial % 10 === priority) operations.push(['delete', serial]);
    agreeWithMap(operations);
  });

  it('agrees with a Map on any mix of puts and deletes (fast-check)', () => {
    const serial = fc.oneof(fc.integer({ min: 1, max: 64 }), fc.integer({ min: 1, max: 5000 }), fc.integer({ min: 1, max: 2_000_000 }));
    const operation = fc.tuple(fc.constantFrom('set' as const, 'delete' as const, 'deleteOther' as const), serial);
    // Runs of consecutive serials, as a queue sees them, mixed with the random ones.
    const run = fc.tuple(fc.integer({ min: 1, max: 10_000 }), fc.integer({ min: 1, max: 300 }), fc.boolean()).map(([start, length, removing]) =>
      Array.from({ length }, (_, index): ['set' | 'delete', number] => [removing ? 'delete' : 'set', start + index]),
    );
    fc.assert(
      fc.property(fc.array(fc.oneof(operation.map((one) => [one]), run), { maxLength: 60 }), (parts) => {
        agreeWithMap(parts.flat());
      }),
      { numRuns: 300 },
    );
  });
});
