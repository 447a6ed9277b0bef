// A worker process of the Redis benchmark: a taskforge Orchestrator (a worker) or a bare
// BullMQ Worker with an empty processor, on the same Redis. Prints `ready`,
// runs until SIGTERM, then prints its peak RSS, CPU time and event-loop p99 as JSON.
// Usage: redis-worker taskforge|bullmq|bullmq-same-job URL QUEUE CONCURRENCY
import { monitorEventLoopDelay } from 'node:perf_hooks';
import { Worker, type Job } from 'bullmq';
import { Orchestrator } from '../src/orchestrator/orchestrator.js';
import { NoopTask } from './noop-task.js';

const [kind, url, name, concurrencyText] = process.argv.slice(2);
if (url === undefined || name === undefined) throw new Error('usage: redis-worker KIND URL QUEUE CONCURRENCY');
const concurrency = Number(concurrencyText ?? 8);
let stop: () => Promise<void>;
if (kind === 'taskforge') {
  const worker = new Orchestrator({ queue: `${url}?name=${name}`, concurrency, taskTypes: { noop: NoopTask } });
  await worker.ready();
  stop = () => worker.shutdown({ timeoutMs: 1000 });
} else {
  const parsed = new URL(url);
  // bullmq-same-job returns what a taskforge task returns: its result.
  const processor = kind === 'bullmq-same-job' ? (job: Job<{ id: string; type: string }>) => Promise.resolve(resultOf(job)) : () => Promise.resolve();
  const worker = new Worker(name, processor, { connection: { host: parsed.hostname, port: Number(parsed.port), maxRetriesPerRequest: null }, concurrency });
  stop = () => worker.close();
}
// The event loop's delay, sampled every millisecond from ready to SIGTERM.
const loop = monitorEventLoopDelay({ resolution: 1 });
loop.enable();
process.once('SIGTERM', () => {
  loop.disable();
  void stop().then(() => {
    const cpu = process.cpuUsage();
    process.stdout.write(`${JSON.stringify({ peakRssMiB: process.resourceUsage().maxRSS / 1024, cpuMs: (cpu.user + cpu.system) / 1000, loopP99Ms: loop.percentile(99) / 1e6 })}\n`);
    process.exit(0);
  });
});
process.stdout.write('ready\n');

function resultOf(job: Job<{ id: string; type: string }>): object {
  const startedAt = Date.now();
  const finishedAt = Date.now();
  return { id: job.data.id, type: job.data.type, status: 'completed', success: true, attempts: 1, startedAt: new Date(startedAt).toISOString(), finishedAt: new Date(finishedAt).toISOString(), durationMs: finishedAt - startedAt };
}
