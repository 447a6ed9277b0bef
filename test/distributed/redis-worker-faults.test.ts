import { join } from 'node:path';
import { Queue } from 'bullmq';
import { Redis } from 'ioredis';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { RedisQueue } from '../../src/distributed/redis-queue.js';
import type { AnyOrchestrator } from '../../src/orchestrator/orchestrator.js';
import { EndRecorder, queued } from '../helpers/queue-probe.js';
import { redisOrchestrator } from '../helpers/redis-orchestrator.js';
import { JournalTask, LingeringJournalTask } from '../fixtures/journal-task.js';
import { startRedisServer, type RedisServer } from '../helpers/redis-server.js';
import { journalLines, journalReaches, startWorkerProcess, type WorkerProcess } from '../helpers/redis-worker-process.js';
import { serviceAvailable } from '../helpers/services.js';
import { stopChild } from '../helpers/stop-child.js';
import { makeTempDir } from '../helpers/temp-dir.js';

const haveRedis = serviceAvailable('Redis', 'redis-server', 'apt-get install -y redis-server');

describe.runIf(haveRedis)('a Redis worker process under faults', () => {
  let server: RedisServer | undefined;
  let dir = '';
  let removeDir: () => Promise<void> = () => Promise.resolve();
  let queueNumber = 0;
  const workers: WorkerProcess[] = [];
  const clients: AnyOrchestrator[] = [];

  beforeAll(async () => {
    server = await startRedisServer();
    ({ path: dir, remove: removeDir } = await makeTempDir('redis-faults-'));
  }, 20_000);
  afterEach(async () => {
    for (const client of clients.splice(0)) await client.shutdown();
    for (const worker of workers.splice(0)) await stopChild(worker.child, 2000);
  });
  afterAll(async () => {
    await server?.stop();
    await removeDir();
  });

  function nextQueue(): { name: string; journal: string } {
    queueNumber += 1;
    return { name: `faults-${String(queueNumber)}`, journal: join(dir, `journal-${String(queueNumber)}.txt`) };
  }

  async function worker(name: string, journal: string, options: { concurrency?: number; lockMs?: number } = {}): Promise<WorkerProcess> {
    const started = await startWorkerProcess({ url: server?.url ?? '', name, journal, ...options });
    workers.push(started);
    return started;
  }

  async function client(name: string): Promise<AnyOrchestrator> {
    const { orchestrator: made } = await redisOrchestrator({ url: server?.url ?? '', name }, { taskTypes: { journal: JournalTask, lingering: LingeringJournalTask } });
    clients.push(made);
    return made;
  }

  it('a consumer that throws instead of running a task (a bug) ends that task FAILED INTERNAL, naming the worker, and its job leaves the queue', async () => {
    const { name } = nextQueue();
    const queue = await RedisQueue.open({ url: server?.url ?? '', name });
    const ends = new EndRecorder();
    queue.subscribe(ends);
    const consumption = queue.consume({
      concurrency: 1,
      run: () => {
        throw new Error('a bug in the consumer');
      },
      cancel: () => undefined,
    });
    try {
      await queue.submit([queued('buggy')]);
      expect(await ends.endOf('buggy')).toMatchObject({ status: 'failed', error: { code: 'INTERNAL', message: expect.stringMatching(/^task 'buggy' could not be processed by worker \S+: a bug in the consumer$/) as unknown } });
      // Recorded, not left to come back after every lapse of its lock.
      expect(await queue.counts()).toEqual({ waiting: 0, running: 0 });
      expect((await queue.state('buggy'))?.status).toBe('finished');
    } finally {
      await consumption.stop(1000);
      await queue.close();
    }
  });

  it('a cancel that reaches a worker while a finished task cleans up changes nothing: the task stays COMPLETED and the worker goes on taking tasks', async () => {
    const { name, journal } = nextQueue();
    const orchestrator = await client(name);
    const running = await worker(name, journal);
    const handle = await orchestrator.submit({ id: 'lingers', type: 'lingering', metadata: { ms: 0, cleanupMs: 1500 } });
    await journalReaches(journal, (line) => line[0] === 'cleanup' && line[1] === 'lingers', 'the cleanup starting');
    // The task has ended; its worker still holds it (cleanup runs), and its end is not yet recorded.
    const cancelled = await orchestrator.cancel('lingers', 'too late');
    expect(cancelled, JSON.stringify({ cancelled, worker: running.output().stderr.slice(-1500) })).toMatchObject({ id: 'lingers', status: 'completed' });
    expect(await handle.result).toEqual(cancelled);
    const next = await orchestrator.submit({ id: 'next', type: 'journal', metadata: { ms: 0 } });
    const outcome = await Promise.race([next.result, running.exited.then((how) => ({ workerExited: how, stderr: running.output().stderr }))]);
    expect(outcome).toMatchObject({ id: 'next', status: 'completed' });
    expect(running.child.exitCode).toBeNull();
    expect(journalLines(journal).map((line) => line.slice(0, 2).join(' '))).toEqual(['start lingers', 'done lingers', 'cleanup lingers', 'cleaned lingers', 'start next', 'done next']);
  }, 60_000);

  it('a job in the queue whose data is not JSON (not written by taskforge) is removed unrun, and the worker goes on taking tasks', async () => {
    const { name, journal } = nextQueue();
    const orchestrator = await client(name);
    const bull = new Queue(name, { connection: { host: '127.0.0.1', port: server?.port ?? 0, maxRetriesPerRequest: null }, prefix: 'taskforge:bull' });
    const redis = new Redis(server?.url ?? '');
    try {
      await bull.add('journal', { id: 'damaged' }, { jobId: 'damaged', priority: 1 });
      await redis.hset(`taskforge:bull:${name}:damaged`, 'data', '{"id": "damaged", not json');
      const running = await worker(name, journal);
      const next = await orchestrator.submit({ id: 'after', type: 'journal', metadata: { ms: 0 } });
      const outcome = await Promise.race([next.result, running.exited.then((how) => ({ workerExited: how, stderr: running.output().stderr }))]);
      expect(outcome).toMatchObject({ id: 'after', status: 'completed' });
      // Gone from BullMQ (not left active, to come back after every lapse of its lock), and never run.
      expect(await bull.getJob('damaged')).toBeUndefined();
      expect(await redis.llen(`taskforge:bull:${name}:active`)).toBe(0);
      expect(journalLines(journal).map((line) => line.slice(0, 2).join(' '))).toEqual(['start after', 'done after']);
      expect(running.child.exitCode).toBeNull();
    } finally {
      redis.disconnect();
      await bull.close();
    }
  }, 60_000);
});
