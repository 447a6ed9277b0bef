import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { existsSync, readFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { setTimeout as delay } from 'node:timers/promises';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import type { AnyOrchestrator } from '../../src/orchestrator/orchestrator.js';
import { redisOrchestrator } from '../helpers/redis-orchestrator.js';
import { JournalTask, StubbornJournalTask } from '../fixtures/journal-task.js';
import { startWorkerProcess, type WorkerProcess } from '../helpers/redis-worker-process.js';
import { startRedisServer, type RedisServer } from '../helpers/redis-server.js';
import { serviceAvailable } from '../helpers/services.js';
import { stopChild } from '../helpers/stop-child.js';
import { makeTempDir } from '../helpers/temp-dir.js';

const haveRedis = serviceAvailable('Redis', 'redis-server', 'apt-get install -y redis-server');
const BIN = resolve('dist/src/cli/bin.js');
/** The Done-when of the distributed issue: these pass 5 times in a row. */
const ROUNDS = 5;

describe.runIf(haveRedis)('workers in separate processes', () => {
  let server: RedisServer | undefined;
  let dir = '';
  let removeDir: () => Promise<void> = () => Promise.resolve();
  let queueNumber = 0;
  const children: ChildProcess[] = [];
  const clients: AnyOrchestrator[] = [];

  beforeAll(async () => {
    server = await startRedisServer();
    ({ path: dir, remove: removeDir } = await makeTempDir('redis-multi-'));
  }, 20_000);
  afterEach(async () => {
    for (const client of clients.splice(0)) await client.shutdown();
    for (const child of children.splice(0)) await stopChild(child, 2000);
  });
  afterAll(async () => {
    await server?.stop();
    await removeDir();
  });

  function nextQueue(): { name: string; journal: string } {
    queueNumber += 1;
    return { name: `multi-${String(queueNumber)}`, journal: join(dir, `journal-${String(queueNumber)}.txt`) };
  }

  async function startWorker(name: string, journal: string, concurrency: number, lockMs: number, shutdownMs = 5000): Promise<WorkerProcess> {
    const worker = await startWorkerProcess({ url: server?.url ?? '', name, journal, concurrency, lockMs, shutdownMs });
    children.push(worker.child);
    return worker;
  }

  async function client(name: string): Promise<AnyOrchestrator> {
    const { orchestrator: made } = await redisOrchestrator({ url: server?.url ?? '', name }, { taskTypes: { journal: JournalTask, stubborn: StubbornJournalTask } });
    clients.push(made);
    return made;
  }

  function journalLines(file: string): string[][] {
    return existsSync(file) ? readFileSync(file, 'utf8').split('\n').filter(Boolean).map((line) => line.split(' ')) : [];
  }

  it.each(Array.from({ length: ROUNDS }, (_, index) => index + 1))(
    'round %i: a worker killed with SIGKILL mid-task: another worker completes its tasks, the cut-off attempt counted, and finished ones are not rerun',
    async () => {
      const { name, journal } = nextQueue();
      const orchestrator = await client(name);
      const handles = await orchestrator.submitAll(
        Array.from({ length: 12 }, (_, index) => ({ id: `k${String(index)}`, type: 'journal', priority: index % 3, metadata: { ms: 150 } })),
      );
      const doomed = await startWorker(name, journal, 2, 600);
      // Kill it while it has finished some tasks and holds others.
      for (let waited = 0; ; waited += 5) {
        const lines = journalLines(journal);
        const done = lines.filter((line) => line[0] === 'done').length;
        const last = lines.at(-1);
        if (done >= 2 && last?.[0] === 'start') break;
        if (waited > 20_000) throw new Error('the first worker never got going');
        await delay(5);
      }
      doomed.child.kill('SIGKILL');
      expect(await doomed.exited).toBe('SIGKILL');
      const atKill = journalLines(journal);
      const cutOff = atKill.filter((line) => line[0] === 'start' && !atKill.some((other) => other[0] === 'done' && other[1] === line[1])).map((line) => line[1] ?? '');
      const finishedBefore = atKill.filter((line) => line[0] === 'done').map((line) => line[1] ?? '');
      expect(cutOff.length).toBeGreaterThan(0);

      const survivor = await startWorker(name, journal, 2, 600);
      const results = await Promise.all(handles.map((handle) => handle.result));
      expect(results.map((result) => result.status)).toEqual(Array.from({ length: 12 }, () => 'completed'));
      const after = journalLines(journal).slice(atKill.length);
      expect(after.every((line) => line.at(-1) === String(survivor.pid))).toBe(true);
      for (const id of cutOff) {
        expect(after.filter((line) => line[0] === 'start' && line[1] === id), `cut-off task ${id} runs again once`).toHaveLength(1);
        expect(results.find((result) => result.id === id)?.attempts, `task ${id} counts its cut-off attempt`).toBe(2);
      }
      // A finished task whose end the dead worker had recorded is not run again. Only one killed
      // between writing "done" and recording its end could be (at-least-once): at most its concurrency.
      const rerun = finishedBefore.filter((id) => after.some((line) => line[0] === 'start' && line[1] === id));
      expect(rerun.length).toBeLessThanOrEqual(2);
      for (const id of finishedBefore.filter((finished) => !rerun.includes(finished))) expect(results.find((result) => result.id === id)?.attempts).toBe(1);
    },
    60_000,
  );

  it.each(Array.from({ length: ROUNDS }, (_, index) => index + 1))(
    'round %i: a task running 6 times its lock duration, with another worker checking for stalled tasks, runs once',
    async () => {
      const { name, journal } = nextQueue();
      const orchestrator = await client(name);
      const lockMs = 500;
      const first = await startWorker(name, journal, 1, lockMs);
      const handle = await orchestrator.submit({ id: 'long', type: 'journal', metadata: { ms: lockMs * 6 } });
      for (let waited = 0; journalLines(journal).length === 0; waited += 10) {
        if (waited > 10_000) throw new Error('the task never started');
        await delay(10);
      }
      // A second worker, idle, runs the stalled check every lockMs / 2 throughout.
      await startWorker(name, journal, 1, lockMs);
      const result = await handle.result;
      expect(result).toMatchObject({ status: 'completed', attempts: 1 });
      expect(journalLines(journal)).toEqual([
        ['start', 'long', '1', String(first.pid)],
        ['done', 'long', String(first.pid)],
      ]);
    },
    30_000,
  );

  it('cancel from a third process (taskforge cancel) stops the task on the worker running it: its signal fires there, and the submitter gets FAILED with CANCELLED', async () => {
    const { name, journal } = nextQueue();
    const orchestrator = await client(name);
    const worker = await startWorker(name, journal, 2, 30_000);
    const handle = await orchestrator.submit({ id: 'endless', type: 'journal', metadata: { ms: 60_000 } });
    for (let waited = 0; journalLines(journal).length === 0; waited += 10) {
      if (waited > 10_000) throw new Error('the task never started');
      await delay(10);
    }
    const cancelled = spawnSync(process.execPath, [BIN, 'cancel', 'endless', '--queue', `${server?.url ?? ''}?name=${name}`, '--reason', 'changed my mind', '--json'], { encoding: 'utf8', timeout: 30_000 });
    expect(cancelled.stderr).toBe('');
    expect(cancelled.status).toBe(0);
    expect(JSON.parse(cancelled.stdout)).toMatchObject({ id: 'endless', status: 'failed', error: { code: 'CANCELLED' } });
    expect(await handle.result).toMatchObject({ id: 'endless', status: 'failed', success: false, error: { code: 'CANCELLED' } });
    expect(journalLines(journal)).toEqual([
      ['start', 'endless', '1', String(worker.pid)],
      ['aborted', 'endless', String(worker.pid)],
    ]);
    // Cancelled already: asked again, it says so and succeeds (the same command twice succeeds twice); an unknown one is not found.
    const again = spawnSync(process.execPath, [BIN, 'cancel', 'endless', '--queue', `${server?.url ?? ''}?name=${name}`], { encoding: 'utf8', timeout: 30_000 });
    expect(again).toMatchObject({ status: 0, stdout: 'endless: already cancelled\n', stderr: '' });
    const againJson = spawnSync(process.execPath, [BIN, 'cancel', 'endless', '--queue', `${server?.url ?? ''}?name=${name}`, '--json'], { encoding: 'utf8', timeout: 30_000 });
    expect(againJson).toMatchObject({ status: 0, stderr: '' });
    expect(JSON.parse(againJson.stdout)).toMatchObject({ id: 'endless', status: 'failed', error: { code: 'CANCELLED', message: "task 'endless' was cancelled: changed my mind" } });
    const unknown = spawnSync(process.execPath, [BIN, 'cancel', 'nobody', '--queue', `${server?.url ?? ''}?name=${name}`], { encoding: 'utf8', timeout: 30_000 });
    expect(unknown).toMatchObject({ status: 1, stdout: '', stderr: `taskforge: NOT_FOUND: no task with id 'nobody' is known to the queue ${server?.url ?? ''}?name=${name} (it was never submitted there, or it ended longer ago than the queue keeps results)\n` });
    // With --json, the unknown id is named in its line, as status names one.
    const unknownJson = spawnSync(process.execPath, [BIN, 'cancel', 'nobody', '--queue', `${server?.url ?? ''}?name=${name}`, '--json'], { encoding: 'utf8', timeout: 30_000 });
    expect(unknownJson.status).toBe(1);
    expect(JSON.parse(unknownJson.stdout)).toMatchObject({ id: 'nobody', error: { code: 'NOT_FOUND' } });
    const empty = spawnSync(process.execPath, [BIN, 'cancel', '', '--queue', `${server?.url ?? ''}?name=${name}`], { encoding: 'utf8', timeout: 30_000 });
    expect(empty).toMatchObject({ status: 2, stderr: expect.stringContaining('taskforge: <id>: the id of the task to cancel is empty') as string });
  }, 60_000);

  it('taskforge cancel of a task whose worker was killed says that it waits, and ends it once another worker takes it over: unrun, with its reason and the attempt cut off', async () => {
    const { name, journal } = nextQueue();
    const orchestrator = await client(name);
    const doomed = await startWorker(name, journal, 1, 1000);
    const handle = await orchestrator.submit({ id: 'orphan', type: 'journal', metadata: { ms: 60_000 } });
    for (let waited = 0; journalLines(journal).length === 0; waited += 10) {
      if (waited > 10_000) throw new Error('the task never started');
      await delay(10);
    }
    doomed.child.kill('SIGKILL');
    expect(await doomed.exited).toBe('SIGKILL');
    const cancel = spawn(process.execPath, [BIN, 'cancel', 'orphan', '--queue', `${server?.url ?? ''}?name=${name}`, '--reason', 'operator said stop'], { stdio: ['ignore', 'pipe', 'pipe'] });
    children.push(cancel);
    let stdout = '';
    let stderr = '';
    cancel.stdout.on('data', (chunk: Buffer) => (stdout += chunk.toString()));
    cancel.stderr.on('data', (chunk: Buffer) => (stderr += chunk.toString()));
    const exited = new Promise<number | null>((resolve) => cancel.once('exit', resolve));
    await expect.poll(() => stderr, { timeout: 10_000 }).toContain("taskforge cancel: 'orphan' is asked to stop; waiting for its end");
    expect(stdout).toBe('');
    const survivor = await startWorker(name, journal, 1, 1000);
    expect(await exited).toBe(0);
    expect(stdout).toBe('orphan: cancelled\n');
    expect(await handle.result).toMatchObject({
      status: 'failed',
      attempts: 1,
      error: { code: 'CANCELLED', message: "task 'orphan' was cancelled while it waited to run again (its last run was cut off: its worker or process stopped or died): operator said stop" },
    });
    // Not run again.
    expect(journalLines(journal).filter((line) => line.at(-1) === String(survivor.pid))).toEqual([]);
  }, 60_000);

  it('cancel of a task whose work does not stop on its signal waits for its end and says the cancellation did not stop it: exit 1', async () => {
    const { name, journal } = nextQueue();
    const orchestrator = await client(name);
    const worker = await startWorker(name, journal, 1, 30_000);
    const handle = await orchestrator.submit({ id: 'stubborn', type: 'stubborn', metadata: { ms: 1500 } });
    for (let waited = 0; journalLines(journal).length === 0; waited += 10) {
      if (waited > 10_000) throw new Error('the task never started');
      await delay(10);
    }
    const cancelled = spawnSync(process.execPath, [BIN, 'cancel', 'stubborn', '--queue', `${server?.url ?? ''}?name=${name}`], { encoding: 'utf8', timeout: 30_000 });
    expect(cancelled).toMatchObject({ status: 1, stderr: '', stdout: 'stubborn: completed: the cancellation did not stop it (its work went on to its end)\n' });
    expect(await handle.result).toMatchObject({ status: 'completed' });
    expect(journalLines(journal)).toEqual([
      ['start', 'stubborn', '1', String(worker.pid)],
      ['done', 'stubborn', String(worker.pid)],
    ]);
    // Asked again of the completed task: refused, exit 1; with --json its end is printed all the same.
    const again = spawnSync(process.execPath, [BIN, 'cancel', 'stubborn', '--queue', `${server?.url ?? ''}?name=${name}`, '--json'], { encoding: 'utf8', timeout: 30_000 });
    expect(again).toMatchObject({ status: 1, stderr: "taskforge: INVALID_STATE: task 'stubborn' cannot be cancelled: it is already completed\n" });
    expect(JSON.parse(again.stdout)).toMatchObject({ id: 'stubborn', status: 'completed' });
  }, 60_000);

  it('SIGTERM: a worker lets a short task finish, hands a long one back when its shutdown time is up, and exits 0; another worker completes it', async () => {
    const { name, journal } = nextQueue();
    const orchestrator = await client(name);
    const first = await startWorker(name, journal, 2, 30_000, 500);
    const [short, long] = await orchestrator.submitAll([
      { id: 'short', type: 'journal', priority: 1, metadata: { ms: 200 } },
      { id: 'long', type: 'journal', metadata: { ms: 5000 } },
    ]);
    for (let waited = 0; journalLines(journal).filter((line) => line[0] === 'start').length < 2; waited += 5) {
      if (waited > 10_000) throw new Error('the tasks never started');
      await delay(5);
    }
    first.child.kill('SIGTERM');
    expect(await first.exited).toBe(0);
    expect(await short.result).toMatchObject({ status: 'completed', attempts: 1 });
    // Handed back, not failed: it waits in the queue for the next worker.
    expect(await orchestrator.get('long')).toMatchObject({ status: 'pending' });
    const second = await startWorker(name, journal, 2, 30_000);
    expect(await long.result).toMatchObject({ status: 'completed', attempts: 2 });
    expect(journalLines(journal).filter((line) => line[1] === 'long')).toEqual([
      ['start', 'long', '1', String(first.pid)],
      ['aborted', 'long', String(first.pid)],
      ['start', 'long', '1', String(second.pid)],
      ['done', 'long', String(second.pid)],
    ]);
  }, 60_000);

  it('a task cut off more than maxInterruptions times ends INTERRUPTED, and its submitter hears it', async () => {
    const { name, journal } = nextQueue();
    const orchestrator = await client(name);
    const handle = await orchestrator.submit({ id: 'cursed', type: 'journal', metadata: { ms: 60_000 } });
    // Kill every worker that takes it: the 4th kill exceeds the default of 3.
    for (let kill = 1; kill <= 4; kill += 1) {
      const worker = await startWorker(name, journal, 1, 500);
      for (let waited = 0; !journalLines(journal).some((line) => line[0] === 'start' && line.at(-1) === String(worker.pid)); waited += 10) {
        if (waited > 15_000) throw new Error(`kill ${String(kill)}: the task never started`);
        await delay(10);
      }
      worker.child.kill('SIGKILL');
      await worker.exited;
    }
    await startWorker(name, journal, 1, 500);
    expect(await handle.result).toMatchObject({ status: 'failed', error: { code: 'INTERRUPTED', details: { interruptions: 4 } } });
    expect(journalLines(journal).filter((line) => line[0] === 'start')).toHaveLength(4);
  }, 60_000);
});
