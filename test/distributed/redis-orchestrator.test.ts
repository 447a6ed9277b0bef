import { getEventListeners } from 'node:events';
import { setTimeout as delay } from 'node:timers/promises';
import { Redis } from 'ioredis';
import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { compareStreamIds } from '../../src/distributed/redis-event-stream.js';
import { jobIdOf } from '../../src/distributed/redis-records.js';
import { RedisStore } from '../../src/distributed/redis-store.js';
import { FINISH_SCRIPT, SCRIPT_KEYS } from '../../src/distributed/redis-scripts.js';
import { Orchestrator, type AnyOrchestrator } from '../../src/orchestrator/orchestrator.js';
import { RedisQueue } from '../../src/distributed/redis-queue.js';
import { redisOrchestrator } from '../helpers/redis-orchestrator.js';
import { ErrorCode, TaskforgeError } from '../../src/core/errors.js';
import { PriorityQueue } from '../../src/orchestrator/priority-queue.js';
import { BaseTask, type AttemptContext } from '../../src/tasks/base-task.js';
import type { QueuedTask } from '../../src/orchestrator/task-queue.js';
import type { TaskConfig, ValidTaskConfig } from '../../src/tasks/task-config.js';
import type { TaskResult } from '../../src/tasks/task-result.js';
import { Journal, probe, ProbeTask } from '../helpers/probe-task.js';
import { startRedisServer, type RedisServer } from '../helpers/redis-server.js';
import { serviceAvailable } from '../helpers/services.js';
import { freePort } from '../helpers/free-port.js';
import { makeTempDir } from '../helpers/temp-dir.js';

const haveRedis = serviceAvailable('Redis', 'redis-server', 'apt-get install -y redis-server');

/** Fails with a retryable error until its attempt number passes `metadata.failTimes`. */
class FlakyTask extends BaseTask<string> {
  protected override executeTask(_signal: AbortSignal, { attempt, config }: AttemptContext<ValidTaskConfig>): Promise<string> {
    const failTimes = (config.metadata as { failTimes?: number } | undefined)?.failTimes ?? 0;
    if (attempt <= failTimes) throw new TaskforgeError(ErrorCode.IO_ERROR, `flaky '${this.id}' attempt ${String(attempt)}`, { retryable: true });
    return Promise.resolve(`ok after ${String(attempt)}`);
  }
}

const taskTypes = { probe: ProbeTask, flaky: FlakyTask };

describe.runIf(haveRedis)('the orchestrator on Redis (workers in this process)', () => {
  let server: RedisServer | undefined;
  let name = '';
  let count = 0;
  let journal = new Journal();
  const cleanups: (() => Promise<void>)[] = [];

  beforeAll(async () => {
    server = await startRedisServer();
  }, 20_000);
  afterAll(async () => {
    await server?.stop();
  });
  beforeEach(() => {
    count += 1;
    name = `orch-${String(count)}`;
    journal = new Journal();
  });
  afterEach(async () => {
    for (const cleanup of cleanups.splice(0).reverse()) await cleanup();
  });

  async function client(): Promise<AnyOrchestrator> {
    const { orchestrator: made } = await redisOrchestrator({ url: server?.url ?? '', name }, { taskTypes });
    cleanups.push(() => made.shutdown());
    return made;
  }

  /** A BullMQ worker of our own takes the next job, as a taskforge worker that will "die" would. */
  async function takeJobByHand(lockDuration = 30_000): Promise<{ job: { readonly id?: string; readonly processedOn?: number }; token: string; manual: { close(): Promise<void> } }> {
    const { Worker } = await import('bullmq');
    const port = Number(new URL(server?.url ?? '').port);
    const manual = new Worker(name, null, { connection: { host: '127.0.0.1', port, maxRetriesPerRequest: null }, prefix: 'taskforge:bull', lockDuration });
    const token = 'dying-worker';
    const job = (await manual.getNextJob(token, { block: false })) as { readonly id?: string; readonly processedOn?: number } | undefined;
    if (job === undefined) throw new Error('no job');
    return { job, token, manual };
  }

  async function worker(concurrency = 4, options: { lockDurationMs?: number; stalledIntervalMs?: number } = {}): Promise<AnyOrchestrator> {
    const { orchestrator: made } = await redisOrchestrator({ url: server?.url ?? '', name, ...options }, { concurrency, taskTypes, context: { journal } });
    cleanups.push(() => made.shutdown({ timeoutMs: 1000 }));
    return made;
  }

  it('runs tasks in taskforge order across the queue: larger priority first, FIFO among equals (200 random)', async () => {
    const orchestrator = await client();
    const reference = new PriorityQueue<string>();
    const configs: TaskConfig[] = [];
    for (let index = 0; index < 200; index += 1) {
      const priority = Math.floor(Math.random() * 7) - 3;
      configs.push(probe(`p${String(index)}`, priority));
      reference.push(`p${String(index)}`, priority);
    }
    const handles = await orchestrator.submitAll(configs);
    await worker(1);
    const results = await Promise.all(handles.map((handle) => handle.result));
    expect(results.every((result) => result.status === 'completed')).toBe(true);
    const expected: string[] = [];
    for (let next = reference.pop(); next !== undefined; next = reference.pop()) expected.push(next);
    expect(journal.startOrder).toEqual(expected);
  });

  it("takes a batch of 25,000 tasks in one submit, all or none (80,000 script arguments: past what a call's stack holds if spread)", async () => {
    const orchestrator = await client();
    const configs = Array.from({ length: 25_000 }, (_, index) => probe(`big${String(index)}`, index % 5));
    const handles = await orchestrator.submitAll(configs);
    expect(handles).toHaveLength(25_000);
    expect((await orchestrator.counts()).waiting).toBe(25_000);
    // The same batch again with one duplicate at its end: nothing of it is stored.
    const again = [...Array.from({ length: 24_999 }, (_, index) => probe(`more${String(index)}`, 0)), probe('big7', 0)];
    await expect(orchestrator.submitAll(again)).rejects.toMatchObject({ code: 'ALREADY_EXISTS' });
    expect((await orchestrator.counts()).waiting).toBe(25_000);
  }, 60_000);

  it("a worker's onIdle resolves once the tasks it ran have ended (it reads no ends it does not wait for)", async () => {
    const orchestrator = await client();
    const running = await worker(2);
    const handles = await orchestrator.submitAll([probe('idle-a', 0, { ms: 150 }), probe('idle-b', 0, { ms: 150 })]);
    while (running.running === 0) await delay(5);
    await running.onIdle();
    expect(running.running).toBe(0);
    expect(journal.startOrder.sort()).toEqual(['idle-a', 'idle-b']);
    const results = await Promise.all(handles.map((handle) => handle.result));
    expect(results.map((result) => result.status)).toEqual(['completed', 'completed']);
  });

  it('an orchestrator that waits for nothing reads no events from the stream; once it waits, it hears the ends that follow', async () => {
    const submitter = await client();
    await worker(4);
    const bystander = await client();
    const burst = await submitter.submitAll(Array.from({ length: 100 }, (_, index) => probe(`burst-${String(index)}`, 0)));
    await Promise.all(burst.map((handle) => handle.result));
    // Nobody waits for anything now. (A read begun while the submitter waited blocks at most a second.)
    const stats = new Redis(server?.url ?? '');
    cleanups.push(async () => {
      await stats.quit();
    });
    const xreads = async (): Promise<number> => Number(/cmdstat_xread:calls=(\d+)/.exec(await stats.info('commandstats'))?.[1] ?? 0);
    await delay(1200);
    const before = await xreads();
    await delay(1000);
    expect(await xreads()).toBe(before);
    // The bystander comes to wait: for a task another process submitted, and for one of its own; the worker runs both.
    await submitter.submit(probe('theirs', 0, { ms: 200 }));
    const [theirs, own] = await Promise.all([bystander.result('theirs'), bystander.submit(probe('own', 0, { ms: 50 })).then((handle) => handle.result)]);
    expect(theirs).toMatchObject({ id: 'theirs', status: 'completed', data: 'done:theirs' });
    expect(own).toMatchObject({ id: 'own', status: 'completed', data: 'done:own' });
    expect(await xreads()).toBeGreaterThan(before);
  });

  it('hands each result and event to the submitter: data, attempts, start, retry and complete events', async () => {
    const orchestrator = await client();
    const seen: string[] = [];
    orchestrator.on('start', (event) => seen.push(`start:${event.id}`));
    orchestrator.on('retry', (event) => seen.push(`retry:${event.id}:${String(event.attempt)}`));
    orchestrator.on('complete', (result) => seen.push(`complete:${result.id}`));
    await worker();
    const handle = await orchestrator.submit({ id: 'flaky', type: 'flaky', metadata: { failTimes: 2, options: { retries: 3 } } });
    const result = await handle.result;
    expect(result).toMatchObject({ id: 'flaky', status: 'completed', success: true, data: 'ok after 3', attempts: 3 });
    expect(seen).toEqual(['start:flaky', 'retry:flaky:1', 'retry:flaky:2', 'complete:flaky']);
    expect(await orchestrator.get('flaky')).toMatchObject({ status: 'completed', attempts: 3, result: { data: 'ok after 3' } });
  });

  it('times a task out as in one process: FAILED with TIMEOUT, and the error event carries it', async () => {
    const orchestrator = await client();
    const errors: string[] = [];
    orchestrator.on('error', (event) => errors.push(`${event.id}:${event.error.code}`));
    await worker();
    const handle = await orchestrator.submit({ ...probe('slow'), metadata: { ms: 2000, options: { timeout: 100 } } });
    expect(await handle.result).toMatchObject({ status: 'failed', error: { code: 'TIMEOUT' } });
    expect(errors).toEqual(['slow:TIMEOUT']);
  });

  it('runs dependents only after their dependencies complete, whichever worker finishes them', async () => {
    const orchestrator = await client();
    await worker(2);
    await worker(2);
    const handles = await orchestrator.submitAll([
      probe('c', 9, {}, { dependsOn: ['b'] }),
      probe('b', 5, { ms: 30 }, { dependsOn: ['a'] }),
      probe('a', 0, { ms: 30 }),
      probe('free', 1),
    ]);
    const results = await Promise.all(handles.map((handle) => handle.result));
    expect(results.map((result) => result.status)).toEqual(['completed', 'completed', 'completed', 'completed']);
    const order = journal.lines.filter((line) => /^(start|end):[abc]$/.test(line));
    expect(order).toEqual(['start:a', 'end:a', 'start:b', 'end:b', 'start:c', 'end:c']);
    // A later task may depend on a finished one.
    const later = await orchestrator.submit(probe('d', 0, {}, { dependsOn: ['c'] }));
    expect((await later.result).status).toBe('completed');
  });

  it('a worker runs only the task types it registers: the others wait, not failed, behind nothing of its own, until a worker that registers them comes', async () => {
    const orchestrator = await client();
    // A worker of one type only (flaky), as a fleet of specialised workers has.
    const { orchestrator: flakyOnly } = await redisOrchestrator({ url: server?.url ?? '', name }, { concurrency: 2, taskTypes: { flaky: FlakyTask }, context: { journal } });
    cleanups.push(() => flakyOnly.shutdown({ timeoutMs: 1000 }));
    const warnings: string[] = [];
    const onWarning = (warning: Error): void => {
      if (warning.name === 'TaskforgeWarning' && warning.message.includes(`name=${name},`)) warnings.push(warning.message);
    };
    process.on('warning', onWarning);
    cleanups.push(() => {
      process.off('warning', onWarning);
      return Promise.resolve();
    });
    const probes = await orchestrator.submitAll([probe('p-1', 9), probe('p-2', 9), { ...probe('p-3', 0), dependsOn: ['p-1'] }]);
    const flakies = await orchestrator.submitAll([0, 1, 2].map((index) => ({ id: `f-${String(index)}`, type: 'flaky', priority: index - 5 })));
    // The flaky tasks run though the probes (of higher priority) wait ahead of them.
    const flakyResults = await Promise.all(flakies.map((handle) => handle.result));
    expect(flakyResults.map((result) => result.status)).toEqual(['completed', 'completed', 'completed']);
    await delay(300);
    expect(journal.startOrder).toEqual([]);
    // Said once, however many takes looked past them.
    expect(warnings).toEqual([expect.stringContaining("tasks of type 'probe' wait in the queue") as unknown]);
    expect(await Promise.all(probes.map(async (handle) => (await orchestrator.get(handle.id))?.status))).toEqual(['pending', 'pending', 'pending']);
    // A worker that registers probe runs them, in their order.
    await worker(1);
    const probeResults = await Promise.all(probes.map((handle) => handle.result));
    expect(probeResults.map((result) => [result.status, result.attempts])).toEqual([
      ['completed', 1],
      ['completed', 1],
      ['completed', 1],
    ]);
    expect(journal.startOrder).toEqual(['p-1', 'p-2', 'p-3']);
  });

  it('records a batch of ends once each, and fails thousands of dependents of one failed task (more than one script chunk)', async () => {
    const queue = await RedisStore.open({ url: server?.url ?? '', name });
    cleanups.push(() => queue.close());
    const at = Date.now();
    const task = (id: string, dependsOn?: string[]): QueuedTask => ({ id, type: 'probe', priority: 0, config: { type: 'probe' }, attempts: 0, submittedAt: at, dependsOn });
    const result = (id: string, success: boolean): TaskResult => {
      const base = { id, type: 'probe', attempts: 1, startedAt: new Date(at).toISOString(), finishedAt: new Date(at).toISOString(), durationMs: 0 };
      return success
        ? { ...base, status: 'completed', success, data: 'done' }
        : { ...base, status: 'failed', success, error: { code: 'IO_ERROR', message: 'disk on fire', retryable: false } };
    };
    const children = Array.from({ length: 2500 }, (_, index) => task(`child-${String(index)}`, ['root']));
    await queue.submit([task('root'), task('other'), ...children]);
    // The same task twice in one batch, and an unknown one: recorded once, and not at all.
    expect(await queue.settleMany([{ id: 'other', result: result('other', true) }, { id: 'other', result: result('other', true) }, { id: 'ghost', result: result('ghost', true) }])).toEqual([true, false, false]);
    expect(await queue.settleMany([{ id: 'root', result: result('root', false) }])).toEqual([true]);
    const ended = await queue.finished.getMany(children.map((child) => child.id));
    expect(ended.every((finished) => finished?.result.error?.code === 'DEPENDENCY_FAILED')).toBe(true);
    expect(ended[2499]?.result.error?.details).toEqual({ dependency: 'root', dependencyCode: 'IO_ERROR', root: 'root', rootCode: 'IO_ERROR' });
    // No child is left blocked; only the two jobs handed to BullMQ wait (settleMany records ends, it takes no job).
    expect((await queue.counts()).waiting).toBe(2);
  });

  it('fails dependents of a failed task transitively, without running them; at submit too', async () => {
    const orchestrator = await client();
    await worker();
    const handles = await orchestrator.submitAll([probe('bad', 0, { ms: 20, fail: 'IO_ERROR' }), probe('child', 0, {}, { dependsOn: ['bad'] }), probe('grandchild', 0, {}, { dependsOn: ['child'] })]);
    const [bad, child, grandchild] = await Promise.all(handles.map((handle) => handle.result));
    expect(bad).toMatchObject({ status: 'failed', error: { code: 'IO_ERROR' } });
    expect(child).toMatchObject({ status: 'failed', attempts: 0, error: { code: 'DEPENDENCY_FAILED', message: "task 'child' did not run: its dependency 'bad' did not complete (IO_ERROR)", details: { dependency: 'bad', dependencyCode: 'IO_ERROR' } } });
    expect(grandchild).toMatchObject({ status: 'failed', error: { code: 'DEPENDENCY_FAILED', details: { dependency: 'child', dependencyCode: 'DEPENDENCY_FAILED' } } });
    expect(journal.startOrder).toEqual(['bad']);
    const late = await orchestrator.submit(probe('late', 0, {}, { dependsOn: ['bad'] }));
    expect(await late.result).toMatchObject({ status: 'failed', error: { code: 'DEPENDENCY_FAILED' } });
  });

  it('refuses at submit what it cannot queue, storing nothing: unknown dependency, cycle, duplicate id, priority out of range, unknown type', async () => {
    const orchestrator = await client();
    await expect(orchestrator.submit(probe('x', 0, {}, { dependsOn: ['ghost'] }))).rejects.toMatchObject({ code: 'VALIDATION_ERROR', message: expect.stringMatching(/^dependsOn\[0\]: no task with id 'ghost' is known/) as string });
    await expect(orchestrator.submitAll([probe('a', 0, {}, { dependsOn: ['b'] }), probe('b', 0, {}, { dependsOn: ['a'] })])).rejects.toMatchObject({ code: 'VALIDATION_ERROR', message: expect.stringContaining('a dependency cycle: a -> b -> a') as string });
    await orchestrator.submit(probe('taken'));
    await expect(orchestrator.submitAll([probe('fresh'), probe('taken')])).rejects.toMatchObject({ code: 'ALREADY_EXISTS', message: "a task with id 'taken' already exists ([1])" });
    await expect(orchestrator.submit(probe('half', 1.5))).rejects.toMatchObject({ code: 'VALIDATION_ERROR', message: expect.stringMatching(/^priority: the Redis queue orders whole numbers/) as string });
    await expect(orchestrator.submit({ id: 'odd', type: 'nosuch' })).rejects.toMatchObject({ code: 'VALIDATION_ERROR', message: expect.stringMatching(/^type: no task type 'nosuch' is registered/) as string });
    for (const id of ['x', 'a', 'b', 'fresh', 'half', 'odd']) expect(await orchestrator.get(id)).toBeUndefined();
    expect(await orchestrator.get('taken')).toMatchObject({ status: 'pending' });
  });

  it('cancels a waiting task, a blocked one (failing its dependent) and a running one (its signal fires on the worker)', async () => {
    const orchestrator = await client();
    const cancels: string[] = [];
    orchestrator.on('cancel', (event) => cancels.push(`${event.id}:${event.previousStatus}`));
    const [waiting, blocker, blocked, dependent] = await orchestrator.submitAll([
      probe('waiting'),
      probe('blocker', -5, { ms: 5000 }),
      probe('blocked', 0, {}, { dependsOn: ['blocker'] }),
      probe('dependent', 0, {}, { dependsOn: ['blocked'] }),
    ]);
    expect(await orchestrator.cancel('waiting', 'not needed')).toMatchObject({ status: 'failed', attempts: 0, error: { code: 'CANCELLED', message: "task 'waiting' was cancelled before it ran: not needed" } });
    expect(await waiting.result).toMatchObject({ error: { code: 'CANCELLED' } });
    expect(await orchestrator.cancel('blocked')).toMatchObject({ status: 'failed', error: { code: 'CANCELLED' } });
    expect(await dependent.result).toMatchObject({ error: { code: 'DEPENDENCY_FAILED' } });
    await worker(1);
    for (let waited = 0; !journal.signals.has('blocker') && waited < 5000; waited += 10) await delay(10);
    const cancelled = await orchestrator.cancel('blocker', 'enough');
    expect(cancelled).toMatchObject({ status: 'failed', error: { code: 'CANCELLED' } });
    expect(journal.signals.get('blocker')?.aborted).toBe(true);
    expect(await blocker.result).toEqual(cancelled);
    expect(await blocked.result).toMatchObject({ error: { code: 'CANCELLED' } });
    expect(journal.startOrder).toEqual(['blocker']);
    expect(cancels).toEqual(['waiting:pending', 'blocked:pending', 'blocker:running']);
    await expect(orchestrator.cancel('blocker')).rejects.toMatchObject({ code: 'INVALID_STATE' });
    await expect(orchestrator.cancel('nobody')).rejects.toMatchObject({ code: 'NOT_FOUND' });
  });

  it('removes a job only while it waits: not one a worker holds, nor one already gone (its task ended there: a cancel then waits for that end)', async () => {
    const store = await RedisStore.open({ url: server?.url ?? '', name });
    cleanups.push(() => store.close());
    const at = Date.now();
    const task = (id: string, priority: number): QueuedTask => ({ id, type: 'probe', priority, config: { type: 'probe' }, attempts: 0, submittedAt: at, dependsOn: undefined });
    await store.submit([task('held', 9), task('ranked', 3)]);
    const { job, manual } = await takeJobByHand();
    cleanups.push(() => manual.close());
    expect(job.id).toBe(jobIdOf('held'));
    // Every taskforge job is prioritized; a job of BullMQ's plain wait list (BullMQ's priority 0) is removed the same way.
    const { Queue } = await import('bullmq');
    const port = Number(new URL(server?.url ?? '').port);
    const bull = new Queue(name, { connection: { host: '127.0.0.1', port, maxRetriesPerRequest: null }, prefix: 'taskforge:bull' });
    cleanups.push(() => bull.close());
    await bull.add('probe', {}, { jobId: jobIdOf('listed') });
    const redis = new Redis(server?.url ?? '');
    cleanups.push(() => {
      redis.disconnect();
      return Promise.resolve();
    });
    // Waiting: removed, the job's hash with it, with BullMQ's 'removed' event.
    expect(await store.removeWaiting('ranked')).toEqual({ runsStarted: 0 });
    expect(await store.removeWaiting('listed')).toEqual({ runsStarted: 0 });
    expect(await redis.exists(`${store.jobKeyPrefix}${jobIdOf('ranked')}`, `${store.jobKeyPrefix}${jobIdOf('listed')}`)).toBe(0);
    const removed = (await redis.xrange(`${store.jobKeyPrefix}events`, '-', '+')).map(([, fields]) => fields.join(' ')).filter((fields) => fields.startsWith('event removed'));
    expect(removed).toEqual([`event removed jobId ${jobIdOf('ranked')} prev prioritized`, `event removed jobId ${jobIdOf('listed')} prev wait`]);
    // Held by a worker: left alone.
    expect(await store.removeWaiting('held')).toBeUndefined();
    expect(await redis.exists(`${store.jobKeyPrefix}${jobIdOf('held')}`)).toBe(1);
    // Gone (its task ended on a worker, which removed the job): not removed. BullMQ's own remove says 1 for a job
    // that is not there, so a cancel whose request a worker had already acted on took that end for someone else's
    // and said the task was "already failed".
    expect(await store.removeWaiting('ranked')).toBeUndefined();
    expect(await store.removeWaiting('never-submitted')).toBeUndefined();
  });

  it('reports a task as pending, running, then finished; and hands the result to a client that did not submit it', async () => {
    const submitter = await client();
    const observer = await client();
    await submitter.submit(probe('watched', 0, { ms: 300 }));
    expect(await observer.get('watched')).toMatchObject({ id: 'watched', type: 'probe', status: 'pending', attempts: 0 });
    const later = observer.result('watched');
    await worker();
    for (let waited = 0; !journal.signals.has('watched') && waited < 5000; waited += 10) await delay(10);
    expect(await observer.get('watched')).toMatchObject({ status: 'running' });
    expect(await later).toMatchObject({ id: 'watched', status: 'completed', data: 'done:watched' });
    expect(await observer.get('watched')).toMatchObject({ status: 'completed', result: { data: 'done:watched' } });
    await expect(observer.result('nobody')).rejects.toMatchObject({ code: 'NOT_FOUND' });
  });

  it('a submit of an id already in use fails with ALREADY_EXISTS and leaves the earlier waiters of that id their result', async () => {
    const submitter = await client();
    const observer = await client();
    const first = await submitter.submit(probe('twice', 0, { ms: 50 }));
    const watched = observer.result('twice');
    await expect(observer.submit(probe('twice'))).rejects.toMatchObject({ code: 'ALREADY_EXISTS', message: "a task with id 'twice' already exists" });
    await expect(submitter.submitAll([probe('other'), probe('twice')])).rejects.toMatchObject({ code: 'ALREADY_EXISTS', message: "a task with id 'twice' already exists ([1])" });
    expect(await submitter.get('other')).toBeUndefined();
    await worker();
    expect(await first.result).toMatchObject({ id: 'twice', status: 'completed', data: 'done:twice' });
    expect(await watched).toMatchObject({ id: 'twice', status: 'completed', data: 'done:twice' });
    expect(journal.startOrder).toEqual(['twice']);
  });

  it('a task whose queue lost its data (no reconnection: its keys and epoch vanished) ends FAILED with LOST, and the error event tells it', async () => {
    const orchestrator = await client();
    const errors: string[] = [];
    orchestrator.on('error', (event) => errors.push(`${event.id}:${event.type}:${event.error.code}`));
    const [gone, kept] = await orchestrator.submitAll([probe('gone'), probe('kept')]);
    const { Redis } = await import('ioredis');
    const redis = new Redis(server?.url ?? '');
    cleanups.push(() => {
      redis.disconnect();
      return Promise.resolve();
    });
    // The queue's data is lost, as after a failover to a replica that was behind; 'kept' is put back as if the replica had it.
    const keep = await redis.hget(`taskforge:${name}:tasks`, 'kept');
    const keys = [...(await redis.keys(`taskforge:${name}:*`)), ...(await redis.keys(`taskforge:bull:${name}:*`))];
    await redis.del(...keys);
    await redis.hset(`taskforge:${name}:tasks`, 'kept', keep ?? '');
    // Its type is the one it was submitted with: the queue lost it, the submitter did not.
    expect(await gone.result).toMatchObject({ id: 'gone', type: 'probe', status: 'failed', attempts: 0, error: { code: 'LOST', message: expect.stringContaining("task 'gone' was lost: the queue") as string } });
    expect(errors).toEqual(['gone:probe:LOST']);
    // The task the queue still holds is still waited for.
    expect(await orchestrator.get('kept')).toMatchObject({ status: 'pending' });
    expect(await Promise.race([kept.result, delay(100).then(() => 'still waited for')])).toBe('still waited for');
  });

  it('a task never runs again once its end is recorded: a hand-over to BullMQ that comes late (after the sweep handed it over and a worker finished it) makes a job that is dropped unrun', async () => {
    const orchestrator = await client();
    await worker(2);
    const queue = await RedisStore.open({ url: server?.url ?? '', name });
    cleanups.push(() => queue.close());
    const handle = await orchestrator.submit(probe('once'));
    expect(await handle.result).toMatchObject({ status: 'completed', attempts: 1 });
    // The submitter that stored it, slower than the 30 s sweep, hands it to BullMQ only now: the job is made again.
    // It carries the release time its releasing entry recorded, more than 30 s ago.
    const spec: QueuedTask = { id: 'once', type: 'probe', priority: 0, config: probe('once'), dependsOn: undefined, attempts: 0, submittedAt: Date.now() - 31_000 };
    await queue.handOver([JSON.stringify(spec)], Date.now() - 31_000);
    for (let waited = 0; (await queue.bull.getJobState(jobIdOf(spec.id))) !== 'unknown'; waited += 10) {
      if (waited > 10_000) throw new Error('the job made again was never taken');
      await delay(10);
    }
    expect(journal.startOrder).toEqual(['once']);
    expect(await orchestrator.get('once')).toMatchObject({ status: 'completed', attempts: 1 });
  });

  it('says when Redis refuses the URL\'s user (a password needed or wrong, a user without the queue\'s keys): PERMISSION_DENIED, not "cannot reach"', async () => {
    const own = await startRedisServer();
    const admin = new Redis(own.url);
    try {
      await admin.call('ACL', 'SETUSER', 'limited', 'on', '>limitedpw', '~other:*', '+@all');
      await admin.config('SET', 'requirepass', 'adminpw');
      const at = own.url.replace('redis://', '');
      await expect(RedisQueue.open({ url: own.url, connectTimeoutMs: 2000 })).rejects.toMatchObject({ code: 'PERMISSION_DENIED', message: expect.stringMatching(/^Redis refused the queue redis:\/\/127\.0\.0\.1:\d+\?name=tasks: NOAUTH .*\(the server wants a password: redis:\/\/:PASSWORD@HOST:PORT, or USER:PASSWORD@\)$/) as unknown });
      await expect(RedisQueue.open({ url: `redis://default:wrong@${at}`, connectTimeoutMs: 2000 })).rejects.toMatchObject({ code: 'PERMISSION_DENIED', message: expect.stringMatching(/WRONGPASS .*\(the URL's user name or password is wrong\)$/) as unknown });
      const noKeys = RedisQueue.open({ url: `redis://limited:limitedpw@${at}`, name: 'team', connectTimeoutMs: 2000 });
      await expect(noKeys).rejects.toMatchObject({ code: 'PERMISSION_DENIED', message: expect.stringMatching(/^Redis refused the queue redis:\/\/\*\*\*@127\.0\.0\.1:\d+\?name=team: NOPERM .*the keys taskforge:team:\* and taskforge:bull:team:\*/) as unknown });
      await expect(noKeys).rejects.toMatchObject({ message: expect.not.stringContaining('limitedpw') as unknown });
      // The README's recipe for a team's user (its queue's keys and channels) runs and cancels that queue's tasks.
      await admin.call('ACL', 'SETUSER', 'team', 'on', '>teampw', '~taskforge:team:*', '~taskforge:bull:team:*', '&taskforge:team:*', '+@all');
      const teamUrl = `redis://team:teampw@${at}?name=team`;
      const teamWorker = new Orchestrator({ queue: teamUrl, concurrency: 1, taskTypes, context: { journal: new Journal() } });
      const teamClient = new Orchestrator({ queue: teamUrl, concurrency: 0, taskTypes });
      try {
        const done = await teamClient.submit(probe('fine', 0, {}));
        expect(await done.result).toMatchObject({ status: 'completed' });
        const long = await teamClient.submit(probe('long', 0, { ms: 60_000 }));
        await expect.poll(async () => (await teamClient.get('long'))?.status, { timeout: 10_000 }).toBe('running');
        // A submitter whose user lacks the queue's channels is refused its cancel, and told which grant it needs (not "Redis failed").
        await admin.call('ACL', 'SETUSER', 'deaf', 'on', '>deafpw', '~taskforge:team:*', '~taskforge:bull:team:*', 'resetchannels', '+@all');
        const deafClient = new Orchestrator({ queue: `redis://deaf:deafpw@${at}?name=team`, concurrency: 0, taskTypes });
        try {
          await expect(deafClient.cancel('long')).rejects.toMatchObject({
            code: 'PERMISSION_DENIED',
            message: expect.stringMatching(/^Redis refused the queue redis:\/\/\*\*\*@127\.0\.0\.1:\d+\?name=team: .*channel.*\(the URL's user may not use the queue's channels: give it &taskforge:team:\*\)$/) as unknown,
          });
        } finally {
          await deafClient.shutdown();
        }
        // Refused whole: no mark of a cancel asked for is left (a worker that took the task over after a crash would cancel it).
        expect(await admin.sismember('taskforge:team:cancels', 'long')).toBe(0);
        // The attempt under way is counted, as in one process and on SQLite.
        expect(await teamClient.get('long')).toMatchObject({ status: 'running', attempts: 1 });
        expect(await teamClient.unfinished()).toMatchObject([{ id: 'long', status: 'running', attempts: 1 }]);
        expect(await teamClient.cancel('long')).toMatchObject({ status: 'failed', error: { code: 'CANCELLED' } });
        expect(await long.result).toMatchObject({ error: { code: 'CANCELLED' } });
      } finally {
        await teamClient.shutdown();
        await teamWorker.shutdown({ timeoutMs: 1000 });
      }
    } finally {
      admin.disconnect();
      await own.kill();
    }
  });

  it('refuses a bad URL or queue name, and says when Redis does not answer', async () => {
    expect(() => new Orchestrator({ queue: 'http://localhost:6379' })).toThrow(expect.objectContaining({ code: 'VALIDATION_ERROR', message: expect.stringContaining("expected 'memory', 'sqlite:FILE' or 'redis://") as string }));
    expect(() => new Orchestrator({ queue: 'redis://u:secret@localhost:6379/x' })).toThrow(expect.objectContaining({ message: expect.not.stringContaining('secret') as string }));
    expect(() => new Orchestrator({ queue: `${server?.url ?? ''}?name=a:b` })).toThrow(expect.objectContaining({ code: 'VALIDATION_ERROR', message: expect.stringContaining('a Redis queue name is') as string }));
    await expect(RedisQueue.open({ url: server?.url ?? '', name: 'a:b' })).rejects.toMatchObject({ code: 'VALIDATION_ERROR' });
    const deadPort = await freePort();
    const started = Date.now();
    await expect(RedisQueue.open({ url: `redis://127.0.0.1:${String(deadPort)}`, connectTimeoutMs: 500 })).rejects.toMatchObject({ code: 'BACKEND_UNAVAILABLE', message: expect.stringContaining('cannot reach Redis') as string });
    expect(Date.now() - started).toBeLessThan(5000);
    // Given as a URL, the queue is opened in the background: the first call that needs it says Redis does not answer.
    const unreachable = new Orchestrator({ queue: `redis://127.0.0.1:${String(deadPort)}`, concurrency: 0 });
    await expect(unreachable.submit(probe('nowhere'))).rejects.toMatchObject({ code: 'BACKEND_UNAVAILABLE' });
    await unreachable.shutdown();
    // A signal ends the wait for a server that never answers (TLS asked of a plain Redis: no reply ever comes): open() rejects with its reason, not at the timeout.
    const stop = new AbortController();
    const opening = RedisQueue.open({ url: (server?.url ?? '').replace('redis:', 'rediss:'), connectTimeoutMs: 60_000, signal: stop.signal });
    setTimeout(() => {
      stop.abort(new Error('told to stop'));
    }, 200);
    await expect(opening).rejects.toThrow('told to stop');
    await expect(RedisQueue.open({ url: server?.url ?? '', signal: AbortSignal.abort(new Error('stopped before')) })).rejects.toThrow('stopped before');
    // Opened under a signal that never fires: no listener is left on it.
    const kept = new AbortController();
    const opened = await RedisQueue.open({ url: server?.url ?? '', signal: kept.signal });
    await opened.close();
    expect(getEventListeners(kept.signal, 'abort')).toEqual([]);
  });

  it('a worker and a submitter holding nothing shut down while their Redis server is gone: reads it left waiting on a reconnection do not hold them', async () => {
    const own = await startRedisServer();
    const queue = `${own.url}?name=gone`;
    const idle = new Orchestrator({ queue, concurrency: 2, taskTypes, context: { journal } });
    const submitter = new Orchestrator({ queue, concurrency: 0, taskTypes });
    expect(await submitter.submit(probe('before')).then((handle) => handle.result)).toMatchObject({ status: 'completed' });
    await own.kill();
    // Longer than the event feed's wait between reads (250 ms) and its blocking read (1 s): each client has a
    // read queued for the reconnection, which ioredis never settles once the connection is ended.
    await new Promise((resolve) => setTimeout(resolve, 1500));
    const stopped = Promise.all([idle.shutdown({ timeoutMs: 200 }), submitter.shutdown({ timeoutMs: 200 })]).then(() => 'stopped');
    const stillWaiting = new Promise((resolve) => setTimeout(resolve, 15_000, 'still waiting after 15 s')).then(String);
    expect(await Promise.race([stopped, stillWaiting])).toBe('stopped');
    expect(idle.shutdownReport).toEqual({ cutOff: [], abandoned: [], waiting: 0 });
  }, 30_000);

  it('a worker whose task ended while its Redis server was gone shuts down all the same (the end it could not record is not waited for without end), and the task runs again once Redis is back: not lost', async () => {
    const { path: folder, remove } = await makeTempDir('redis-end-unrecorded-');
    let own = await startRedisServer({ keepIn: folder });
    const queue = `${own.url}?name=unrecorded`;
    const first = new Journal();
    const worker = new Orchestrator({ queue: await RedisQueue.open({ url: own.url, name: 'unrecorded', lockDurationMs: 500, stalledIntervalMs: 200 }), concurrency: 2, taskTypes, context: { journal: first } });
    const submitter = new Orchestrator({ queue, concurrency: 0, taskTypes });
    const second = new Journal();
    let after: AnyOrchestrator | undefined;
    try {
      const handle = await submitter.submit(probe('ends-meanwhile', 0, { ms: 600 }));
      for (let waited = 0; !first.lines.includes('start:ends-meanwhile'); waited += 20) {
        if (waited > 10_000) throw new Error('the task did not start');
        await delay(20);
      }
      await own.kill();
      // The task ends while Redis is away: its end's recording waits on a reconnection.
      for (let waited = 0; !first.lines.includes('end:ends-meanwhile'); waited += 20) {
        if (waited > 10_000) throw new Error('the task did not end');
        await delay(20);
      }
      await delay(300);
      const stopped = worker.shutdown({ timeoutMs: 200 }).then(() => 'stopped');
      const stillWaiting = new Promise((resolve) => setTimeout(resolve, 15_000, 'still waiting after 15 s')).then(String);
      expect(await Promise.race([stopped, stillWaiting])).toBe('stopped');
      // Said, not passed over: the task ran to its end here, and runs again.
      expect(worker.shutdownReport).toEqual({ cutOff: [], abandoned: [], waiting: 0, unrecorded: ['ends-meanwhile'] });
      // Back with its data: the end never reached it, so the job's lock lapses and another worker runs the task again.
      own = await startRedisServer({ port: own.port, keepIn: folder });
      after = new Orchestrator({ queue: await RedisQueue.open({ url: own.url, name: 'unrecorded', lockDurationMs: 500, stalledIntervalMs: 200 }), concurrency: 2, taskTypes, context: { journal: second } });
      expect(await handle.result).toMatchObject({ status: 'completed', data: 'done:ends-meanwhile' });
      expect(second.startOrder).toEqual(['ends-meanwhile']);
    } finally {
      await submitter.shutdown();
      await after?.shutdown({ timeoutMs: 0 });
      await own.stop();
      await remove();
    }
  }, 60_000);

  it("a job that comes back to the worker still running its task (its lock lapsed, as in a Redis outage longer than the lock) is not run a second time beside it: the run goes on under the new lock, and ends once", async () => {
    const running = await worker(2, { lockDurationMs: 500, stalledIntervalMs: 200 });
    const orchestrator = await client();
    const handle = await orchestrator.submit(probe('long', 0, { ms: 2500 }));
    for (let waited = 0; !journal.lines.includes('start:long'); waited += 20) {
      if (waited > 10_000) throw new Error('the task did not start');
      await delay(20);
    }
    // The lock lapses as if no renewal had reached Redis: BullMQ's stalled check hands the job back, and this worker, with a slot free, takes it again.
    const redis = new Redis(server?.url ?? '');
    try {
      await redis.del(`taskforge:bull:${name}:${jobIdOf('long')}:lock`);
      const result = await handle.result;
      expect(result).toMatchObject({ status: 'completed', data: 'done:long' });
      expect(journal.startOrder).toEqual(['long']);
      expect(journal.maxRunning).toBe(1);
      // Its end recorded under the lock it holds now: the job is gone from BullMQ, nothing left active.
      expect(await redis.exists(`taskforge:bull:${name}:${jobIdOf('long')}`)).toBe(0);
      expect(await redis.llen(`taskforge:bull:${name}:active`)).toBe(0);
      expect(running.running).toBe(0);
    } finally {
      redis.disconnect();
    }
  }, 30_000);

  it("a Redis outage longer than the lock (data kept) runs a task once on its only worker: one running throughout goes on, one that ended meanwhile has its end recorded, not run again", async () => {
    const { path: folder, remove } = await makeTempDir('redis-kept-');
    let own = await startRedisServer({ keepIn: folder });
    const queue = `${own.url}?name=outage`;
    const local = new Journal();
    const running = new Orchestrator({ queue: await RedisQueue.open({ url: own.url, name: 'outage', lockDurationMs: 500, stalledIntervalMs: 200 }), concurrency: 2, taskTypes, context: { journal: local } });
    const submitter = new Orchestrator({ queue, concurrency: 0, taskTypes });
    try {
      const [throughout, endsMeanwhile] = await submitter.submitAll([probe('throughout', 0, { ms: 3000 }), probe('meanwhile', 0, { ms: 600 })]);
      for (let waited = 0; local.startOrder.length < 2; waited += 20) {
        if (waited > 10_000) throw new Error('the tasks did not start');
        await delay(20);
      }
      await own.kill();
      // Away for three lock durations: 'meanwhile' ends while Redis is away (its end cannot be recorded), and every lock lapses.
      await delay(1500);
      own = await startRedisServer({ port: own.port, keepIn: folder });
      expect(await throughout.result).toMatchObject({ status: 'completed' });
      expect(await endsMeanwhile.result).toMatchObject({ status: 'completed' });
      expect(local.startOrder.sort()).toEqual(['meanwhile', 'throughout']);
      expect(local.maxRunning).toBe(2);
      // Nothing left to run again: no job waits or runs in BullMQ.
      await delay(1000);
      expect(local.startOrder).toHaveLength(2);
      expect(running.running).toBe(0);
    } finally {
      await submitter.shutdown();
      await running.shutdown({ timeoutMs: 0 });
      await own.stop();
      await remove();
    }
  }, 60_000);

  it('a worker whose Redis came back empty stops the task it ran for the lost job at once (LOCK_LOST in its own account), rather than working on to be refused at its commit', async () => {
    let own = await startRedisServer();
    const local = new Journal();
    // A lock of a minute: its renewal every 30 s would come after this test's timeout; the renewal made on reconnecting is what finds the job gone.
    const running = new Orchestrator({ queue: await RedisQueue.open({ url: own.url, name: 'emptied', lockDurationMs: 60_000 }), concurrency: 2, taskTypes, context: { journal: local } });
    const ownAccount: { id: string; code: string; message: string }[] = [];
    running.on('error', ({ id, error }) => ownAccount.push({ id, code: error.code, message: error.message }));
    const submitter = new Orchestrator({ queue: `${own.url}?name=emptied`, concurrency: 0, taskTypes });
    try {
      const heard = { start: false };
      submitter.on('start', () => (heard.start = true));
      const handle = await submitter.submit(probe('cut', 0, { ms: 120_000 }));
      for (let waited = 0; !local.lines.includes('start:cut') || !heard.start; waited += 20) {
        if (waited > 10_000) throw new Error('the task did not start');
        await delay(20);
      }
      await own.kill();
      own = await startRedisServer({ port: own.port });
      const lost = await handle.result;
      expect(lost).toMatchObject({ id: 'cut', status: 'failed', error: { code: 'LOST' } });
      // It had run (its start was heard): at least one attempt, from its start to now; not "0 attempts in 0 ms".
      expect(lost.attempts).toBe(1);
      expect(lost.durationMs).toBeGreaterThan(0);
      expect(Date.parse(lost.startedAt)).toBeLessThan(Date.parse(lost.finishedAt));
      for (let waited = 0; ownAccount.length === 0; waited += 20) {
        if (waited > 15_000) throw new Error(`the worker did not stop the task: ${JSON.stringify(local.lines)}`);
        await delay(20);
      }
      expect(ownAccount).toEqual([{ id: 'cut', code: 'LOCK_LOST', message: expect.stringContaining('its job is gone from Redis') as string }]);
      // Its work stopped (the signal aborted it) and its cleanup ran; nothing of it is left running or recorded.
      expect(local.lines).toEqual(['start:cut', 'end:cut', 'cleanup:cut']);
      expect(running.running).toBe(0);
      const redis = new Redis(own.url);
      try {
        expect(await redis.keys('*cut*')).toEqual([]);
      } finally {
        redis.disconnect();
      }
    } finally {
      await submitter.shutdown();
      await running.shutdown({ timeoutMs: 0 });
      await own.stop();
    }
  }, 40_000);

  it("watchConnection tells once that the queue lost its Redis server and once that it is back; nothing when the queue closes", async () => {
    const own = await startRedisServer();
    const queue = await RedisQueue.open({ url: own.url, name: 'watched' });
    const changes: unknown[] = [];
    queue.watchConnection((change) => changes.push(change));
    const until = async (count: number): Promise<void> => {
      for (let waited = 0; changes.length < count; waited += 20) {
        if (waited > 20_000) throw new Error(`only ${JSON.stringify(changes)}`);
        await delay(20);
      }
    };
    await own.kill();
    await until(1);
    // Several reconnection attempts fail meanwhile: still one change told.
    await delay(1500);
    const back = await startRedisServer({ port: own.port });
    try {
      await until(2);
      expect(changes).toEqual([{ connected: false, reason: expect.any(String) as string }, { connected: true }]);
      await queue.close();
      await delay(200);
      expect(changes).toHaveLength(2);
    } finally {
      await back.stop();
    }
  }, 60_000);

  it('records an end and removes its job only for the holder of its lock (another worker took it: that worker records its own end); a lapsed lock nobody took still lets the end be recorded, while the job is the one the run took', async () => {
    const orchestrator = await client();
    const handle = await orchestrator.submit(probe('atomic'));
    const { job, token, manual } = await takeJobByHand();
    cleanups.push(() => manual.close());
    const queue = await RedisStore.open({ url: server?.url ?? '', name });
    cleanups.push(() => queue.close());
    const jobId = job.id ?? '';
    const at = new Date().toISOString();
    const result: TaskResult = { id: 'atomic', type: 'probe', status: 'completed', success: true, data: 'done', attempts: 1, startedAt: at, finishedAt: at, durationMs: 1 };
    // An end sent with a lock token that no longer holds the job (another worker took it after a stall): not recorded, the job left to its holder.
    expect(await queue.settleMany([{ id: 'atomic', result: { ...result, data: 'from the worker that lost the lock' }, job: { id: jobId, token: 'a-worker-that-lost-the-lock', takenAt: job.processedOn ?? 0 } }])).toEqual([false]);
    expect(await queue.bull.getJobState(jobId)).toBe('active');
    expect(await orchestrator.get('atomic')).toMatchObject({ status: 'running' });
    // The holder's end is recorded, and removes the job, its lock and its place in the active list.
    expect(await queue.settleMany([{ id: 'atomic', result, job: { id: jobId, token, takenAt: job.processedOn ?? 0 } }])).toEqual([true]);
    expect(await handle.result).toEqual(result);
    expect(await queue.bull.getJobState(jobId)).toBe('unknown');
    expect(await queue.bull.getActiveCount()).toBe(0);
    expect(await orchestrator.get('atomic')).toMatchObject({ status: 'completed', result: { data: 'done' } });
    // A lock that lapsed with nobody taking the job: the end is recorded (the job, left, is dropped unrun when it is taken again).
    const second = await orchestrator.submit(probe('lapsed'));
    const taken = await takeJobByHand();
    cleanups.push(() => taken.manual.close());
    const redis = new Redis(server?.url ?? '');
    cleanups.push(() => {
      redis.disconnect();
      return Promise.resolve();
    });
    await redis.del(`${queue.jobKeyPrefix}${taken.job.id ?? ''}:lock`);
    const lapsedJob = { id: taken.job.id ?? '', token: taken.token, takenAt: taken.job.processedOn ?? 0 };
    // Not when the job is no longer the one the run took (taken again since: another run's; gone: Redis lost it, and the id may be another task's now).
    expect(await queue.settleMany([{ id: 'lapsed', result: { ...result, id: 'lapsed' }, job: { ...lapsedJob, takenAt: lapsedJob.takenAt - 1 } }])).toEqual([false]);
    expect(await orchestrator.get('lapsed')).toMatchObject({ status: 'running' });
    expect(await queue.settleMany([{ id: 'lapsed', result: { ...result, id: 'lapsed' }, job: lapsedJob }])).toEqual([true]);
    expect(await second.result).toMatchObject({ id: 'lapsed', status: 'completed' });
    const third = await orchestrator.submit(probe('job-gone'));
    const gone = await takeJobByHand();
    cleanups.push(() => gone.manual.close());
    await redis.del(`${queue.jobKeyPrefix}${gone.job.id ?? ''}:lock`, `${queue.jobKeyPrefix}${gone.job.id ?? ''}`);
    expect(await queue.settleMany([{ id: 'job-gone', result: { ...result, id: 'job-gone' }, job: { id: gone.job.id ?? '', token: gone.token, takenAt: gone.job.processedOn ?? 0 } }])).toEqual([false]);
    expect(await orchestrator.get(third.id)).toMatchObject({ status: 'running' });
  });

  it('leaves no job in BullMQ for tasks a worker ran to their end', async () => {
    const orchestrator = await client();
    await worker(4);
    const handles = await orchestrator.submitAll(Array.from({ length: 50 }, (_, index) => probe(`gone${String(index)}`)));
    const results = await Promise.all(handles.map((handle) => handle.result));
    expect(results.every((result) => result.success)).toBe(true);
    const queue = await RedisStore.open({ url: server?.url ?? '', name });
    cleanups.push(() => queue.close());
    const counts = await queue.bull.getJobCounts('active', 'completed', 'failed', 'wait', 'prioritized');
    expect(counts).toEqual({ active: 0, completed: 0, failed: 0, wait: 0, prioritized: 0 });
  });

  it('runs again the task of a worker that died after running it but before its end went out, and records its end once', async () => {
    const orchestrator = await client();
    const handle = await orchestrator.submit(probe('cut-before-end'));
    // The dying worker took the job (its lock lasts 0.5 s, and nobody renews it), ran the task, and died before its batch of ends went out.
    const { manual } = await takeJobByHand(500);
    await manual.close();
    // A worker whose stall check runs every second finds the job once its lock is gone, and runs the task.
    await worker(2, { lockDurationMs: 1000 });
    const result = await handle.result;
    expect(result).toMatchObject({ id: 'cut-before-end', status: 'completed', success: true });
    expect(journal.startOrder).toEqual(['cut-before-end']);
  });

  it('a task whose worker died, cancelled before it runs again, ends saying so: with the reason given and the attempt it made', async () => {
    const orchestrator = await client();
    const redis = new Redis(server?.url ?? '');
    cleanups.push(() => {
      redis.disconnect();
      return Promise.resolve();
    });
    const handle = await orchestrator.submit(probe('cut-then-cancelled', 0, { ms: 30_000 }));
    // The dying worker took the job (its lock lasts 0.5 s, and nobody renews it) and died while the task ran.
    const { manual } = await takeJobByHand(500);
    await manual.close();
    // The cancel finds it running: the workers are told (none holds it), and the request is kept with its reason.
    const cancelled = orchestrator.cancel('cut-then-cancelled', 'no longer needed');
    await expect.poll(() => redis.sismember(`taskforge:${name}:cancels`, 'cut-then-cancelled')).toBe(1);
    // A worker whose stall check runs every second takes the job once its lock is gone, and ends the task unrun.
    await worker(2, { lockDurationMs: 1000 });
    const expected = {
      status: 'failed',
      attempts: 1,
      error: { code: 'CANCELLED', message: "task 'cut-then-cancelled' was cancelled while it waited to run again (its last run was cut off: its worker or process stopped or died): no longer needed" },
    };
    expect(await cancelled).toMatchObject(expected);
    expect(await handle.result).toMatchObject(expected);
    expect(journal.startOrder).not.toContain('cut-then-cancelled');
    // Its reason is let go with the task.
    expect(await redis.hlen(`taskforge:${name}:cancelReasons`)).toBe(0);
  });

  it('a task whose job waits again after its worker died, cancelled there, counts the run that was cut off', async () => {
    const orchestrator = await client();
    const store = await RedisStore.open({ url: server?.url ?? '', name });
    cleanups.push(() => store.close());
    await orchestrator.submit(probe('back-in-wait'));
    const { job, manual } = await takeJobByHand(500);
    await manual.close();
    // What BullMQ's stall check does to a job whose lock lapsed: back to the wait list, its runs started kept.
    const redis = new Redis(server?.url ?? '');
    cleanups.push(() => {
      redis.disconnect();
      return Promise.resolve();
    });
    const jobId = job.id ?? '';
    await expect.poll(() => redis.exists(`${store.jobKeyPrefix}${jobId}:lock`), { timeout: 5000 }).toBe(0);
    await redis.lrem(`${store.jobKeyPrefix}active`, 1, jobId);
    await redis.lpush(`${store.jobKeyPrefix}wait`, jobId);
    // Its view counts the run that was cut off; taken again, the one under way too.
    expect(await orchestrator.get('back-in-wait')).toMatchObject({ status: 'pending', attempts: 1 });
    const again = await takeJobByHand(500);
    await again.manual.close();
    expect(await orchestrator.get('back-in-wait')).toMatchObject({ status: 'running', attempts: 2 });
    expect((await store.unfinished(10)).map((state) => [state.status, state.status === 'finished' ? 0 : state.task.attempts])).toEqual([['running', 2]]);
    await expect.poll(() => redis.exists(`${store.jobKeyPrefix}${jobId}:lock`), { timeout: 5000 }).toBe(0);
    await redis.lrem(`${store.jobKeyPrefix}active`, 1, jobId);
    await redis.lpush(`${store.jobKeyPrefix}wait`, jobId);
    expect(await orchestrator.cancel('back-in-wait', 'changed my mind')).toMatchObject({
      status: 'failed',
      attempts: 2,
      error: { code: 'CANCELLED', message: "task 'back-in-wait' was cancelled while it waited to run again (its last run was cut off: its worker or process stopped or died): changed my mind" },
    });
  });

  it('tells whether the event stream dropped entries after a position (compareStreamIds orders ids)', async () => {
    expect([compareStreamIds('5-1', '5-0') > 0, compareStreamIds('4-9', '5-0') < 0, compareStreamIds('12-0', '9-0') > 0, compareStreamIds('7', '7-0')]).toEqual([true, true, true, 0]);
    const queue = await RedisStore.open({ url: server?.url ?? '', name });
    cleanups.push(() => queue.close());
    // No stream yet: nothing was ever published.
    expect(await queue.events.lostAfter('0-0')).toBe(false);
    const { Redis } = await import('ioredis');
    const redis = new Redis(server?.url ?? '');
    cleanups.push(() => {
      redis.disconnect();
      return Promise.resolve();
    });
    const first = (await redis.xadd(queue.events.key, '*', 'kind', 'probe')) ?? '';
    const last = (await redis.xadd(queue.events.key, '*', 'kind', 'probe')) ?? '';
    // A reader at the last entry, or behind with what it has not read still there, lost nothing.
    expect(await queue.events.lostAfter(last)).toBe(false);
    expect(await queue.events.lostAfter(first)).toBe(false);
    await redis.xtrim(queue.events.key, 'MAXLEN', 1);
    // The entry after `0-0` (first) is gone unread. After `first`, the oldest left is newer: the stream
    // cannot tell whether anything came in between, so it answers "may have" (a lookup costs nothing wrong).
    expect(await queue.events.lostAfter('0-0')).toBe(true);
    expect(await queue.events.lostAfter(first)).toBe(true);
    expect(await queue.events.lostAfter(last)).toBe(false);
    await redis.xtrim(queue.events.key, 'MAXLEN', 0);
    expect(await queue.events.lostAfter(first)).toBe(true);
    expect(await queue.events.lostAfter(last)).toBe(false);
  });

  it('finds the result of a task whose end left the event stream before the submitter read it', async () => {
    const orchestrator = await client();
    const handle = await orchestrator.submit(probe('trimmed-away'));
    const { Redis } = await import('ioredis');
    const redis = new Redis(server?.url ?? '');
    cleanups.push(() => {
      redis.disconnect();
      return Promise.resolve();
    });
    const prefix = `taskforge:${name}`;
    const now = Date.now();
    const at = new Date(now).toISOString();
    const result: TaskResult = { id: 'trimmed-away', type: 'probe', status: 'completed', success: true, data: 'done', attempts: 1, startedAt: at, finishedAt: at, durationMs: 0 };
    // The end recorded by the real script and the stream emptied in one transaction: no reader is served in between.
    const keys = SCRIPT_KEYS.map((key) => `${prefix}:${key}`);
    const common = [prefix, String(now), at, '100000', String(7 * 24 * 3600 * 1000), '10000'];
    await redis
      .multi()
      .eval(FINISH_SCRIPT, keys.length, ...keys, ...common, '1', 'trimmed-away', JSON.stringify(result), '1', '')
      .xtrim(`${prefix}:events`, 'MAXLEN', 0)
      .exec();
    // The next check (every 5 s) sees entries gone unread and looks the result up.
    expect(await handle.result).toEqual(result);
  });

  it('refuses use after shutdown or close with INVALID_STATE, and bad timing options with a RangeError', async () => {
    const { orchestrator } = await redisOrchestrator({ url: server?.url ?? '', name });
    await orchestrator.shutdown();
    await expect(orchestrator.submit(probe('late'))).rejects.toMatchObject({ code: 'INVALID_STATE', message: 'the orchestrator is shutting down and takes no more tasks' });
    await expect(orchestrator.cancel('late')).rejects.toMatchObject({ code: 'INVALID_STATE' });
    const store = await RedisStore.open({ url: server?.url ?? '', name });
    await store.close();
    await expect(store.finished.get('x')).rejects.toMatchObject({ code: 'INVALID_STATE' });
    const queue = await RedisQueue.open({ url: server?.url ?? '', name });
    await queue.close();
    await expect(queue.submit([{ id: 'x', type: 'probe', priority: 0, config: probe('x'), dependsOn: undefined, attempts: 0, submittedAt: Date.now() }])).rejects.toMatchObject({ code: 'INVALID_STATE', message: expect.stringContaining('is closed') as string });
    await expect(RedisQueue.open({ url: server?.url ?? '', name, lockDurationMs: 0 })).rejects.toThrow(/lockDurationMs must be a positive whole number of ms/);
    // A lock too short for a write to commit within it (the fence wants 100 ms left, and a lock renewed at half its duration has half left).
    await expect(RedisQueue.open({ url: server?.url ?? '', name, lockDurationMs: 100 })).rejects.toThrow(/lockDurationMs must be at least 500 ms, so that a write can commit within its lock \(got 100\)/);
    await expect(RedisQueue.open({ url: server?.url ?? '', name, maxFinished: -1 })).rejects.toThrow(/maxFinished must be a non-negative integer/);
  });

  it('a result is what in-process would give: the same fields for the same task', async () => {
    const orchestrator = await client();
    await worker();
    const result: TaskResult = await (await orchestrator.submit(probe('same', 3))).result;
    expect(Object.keys(result).sort()).toEqual(['attempts', 'data', 'durationMs', 'finishedAt', 'id', 'startedAt', 'status', 'success', 'type']);
  });
});
