import { spawn, type ChildProcess } from 'node:child_process';
import { createHash } from 'node:crypto';
import { writeFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { setTimeout as delay } from 'node:timers/promises';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Orchestrator } from '../../src/orchestrator/orchestrator.js';
import { S3Backend } from '../../src/storage/backends/s3.js';
import type { TaskConfig } from '../../src/tasks/task-config.js';
import { startRedisServer, type RedisServer } from '../helpers/redis-server.js';
import { S3RVER_CREDENTIALS, startS3Server, type S3Server } from '../helpers/s3-server.js';
import { serviceAvailable } from '../helpers/services.js';
import { stopChild } from '../helpers/stop-child.js';
import { makeTempDir } from '../helpers/temp-dir.js';

const haveRedis = serviceAvailable('Redis', 'redis-server', 'apt-get install -y redis-server');
const BIN = resolve('dist/src/cli/bin.js');
const TASKS = 5000;

/** What task i writes: unique per task, so a mixed-up or doubled write shows. */
function payload(index: number): string {
  return `object ${String(index)} ${createHash('sha256').update(String(index)).digest('hex')}\n`.repeat(1 + (index % 4));
}

/** 5,000 writes: priorities from -2 to 2, and every 10th depends on two earlier tasks. */
function batch(): TaskConfig[] {
  return Array.from({ length: TASKS }, (_, index) => ({
    id: `o${String(index)}`,
    type: 'storage',
    priority: (index % 5) - 2,
    ...(index % 10 === 9 ? { dependsOn: [`o${String(index - 3)}`, `o${String(index - 9)}`] } : {}),
    metadata: { operation: 'write', path: `/objects/${String(index % 50)}/${String(index)}.txt`, data: payload(index) },
  }));
}

describe.runIf(haveRedis)('three worker processes on a shared S3 bucket, one killed with SIGKILL halfway', () => {
  let redis: RedisServer | undefined;
  let s3: S3Server | undefined;
  let dir = '';
  let removeDir: () => Promise<void> = () => Promise.resolve();
  const children: ChildProcess[] = [];

  beforeAll(async () => {
    [redis, s3] = await Promise.all([startRedisServer(), startS3Server('shared')]);
    ({ path: dir, remove: removeDir } = await makeTempDir('three-workers-'));
  }, 30_000);
  afterAll(async () => {
    for (const child of children) await stopChild(child, 2000);
    await Promise.all([redis?.stop(), s3?.stop()]);
    await removeDir();
  });

  it('5,000 StorageTasks with priorities and dependencies: every one COMPLETED, every object exactly what was written', async () => {
    if (redis === undefined || s3 === undefined) throw new Error('no servers');
    const queue = `${redis.url}?name=three`;
    const env = {
      PATH: process.env['PATH'],
      TASKFORGE_STORAGE: `s3://shared/run?endpoint=${encodeURIComponent(s3.endpoint)}&region=us-east-1`,
      AWS_ACCESS_KEY_ID: S3RVER_CREDENTIALS.accessKeyId,
      AWS_SECRET_ACCESS_KEY: S3RVER_CREDENTIALS.secretAccessKey,
      AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED: 'true',
      TASKFORGE_LOG_LEVEL: 'warn',
    };
    const spawnTaskforge = (args: readonly string[]): { child: ChildProcess; stdout: () => string; stderr: () => string; exited: Promise<number | string | null> } => {
      const child = spawn(process.execPath, [BIN, ...args], { cwd: dir, env });
      children.push(child);
      let stdout = '';
      let stderr = '';
      child.stdout.on('data', (chunk: Buffer) => (stdout += chunk.toString()));
      child.stderr.on('data', (chunk: Buffer) => (stderr += chunk.toString()));
      const exited = new Promise<number | string | null>((done) => child.once('exit', (code, signal) => { done(signal ?? code); }));
      return { child, stdout: () => stdout, stderr: () => stderr, exited };
    };
    // The lock is short so that the killed worker's tasks come back soon.
    const workers = [0, 1, 2].map(() => spawnTaskforge(['worker', '--queue', queue, '--concurrency', '8', '--lock-duration', '2000', '--json']));
    writeFileSync(join(dir, 'batch.ndjson'), batch().map((config) => JSON.stringify(config)).join('\n'));
    const run = spawnTaskforge(['run', 'batch.ndjson', '--queue', queue, '--json']);
    const lines = (): number => run.stdout().split('\n').length - 1;
    for (let waited = 0; lines() < TASKS / 2; waited += 20) {
      if (waited > 240_000 || run.child.exitCode !== null) throw new Error(`the batch did not get halfway: ${String(lines())} results; ${run.stderr()}`);
      await delay(20);
    }
    const victim = workers[1];
    victim?.child.kill('SIGKILL');
    expect(await victim?.exited).toBe('SIGKILL');
    expect(await run.exited).toBe(0);
    const results = run.stdout().trim().split('\n').map((line) => JSON.parse(line) as { id: string; status: string; attempts: number });
    expect(results).toHaveLength(TASKS);
    expect(new Set(results.map((result) => result.id)).size).toBe(TASKS);
    expect(results.filter((result) => result.status !== 'completed')).toEqual([]);
    // The victim was mid-work: what it held ran again elsewhere, its cut-off attempt counted.
    const ranByVictim = new Set((victim?.stdout() ?? '').trim().split('\n').filter(Boolean).map((line) => (JSON.parse(line) as { id: string }).id));
    const ranBySurvivors = [workers[0], workers[2]].flatMap((worker) => (worker?.stdout() ?? '').trim().split('\n').filter(Boolean).map((line) => (JSON.parse(line) as { id: string }).id));
    expect(ranByVictim.size).toBeGreaterThan(0);
    expect(new Set([...ranByVictim, ...ranBySurvivors]).size).toBe(TASKS);
    const retried = results.filter((result) => result.attempts === 2).map((result) => result.id);
    expect(retried.length).toBeGreaterThan(0);
    // The victim prints a task's line when its work ends, a moment before the end is recorded:
    // one killed in that moment runs again (at least once), so at most its 8 tasks in flight.
    expect(retried.filter((id) => ranByVictim.has(id)).length).toBeLessThanOrEqual(8);

    // Read every object back through taskforge's own S3 backend.
    const backend = new S3Backend({ bucket: 'shared', prefix: 'run', clientConfig: { endpoint: s3.endpoint, region: 'us-east-1', forcePathStyle: true, credentials: S3RVER_CREDENTIALS } });
    const reader = new Orchestrator({ concurrency: 16, context: { backend } });
    const reads = await reader.submitAll(Array.from({ length: TASKS }, (_, index) => ({ type: 'storage', metadata: { operation: 'read', path: `/objects/${String(index % 50)}/${String(index)}.txt` } })));
    const read = await Promise.all(reads.map((handle) => handle.result));
    const text = (data: unknown): string => (typeof data === 'string' ? data : Buffer.from(data as Uint8Array).toString('utf8'));
    const wrong = read.map((result, index) => (result.success && text(result.data) === payload(index) ? undefined : index)).filter((index) => index !== undefined);
    expect(wrong).toEqual([]);
    await reader.shutdown();
    for (const worker of [workers[0], workers[2]]) worker?.child.kill('SIGTERM');
    expect(await Promise.all([workers[0]?.exited, workers[2]?.exited])).toEqual([0, 0]);
  }, 300_000);
});
