import { randomBytes } from 'node:crypto';
import { Queue, Worker } from 'bullmq';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import type { Logger } from '../../src/core/logger.js';
import { loadBullMq } from '../../src/distributed/load-bullmq.js';
import { RedisConnections } from '../../src/distributed/redis-connections.js';
import { RedisJobTaker, type LockLoss, type TakenJob } from '../../src/distributed/redis-job-taker.js';
import type { JobData } from '../../src/distributed/redis-records.js';
import { startRedisServer, type RedisServer } from '../helpers/redis-server.js';
import { serviceAvailable } from '../helpers/services.js';

const haveRedis = serviceAvailable('Redis', 'redis-server', 'apt-get install -y redis-server');

/** A job's data as taskforge's queue writes it (the taker reads it back as it is). */
function dataOf(id: string): JobData {
  return { id, type: 'noop', priority: 0, config: { type: 'noop' }, attempts: 0, submittedAt: '2026-12-06T00:00:00.000Z' } as unknown as JobData;
}

/** Resolves after `ms`. */
function pause(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}

describe.runIf(haveRedis)('RedisJobTaker: taking BullMQ jobs for all free slots in one script call', () => {
  let server: RedisServer | undefined;
  const cleanups: (() => Promise<void>)[] = [];
  beforeAll(async () => {
    server = await startRedisServer();
  });
  afterEach(async () => {
    for (const cleanup of cleanups.splice(0).reverse()) await cleanup();
  });
  afterAll(async () => {
    await server?.stop();
  });

  /** A BullMQ queue under a fresh name, and a taker on it whose runs wait until `release` is called for them. */
  async function setUp(slots: number, lockDurationMs = 30_000, types?: readonly string[]): Promise<{
    queue: Queue;
    taker: RedisJobTaker;
    started: TakenJob[];
    release: (id: string) => void;
    warnings: string[];
    connections: RedisConnections;
    prefix: string;
    unreadable: string[];
    lost: { id: string; token: string; how: LockLoss }[];
    passed: string[][];
  }> {
    if (server === undefined) throw new Error('no server');
    const url = `redis://127.0.0.1:${String(server.port)}`;
    const name = `taker-${randomBytes(4).toString('hex')}`;
    const queue = new Queue(name, { connection: { host: '127.0.0.1', port: server.port, maxRetriesPerRequest: null }, prefix: 'tt' });
    const connections = new RedisConnections(await loadBullMq(), url);
    const started: TakenJob[] = [];
    const releases = new Map<string, () => void>();
    const warnings: string[] = [];
    const logger: Logger = { debug: () => undefined, info: () => undefined, error: () => undefined, warn: (_fields, message) => warnings.push(message) };
    const prefix = `tt:${name}:`;
    const unreadable: string[] = [];
    const lost: { id: string; token: string; how: LockLoss }[] = [];
    const passed: string[][] = [];
    const taker = new RedisJobTaker(
      { client: connections.open(), blocking: connections.open(), jobKeyPrefix: prefix, lockDurationMs, workerId: 'w-test' },
      slots,
      {
        run: (job) => {
          started.push(job);
          return new Promise((resolve) => {
            releases.set(job.id, () => {
              resolve();
            });
          });
        },
        unreadable: (job) => unreadable.push(job.id),
        lost: (job, how) => lost.push({ id: job.id, token: job.token, how }),
        ...(types === undefined ? {} : { types: () => types, passed: (names: readonly string[]) => passed.push([...names]) }),
      },
      logger,
    );
    cleanups.push(async () => {
      taker.stopTaking();
      for (const release of releases.values()) release();
      await taker.whenIdle();
      taker.stopRenewing();
      connections.disconnectAll();
      await queue.obliterate({ force: true });
      await queue.close();
    });
    return { queue, taker, started, release: (id) => releases.get(id)?.(), warnings, connections, prefix, unreadable, lost, passed };
  }

  /** Polls until `check` holds (no timing asserted: the test's own timeout bounds it). */
  async function until(check: () => boolean | Promise<boolean>): Promise<void> {
    while (!(await check())) await pause(10);
  }

  it('fills every free slot in one call, in BullMQ order, each job active, locked with its own token, its start counted', async () => {
    const { queue, taker, started, connections, prefix } = await setUp(3);
    const monitor = connections.open();
    const before = Number(/cmdstat_evalsha:calls=(\d+)/.exec(await monitor.info('commandstats'))?.[1] ?? 0);
    await queue.addBulk([
      { name: 'noop', data: dataOf('low'), opts: { jobId: 'low', priority: 30 } },
      { name: 'noop', data: dataOf('high'), opts: { jobId: 'high', priority: 1 } },
      { name: 'noop', data: dataOf('mid-1'), opts: { jobId: 'mid-1', priority: 10 } },
      { name: 'noop', data: dataOf('mid-2'), opts: { jobId: 'mid-2', priority: 10 } },
    ]);
    taker.start();
    await until(() => started.length === 3);
    await pause(50);
    // Three slots, three jobs, the rest left waiting; BullMQ's order: smaller BullMQ priority first, FIFO among equals.
    expect(started.map((job) => job.id)).toEqual(['high', 'mid-1', 'mid-2']);
    expect(taker.running).toBe(3);
    const calls = Number(/cmdstat_evalsha:calls=(\d+)/.exec(await monitor.info('commandstats'))?.[1] ?? 0) - before;
    // One take for the three (BullMQ's addBulk adds no script calls of its own: it runs them as EVALSHA too, one per job).
    expect(calls).toBeLessThanOrEqual(4 + 1);
    expect(new Set(started.map((job) => job.token)).size).toBe(3);
    for (const job of started) {
      expect(job.data.id).toBe(job.id);
      expect(job.attemptsStarted).toBe(1);
      expect(job.stalledCounter).toBe(0);
      expect(await queue.getJobState(job.id)).toBe('active');
      expect(await monitor.get(`${prefix}${job.id}:lock`)).toBe(job.token);
      const stored = await queue.getJob(job.id);
      expect(stored?.attemptsStarted).toBe(1);
      expect(stored?.processedOn).toBeGreaterThan(0);
    }
    expect(await queue.getJobState('low')).toBe('prioritized');
    // A job left: the marker tells the other workers to look.
    expect(await monitor.zcard(`${prefix}marker`)).toBe(1);
  });

  it('takes only jobs of the types its worker runs, in BullMQ order; the others stay exactly where they were (place, score, state) for a worker that runs them', async () => {
    const { queue, taker, started, connections, prefix, passed } = await setUp(4, 30_000, ['mine']);
    await queue.addBulk([
      { name: 'other', data: dataOf('o-high'), opts: { jobId: 'o-high', priority: 1 } },
      { name: 'mine', data: dataOf('m-5'), opts: { jobId: 'm-5', priority: 5 } },
      { name: 'other', data: dataOf('o-5'), opts: { jobId: 'o-5', priority: 5 } },
      { name: 'mine', data: dataOf('m-10'), opts: { jobId: 'm-10', priority: 10 } },
      { name: 'other', data: dataOf('o-plain-1'), opts: { jobId: 'o-plain-1' } },
      { name: 'mine', data: dataOf('m-plain'), opts: { jobId: 'm-plain' } },
      { name: 'other', data: dataOf('o-plain-2'), opts: { jobId: 'o-plain-2' } },
    ]);
    const client = connections.open();
    const waitBefore = await client.lrange(`${prefix}wait`, 0, -1);
    const prioritizedBefore = await client.zrange(`${prefix}prioritized`, 0, -1, 'WITHSCORES');
    taker.start();
    await until(() => started.length === 3);
    await pause(100);
    // BullMQ's order among its own: the plain wait list first, then smaller BullMQ priority, FIFO among equals.
    expect(started.map((job) => job.id)).toEqual(['m-plain', 'm-5', 'm-10']);
    expect(passed[0]).toEqual(['other']);
    // The others were looked past and put back as they were: the same places in the wait list, the same scores.
    expect(await client.lrange(`${prefix}wait`, 0, -1)).toEqual(waitBefore.filter((id) => id !== 'm-plain'));
    const prioritizedAfter = await client.zrange(`${prefix}prioritized`, 0, -1, 'WITHSCORES');
    const withoutMine: string[] = [];
    for (let at = 0; at < prioritizedBefore.length; at += 2) {
      const id = prioritizedBefore[at] ?? '';
      if (!id.startsWith('m-')) withoutMine.push(id, prioritizedBefore[at + 1] ?? '');
    }
    expect(prioritizedAfter).toEqual(withoutMine);
    for (const id of ['o-high', 'o-5']) expect(await queue.getJobState(id)).toBe('prioritized');
    for (const id of ['o-plain-1', 'o-plain-2']) expect(await queue.getJobState(id)).toBe('waiting');
    expect(await client.lrange(`${prefix}active`, 0, -1)).toEqual(['m-10', 'm-5', 'm-plain']);
    for (const id of ['o-high', 'o-5', 'o-plain-1']) expect(await client.exists(`${prefix}${id}:lock`)).toBe(0);
    // The others are still there: the marker is left for a worker that runs them.
    expect(await client.zcard(`${prefix}marker`)).toBe(1);
    // A job of its type added later is taken (the taker rests a moment after looking past others, then waits on the marker again).
    await queue.add('mine', dataOf('m-later'), { jobId: 'm-later', priority: 1 });
    await until(() => started.length === 4);
    expect(started[3]?.id).toBe('m-later');
  });

  it('takes the next job as a slot frees, and waits on the marker for jobs added later', async () => {
    const { queue, taker, started, release } = await setUp(1);
    taker.start();
    await pause(100);
    expect(started).toEqual([]);
    await queue.add('noop', dataOf('a'), { jobId: 'a', priority: 5 });
    await queue.add('noop', dataOf('b'), { jobId: 'b', priority: 5 });
    await until(() => started.length === 1);
    await pause(50);
    expect(started.map((job) => job.id)).toEqual(['a']);
    release('a');
    await until(() => started.length === 2);
    expect(started.map((job) => job.id)).toEqual(['a', 'b']);
  });

  it('takes nothing from a paused queue or past its global concurrency; takes once resumed', async () => {
    const { queue, taker, started, release, connections, prefix } = await setUp(4);
    await queue.setGlobalConcurrency(2);
    await queue.addBulk(['a', 'b', 'c'].map((id) => ({ name: 'noop', data: dataOf(id), opts: { jobId: id, priority: 5 } })));
    taker.start();
    await until(() => started.length === 2);
    await pause(100);
    expect(started.map((job) => job.id)).toEqual(['a', 'b']);
    await queue.pause();
    // 'a' ends, and leaves the active list (as the end's script removes its job).
    release('a');
    await connections.open().lrem(`${prefix}active`, 1, 'a');
    await pause(200);
    expect(started).toHaveLength(2);
    await queue.resume();
    await until(() => started.length === 3);
    expect(started.map((job) => job.id)).toEqual(['a', 'b', 'c']);
  });

  it('drops the id of a job removed while it waited, and takes the next', async () => {
    const { queue, taker, started, connections, prefix } = await setUp(1);
    await queue.addBulk(['gone', 'next'].map((id) => ({ name: 'noop', data: dataOf(id), opts: { jobId: id, priority: 5 } })));
    const client = connections.open();
    await client.del(`${prefix}gone`);
    taker.start();
    await until(() => started.length === 1);
    expect(started[0]?.id).toBe('next');
    expect(await client.lrange(`${prefix}active`, 0, -1)).toEqual(['next']);
  });

  it('tells of a job whose data is not JSON without running it, and fills the slot with the next', async () => {
    const { queue, taker, started, connections, prefix, unreadable } = await setUp(2);
    await queue.addBulk(['damaged', 'fine-1', 'fine-2'].map((id) => ({ name: 'noop', data: dataOf(id), opts: { jobId: id, priority: 5 } })));
    await connections.open().hset(`${prefix}damaged`, 'data', '{"id": "damaged", not json');
    taker.start();
    await until(() => started.length === 2);
    expect(unreadable).toEqual(['damaged']);
    expect(started.map((job) => job.id)).toEqual(['fine-1', 'fine-2']);
  });

  it('hands a job back ahead of the jobs of its priority, only with its own token', async () => {
    const { queue, taker, started, connections, prefix } = await setUp(1);
    await queue.addBulk(['first', 'second'].map((id) => ({ name: 'noop', data: dataOf(id), opts: { jobId: id, priority: 5 } })));
    taker.start();
    await until(() => started.length === 1);
    const job = started[0];
    if (job === undefined) throw new Error('nothing taken');
    expect(await taker.handBack({ ...job, token: 'another worker' })).toBe(false);
    expect(await queue.getJobState(job.id)).toBe('active');
    taker.stopTaking();
    expect(await taker.handBack(job)).toBe(true);
    const client = connections.open();
    expect(await client.exists(`${prefix}${job.id}:lock`)).toBe(0);
    expect(await queue.getJobState(job.id)).toBe('prioritized');
    // Ahead of 'second', which waits with the same priority.
    expect((await queue.getPrioritized()).map((waiting) => waiting.id)).toEqual(['first', 'second']);
    // Handed back twice: the second finds no lock of its own.
    expect(await taker.handBack(job)).toBe(false);
  });

  it('renews the locks of running jobs; sets again a lapsed lock whose job nobody took since (still active, its take this one)', async () => {
    const { queue, taker, started, warnings, connections, prefix, lost } = await setUp(2, 400);
    await queue.addBulk(['kept', 'lapsed'].map((id) => ({ name: 'noop', data: dataOf(id), opts: { jobId: id, priority: 5 } })));
    taker.start();
    await until(() => started.length === 2);
    const client = connections.open();
    await client.del(`${prefix}lapsed:lock`);
    await pause(1000);
    // Past twice its duration, still held: renewed; the lapsed one held again by its own token, nothing told lost.
    for (const id of ['kept', 'lapsed']) expect(await client.get(`${prefix}${id}:lock`)).toBe(started.find((job) => job.id === id)?.token);
    expect(warnings).toContain('the lock of a running task had lapsed (no renewal reached Redis in time); nobody had taken the task, and this worker holds it again');
    expect(lost).toEqual([]);
  });

  it('tells of a running job whose lock another take holds, or whose job is gone; a job handed back to wait is only warned of', async () => {
    const { queue, taker, started, warnings, connections, prefix, lost } = await setUp(3, 400);
    await queue.addBulk(['taken', 'gone', 'waiting'].map((id) => ({ name: 'noop', data: dataOf(id), opts: { jobId: id, priority: 5 } })));
    taker.start();
    await until(() => started.length === 3);
    const client = connections.open();
    const tokenOf = (id: string): string => started.find((job) => job.id === id)?.token ?? '';
    // Another worker holds the lock now; Redis lost a job (as when it restarts empty); BullMQ's stalled check handed one back, its lock gone.
    await client.set(`${prefix}taken:lock`, 'another worker', 'PX', 30_000);
    await client.del(`${prefix}gone`, `${prefix}gone:lock`);
    await client.multi().del(`${prefix}waiting:lock`).lrem(`${prefix}active`, 1, 'waiting').zadd(`${prefix}prioritized`, 5 * 0x100000000, 'waiting').exec();
    await until(() => lost.length === 2);
    expect(lost.sort((a, b) => a.id.localeCompare(b.id))).toEqual([
      { id: 'gone', token: tokenOf('gone'), how: 'gone' },
      { id: 'taken', token: tokenOf('taken'), how: 'taken' },
    ]);
    await until(() => warnings.includes('the lock of a running task lapsed and the task went back to the queue: another worker may run it now'));
    // Not set again: the lock of a job not active stays free, for the worker that takes it next.
    expect(await client.exists(`${prefix}waiting:lock`)).toBe(0);
    // Taken since by another take (which set its own token on the job), its lock lapsed too: told as taken, not set again.
    await client.multi().zrem(`${prefix}prioritized`, 'waiting').lpush(`${prefix}active`, 'waiting').hset(`${prefix}waiting`, 'tfToken', 'another take').exec();
    await until(() => lost.some((loss) => loss.id === 'waiting'));
    expect(lost.find((loss) => loss.id === 'waiting')).toEqual({ id: 'waiting', token: tokenOf('waiting'), how: 'taken' });
    expect(await client.exists(`${prefix}waiting:lock`)).toBe(0);
  });

  it("BullMQ's stalled check hands on a job whose lock lapsed, and the taker takes it again, its stall counted", async () => {
    if (server === undefined) throw new Error('no server');
    const { queue, taker, started, connections, prefix } = await setUp(2, 30_000);
    await queue.add('noop', dataOf('stalls'), { jobId: 'stalls', priority: 5 });
    taker.start();
    await until(() => started.length === 1);
    await connections.open().del(`${prefix}stalls:lock`);
    const checker = new Worker(queue.name, null, { connection: { host: '127.0.0.1', port: server.port, maxRetriesPerRequest: null }, prefix: 'tt', autorun: false, stalledInterval: 100, maxStalledCount: 10 });
    cleanups.push(() => checker.close());
    await checker.startStalledCheckTimer();
    await until(() => started.length === 2);
    expect(started[1]?.id).toBe('stalls');
    expect(started[1]?.attemptsStarted).toBe(2);
    expect(started[1]?.stalledCounter).toBe(1);
  });
});
