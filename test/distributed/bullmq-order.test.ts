import { randomBytes } from 'node:crypto';
import { Queue, Worker, type Job } from 'bullmq';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { BULLMQ_PRIORITY_RANGE, toBullMqPriority } from '../../src/orchestrator/queues/bullmq-priority.js';
import { PriorityQueue } from '../../src/orchestrator/priority-queue.js';
import { startRedisServer, type RedisServer } from '../helpers/redis-server.js';
import { serviceAvailable } from '../helpers/services.js';

const haveRedis = serviceAvailable('Redis', 'redis-server', 'apt-get install -y redis-server');

describe('toBullMqPriority', () => {
  it('counts down from the middle of BullMQ range, so a larger taskforge priority runs first', () => {
    expect(toBullMqPriority(0)).toBe(2 ** 20);
    expect(toBullMqPriority(5)).toBeLessThan(toBullMqPriority(4));
    expect(toBullMqPriority(BULLMQ_PRIORITY_RANGE.max)).toBe(1);
    expect(toBullMqPriority(BULLMQ_PRIORITY_RANGE.min)).toBe(2 ** 21 - 1);
  });

  it('refuses what it could not order exactly, naming the field', () => {
    for (const bad of [1.5, BULLMQ_PRIORITY_RANGE.max + 1, BULLMQ_PRIORITY_RANGE.min - 1, Number.NaN]) {
      expect(() => toBullMqPriority(bad)).toThrow(expect.objectContaining({ code: 'VALIDATION_ERROR', message: expect.stringMatching(/^priority: the Redis queue orders whole numbers/) as string }));
    }
  });
});

describe.runIf(haveRedis)('BullMQ on a real Redis, through the translation', () => {
  let server: RedisServer | undefined;
  beforeAll(async () => {
    server = await startRedisServer();
  });
  afterAll(async () => {
    await server?.stop();
  });

  /** Adds jobs, then fetches them one by one as a manual worker would: their ids in fetch order. */
  async function fetchOrder(jobs: readonly { id: string; priority?: number }[]): Promise<string[]> {
    if (server === undefined) throw new Error('no server');
    const connection = { host: '127.0.0.1', port: server.port, maxRetriesPerRequest: null };
    const name = `order-${randomBytes(4).toString('hex')}`;
    const queue = new Queue(name, { connection });
    const worker = new Worker(name, null, { connection });
    try {
      for (const job of jobs) await queue.add('task', {}, { jobId: job.id, ...(job.priority === undefined ? {} : { priority: job.priority }) });
      const order: string[] = [];
      const token = 'probe';
      // BullMQ's types promise a Job; with nothing waiting it resolves undefined.
      const next = (): Promise<Job | undefined> => worker.getNextJob(token, { block: false });
      for (let job = await next(); job !== undefined; job = await next()) {
        order.push(job.id ?? '');
        await job.moveToCompleted('done', token, false);
      }
      return order;
    } finally {
      await worker.close();
      await queue.obliterate({ force: true });
      await queue.close();
    }
  }

  it('fetches in taskforge order: larger first, submission order among equals (random priorities, the PriorityQueue as reference)', async () => {
    let seed = 99;
    const random = (): number => {
      seed = (Math.imul(seed, 1_103_515_245) + 12_345) >>> 0;
      return seed / 4_294_967_296;
    };
    const tasks = Array.from({ length: 200 }, (_, index) => ({ id: `t${String(index)}`, priority: Math.floor(random() * 11) - 5 }));
    const reference = new PriorityQueue<string>();
    for (const task of tasks) reference.push(task.id, task.priority);
    const expected: string[] = [];
    for (let id = reference.pop(); id !== undefined; id = reference.pop()) expected.push(id);
    expect(await fetchOrder(tasks.map((task) => ({ id: task.id, priority: toBullMqPriority(task.priority) })))).toEqual(expected);
  });

  it('runs a job with no priority before every prioritized one: why every taskforge job gets one', async () => {
    expect(await fetchOrder([{ id: 'high', priority: toBullMqPriority(100) }, { id: 'none' }])).toEqual(['none', 'high']);
  });
});
