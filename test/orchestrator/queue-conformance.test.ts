import { setTimeout as delay } from 'node:timers/promises';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { RedisQueue } from '../../src/distributed/redis-queue.js';
import { MemoryQueue } from '../../src/orchestrator/queues/memory-queue.js';
import { SqliteQueue } from '../../src/orchestrator/queues/sqlite-queue.js';
import type { FinishedTask, QueuedTask, UnfinishedTask } from '../../src/orchestrator/task-queue.js';
import type { TaskResult } from '../../src/tasks/task-result.js';
import { startRedisServer, type RedisServer } from '../helpers/redis-server.js';
import { serviceAvailable } from '../helpers/services.js';
import { makeTempDir } from '../helpers/temp-dir.js';

type Awaitable<T> = T | Promise<T>;

/** What the suite asks of a queue: TaskQueue's contract, answered at once (memory, SQLite) or over the network (Redis). */
interface AnyQueue {
  readonly waiting: Awaitable<number>;
  add(task: QueuedTask, ready: boolean): Awaitable<void>;
  release(id: string): Awaitable<void>;
  take(): Awaitable<QueuedTask | undefined>;
  finish(task: QueuedTask, result: TaskResult): Awaitable<void>;
  finished(id: string): Awaitable<FinishedTask | undefined>;
  recover(): UnfinishedTask[];
  close(): Awaitable<void>;
  /** Synchronous queues: several adds as one unit. */
  transaction?(work: () => void): void;
  /** The Redis queue: several adds as one unit. */
  addAll?(entries: readonly { task: QueuedTask; ready: boolean }[]): Promise<void>;
  /** The Redis queue: drop the connection as a killed process would. */
  abandon?(): void;
}

/** How to make a queue of one kind; a durable kind's next open() reaches the same store. */
interface QueueKind {
  readonly name: string;
  readonly durable: boolean;
  /** False where the queue has no aging (BullMQ's priorities are fixed). */
  readonly aging: boolean;
  open(options?: { agingMs?: number; maxFinished?: number }): Promise<AnyQueue>;
}

const haveRedis = serviceAvailable('Redis', 'redis-server', 'apt-get install -y redis-server');
let redis: RedisServer | undefined;
let dir = '';
let removeDir: () => Promise<void> = () => Promise.resolve();
/** A fresh Redis queue name per test, so tests do not see each other's tasks. */
let redisName = '';
let testNumber = 0;
const opened: AnyQueue[] = [];

beforeAll(async () => {
  if (haveRedis) redis = await startRedisServer();
}, 20_000);

afterAll(async () => {
  await redis?.stop();
});

beforeEach(async () => {
  ({ path: dir, remove: removeDir } = await makeTempDir('queue-'));
  testNumber += 1;
  redisName = `conformance-${String(testNumber)}`;
});

afterEach(async () => {
  for (const queue of opened.splice(0)) await queue.close();
  await removeDir();
});

const kinds: QueueKind[] = [
  { name: 'memory', durable: false, aging: true, open: (options = {}) => Promise.resolve(track(new MemoryQueue(options))) },
  { name: 'sqlite', durable: true, aging: true, open: (options = {}) => Promise.resolve(track(new SqliteQueue(join(dir, 'queue.db'), options))) },
  ...(haveRedis
    ? [
        {
          name: 'redis',
          durable: true,
          aging: false,
          open: async (options: { maxFinished?: number } = {}) =>
            track(await RedisQueue.open({ url: redis?.url ?? '', name: redisName, ...options, lockDurationMs: 400, stalledIntervalMs: 200 })),
        },
      ]
    : []),
];

function track<Q extends AnyQueue>(queue: Q): Q {
  opened.push(queue);
  return queue;
}

function task(id: string, priority = 0, extra: Partial<QueuedTask> = {}): QueuedTask {
  return { id, type: 'probe', priority, config: { id, type: 'probe', priority, metadata: { n: id } }, dependsOn: undefined, attempts: 0, submittedAt: Date.now(), ...extra };
}

function result(id: string, status: 'completed' | 'failed' = 'completed', data: unknown = null, attempts = 1): TaskResult {
  const at = new Date().toISOString();
  const base = { id, type: 'probe', attempts, startedAt: at, finishedAt: at, durationMs: 0 };
  return status === 'completed'
    ? { ...base, status, success: true, data }
    : { ...base, status, success: false, error: { code: 'IO_ERROR', message: 'disk said no', retryable: false } };
}

async function takeAll(queue: AnyQueue): Promise<string[]> {
  const ids: string[] = [];
  for (let next = await queue.take(); next !== undefined; next = await queue.take()) ids.push(next.id);
  return ids;
}

describe.each(kinds)('queue conformance: $name', (kind) => {
  it('hands out ready tasks by priority, larger first, then in submission order', async () => {
    const queue = await kind.open();
    expect(await queue.take()).toBeUndefined();
    for (const [id, priority] of [['a', 1], ['b', 5], ['c', 1], ['d', -3], ['e', 5], ['f', 2]] as const) await queue.add(task(id, priority), true);
    expect(await queue.waiting).toBe(6);
    expect(await takeAll(queue)).toEqual(['b', 'e', 'f', 'a', 'c', 'd']);
    expect(await queue.waiting).toBe(0);
  });

  it('gives back what was queued: id, type, priority, config, dependencies, attempts', async () => {
    const queue = await kind.open();
    const original = task('full', 7, { dependsOn: ['x', 'y'], attempts: 2 });
    await queue.add(original, true);
    const taken = await queue.take();
    expect(taken).toMatchObject({ id: 'full', type: 'probe', priority: 7, config: original.config, dependsOn: ['x', 'y'], attempts: 2, submittedAt: original.submittedAt });
  });

  it('holds a blocked task back until it is released', async () => {
    const queue = await kind.open();
    await queue.add(task('blocked', 9), false);
    await queue.add(task('ready', 0), true);
    expect(await queue.waiting).toBe(2);
    expect(await takeAll(queue)).toEqual(['ready']);
    await queue.release('blocked');
    await queue.release('ready'); // not blocked: nothing happens
    expect(await takeAll(queue)).toEqual(['blocked']);
  });

  it('a task that finishes while waiting leaves the queue', async () => {
    const queue = await kind.open();
    const tasks = { stays: task('stays'), cancelled: task('cancelled'), blockedCancelled: task('blocked-cancelled') };
    await queue.add(tasks.stays, true);
    await queue.add(tasks.cancelled, true);
    await queue.add(tasks.blockedCancelled, false);
    await queue.finish(tasks.cancelled, result('cancelled', 'failed', undefined, 0));
    await queue.finish(tasks.blockedCancelled, result('blocked-cancelled', 'failed', undefined, 0));
    expect(await queue.waiting).toBe(1);
    expect(await takeAll(queue)).toEqual(['stays']);
    expect(await queue.finished('cancelled')).toMatchObject({ status: 'failed', attempts: 0 });
  });

  it('keeps finished tasks queryable: status, attempts, priority, result; small JSON data kept, bytes dropped', async () => {
    const queue = await kind.open();
    const tasks = { ok: task('ok', 3, { dependsOn: ['zero'] }), bytes: task('bytes'), bad: task('bad') };
    for (const added of Object.values(tasks)) await queue.add(added, true);
    await takeAll(queue);
    await queue.finish(tasks.ok, result('ok', 'completed', { path: '/a', size: 3 }, 2));
    await queue.finish(tasks.bytes, result('bytes', 'completed', Buffer.from('payload')));
    await queue.finish(tasks.bad, result('bad', 'failed'));
    expect(await queue.finished('ok')).toMatchObject({ id: 'ok', type: 'probe', priority: 3, status: 'completed', attempts: 2, dependsOn: ['zero'], result: { data: { path: '/a', size: 3 } } });
    const bytes = await queue.finished('bytes');
    expect(bytes?.result.data).toBeUndefined();
    expect(bytes?.result.details).toEqual({ dataRetained: false });
    expect((await queue.finished('bad'))?.result.error).toEqual({ code: 'IO_ERROR', message: 'disk said no', retryable: false });
    expect(await queue.finished('never')).toBeUndefined();
    expect((await queue.finished('ok'))?.result.success).toBe(true);
  });

  it('keeps at most maxFinished finished tasks, dropping the oldest', async () => {
    const queue = await kind.open({ maxFinished: 3 });
    for (let index = 0; index < 5; index += 1) {
      const added = task(`t${String(index)}`);
      await queue.add(added, true);
      await queue.take();
      await queue.finish(added, result(added.id));
      // Finish times are kept to the millisecond: keep them apart.
      await delay(2);
    }
    // A durable queue may sweep in batches: reopening runs a sweep.
    const checked = kind.durable ? await reopen(kind, queue, { maxFinished: 3 }) : queue;
    const kept = await Promise.all(['t0', 't1', 't2', 't3', 't4'].map(async (id) => (await checked.finished(id)) !== undefined));
    expect(kept).toEqual([false, false, true, true, true]);
  });

  it.runIf(kind.aging)('with aging, a task that waited long enough overtakes a later higher-priority one', async () => {
    const queue = await kind.open({ agingMs: 1 });
    await queue.add(task('old-low', 0), true);
    await delay(40);
    await queue.add(task('new-high', 10), true);
    expect(await takeAll(queue)).toEqual(['old-low', 'new-high']);
  });

  it('a batch is stored whole or not at all', async () => {
    const queue = await kind.open();
    const addBatch = async (tasks: QueuedTask[]): Promise<void> => {
      if (queue.addAll !== undefined) {
        await queue.addAll(tasks.map((added) => ({ task: added, ready: true })));
      } else if (queue.transaction !== undefined) {
        queue.transaction(() => {
          for (const added of tasks) void queue.add(added, true);
        });
      } else {
        for (const added of tasks) await queue.add(added, true);
      }
    };
    await addBatch([task('t1'), task('t2')]);
    expect(await queue.waiting).toBe(2);
    if (kind.durable) {
      // A duplicate id: the store refuses it, and t3 with it.
      await expect(addBatch([task('t3'), task('t1')])).rejects.toThrow();
      expect(await takeAll(await reopen(kind, queue))).toEqual(['t1', 't2']);
    }
  });

  it(kind.durable ? 'after a crash, hands back waiting tasks, and running ones as ready with the cut-off attempt counted' : 'has nothing to recover', async () => {
    const queue = await kind.open();
    const waiting = task('waiting', 1);
    await queue.add(task('ran'), true);
    await queue.add(task('running', 5), true);
    await queue.add(waiting, true);
    await queue.add(task('blocked', 1, { dependsOn: ['running'] }), false);
    expect((await queue.take())?.id).toBe('running');
    expect((await queue.take())?.id).toBe('waiting');
    await queue.finish(waiting, result('waiting'));
    expect((await queue.take())?.id).toBe('ran');
    if (!kind.durable) {
      expect(queue.recover()).toEqual([]);
      return;
    }
    if (queue.abandon !== undefined) {
      // A shared queue: the dead process's tasks come back to any taker once their lock expires.
      queue.abandon();
      const next = await kind.open();
      // Still locked by the dead process: nothing to take yet.
      expect(await next.take()).toBeUndefined();
      // Both back (and the blocked one still held), then taken in priority order.
      for (let waited = 0; (await next.waiting) < 3 && waited < 10_000; waited += 50) await delay(50);
      // BullMQ hands them back unprioritized; the queue puts each back in its place right after (restorePriority).
      await delay(100);
      const back = (await Promise.all([next.take(), next.take()])) as UnfinishedTask[];
      expect(back.map((entry) => [entry.id, entry.ready, entry.attempts, entry.interruptions])).toEqual([
        ['running', true, 1, 1],
        ['ran', true, 1, 1],
      ]);
      expect(await next.waiting).toBe(1);
      expect(await next.take()).toBeUndefined();
      expect(await next.finished('waiting')).toMatchObject({ status: 'completed' });
      await next.release('blocked');
      expect((await next.take())?.dependsOn).toEqual(['running']);
      return;
    }
    // Not closed: the process "died" holding it; the next one opens the same file.
    const next = await reopen(kind, queue);
    const unfinished = next.recover();
    expect(unfinished.map((entry) => [entry.id, entry.ready, entry.attempts, entry.interruptions])).toEqual([
      ['ran', true, 1, 1],
      ['running', true, 1, 1],
      ['blocked', false, 0, 0],
    ]);
    expect(unfinished[2]?.dependsOn).toEqual(['running']);
    expect(await next.waiting).toBe(3);
    expect(await next.finished('waiting')).toMatchObject({ status: 'completed' });
    expect(await takeAll(next)).toEqual(['running', 'ran']);
  }, 15_000);
});

/** Closes a durable queue and opens a new one on the same store, as a restarted process would. */
async function reopen(kind: QueueKind, queue: AnyQueue, options: { maxFinished?: number } = {}): Promise<AnyQueue> {
  await queue.close();
  return kind.open(options);
}

describe('SqliteQueue', () => {
  it('refuses a second process on the same file while the first holds it', async () => {
    const file = join(dir, 'held.db');
    track(new SqliteQueue(file));
    const { runScript } = await import('../helpers/child.js');
    const child = runScript(
      `import { SqliteQueue } from ${JSON.stringify((await import('../helpers/child.js')).repoModule('src/orchestrator/queues/sqlite-queue.ts'))};
       try { new SqliteQueue(${JSON.stringify(file)}); console.log('opened'); } catch (error) { console.log(error.code, error.message); }`,
    );
    expect(child.stdout.trim()).toBe(`BACKEND_UNAVAILABLE the SQLite queue '${file}' is in use by another process`);
  });

  it('refuses a file that is not a SQLite database, and a task object', () => {
    const file = join(dir, 'not-a-db');
    writeFileSync(file, 'hello, I am text and not a database at all, and I am long enough to have a header');
    expect(() => new SqliteQueue(file)).toThrow(expect.objectContaining({ code: 'BACKEND_UNAVAILABLE', message: expect.stringContaining(`cannot use the SQLite queue '${file}'`) as string }));
    const queue = track(new SqliteQueue(join(dir, 'ok.db')));
    expect(() => { queue.add({ ...task('object'), config: { execute: () => undefined } as never }, true); }).toThrow(/a durable queue stores task configs, not task objects/);
  });

  it('creates missing directories for its file', () => {
    const queue = track(new SqliteQueue(join(dir, 'a', 'b', 'q.db')));
    queue.add(task('x'), true);
    expect(queue.name).toBe(`sqlite:${join(dir, 'a', 'b', 'q.db')}`);
  });

  it('refuses bad retention limits and aging', () => {
    expect(() => new SqliteQueue(join(dir, 'r.db'), { maxFinished: -1 })).toThrow(/maxFinished must be a non-negative integer/);
    expect(() => new SqliteQueue(join(dir, 'r.db'), { agingMs: 0 })).toThrow(/agingMs must be a positive number/);
  });
});
