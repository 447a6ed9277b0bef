import { describe, expect, it } from 'vitest';
import type { TaskResult } from '../../src/tasks/task-result.js';
import { ConfigStore, type KeptConfig } from '../../src/server/config-store.js';

const write = (id: string, data: string): KeptConfig => ({ id, type: 'storage', metadata: { operation: 'write', path: `/${id}`, data } });
const completed = (id: string): TaskResult => ({ id, type: 'storage', status: 'completed', success: true, data: undefined, attempts: 1, startedAt: '', finishedAt: '', durationMs: 0 });

describe('ConfigStore: configs for the detail and for retries', () => {
  it('holds a whole config for a retry, claims it once, and can release a claim whose retry was refused', () => {
    const store = new ConfigStore();
    store.keep(write('a', 'payload'));
    const first = store.claim('a', 'r1');
    expect(first).toEqual({ config: write('a', 'payload') });
    expect(store.claim('a', 'r2')).toEqual({ reason: 'retried', retriedAs: 'r1' });
    store.release('a', 'r1');
    expect(store.claim('a', 'r3')).toEqual({ config: write('a', 'payload') });
    store.retried('a');
    expect(store.facts('a')).toEqual({ config: { type: 'storage', metadata: { operation: 'write', path: '/a' }, omitted: [{ field: 'metadata.data', kind: 'text', bytes: 7 }] }, retriedAs: 'r3' });
    expect(store.bytes).toBe(0);
  });

  it('lets a whole config go when its task completes, and the oldest past the byte budget', () => {
    const one = Buffer.byteLength(JSON.stringify(write('a', 'x'.repeat(100))));
    const store = new ConfigStore({ maxBytes: one * 2 });
    store.keep(write('a', 'x'.repeat(100)));
    store.keep(write('b', 'x'.repeat(100)));
    expect(store.bytes).toBe(one * 2);
    store.observe('complete', completed('b'));
    expect(store.bytes).toBe(one);
    store.keep(write('c', 'x'.repeat(100)));
    store.keep(write('d', 'x'.repeat(100)));
    // a went first (the oldest whole config); its view stays.
    expect(store.claim('a', 'ra')).toEqual({ reason: 'let-go', maxBytes: one * 2 });
    expect(store.facts('a')?.config.metadata).toEqual({ operation: 'write', path: '/a' });
    expect(store.claim('d', 'rd')).toHaveProperty('config');
  });

  it('forgets the oldest views past its task budget; an unknown or streamed task cannot be retried', () => {
    const store = new ConfigStore({ maxTasks: 2 });
    store.keep(write('a', '1'));
    store.keep(write('b', '2'));
    store.keepStreamed({ id: 'c', type: 'storage', metadata: { operation: 'read', path: '/c' } });
    expect(store.facts('a')).toBeUndefined();
    expect(store.claim('a', 'r')).toMatchObject({ reason: 'not-taken' });
    expect(store.claim('c', 'r')).toMatchObject({ reason: 'streamed' });
    expect(store.facts('c')).toEqual({ config: { type: 'storage', metadata: { operation: 'read', path: '/c' } } });
  });
});
