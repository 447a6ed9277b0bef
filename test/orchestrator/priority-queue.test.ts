import { describe, expect, it } from 'vitest';
import { PriorityQueue } from '../../src/orchestrator/priority-queue.js';

function drain<T>(queue: PriorityQueue<T>): T[] {
  const out: T[] = [];
  for (let value = queue.pop(); value !== undefined; value = queue.pop()) out.push(value);
  return out;
}

describe('the priority order (DESIGN.md: larger first, submission order among equals)', () => {
  it('runs a larger priority first', () => {
    const queue = new PriorityQueue<string>();
    queue.push('low', 1);
    queue.push('high', 10);
    queue.push('middle', 5);
    expect(drain(queue)).toEqual(['high', 'middle', 'low']);
  });

  it('runs equal priorities in submission order, negative and fractional priorities included', () => {
    const queue = new PriorityQueue<string>();
    for (const [name, priority] of [['a', 0], ['b', -1], ['c', 0], ['d', 2.5], ['e', -1], ['f', 0]] as const) queue.push(name, priority);
    expect(drain(queue)).toEqual(['d', 'a', 'c', 'f', 'b', 'e']);
  });

  it('every pop over many random pushes and pops is what a plain sort of the waiting entries puts first', () => {
    let seed = 7;
    const random = (): number => {
      seed = (Math.imul(seed, 1_103_515_245) + 12_345) >>> 0;
      return seed / 4_294_967_296;
    };
    const queue = new PriorityQueue<number>();
    const waiting: { id: number; priority: number }[] = [];
    const first = (): number | undefined =>
      [...waiting].sort((a, b) => b.priority - a.priority || a.id - b.id)[0]?.id;
    let pops = 0;
    for (let id = 0; id < 2000; id += 1) {
      const priority = Math.floor(random() * 5) - 2;
      queue.push(id, priority);
      waiting.push({ id, priority });
      while (random() < 0.4 && waiting.length > 0) {
        const expected = first();
        expect(queue.pop()).toBe(expected);
        waiting.splice(waiting.findIndex((entry) => entry.id === expected), 1);
        pops += 1;
      }
    }
    while (waiting.length > 0) {
      const expected = first();
      expect(queue.pop()).toBe(expected);
      waiting.splice(waiting.findIndex((entry) => entry.id === expected), 1);
      pops += 1;
    }
    expect(pops).toBe(2000);
    expect(queue.size).toBe(0);
  });

  it('removes a queued entry by value', () => {
    const queue = new PriorityQueue<string>();
    for (const name of ['a', 'b', 'c', 'd']) queue.push(name, name === 'c' ? 9 : 1);
    expect(queue.remove((value) => value === 'c')).toBe(true);
    expect(queue.remove((value) => value === 'zzz')).toBe(false);
    expect(drain(queue)).toEqual(['a', 'b', 'd']);
  });

  it('with aging, a waiting low-priority entry eventually overtakes a stream of higher ones', () => {
    let now = 0;
    const queue = new PriorityQueue<string>({ agingMs: 100, now: () => now });
    queue.push('old-low', 0);
    const order: string[] = [];
    for (let step = 0; step < 10; step += 1) {
      queue.push(`high-${step}`, 3);
      now += 100;
      order.push(queue.pop() ?? '');
    }
    expect(order).toContain('old-low');
    expect(order.indexOf('old-low')).toBeLessThan(5);
  });

  it('without aging, the same stream holds the low-priority entry back', () => {
    const queue = new PriorityQueue<string>();
    queue.push('old-low', 0);
    const order: string[] = [];
    for (let step = 0; step < 10; step += 1) {
      queue.push(`high-${step}`, 3);
      order.push(queue.pop() ?? '');
    }
    expect(order).not.toContain('old-low');
  });

  it('with aging, every pop is the entry with the highest priority plus waited time / agingMs at that moment', () => {
    let now = 0;
    let seed = 11;
    const random = (): number => {
      seed = (Math.imul(seed, 1_103_515_245) + 12_345) >>> 0;
      return seed / 4_294_967_296;
    };
    const agingMs = 50;
    const queue = new PriorityQueue<number>({ agingMs, now: () => now });
    const waiting: { id: number; priority: number; at: number }[] = [];
    const effective = (entry: { priority: number; at: number }): number => entry.priority + (now - entry.at) / agingMs;
    for (let id = 0; id < 1000; id += 1) {
      now += Math.floor(random() * 40);
      const priority = Math.floor(random() * 10);
      queue.push(id, priority);
      waiting.push({ id, priority, at: now });
      if (random() < 0.5) {
        const expected = [...waiting].sort((a, b) => effective(b) - effective(a) || a.id - b.id)[0];
        expect(queue.pop()).toBe(expected?.id);
        waiting.splice(waiting.findIndex((entry) => entry.id === expected?.id), 1);
      }
    }
  });

  it('keeps FIFO order across the compaction of a long bucket, and across buckets emptied by remove()', () => {
    const queue = new PriorityQueue<number>();
    for (let index = 0; index < 5000; index += 1) queue.push(index, 1);
    for (let index = 0; index < 3000; index += 1) expect(queue.pop()).toBe(index);
    for (let index = 5000; index < 5010; index += 1) queue.push(index, 1);
    queue.push(-1, 2);
    expect(queue.remove((value) => value === -1)).toBe(true);
    queue.push(-2, 2);
    expect(queue.size).toBe(2011);
    const rest = drain(queue);
    expect(rest[0]).toBe(-2);
    expect(rest.slice(1)).toEqual(Array.from({ length: 2010 }, (_, index) => 3000 + index));
  });

  it('refuses a non-positive aging interval', () => {
    expect(() => new PriorityQueue({ agingMs: 0 })).toThrow(RangeError);
    expect(() => new PriorityQueue({ agingMs: Number.NaN })).toThrow(/agingMs must be a positive number/);
  });
});
