import { setTimeout as delay } from 'node:timers/promises';
import { join } from 'node:path';
import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { RedisQueue } from '../../src/distributed/redis-queue.js';
import { MemoryQueue } from '../../src/orchestrator/queues/memory-queue.js';
import { SqliteQueue } from '../../src/orchestrator/queues/sqlite-queue.js';
import type { TaskQueue } from '../../src/orchestrator/task-queue.js';
import { EndRecorder, HandConsumer, completed, failed, queued } from '../helpers/queue-probe.js';
import { makeTempDir } from '../helpers/temp-dir.js';
import { startRedisServer, type RedisServer } from '../helpers/redis-server.js';
import { serviceAvailable } from '../helpers/services.js';

/**
 * The queue contract (src/orchestrator/task-queue.ts), driven the way the
 * Orchestrator drives it in production: submit, consume with a consumer,
 * cancel, state, counts, subscribe, close. Every queue passes all of it.
 */
interface QueueKind {
  readonly name: string;
  readonly durable: boolean;
  readonly aging: boolean;
  open(options?: { agingMs?: number; maxFinished?: number }): Promise<TaskQueue>;
  /** The process holding `queue` dies; a new one opens the same store. Durable kinds only. */
  crash?(queue: TaskQueue, options?: { maxFinished?: number }): Promise<TaskQueue>;
  /** Where retention is swept in batches, what sweeps it now (a reopen). */
  sweep?(queue: TaskQueue, options: { maxFinished?: number }): Promise<TaskQueue>;
}

const haveRedis = serviceAvailable('Redis', 'redis-server', 'apt-get install -y redis-server');
let redis: RedisServer | undefined;
let redisName = '';
let testNumber = 0;

beforeAll(async () => {
  if (haveRedis) redis = await startRedisServer();
}, 20_000);
afterAll(async () => {
  await redis?.stop();
});

let dir = '';
let removeDir: () => Promise<void> = () => Promise.resolve();
const opened: TaskQueue[] = [];

beforeEach(async () => {
  ({ path: dir, remove: removeDir } = await makeTempDir('queue-'));
  testNumber += 1;
  redisName = `contract-${String(testNumber)}`;
});

afterEach(async () => {
  for (const queue of opened.splice(0)) await queue.close();
  await removeDir();
});

function track(queue: TaskQueue): TaskQueue {
  opened.push(queue);
  return queue;
}

const kinds: QueueKind[] = [
  { name: 'memory', durable: false, aging: true, open: (options = {}) => Promise.resolve(track(new MemoryQueue(options))) },
  {
    name: 'sqlite',
    durable: true,
    aging: true,
    open: (options = {}) => Promise.resolve(track(new SqliteQueue(join(dir, 'queue.db'), options))),
    // Closed without the running tasks' ends: the file says they were running, as after a kill.
    crash: async (queue, options = {}) => {
      await queue.close();
      return track(new SqliteQueue(join(dir, 'queue.db'), options));
    },
    sweep: async (queue, options) => {
      await queue.close();
      return track(new SqliteQueue(join(dir, 'queue.db'), options));
    },
  },
  ...(haveRedis
    ? [
        {
          name: 'redis',
          durable: true,
          // BullMQ's priorities are fixed: see the starvation test in orchestrator-api.test.ts.
          aging: false,
          // Short locks, so that a dead process's tasks come back within a second or two.
          open: async (options: { maxFinished?: number } = {}) => track(await RedisQueue.open({ url: redis?.url ?? '', name: redisName, ...options, lockDurationMs: 1000, stalledIntervalMs: 500 })),
          // Disconnected without handing anything back, as a killed process: its tasks' locks lapse.
          crash: async (queue: TaskQueue) => {
            if (!(queue instanceof RedisQueue)) throw new Error('not a Redis queue');
            queue.abandon();
            return track(await RedisQueue.open({ url: redis?.url ?? '', name: redisName, lockDurationMs: 1000, stalledIntervalMs: 500 }));
          },
        } satisfies QueueKind,
      ]
    : []),
];

describe.each(kinds)('queue contract: $name', (kind) => {
  it('hands out ready tasks by priority, larger first, then in submission order, one slot at a time', async () => {
    const queue = await kind.open();
    for (const [id, priority] of [['a', 1], ['b', 5], ['c', 1], ['d', -3], ['e', 5], ['f', 2]] as const) {
      expect(await queue.submit([queued(id, priority)])).toEqual(['ready']);
    }
    expect(await queue.counts()).toEqual({ waiting: 6, running: 0 });
    const consumer = new HandConsumer(1);
    queue.consume(consumer);
    await consumer.handedOut(1);
    await delay(20);
    // One slot: the next is handed out only when the first has ended.
    expect(consumer.ids).toEqual(['b']);
    expect(await queue.counts()).toEqual({ waiting: 5, running: 1 });
    expect(await consumer.runAll(6)).toEqual(['b', 'e', 'f', 'a', 'c', 'd']);
  });

  it('hands out up to the consumer concurrency, and what it is handed is what was queued', async () => {
    const queue = await kind.open();
    const original = queued('full', 7, { attempts: 2 });
    await queue.submit([original, queued('two'), queued('three'), queued('four')]);
    const consumer = new HandConsumer(3);
    queue.consume(consumer);
    await consumer.handedOut(3);
    await delay(20);
    expect(consumer.handed).toHaveLength(3);
    expect(consumer.handed[0]).toMatchObject({ id: 'full', type: 'probe', priority: 7, config: original.config, attempts: 2, submittedAt: original.submittedAt, interruptions: 0 });
    consumer.finish('full');
    await consumer.handedOut(4);
  });

  it('runs a task only after its dependencies completed; a failed one ends its dependents DEPENDENCY_FAILED, transitively', async () => {
    const queue = await kind.open();
    const ends = new EndRecorder();
    queue.subscribe(ends);
    expect(await queue.submit([queued('parent'), queued('child', 9, { dependsOn: ['parent'] })])).toEqual(['ready', 'blocked']);
    expect(await queue.submit([queued('grandchild', 0, { dependsOn: ['child'] }), queued('great', 0, { dependsOn: ['grandchild'] })])).toEqual(['blocked', 'blocked']);
    expect((await queue.state('child'))?.status).toBe('pending');
    const consumer = new HandConsumer(1);
    queue.consume(consumer);
    await consumer.handedOut(1);
    consumer.finish('parent');
    // Ready once its dependency's end is recorded (on a shared queue, a moment after the slot freed).
    await consumer.handedOut(2);
    expect(consumer.ids).toEqual(['parent', 'child']);
    consumer.finish('child', failed('child', 'NOT_FOUND'));
    const grandchild = await ends.endOf('grandchild');
    expect(grandchild).toMatchObject({
      status: 'failed',
      attempts: 0,
      error: { code: 'DEPENDENCY_FAILED', message: "task 'grandchild' did not run: its dependency 'child' did not complete (NOT_FOUND)", details: { dependency: 'child', dependencyCode: 'NOT_FOUND', root: 'child', rootCode: 'NOT_FOUND' } },
    });
    // Further down the chain, the task where it failed first is named too, not only the direct dependency.
    const rootNamed = { code: 'DEPENDENCY_FAILED', message: "task 'great' did not run: its dependency 'grandchild' did not complete (DEPENDENCY_FAILED): the chain failed first at 'child' (NOT_FOUND)", details: { dependency: 'grandchild', dependencyCode: 'DEPENDENCY_FAILED', root: 'child', rootCode: 'NOT_FOUND' } };
    expect((await ends.endOf('great')).error).toMatchObject(rootNamed);
    await delay(50);
    expect(consumer.ids).toEqual(['parent', 'child']);
    // A dependency that failed before the submit: the task ends at once, and submit says so.
    const [late] = await queue.submit([queued('late', 0, { dependsOn: ['child'] })]);
    expect(late).toMatchObject({ id: 'late', status: 'failed', error: { code: 'DEPENDENCY_FAILED' } });
    const [later] = await queue.submit([queued('later', 0, { dependsOn: ['great'] })]);
    expect(later).toMatchObject({ error: { details: { dependency: 'great', root: 'child', rootCode: 'NOT_FOUND' }, message: expect.stringMatching(/first at 'child' \(NOT_FOUND\)$/) as unknown } });
    expect(await queue.submit([queued('after-parent', 0, { dependsOn: ['parent'] })])).toEqual(['ready']);
  });

  it('refuses an id in use (ALREADY_EXISTS) and an unknown dependency (VALIDATION_ERROR), storing nothing of the batch', async () => {
    const queue = await kind.open();
    await queue.submit([queued('t1')]);
    await expect(queue.submit([queued('t2'), queued('t1')], { where: (index) => `[${String(index)}].` })).rejects.toThrow(
      expect.objectContaining({ code: 'ALREADY_EXISTS', message: "a task with id 't1' already exists ([1])" }),
    );
    await expect(queue.submit([queued('t3'), queued('t4', 0, { dependsOn: ['ghost'] })], { where: (index) => `[${String(index)}].` })).rejects.toThrow(
      expect.objectContaining({ code: 'VALIDATION_ERROR', message: expect.stringMatching(/^\[1\]\.dependsOn\[0\]: no task with id 'ghost' is known/) as string }),
    );
    expect(await queue.state('t2')).toBeUndefined();
    expect(await queue.state('t3')).toBeUndefined();
    expect((await queue.counts()).waiting).toBe(1);
    // A batch may name its own later tasks.
    expect(await queue.submit([queued('later-child', 0, { dependsOn: ['later-parent'] }), queued('later-parent')])).toEqual(['blocked', 'ready']);
  });

  it('cancels a waiting task at once (its dependents with it), a running one through its consumer; a finished or unknown one says so', async () => {
    const queue = await kind.open();
    const ends = new EndRecorder();
    queue.subscribe(ends);
    await queue.submit([queued('running', 5), queued('waiting'), queued('dependent', 0, { dependsOn: ['waiting'] })]);
    const consumer = new HandConsumer(1);
    queue.consume(consumer);
    await consumer.handedOut(1);
    const cancelled = await queue.cancel('waiting', 'not needed');
    expect(cancelled).toMatchObject({ outcome: 'ended', result: { id: 'waiting', status: 'failed', attempts: 0, error: { code: 'CANCELLED', message: "task 'waiting' was cancelled before it ran: not needed" } } });
    expect((await ends.endOf('dependent')).error?.code).toBe('DEPENDENCY_FAILED');
    await expect.poll(() => ends.events).toContainEqual(['cancel', { id: 'waiting', type: 'probe', previousStatus: 'pending', reason: 'not needed' }]);
    expect(await queue.cancel('running', 'stop')).toMatchObject({ outcome: 'signalled', task: { id: 'running', type: 'probe', priority: 5 } });
    await expect.poll(() => consumer.cancels).toEqual([['running', 'stop']]);
    consumer.finish('running', failed('running', 'CANCELLED'));
    await ends.endOf('running');
    expect(await queue.cancel('running')).toMatchObject({ outcome: 'finished', finished: { id: 'running', status: 'failed' } });
    expect(await queue.cancel('ghost')).toEqual({ outcome: 'unknown' });
    // Nothing more to run: the cancelled tasks never were handed out.
    await delay(20);
    expect(consumer.ids).toEqual(['running']);
  });

  it('tells where a task is: pending, running, finished with its result (small JSON data kept, bytes dropped), or unknown', async () => {
    const queue = await kind.open();
    const ends = new EndRecorder();
    queue.subscribe(ends);
    await queue.submit([queued('ok', 3), queued('bytes', 2), queued('bad', 1)]);
    expect(await queue.state('ok')).toMatchObject({ status: 'pending', task: { id: 'ok', type: 'probe', priority: 3, attempts: 0 } });
    const consumer = new HandConsumer(3);
    queue.consume(consumer);
    await consumer.handedOut(3);
    expect(await queue.state('ok')).toMatchObject({ status: 'running', task: { id: 'ok' } });
    consumer.finish('ok', completed('ok', { path: '/a', size: 3 }, 2));
    consumer.finish('bytes', completed('bytes', Buffer.from('payload')));
    consumer.finish('bad', failed('bad'));
    await ends.endOf('bad');
    expect(await queue.state('ok')).toMatchObject({ status: 'finished', finished: { id: 'ok', type: 'probe', priority: 3, status: 'completed', attempts: 2, result: { data: { path: '/a', size: 3 } } } });
    const bytes = await queue.state('bytes');
    expect(bytes?.status === 'finished' ? bytes.finished.result.details : undefined).toEqual({ dataRetained: false });
    expect(await queue.state('bad')).toMatchObject({ finished: { status: 'failed', result: { error: { code: 'IO_ERROR', message: 'disk said no', retryable: false } } } });
    expect(await queue.state('never')).toBeUndefined();
  });

  it('keeps at most maxFinished finished tasks, dropping the oldest', async () => {
    const queue = await kind.open({ maxFinished: 3 });
    const consumer = new HandConsumer(1);
    queue.consume(consumer);
    for (let index = 0; index < 5; index += 1) {
      await queue.submit([queued(`t${String(index)}`)]);
      await consumer.handedOut(index + 1);
      consumer.finish(`t${String(index)}`);
      // Finish times are kept to the millisecond: keep them apart.
      await delay(2);
    }
    await delay(20);
    // A durable queue may sweep in batches: reopening runs a sweep.
    const checked = kind.sweep === undefined ? queue : await kind.sweep(queue, { maxFinished: 3 });
    const kept = await Promise.all(['t0', 't1', 't2', 't3', 't4'].map(async (id) => (await checked.state(id)) !== undefined));
    expect(kept).toEqual([false, false, true, true, true]);
  });

  it.runIf(kind.aging)('with aging, a task that waited long enough overtakes a later higher-priority one', async () => {
    const queue = await kind.open({ agingMs: 1 });
    await queue.submit([queued('old-low', 0)]);
    await delay(40);
    await queue.submit([queued('new-high', 10)]);
    const consumer = new HandConsumer(1);
    queue.consume(consumer);
    expect(await consumer.runAll(2)).toEqual(['old-low', 'new-high']);
  });

  it('tells the events a consumer publishes to every listener that wants them', async () => {
    const queue = await kind.open();
    const all = new EndRecorder();
    queue.subscribe(all);
    const none = { ended: () => undefined, event: () => expect.fail('told an event it did not want'), wants: () => false };
    const unsubscribe = queue.subscribe(none);
    expect(queue.wants('progress', 'x')).toBe(true);
    queue.publish('progress', { id: 'x', type: 'probe', bytesDone: 5 });
    await expect.poll(() => all.events).toContainEqual(['progress', { id: 'x', type: 'probe', bytesDone: 5 }]);
    unsubscribe();
  });

  it('unfinished() lists the tasks waiting, blocked and running, not those that ended; at most `limit`', async () => {
    const queue = await kind.open();
    await queue.submit([queued('done', 9), queued('run', 5), queued('wait', 1), queued('blocked', 0, { dependsOn: ['wait'] })]);
    const consumer = new HandConsumer(1);
    queue.consume(consumer);
    await consumer.handedOut(1);
    consumer.finish('done');
    await consumer.handedOut(2);
    await expect.poll(async () => (await queue.state('done'))?.status).toBe('finished');
    const listed = (await queue.unfinished?.(10)) ?? [];
    const byId = Object.fromEntries(listed.map((state) => [state.status === 'finished' ? '' : state.task.id, state.status]));
    expect(byId).toEqual({ run: 'running', wait: 'pending', blocked: 'pending' });
    expect((await queue.unfinished?.(2))?.length).toBe(2);
    consumer.finish('run');
  });

  it('unfinished() lists the tasks of one batch in their batch order (oldest first, ties in the order submitted)', async () => {
    const queue = await kind.open();
    const at = Date.now();
    const ids = Array.from({ length: 40 }, (_, index) => `b${String(index)}`);
    await queue.submit(ids.map((id, index) => queued(id, index % 3, { submittedAt: at })));
    await queue.submit([queued('later', 0, { submittedAt: at })]);
    const listed = (await queue.unfinished?.(100)) ?? [];
    expect(listed.map((state) => (state.status === 'finished' ? '' : state.task.id))).toEqual([...ids, 'later']);
  });

  it('stop() waits for the tasks handed out, cancels those still running at its deadline, and gives up on those that do not stop', async () => {
    const queue = await kind.open();
    await queue.submit([queued('quick', 1), queued('stuck', 0), queued('never', -1)]);
    const consumer = new HandConsumer(2);
    const consumption = queue.consume(consumer);
    await consumer.handedOut(2);
    const stopping = consumption.stop(100);
    consumer.finish('quick');
    expect(await stopping).toEqual({ cutOff: ['stuck'], abandoned: ['stuck'] });
    expect(consumer.cancels.map(([id]) => id)).toEqual(['stuck']);
    await delay(20);
    expect(consumer.ids).toEqual(['quick', 'stuck']);
  }, 10_000);

  it('stop() keeps the end of a task that the deadline cancellation reaches after its own end (its cleanup ran past the deadline): recorded, not cut off, not run again', async () => {
    const queue = await kind.open();
    await queue.submit([queued('late', 1)]);
    const consumer = new HandConsumer(1);
    const consumption = queue.consume(consumer);
    await consumer.handedOut(1);
    const stopping = consumption.stop(0);
    await expect.poll(() => consumer.cancels.map(([id]) => id)).toEqual(['late']);
    // Its work was done: the result is its own, not the cancellation's.
    consumer.finish('late');
    expect(await stopping).toEqual({ cutOff: [], abandoned: [] });
    await expect.poll(async () => (await queue.state('late'))?.status).toBe('finished');
    if (kind.crash !== undefined) {
      const next = await kind.crash(queue);
      const after = new HandConsumer(1);
      next.consume(after);
      await delay(300);
      expect(after.ids).toEqual([]);
      expect((await next.state('late'))?.status).toBe('finished');
    }
  }, 15_000);

  it.runIf(kind.durable)('stop() keeps a task its deadline cut off that then stops: its cancellation is not its end, and it runs again', async () => {
    const queue = await kind.open();
    await queue.submit([queued('cut', 1)]);
    const consumer = new HandConsumer(1);
    const consumption = queue.consume(consumer);
    await consumer.handedOut(1);
    const stopping = consumption.stop(50);
    await expect.poll(() => consumer.cancels.map(([id]) => id)).toEqual(['cut']);
    consumer.finish('cut', failed('cut', 'CANCELLED'));
    expect(await stopping).toEqual({ cutOff: ['cut'], abandoned: [] });
    expect((await queue.state('cut'))?.status).not.toBe('finished');
    const next = await (kind.crash as (queue: TaskQueue) => Promise<TaskQueue>)(queue);
    const after = new HandConsumer(1);
    next.consume(after);
    await after.handedOut(1);
    expect(after.ids).toEqual(['cut']);
    after.finish('cut');
    await expect.poll(async () => (await next.state('cut'))?.status).toBe('finished');
  }, 15_000);

  it.runIf(kind.durable)('after a crash, waiting tasks wait again and running ones run again, the cut-off attempt and interruption counted', async () => {
    const queue = await kind.open();
    await queue.submit([queued('running', 5), queued('done', 4), queued('waiting', 1), queued('blocked', 9, { dependsOn: ['running'] })]);
    const consumer = new HandConsumer(2);
    queue.consume(consumer);
    await consumer.handedOut(2);
    consumer.finish('done');
    await consumer.handedOut(3);
    // 'running' and 'waiting' are held when the process dies.
    const next = await (kind.crash as (queue: TaskQueue) => Promise<TaskQueue>)(queue);
    expect(await next.state('done')).toMatchObject({ status: 'finished' });
    expect(await next.state('blocked')).toMatchObject({ status: 'pending' });
    const after = new HandConsumer(1);
    next.consume(after);
    // Both cut-off tasks come back, each with the cut-off attempt and the interruption counted. (On
    // Redis, BullMQ hands a dead worker's jobs back unprioritized and the queue puts them back in
    // their place a moment later: the first one taken may be either.)
    for (let index = 0; index < 3; index += 1) {
      await after.handedOut(index + 1);
      after.finish(after.handed[index]?.id ?? '');
    }
    const back = after.handed.filter((task) => task.id !== 'blocked');
    expect(back.map((task) => [task.id, task.attempts, task.interruptions]).sort()).toEqual([
      ['running', 1, 1],
      ['waiting', 1, 1],
    ]);
    // The blocked one only once 'running' had completed.
    expect(after.ids.indexOf('blocked')).toBeGreaterThan(after.ids.indexOf('running'));
  }, 15_000);
});

describe('SqliteQueue', () => {
  it('refuses a second process on the same file while the first holds it', async () => {
    const file = join(dir, 'held.db');
    track(new SqliteQueue(file));
    const { runScript, repoModule } = await import('../helpers/child.js');
    const child = runScript(
      `import { SqliteQueue } from ${JSON.stringify(repoModule('src/orchestrator/queues/sqlite-queue.ts'))};
       try { new SqliteQueue(${JSON.stringify(file)}); console.log('opened'); } catch (error) { console.log(error.code, error.message); }`,
    );
    expect(child.stdout.trim()).toBe(`BACKEND_UNAVAILABLE the SQLite queue '${file}' is in use by another process`);
  });

  it('refuses a file that is not a SQLite database, and a task object', async () => {
    const { writeFileSync } = await import('node:fs');
    const file = join(dir, 'not-a-db');
    writeFileSync(file, 'hello, I am text and not a database at all, and I am long enough to have a header');
    expect(() => new SqliteQueue(file)).toThrow(expect.objectContaining({ code: 'BACKEND_UNAVAILABLE', message: expect.stringContaining(`cannot use the SQLite queue '${file}'`) as string }));
    const queue = track(new SqliteQueue(join(dir, 'ok.db')));
    await expect(queue.submit([{ ...queued('object'), config: { execute: () => undefined } as never }])).rejects.toThrow(/a durable queue stores task configs, not task objects/);
  });

  it('creates missing directories for its file', async () => {
    const queue = track(new SqliteQueue(join(dir, 'a', 'b', 'q.db')));
    await queue.submit([queued('x')]);
    expect(queue.name).toBe(`sqlite:${join(dir, 'a', 'b', 'q.db')}`);
  });

  it('refuses bad retention limits and aging', () => {
    expect(() => new SqliteQueue(join(dir, 'r.db'), { maxFinished: -1 })).toThrow(/maxFinished must be a non-negative integer/);
    expect(() => new SqliteQueue(join(dir, 'r.db'), { agingMs: 0 })).toThrow(/agingMs must be a positive number/);
  });
});
