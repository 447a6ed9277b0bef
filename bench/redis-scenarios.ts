// Redis scenarios: no-op tasks through taskforge's Redis queue (an Orchestrator
// with concurrency 0 submits, worker processes' Orchestrators run them) against bare BullMQ (Queue.addBulk,
// Worker processes with an empty processor) on the same Redis server, with the
// same number of worker processes and the same concurrency in each.
import { spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { fileURLToPath } from 'node:url';
import { Queue, QueueEvents, type JobsOptions } from 'bullmq';
import { Redis } from 'ioredis';
import { Orchestrator, type AnyOrchestrator } from '../src/orchestrator/orchestrator.js';
import { NoopTask } from './noop-task.js';
import type { Measurement } from './scenarios.js';

/** What to run. */
export interface RedisSpec {
  readonly url: string;
  readonly count: number;
  readonly workers: number;
  /** Tasks each worker process runs at once. */
  readonly concurrency: number;
  /**
   * `taskforge`; `bullmq` (empty jobs, no priority: BullMQ's fastest path);
   * `bullmq-priority` (empty jobs, every one prioritized, as taskforge's
   * are); `bullmq-same-job` (each job what a taskforge job carries: its
   * task's config as data, its own id, a priority; and the task's result as
   * its return value, kept with the completed job for an hour, BullMQ's way
   * to keep a result one can look up); `bullmq-same-job-events` (the same,
   * and the submitting process hears every result through QueueEvents, as
   * taskforge's submitter does through its stream).
   */
  readonly kind: 'taskforge' | 'bullmq' | 'bullmq-priority' | 'bullmq-same-job' | 'bullmq-same-job-events';
}

const CHUNK = 1000;

/**
 * Queues `count` tasks while the queue is paused, starts the worker
 * processes, then times from resume until every task has ended: the
 * processing throughput of the queue, submission not included.
 */
export async function redisNoop(_directory: string, spec: RedisSpec): Promise<Measurement> {
  const name = `bench-${randomBytes(4).toString('hex')}`;
  const parsed = new URL(spec.url);
  const connection = { host: parsed.hostname, port: Number(parsed.port), maxRetriesPerRequest: null };
  // The BullMQ queue under either side: taskforge's lives under the prefix taskforge:bull.
  const bull = new Queue(name, { connection, ...(spec.kind === 'taskforge' ? { prefix: 'taskforge:bull' } : {}) });
  await bull.pause();
  let orchestrator: AnyOrchestrator | undefined;
  if (spec.kind === 'taskforge') {
    orchestrator = new Orchestrator({ queue: `${spec.url}?name=${name}`, concurrency: 0, taskTypes: { noop: NoopTask } });
    for (let start = 0; start < spec.count; start += CHUNK) {
      await orchestrator.submitAll(Array.from({ length: Math.min(CHUNK, spec.count - start) }, () => ({ type: 'noop' })));
    }
  } else {
    for (let start = 0; start < spec.count; start += CHUNK) {
      const jobs = Array.from({ length: Math.min(CHUNK, spec.count - start) }, (_, index) => bareJob(spec.kind, name, start + index));
      await bull.addBulk(jobs);
    }
  }
  // BullMQ's way for a submitter to hear results: QueueEvents, reading the queue's event stream.
  let heard = 0;
  let events: QueueEvents | undefined;
  if (spec.kind === 'bullmq-same-job-events') {
    events = new QueueEvents(name, { connection });
    events.on('completed', ({ returnvalue }) => {
      if ((returnvalue as unknown) !== undefined) heard += 1;
    });
    await events.waitUntilReady();
  }
  const workers = await Promise.all(Array.from({ length: spec.workers }, () => startWorker(spec, name)));
  const client = new Redis(spec.url, { maxRetriesPerRequest: null });
  const redisCpuBefore = await redisCpuMs(client);
  const cpuBefore = process.cpuUsage();
  const started = performance.now();
  await bull.resume();
  const resultsKey = `taskforge:${name}:results`;
  for (;;) {
    const done = spec.kind === 'taskforge' ? await client.hlen(resultsKey) : spec.kind === 'bullmq-same-job-events' ? heard : ((await bull.getJobCounts('completed'))['completed'] ?? 0);
    if (done >= spec.count) break;
    await new Promise((resolve) => setTimeout(resolve, 5));
  }
  const elapsedMs = performance.now() - started;
  const cpu = process.cpuUsage(cpuBefore);
  const redisCpu = (await redisCpuMs(client)) - redisCpuBefore;
  const stopped = await Promise.all(workers.map((worker) => worker.stop()));
  const rss = stopped.map((worker) => worker.peakRssMiB);
  client.disconnect();
  await orchestrator?.shutdown();
  await events?.close();
  await bull.obliterate({ force: true });
  await bull.close();
  return { perSecond: spec.count / (elapsedMs / 1000), unit: 'ops/s', elapsedMs, workerPeakRssMiB: Math.max(...rss), workerCpuMs: stopped.reduce((sum, worker) => sum + worker.cpuMs, 0), submitterCpuMs: (cpu.user + cpu.system) / 1000, redisCpuMs: redisCpu, loopP99Ms: Math.max(...stopped.map((worker) => worker.loopP99Ms)) };
}

/** The CPU time the Redis server has used, in ms (user and system). */
async function redisCpuMs(client: Redis): Promise<number> {
  const info = await client.info('cpu');
  const field = (name: string): number => Number(new RegExp(`${name}:([0-9.]+)`).exec(info)?.[1] ?? 0);
  return (field('used_cpu_user') + field('used_cpu_sys')) * 1000;
}

/** A job of bare BullMQ's side (see RedisSpec's kinds). */
function bareJob(kind: RedisSpec['kind'], queue: string, index: number): { name: string; data: object; opts?: JobsOptions } {
  if (kind === 'bullmq') return { name: 'noop', data: {} };
  if (kind === 'bullmq-priority') return { name: 'noop', data: {}, opts: { priority: 1 } };
  const id = `${queue}-${String(index)}`;
  return {
    name: 'noop',
    data: { id, type: 'noop', priority: 0, config: { type: 'noop' }, attempts: 0, submittedAt: Date.now() },
    opts: { jobId: `t_${id}`, priority: 1_048_576, removeOnComplete: { age: 3600, count: 100_000 }, removeOnFail: { age: 86_400 } },
  };
}

interface BenchWorker {
  /** Stops it: its peak RSS and the CPU time it used, whole life. */
  stop(): Promise<{ peakRssMiB: number; cpuMs: number; loopP99Ms: number }>;
}

function startWorker(spec: RedisSpec, name: string): Promise<BenchWorker> {
  const script = fileURLToPath(new URL('redis-worker.js', import.meta.url));
  const workerKind = spec.kind === 'bullmq-priority' ? 'bullmq' : spec.kind === 'bullmq-same-job-events' ? 'bullmq-same-job' : spec.kind;
  const child = spawn(process.execPath, [script, workerKind, spec.url, name, String(spec.concurrency)], {
    stdio: ['ignore', 'pipe', 'inherit'],
    env: { ...process.env, TASKFORGE_LOG_LEVEL: 'warn' },
  });
  let stdout = '';
  child.stdout.on('data', (chunk: Buffer) => (stdout += chunk.toString()));
  const exited = new Promise<void>((resolve) => child.once('exit', () => { resolve(); }));
  return new Promise((resolve, reject) => {
    const poll = setInterval(() => {
      if (stdout.includes('ready')) {
        clearInterval(poll);
        resolve({
          stop: async () => {
            child.kill('SIGTERM');
            await exited;
            const last = stdout.trim().split('\n').at(-1) ?? '{}';
            const printed = JSON.parse(last.startsWith('{') ? last : '{}') as { peakRssMiB?: number; cpuMs?: number; loopP99Ms?: number };
            return { peakRssMiB: printed.peakRssMiB ?? 0, cpuMs: printed.cpuMs ?? 0, loopP99Ms: printed.loopP99Ms ?? Number.NaN };
          },
        });
      } else if (child.exitCode !== null) {
        clearInterval(poll);
        reject(new Error('a benchmark worker died on start'));
      }
    }, 10);
  });
}

export const redisScenarios = { redisNoop } as const;
