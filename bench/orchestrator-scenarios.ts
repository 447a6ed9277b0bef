// Orchestrator scenarios: no-op tasks through taskforge's orchestrator and
// through p-queue doing the same work, the durable SQLite queue, and small
// writes through the `taskforge run` command.
import { spawnSync } from 'node:child_process';
import { closeSync, fsyncSync, mkdirSync, openSync, writeFileSync } from 'node:fs';
import { mkdir, open, rename } from 'node:fs/promises';
import { join } from 'node:path';
import { monitorEventLoopDelay, type IntervalHistogram } from 'node:perf_hooks';
import { fileURLToPath } from 'node:url';
import PQueue from 'p-queue';
import { Orchestrator } from '../src/orchestrator/orchestrator.js';
import { MemoryQueue } from '../src/orchestrator/queues/memory-queue.js';
import { SqliteQueue } from '../src/orchestrator/queues/sqlite-queue.js';
import { BaseTask } from '../src/tasks/base-task.js';
import type { Measurement } from './scenarios.js';

/** What an orchestrator scenario runs. */
export interface QueueSpec {
  readonly count: number;
  readonly concurrency: number;
  /** `same`: every task at priority 0 (FIFO); `random`: priorities 0 to 999; `ten`: priorities 0 to 9. */
  readonly priorities: 'same' | 'random' | 'ten';
}

class NoopTask extends BaseTask<number> {
  // It never reads its signal: no signal is made per attempt (see BaseTask.ignoresSignal).
  static override readonly ignoresSignal = true;

  protected override executeTask(): Promise<number> {
    return Promise.resolve(1);
  }
}

/** The same priorities for both contenders: a fixed pseudo-random sequence. */
function priorities(spec: QueueSpec): Float64Array {
  const out = new Float64Array(spec.count);
  if (spec.priorities === 'same') return out;
  let seed = 12_345;
  for (let index = 0; index < spec.count; index += 1) {
    seed = (Math.imul(seed, 1_103_515_245) + 12_345) >>> 0;
    out[index] = seed % (spec.priorities === 'ten' ? 10 : 1000);
  }
  return out;
}

function heapAfterGc(): number {
  (globalThis as { gc?: () => void }).gc?.();
  return process.memoryUsage().heapUsed;
}

/** The 99th percentile of the loop's delay, in ms; the whole run when the loop never turned (its timer never fired: no sample at all). */
function loopP99(loop: IntervalHistogram, elapsedMs: number): number {
  return loop.count === 0 ? elapsedMs : loop.percentile(99) / 1e6;
}

/**
 * `count` no-op tasks, all queued up front, then run to the end. Also the
 * heap each queued task costs (measured after the last submit, before any
 * task ran; needs --expose-gc).
 */
export async function orchestratorNoop(_directory: string, spec: QueueSpec): Promise<Measurement> {
  const order = priorities(spec);
  const orchestrator = new Orchestrator({ concurrency: spec.concurrency, queue: new MemoryQueue(), taskTypes: { noop: NoopTask } });
  await new Promise((resolve) => setImmediate(resolve));
  const heapBefore = heapAfterGc();
  const started = performance.now();
  // Not awaited one by one, as a program queueing work in a loop would; a refusal would end the run.
  for (let index = 0; index < spec.count; index += 1) void orchestrator.submit({ type: 'noop', priority: order[index] ?? 0 });
  const submittedAt = performance.now();
  const bytesPerQueuedTask = (heapAfterGc() - heapBefore) / spec.count;
  const gcPause = performance.now() - submittedAt;
  // The event loop's delay while the queued tasks run (the submitting loop above holds it by itself, as any such loop would).
  const loop = monitorEventLoopDelay({ resolution: 1 });
  loop.enable();
  await orchestrator.onIdle();
  loop.disable();
  const elapsedMs = performance.now() - started - gcPause;
  await orchestrator.shutdown();
  return { perSecond: (spec.count / elapsedMs) * 1000, unit: 'ops/s', elapsedMs, bytesPerQueuedTask, loopP99Ms: loopP99(loop, elapsedMs) };
}

/** The same work through p-queue: each job makes and executes the same task. */
export async function pQueueNoop(_directory: string, spec: QueueSpec): Promise<Measurement> {
  const order = priorities(spec);
  const queue = new PQueue({ concurrency: spec.concurrency, autoStart: true });
  const heapBefore = heapAfterGc();
  const started = performance.now();
  for (let index = 0; index < spec.count; index += 1) {
    const priority = order[index] ?? 0;
    void queue.add(() => new NoopTask({ type: 'noop', priority }).execute(), { priority });
  }
  const submittedAt = performance.now();
  const bytesPerQueuedTask = (heapAfterGc() - heapBefore) / spec.count;
  const gcPause = performance.now() - submittedAt;
  await queue.onIdle();
  const elapsedMs = performance.now() - started - gcPause;
  return { perSecond: (spec.count / elapsedMs) * 1000, unit: 'ops/s', elapsedMs, bytesPerQueuedTask };
}

/** The floor: p-queue running a bare `async () => 1` per job, at the same priorities and concurrency. */
export async function pQueueBare(_directory: string, spec: QueueSpec): Promise<Measurement> {
  const order = priorities(spec);
  const queue = new PQueue({ concurrency: spec.concurrency, autoStart: true });
  const noop = async (): Promise<number> => Promise.resolve(1);
  const started = performance.now();
  for (let index = 0; index < spec.count; index += 1) {
    const priority = order[index] ?? 0;
    void queue.add(noop, { priority });
  }
  const loop = monitorEventLoopDelay({ resolution: 1 });
  loop.enable();
  await queue.onIdle();
  loop.disable();
  const elapsedMs = performance.now() - started;
  return { perSecond: (spec.count / elapsedMs) * 1000, unit: 'ops/s', elapsedMs, loopP99Ms: loopP99(loop, elapsedMs) };
}

/** `count` no-op tasks through the durable SQLite queue: each is inserted, taken and finished in the file. */
export async function sqliteQueueNoop(directory: string, spec: QueueSpec): Promise<Measurement> {
  mkdirSync(directory, { recursive: true });
  const order = priorities(spec);
  const orchestrator = new Orchestrator({ concurrency: spec.concurrency, queue: new SqliteQueue(join(directory, 'queue.db')), taskTypes: { noop: NoopTask } });
  const started = performance.now();
  await orchestrator.submitAll(Array.from({ length: spec.count }, (_, index) => ({ type: 'noop', priority: order[index] ?? 0 })));
  await orchestrator.onIdle();
  const elapsedMs = performance.now() - started;
  await orchestrator.shutdown();
  return { perSecond: (spec.count / elapsedMs) * 1000, unit: 'ops/s', elapsedMs };
}

/** `count` 4 KiB StorageTask writes as one batch file through the real `taskforge run` command (process start included). */
export function cliRunWrites(directory: string, spec: QueueSpec): Promise<Measurement> {
  mkdirSync(directory, { recursive: true });
  const data = 'x'.repeat(4096);
  const batch = Array.from({ length: spec.count }, (_, index) => JSON.stringify({ type: 'storage', metadata: { operation: 'write', path: `/w/${String(index % 100)}/${String(index)}.txt`, data } }));
  const file = join(directory, 'batch.ndjson');
  writeFileSync(file, `${batch.join('\n')}\n`);
  // On disk before the clock starts: the kernel writing back 41 MB of batch during the timed run would slow the writes measured.
  const written = openSync(file, 'r');
  fsyncSync(written);
  closeSync(written);
  const bin = fileURLToPath(new URL('../src/cli/bin.js', import.meta.url));
  const started = performance.now();
  const ran = spawnSync(process.execPath, [bin, 'run', file, '--json', '--concurrency', String(spec.concurrency), '--root', join(directory, 'root')], { encoding: 'utf8', maxBuffer: 1 << 30 });
  const elapsedMs = performance.now() - started;
  const lines = ran.stdout.trim().split('\n');
  if (ran.status !== 0 || lines.length !== spec.count) throw new Error(`taskforge run failed (${String(ran.status)}): ${ran.stderr.slice(0, 500)}`);
  return Promise.resolve({ perSecond: (spec.count / elapsedMs) * 1000, unit: 'ops/s', elapsedMs });
}

/**
 * The same writes as `cliRunWrites`, hand-written: p-queue at the same
 * concurrency running temp file, write, fsync, rename, fsync of the
 * directory for each (what StorageTask does for a durable atomic write).
 */
export async function handWrittenWrites(directory: string, spec: QueueSpec): Promise<Measurement> {
  const data = Buffer.from('x'.repeat(4096));
  const root = join(directory, 'root');
  const started = performance.now();
  const queue = new PQueue({ concurrency: spec.concurrency });
  for (let index = 0; index < spec.count; index += 1) {
    void queue.add(async () => {
      const folder = join(root, 'w', String(index % 100));
      await mkdir(folder, { recursive: true });
      const temporary = join(folder, `.${String(index)}.tmp`);
      const handle = await open(temporary, 'wx');
      try {
        await handle.write(data);
        await handle.sync();
      } finally {
        await handle.close();
      }
      await rename(temporary, join(folder, `${String(index)}.txt`));
      const dir = await open(folder, 'r');
      try {
        await dir.sync();
      } finally {
        await dir.close();
      }
    });
  }
  await queue.onIdle();
  const elapsedMs = performance.now() - started;
  return { perSecond: (spec.count / elapsedMs) * 1000, unit: 'ops/s', elapsedMs };
}

export const orchestratorScenarios = { orchestratorNoop, pQueueNoop, pQueueBare, sqliteQueueNoop, cliRunWrites, handWrittenWrites } as const;
