import { Writable } from 'node:stream';
import { setTimeout as delay } from 'node:timers/promises';
import { pino } from 'pino';
import { describe, expect, it } from 'vitest';
import { Orchestrator } from '../../src/orchestrator/orchestrator.js';
import { OrchestratorMetrics } from '../../src/orchestrator/metrics.js';
import { MemoryBackend } from '../../src/storage/backends/memory.js';
import { Keyring } from '../../src/storage/codec/keyring.js';
import { ReadCache } from '../../src/storage/read-cache.js';
import { Journal, ProbeTask, probe } from '../helpers/probe-task.js';

/** The value of one sample in Prometheus text, by its name and labels as written. */
function sample(text: string, series: string): number | undefined {
  const line = text.split('\n').find((candidate) => candidate.startsWith(`${series} `));
  return line === undefined ? undefined : Number(line.slice(series.length + 1));
}

describe('Prometheus metrics', () => {
  it('counts tasks by type, status and code, durations, bytes, cache hits and misses', async () => {
    const metrics = new OrchestratorMetrics();
    const backend = new MemoryBackend();
    const orchestrator = new Orchestrator({ concurrency: 1, metrics, context: { backend, cache: new ReadCache() } });
    const [write] = await orchestrator.submitAll([
      { id: 'w', type: 'storage', priority: 3, metadata: { operation: 'write', path: '/m.txt', data: 'twelve bytes' } },
      { id: 'r1', type: 'storage', priority: 2, dependsOn: ['w'], metadata: { operation: 'read', path: '/m.txt', options: { cache: true } } },
      { id: 'r2', type: 'storage', priority: 1, dependsOn: ['r1'], metadata: { operation: 'read', path: '/m.txt', options: { cache: true } } },
      { id: 'gone', type: 'storage', priority: 0, metadata: { operation: 'read', path: '/missing' } },
    ]);
    await write.result;
    await orchestrator.onIdle();
    const text = await metrics.text();
    expect(sample(text, 'taskforge_tasks_submitted_total{type="storage"}')).toBe(4);
    expect(sample(text, 'taskforge_tasks_finished_total{type="storage",status="completed",code=""}')).toBe(3);
    expect(sample(text, 'taskforge_tasks_finished_total{type="storage",status="failed",code="NOT_FOUND"}')).toBe(1);
    expect(sample(text, 'taskforge_task_duration_seconds_count{type="storage",status="completed"}')).toBe(3);
    expect(sample(text, 'taskforge_storage_bytes_total{direction="written"}')).toBe(12);
    expect(sample(text, 'taskforge_storage_bytes_total{direction="read"}')).toBe(12);
    expect(sample(text, 'taskforge_read_cache_requests_total{result="miss"}')).toBe(1);
    expect(sample(text, 'taskforge_read_cache_requests_total{result="hit"}')).toBe(1);
    await orchestrator.shutdown();
  });

  it('reports queue depth and running tasks at scrape time', async () => {
    const metrics = new OrchestratorMetrics();
    const orchestrator = new Orchestrator({ concurrency: 2, metrics, taskTypes: { probe: ProbeTask }, context: { journal: new Journal() } });
    for (let index = 0; index < 5; index += 1) (await orchestrator.submit(probe(`p${String(index)}`, 0, { ms: 60 })));
    await delay(20);
    const during = await metrics.text();
    expect(sample(during, 'taskforge_tasks_running{queue="memory"}')).toBe(2);
    expect(sample(during, 'taskforge_queue_depth{queue="memory"}')).toBe(3);
    await orchestrator.onIdle();
    const after = await metrics.text();
    expect(sample(after, 'taskforge_tasks_running{queue="memory"}')).toBe(0);
    expect(sample(after, 'taskforge_queue_depth{queue="memory"}')).toBe(0);
    await orchestrator.shutdown();
  });
});

describe('process metrics', () => {
  it("with process: true, Node's own: CPU, memory, and the event loop's delay since the last scrape; without, none", async () => {
    const metrics = new OrchestratorMetrics({ process: true });
    // (The monitor's first sample only starts its clock.)
    await delay(5);
    // Hold the event loop for 40 ms: the loop's delay monitor, sampling every millisecond, sees it late by about that much.
    const until = Date.now() + 40;
    while (Date.now() < until);
    await delay(5);
    const text = await metrics.text();
    expect(sample(text, 'nodejs_eventloop_lag_max_seconds')).toBeGreaterThan(0.03);
    expect(sample(text, 'nodejs_eventloop_lag_p99_seconds')).toBeGreaterThan(0);
    expect(sample(text, 'process_cpu_seconds_total')).toBeGreaterThan(0);
    expect(sample(text, 'process_resident_memory_bytes')).toBeGreaterThan(0);
    expect(await new OrchestratorMetrics().text()).not.toMatch(/nodejs_|process_/);
  });
});

describe('structured logs', () => {
  it('name the task in every line about one, and never carry a payload or a key', async () => {
    const lines: Record<string, unknown>[] = [];
    const raw: string[] = [];
    const sink = new Writable({
      write(chunk: Buffer, _encoding, done) {
        raw.push(chunk.toString());
        lines.push(JSON.parse(chunk.toString()) as Record<string, unknown>);
        done();
      },
    });
    const logger = pino({ level: 'debug' }, sink);
    const key = Buffer.alloc(32, 9);
    const keyring = new Keyring({ keys: { k1: key }, active: 'k1' });
    const secret = 'PAYLOAD-do-not-log-7f3a';
    const orchestrator = new Orchestrator({ concurrency: 2, logger, context: { backend: new MemoryBackend(), keyring } });
    await orchestrator.submitAll([
      { id: 'enc', type: 'storage', metadata: { operation: 'write', path: '/s', data: secret, options: { encryption: true } } },
      { id: 'back', type: 'storage', dependsOn: ['enc'], metadata: { operation: 'read', path: '/s', options: { encryption: true } } },
      { id: 'fails', type: 'storage', metadata: { operation: 'read', path: '/absent' } },
      { id: 'skipped', type: 'storage', dependsOn: ['fails'], metadata: { operation: 'delete', path: '/s' } },
    ]);
    await orchestrator.onIdle();
    await orchestrator.shutdown();
    const taskLines = lines.filter((line) => !String(line['msg']).startsWith('orchestrator ') && line['msg'] !== 'recovered unfinished tasks');
    expect(taskLines.length).toBeGreaterThanOrEqual(6);
    for (const line of taskLines) expect(typeof line['taskId'], JSON.stringify(line)).toBe('string');
    expect(new Set(taskLines.map((line) => line['taskId']))).toEqual(new Set(['enc', 'back', 'fails', 'skipped']));
    const everything = raw.join('');
    expect(everything).not.toContain(secret);
    expect(everything).not.toContain(key.toString('base64'));
    expect(everything).not.toContain(key.toString('hex'));
  });
});
