import { setTimeout as delay } from 'node:timers/promises';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { AGED_PRIORITY_MAX, agedBullPriority, type AgingState } from '../../src/distributed/redis-aging.js';
import type { RedisQueueOptions } from '../../src/distributed/redis-options.js';
import { jobIdOf, type JobData } from '../../src/distributed/redis-records.js';
import { RedisStore } from '../../src/distributed/redis-store.js';
import type { QueuedTask } from '../../src/orchestrator/task-queue.js';
import { startRedisServer, type RedisServer } from '../helpers/redis-server.js';
import { serviceAvailable } from '../helpers/services.js';

/**
 * Aging on a Redis queue, where the Orchestrator suite cannot reach: the
 * setting shared by every process of a queue, the narrower priority range,
 * and the move of the origin that keeps ranks inside BullMQ's range.
 */
const haveRedis = serviceAvailable('Redis', 'redis-server', 'apt-get install -y redis-server');
let server: RedisServer | undefined;
let queueNumber = 0;
const opened: RedisStore[] = [];

beforeAll(async () => {
  if (haveRedis) server = await startRedisServer();
}, 20_000);
afterEach(async () => {
  for (const store of opened.splice(0)) await store.close();
});
afterAll(async () => {
  await server?.stop();
});

async function open(name: string, options: Omit<RedisQueueOptions, 'url' | 'name'> = {}): Promise<RedisStore> {
  const store = await RedisStore.open({ url: server?.url ?? '', name, ...options });
  opened.push(store);
  return store;
}

function task(id: string, priority: number): QueuedTask {
  return { id, type: 'probe', priority, config: { type: 'probe', id }, dependsOn: undefined, attempts: 0, submittedAt: Date.now() };
}

/** The ids waiting in BullMQ, in the order workers take them. */
async function waitingOrder(store: RedisStore): Promise<string[]> {
  const ids = await store.connections.open().zrange(`taskforge:bull:${store.location.name}:prioritized`, 0, -1);
  return Promise.all(ids.map(async (jobId) => String((await store.bull.getJob(jobId))?.data.id)));
}

async function jobPriority(store: RedisStore, id: string): Promise<number> {
  return (await store.bull.getJob(jobIdOf(id)))?.priority ?? Number.NaN;
}

async function releasedAt(store: RedisStore, id: string): Promise<number> {
  return Number(((await store.bull.getJob(jobIdOf(id)))?.data as JobData | undefined)?.releasedAt);
}

async function agingOf(store: RedisStore): Promise<AgingState | undefined> {
  const [ms, origin] = await store.connections.open().hmget(`taskforge:${store.location.name}:aging`, 'ms', 'origin');
  return ms === null || origin === null ? undefined : { agingMs: Number(ms), origin: Number(origin) };
}

describe.skipIf(!haveRedis)('aging on a Redis queue', () => {
  it('is the queue’s setting: stored by the first process that gives it, taken by one that gives none, refused to one that gives another', async () => {
    queueNumber += 1;
    const name = `aging-${String(queueNumber)}`;
    await open(name, { agingMs: 10 });
    const other = await open(name);
    await delay(300);
    await other.submit([task('late', 0)]);
    // Made ready about 30 points after the origin: its BullMQ priority (1 runs first) is that much later than plain 0's.
    const aging = await agingOf(other);
    expect(aging?.agingMs).toBe(10);
    expect(await jobPriority(other, 'late')).toBeGreaterThanOrEqual(2 ** 20 + 25);
    await expect(open(name, { agingMs: -1 })).rejects.toThrow(/agingMs must be a positive number/);
    await expect(open(name, { agingMs: 20 })).rejects.toMatchObject({ code: 'VALIDATION_ERROR', details: { field: 'agingMs', stored: 10 }, message: expect.stringContaining('this queue ages one point per 10 ms') as string });
  });

  it(`takes priorities from ${String(-AGED_PRIORITY_MAX)} to ${String(AGED_PRIORITY_MAX)} with aging, storing none of a batch beyond them; without aging, the wider range`, async () => {
    queueNumber += 1;
    const aging = await open(`aging-${String(queueNumber)}`, { agingMs: 1000 });
    await expect(aging.submit([task('fine', AGED_PRIORITY_MAX), task('too-high', AGED_PRIORITY_MAX + 1)], (index) => `[${String(index)}].`)).rejects.toMatchObject({
      code: 'VALIDATION_ERROR',
      details: { fields: [{ field: '[1].priority' }] },
    });
    expect(await aging.finished.whereAre(['fine', 'too-high'])).toEqual(['missing', 'missing']);
    queueNumber += 1;
    const plain = await open(`aging-${String(queueNumber)}`);
    await plain.submit([task('wide', AGED_PRIORITY_MAX + 1)]);
    expect(await jobPriority(plain, 'wide')).toBe(2 ** 20 - (AGED_PRIORITY_MAX + 1));
  });

  it('moves the origin once the points pass the limit, and ranks the waiting jobs again from it, in the same order', async () => {
    queueNumber += 1;
    const store = await open(`aging-${String(queueNumber)}`, { agingMs: 20, agingTuning: { rebaseAfterPoints: 15, refreshMs: 50 } });
    const first = await agingOf(store);
    // Three tasks 100 ms (5 points) apart: `b` (priority 3) loses 5 points to `a`, so runs after it; `c` (priority 20, 10 points late) runs first.
    await store.submit([task('a', 0)]);
    await delay(100);
    await store.submit([task('b', 3)]);
    await delay(100);
    await store.submit([task('c', 20)]);
    const before = await waitingOrder(store);
    expect(before).toEqual(['c', 'a', 'b']);
    const priorities = await Promise.all(before.map((id) => jobPriority(store, id)));
    await delay(250);
    // This hand-over is past the limit: it starts the move.
    await store.submit([task('d', 0)]);
    await expect.poll(async () => (await agingOf(store))?.origin, { timeout: 5000 }).toBeGreaterThan(first?.origin ?? 0);
    const moved = await agingOf(store);
    // Every waiting job is ranked from the new origin (the pass waits 2 refreshes first).
    await expect
      .poll(async () => {
        const ranked = await Promise.all(['a', 'b', 'c'].map(async (id, index) => (await jobPriority(store, id)) === agedBullPriority([0, 3, 20][index] ?? 0, await releasedAt(store, id), moved)));
        return ranked.every(Boolean);
      }, { timeout: 5000 })
      .toBe(true);
    const after = await Promise.all(before.map((id) => jobPriority(store, id)));
    for (const [index, priority] of after.entries()) expect(priority).toBeLessThan(priorities[index] ?? 0);
    expect((await waitingOrder(store)).filter((id) => id !== 'd')).toEqual(before);
    expect(await jobPriority(store, 'd')).toBe(agedBullPriority(0, await releasedAt(store, 'd'), moved));
  });
});
