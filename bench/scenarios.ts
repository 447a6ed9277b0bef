// One benchmark scenario per function. Each runs in a fresh child process
// (bench/child.ts), so that its peak RSS is its own.
import { createReadStream, createWriteStream } from 'node:fs';
import { mkdir, open, rename, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import type { Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { FileSystemBackend } from '../src/storage/backends/filesystem.js';
import { BaseTask } from '../src/tasks/base-task.js';
import { StorageTask } from '../src/tasks/storage-task.js';
import { ReadCache } from '../src/storage/read-cache.js';
import { LRUCache } from 'lru-cache';
import { blockSource } from './mixed-data.js';

/** What a scenario measured. */
export interface Measurement {
  /** Operations (or bytes, for throughput scenarios) per second. */
  readonly perSecond: number;
  readonly unit: 'ops/s' | 'MB/s' | 'ns/op';
  readonly elapsedMs: number;
  /** Stored bytes / data bytes, for compression scenarios. */
  readonly ratio?: number;
  /** The event loop's 99th-percentile delay during the run, in ms. */
  readonly loopP99Ms?: number;
  /** Heap bytes each queued task holds while it waits. */
  readonly bytesPerQueuedTask?: number;
  /** The largest peak RSS of the worker processes a scenario started. */
  readonly workerPeakRssMiB?: number;
  /** CPU time the worker processes used, whole life, in ms. */
  readonly workerCpuMs?: number;
  /** CPU time the submitting process used while the scenario was timed, in ms. */
  readonly submitterCpuMs?: number;
  /** CPU time the Redis server used while the scenario was timed, in ms. */
  readonly redisCpuMs?: number;
  /** For HTTP scenarios that write: submissions per second timed to the last write made, not the last answer. */
  readonly completedPerSecond?: number;
  /** For HTTP scenarios: the server process's CPU time (user + system, all its threads) per request, from the first request to the last write made (or answer, for the floor), in µs. */
  readonly serverCpuUsPerOp?: number;
  /** For HTTP scenarios: the server's CPU time per request up to the last answer only (the writes made by then included), in µs. */
  readonly serverCpuUsPerAnswer?: number;
  /** For HTTP scenarios: the client's CPU time per request while it sent them, in µs (it shares the machine's cores with the server). */
  readonly clientCpuUsPerOp?: number;
  /** Request latency percentiles, for HTTP scenarios. */
  readonly latencyP50Ms?: number;
  readonly latencyP99Ms?: number;
}

const SMALL = Buffer.alloc(4096, 0x61);
const GIB = 1024 * 1024 * 1024;
const CHUNK = 1024 * 1024;

/** 1 GiB of bytes as a stream of 1 MiB chunks, made on the fly so the source itself holds ~1 MiB. */
function gibibyteSource(): Readable {
  const chunk = Buffer.alloc(CHUNK);
  for (let index = 0; index < CHUNK; index += 1) chunk[index] = (index * 2_654_435_761) >>> 24;
  return blockSource(GIB / CHUNK, () => chunk);
}

async function timed(run: () => Promise<void>): Promise<number> {
  const started = performance.now();
  await run();
  return performance.now() - started;
}

/** `count` sequential 4 KiB writes through StorageTask: temp file, fsync, rename, fsync of the directory. */
export async function storageTaskSmallWrites(directory: string, count: number): Promise<Measurement> {
  const backend = new FileSystemBackend({ root: directory });
  const elapsedMs = await timed(async () => {
    for (let index = 0; index < count; index += 1) {
      const result = await new StorageTask({ type: 'storage', metadata: { operation: 'write', path: `/f${index}`, data: SMALL } }, { backend }).execute();
      if (!result.success) throw new Error(`write failed: ${result.error.message}`);
    }
  });
  return { perSecond: (count / elapsedMs) * 1000, unit: 'ops/s', elapsedMs };
}

/** `count` sequential `fs.promises.writeFile` calls: no fsync, not atomic. */
export async function writeFileSmallWrites(directory: string, count: number): Promise<Measurement> {
  await mkdir(directory, { recursive: true });
  const elapsedMs = await timed(async () => {
    for (let index = 0; index < count; index += 1) await writeFile(join(directory, `f${index}`), SMALL);
  });
  return { perSecond: (count / elapsedMs) * 1000, unit: 'ops/s', elapsedMs };
}

/** `count` sequential hand-written atomic, durable writes: what StorageTask does, with nothing around it. */
export async function rawDurableSmallWrites(directory: string, count: number): Promise<Measurement> {
  await mkdir(directory, { recursive: true });
  const elapsedMs = await timed(async () => {
    for (let index = 0; index < count; index += 1) {
      const temporary = join(directory, `.tmp-${index}`);
      const handle = await open(temporary, 'wx');
      await handle.write(SMALL);
      await handle.sync();
      await handle.close();
      await rename(temporary, join(directory, `f${index}`));
      const dir = await open(directory, 'r');
      await dir.sync();
      await dir.close();
    }
  });
  return { perSecond: (count / elapsedMs) * 1000, unit: 'ops/s', elapsedMs };
}

/** A 1 GiB streamed write through StorageTask. */
export async function storageTaskGibWrite(directory: string): Promise<Measurement> {
  const backend = new FileSystemBackend({ root: directory });
  const elapsedMs = await timed(async () => {
    const result = await new StorageTask({ type: 'storage', metadata: { operation: 'write', path: '/big.bin', data: gibibyteSource() } }, { backend }).execute();
    if (!result.success) throw new Error(`write failed: ${result.error.message}`);
  });
  return { perSecond: GIB / 1e6 / (elapsedMs / 1000), unit: 'MB/s', elapsedMs };
}

/** A 1 GiB raw pipeline: source -> fs.createWriteStream, then fsync (the same durability). */
export async function rawGibWrite(directory: string): Promise<Measurement> {
  await mkdir(directory, { recursive: true });
  const target = join(directory, 'big.bin');
  const elapsedMs = await timed(async () => {
    await pipeline(gibibyteSource(), createWriteStream(target));
    const handle = await open(target, 'r+');
    await handle.sync();
    await handle.close();
  });
  return { perSecond: GIB / 1e6 / (elapsedMs / 1000), unit: 'MB/s', elapsedMs };
}

/** A 1 GiB streamed read through StorageTask (as: 'stream'), consumed to the end. */
export async function storageTaskGibRead(directory: string): Promise<Measurement> {
  const backend = new FileSystemBackend({ root: directory });
  const elapsedMs = await timed(async () => {
    const result = await new StorageTask({ type: 'storage', metadata: { operation: 'read', path: '/big.bin', options: { as: 'stream' } } }, { backend }).execute();
    if (!result.success) throw new Error(`read failed: ${result.error.message}`);
    let bytes = 0;
    for await (const chunk of result.data) bytes += (chunk as Buffer).length;
    if (bytes !== GIB) throw new Error(`read ${bytes} bytes`);
  });
  return { perSecond: GIB / 1e6 / (elapsedMs / 1000), unit: 'MB/s', elapsedMs };
}

/** A 1 GiB raw fs.createReadStream, consumed to the end. */
export async function rawGibRead(directory: string): Promise<Measurement> {
  const elapsedMs = await timed(async () => {
    let bytes = 0;
    for await (const chunk of createReadStream(join(directory, 'big.bin'), { highWaterMark: 64 * 1024 })) bytes += (chunk as Buffer).length;
    if (bytes !== GIB) throw new Error(`read ${bytes} bytes`);
  });
  return { perSecond: GIB / 1e6 / (elapsedMs / 1000), unit: 'MB/s', elapsedMs };
}

class NoopTask extends BaseTask<number> {
  // It never reads its signal: no signal is made per attempt (see BaseTask.ignoresSignal).
  static override readonly ignoresSignal = true;

  protected override executeTask(): Promise<number> {
    return Promise.resolve(1);
  }
}

async function bareCall(): Promise<number> {
  return Promise.resolve(1);
}

/** `count` no-op custom tasks, each constructed and executed: the lifecycle's own cost. */
export async function noopTaskExecute(_directory: string, count: number): Promise<Measurement> {
  const elapsedMs = await timed(async () => {
    for (let index = 0; index < count; index += 1) await new NoopTask({ type: 'noop', metadata: {} }).execute();
  });
  return { perSecond: (elapsedMs * 1e6) / count, unit: 'ns/op', elapsedMs };
}

/** `count` bare async calls: the floor. */
export async function bareAsyncCall(_directory: string, count: number): Promise<Measurement> {
  const elapsedMs = await timed(async () => {
    for (let index = 0; index < count; index += 1) await bareCall();
  });
  return { perSecond: (elapsedMs * 1e6) / count, unit: 'ns/op', elapsedMs };
}

/** `count` cached 4 KiB reads through StorageTask.execute() (cache: { ttlMs }), each a new task. */
export async function cachedTaskReads(directory: string, count: number): Promise<Measurement> {
  const backend = new FileSystemBackend({ root: directory });
  const cache = new ReadCache();
  await new StorageTask({ type: 'storage', metadata: { operation: 'write', path: '/hot.bin', data: SMALL } }, { backend, cache }).execute();
  const config = { type: 'storage', metadata: { operation: 'read', path: '/hot.bin', options: { cache: { ttlMs: 3_600_000 } } } } as const;
  await new StorageTask(config, { backend, cache }).execute();
  const elapsedMs = await timed(async () => {
    for (let index = 0; index < count; index += 1) {
      const result = await new StorageTask(config, { backend, cache }).execute();
      if (result.details?.['cache'] !== 'hit') throw new Error('expected a cache hit');
    }
  });
  return { perSecond: (count / elapsedMs) * 1000, unit: 'ops/s', elapsedMs };
}

/** `count` gets of a 4 KiB Buffer from a bare lru-cache: the floor. */
export async function bareLruGets(_directory: string, count: number): Promise<Measurement> {
  const lru = new LRUCache<string, Buffer>({ maxSize: 64 * 1024 * 1024, sizeCalculation: (value) => value.length });
  lru.set('fs:/root\0/hot.bin', SMALL);
  let found = 0;
  const elapsedMs = await timed(async () => {
    for (let index = 0; index < count; index += 1) {
      if (lru.get('fs:/root\0/hot.bin') !== undefined) found += 1;
      // Awaited like a task, so that the comparison is of the same shape.
      await Promise.resolve();
    }
  });
  if (found !== count) throw new Error('lru-cache lost the entry');
  return { perSecond: (count / elapsedMs) * 1000, unit: 'ops/s', elapsedMs };
}

export const scenarios = {
  storageTaskSmallWrites,
  writeFileSmallWrites,
  rawDurableSmallWrites,
  storageTaskGibWrite,
  rawGibWrite,
  storageTaskGibRead,
  rawGibRead,
  noopTaskExecute,
  bareAsyncCall,
  cachedTaskReads,
  bareLruGets,
} as const;

export type ScenarioName = keyof typeof scenarios;
