import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { setTimeout as delay } from 'node:timers/promises';
import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { Orchestrator, type AnyOrchestrator, type OrchestratorOptions } from '../../src/orchestrator/orchestrator.js';
import { openQueue } from '../../src/orchestrator/open-queue.js';
import { PriorityQueue } from '../../src/orchestrator/priority-queue.js';
import { SqliteQueue } from '../../src/orchestrator/queues/sqlite-queue.js';
import type { TaskQueue } from '../../src/orchestrator/task-queue.js';
import type { TaskConfig } from '../../src/tasks/task-config.js';
import type { TaskforgeError } from '../../src/core/errors.js';
import { startScriptFile } from '../helpers/child.js';
import { Journal, ProbeTask, probe } from '../helpers/probe-task.js';
import { startRedisServer, type RedisServer } from '../helpers/redis-server.js';
import { serviceAvailable } from '../helpers/services.js';
import { makeTempDir } from '../helpers/temp-dir.js';
import { CrashTask, openDurableQueue } from '../fixtures/crash-task.js';

/**
 * The Orchestrator's public API, the same test for every queue: only the
 * `queue` option changes between one process, a SQLite file and Redis. On
 * Redis the orchestrator both submits and runs (concurrency above 0), as
 * one worker among any number would.
 */
interface QueueKind {
  readonly name: string;
  readonly durable: boolean;
  /** The queue option for a fresh queue, as a program would give it. */
  queue(): string;
}

const haveRedis = serviceAvailable('Redis', 'redis-server', 'apt-get install -y redis-server');
let redis: RedisServer | undefined;
let dir = '';
let removeDir: () => Promise<void> = () => Promise.resolve();
let testNumber = 0;
const opened: AnyOrchestrator[] = [];

beforeAll(async () => {
  if (haveRedis) redis = await startRedisServer();
}, 20_000);
afterAll(async () => {
  await redis?.stop();
});
beforeEach(async () => {
  ({ path: dir, remove: removeDir } = await makeTempDir('api-'));
  testNumber += 1;
});
afterEach(async () => {
  for (const orchestrator of opened.splice(0)) await orchestrator.shutdown({ timeoutMs: 500 });
  await removeDir();
});

const kinds: QueueKind[] = [
  { name: 'memory', durable: false, queue: () => 'memory' },
  { name: 'sqlite', durable: true, queue: () => `sqlite:${join(dir, 'queue.db')}` },
  ...(haveRedis ? [{ name: 'redis', durable: true, queue: () => `${redis?.url ?? ''}?name=api-${String(testNumber)}` }] : []),
];

describe.each(kinds)('the Orchestrator on $name', (kind) => {
  function open(journal: Journal, options: Omit<OrchestratorOptions, 'queue'> = {}, queue: OrchestratorOptions['queue'] = kind.queue()): AnyOrchestrator {
    const made: AnyOrchestrator = new Orchestrator({ concurrency: 1, ...options, queue, taskTypes: { probe: ProbeTask }, context: { journal } });
    opened.push(made);
    return made;
  }

  it('runs a larger priority first and equal priorities in submission order (100 random)', async () => {
    const journal = new Journal();
    const orchestrator = open(journal);
    const reference = new PriorityQueue<string>();
    const configs: TaskConfig[] = [];
    for (let index = 0; index < 100; index += 1) {
      const priority = Math.floor(Math.random() * 7) - 3;
      configs.push(probe(`p${String(index)}`, priority));
      reference.push(`p${String(index)}`, priority);
    }
    const handles = await orchestrator.submitAll(configs);
    await Promise.all(handles.map((handle) => handle.result));
    const expected: string[] = [];
    for (let next = reference.pop(); next !== undefined; next = reference.pop()) expected.push(next);
    expect(journal.startOrder).toEqual(expected);
  });

  it('submit resolves with a handle whose result is awaited; get() follows the status; result(id) gives it by id', async () => {
    const journal = new Journal();
    const orchestrator = open(journal);
    const handle = await orchestrator.submit(probe('p1', 0, { ms: 200 }));
    expect(handle.id).toBe('p1');
    expect((await orchestrator.get('p1'))?.status).toMatch(/^(pending|running)$/);
    await expect.poll(async () => (await orchestrator.get('p1'))?.status).toBe('running');
    expect(await handle.result).toMatchObject({ id: 'p1', type: 'probe', status: 'completed', success: true, data: 'done:p1', attempts: 1 });
    expect(await orchestrator.get('p1')).toMatchObject({ status: 'completed', attempts: 1, result: { data: 'done:p1' } });
    expect(await orchestrator.result('p1')).toMatchObject({ status: 'completed', data: 'done:p1' });
    expect(await orchestrator.get('nobody')).toBeUndefined();
    await expect(orchestrator.result('nobody')).rejects.toMatchObject({ code: 'NOT_FOUND' });
    // Two lookups at once of an id nobody knows: both refused, neither left waiting.
    const twice = await Promise.allSettled([orchestrator.result('nobody'), orchestrator.result('nobody')]);
    expect(twice.map((settled) => (settled.status === 'rejected' ? (settled.reason as TaskforgeError).code : 'resolved'))).toEqual(['NOT_FOUND', 'NOT_FOUND']);
  });

  it('never runs more than `concurrency` tasks at once in one orchestrator, and does reach it', async () => {
    const journal = new Journal();
    const orchestrator = open(journal, { concurrency: 3 });
    const handles = await orchestrator.submitAll(Array.from({ length: 12 }, (_, index) => probe(`c${String(index)}`, 0, { ms: 30 })));
    await Promise.all(handles.map((handle) => handle.result));
    expect(journal.maxRunning).toBe(3);
  });

  it('runs a task only after its dependencies completed; a failed one ends its dependents DEPENDENCY_FAILED, transitively, without running them', async () => {
    const journal = new Journal();
    const orchestrator = open(journal, { concurrency: 2 });
    const [a, , c, bad, child, grandchild] = await orchestrator.submitAll([
      probe('a', 0, { ms: 30 }),
      probe('b', 5, { ms: 10 }, { dependsOn: ['a'] }),
      probe('c', 9, {}, { dependsOn: ['a', 'b'] }),
      probe('bad', 0, { fail: 'IO_ERROR' }),
      probe('child', 0, {}, { dependsOn: ['bad'] }),
      probe('grandchild', 0, {}, { dependsOn: ['child'] }),
    ]);
    expect((await c.result).status).toBe('completed');
    expect((await a.result).status).toBe('completed');
    expect(journal.lines.indexOf('start:b')).toBeGreaterThan(journal.lines.indexOf('end:a'));
    expect(journal.lines.indexOf('start:c')).toBeGreaterThan(journal.lines.indexOf('end:b'));
    expect(await bad.result).toMatchObject({ status: 'failed', error: { code: 'IO_ERROR' } });
    expect(await child.result).toMatchObject({ status: 'failed', attempts: 0, error: { code: 'DEPENDENCY_FAILED', message: "task 'child' did not run: its dependency 'bad' did not complete (IO_ERROR)" } });
    expect(await grandchild.result).toMatchObject({ error: { code: 'DEPENDENCY_FAILED', details: { dependency: 'child', dependencyCode: 'DEPENDENCY_FAILED' } } });
    expect(journal.startOrder).not.toContain('child');
    // Submitted after its dependency failed: it ends at once.
    expect(await (await orchestrator.submit(probe('late', 0, {}, { dependsOn: ['bad'] }))).result).toMatchObject({ error: { code: 'DEPENDENCY_FAILED' } });
  });

  it('refuses at submit what it cannot queue, storing nothing of the batch', async () => {
    const orchestrator = open(new Journal());
    // Each refusal names the field and what was given there.
    await expect(orchestrator.submit({ type: 'nope' })).rejects.toMatchObject({
      code: 'VALIDATION_ERROR',
      message: expect.stringMatching(/^type: no task type 'nope' is registered/) as string,
      details: { fields: [{ field: 'type', received: '"nope"' }] },
    });
    await expect(orchestrator.submit(probe('x', 0, {}, { dependsOn: ['ghost'] }))).rejects.toMatchObject({
      code: 'VALIDATION_ERROR',
      message: expect.stringMatching(/^dependsOn\[0\]: no task with id 'ghost' is known/) as string,
      details: { fields: [{ field: 'dependsOn[0]', received: '"ghost"' }] },
    });
    await expect(orchestrator.submitAll([probe('one', 0, {}, { dependsOn: ['two'] }), probe('two', 0, {}, { dependsOn: ['one'] })])).rejects.toMatchObject({ message: expect.stringContaining('a dependency cycle: one -> two -> one') as string });
    await orchestrator.submit(probe('taken'));
    await expect(orchestrator.submitAll([probe('fresh'), probe('taken')])).rejects.toMatchObject({ code: 'ALREADY_EXISTS', message: "a task with id 'taken' already exists ([1])" });
    for (const id of ['x', 'one', 'two', 'fresh']) expect(await orchestrator.get(id)).toBeUndefined();
  });

  it('cancels a waiting task (its dependents fail) and a running one (its signal aborts); a finished or unknown one is refused', async () => {
    const journal = new Journal();
    const orchestrator = open(journal);
    const cancels: string[] = [];
    orchestrator.on('cancel', (event) => cancels.push(`${event.id}:${event.previousStatus}`));
    const [running, waiting, dependent] = await orchestrator.submitAll([probe('running', 5, { ms: 10_000 }), probe('waiting'), probe('dependent', 0, {}, { dependsOn: ['waiting'] })]);
    await expect.poll(() => journal.signals.has('running')).toBe(true);
    expect(await orchestrator.cancel('waiting', 'not needed')).toMatchObject({ status: 'failed', attempts: 0, error: { code: 'CANCELLED', message: "task 'waiting' was cancelled before it ran: not needed" } });
    expect(await waiting.result).toMatchObject({ error: { code: 'CANCELLED' } });
    expect(await dependent.result).toMatchObject({ error: { code: 'DEPENDENCY_FAILED' } });
    const cancelled = await orchestrator.cancel('running', 'enough');
    expect(cancelled).toMatchObject({ status: 'failed', error: { code: 'CANCELLED' } });
    expect(journal.signals.get('running')?.aborted).toBe(true);
    expect(await running.result).toEqual(cancelled);
    await expect.poll(() => cancels).toEqual(['waiting:pending', 'running:running']);
    await expect(orchestrator.cancel('running')).rejects.toMatchObject({ code: 'INVALID_STATE' });
    await expect(orchestrator.cancel('nobody')).rejects.toMatchObject({ code: 'NOT_FOUND' });
    expect(journal.startOrder).toEqual(['running']);
  });

  it('retries a transient failure and times an attempt out, as in one process, with the events to match', async () => {
    const journal = new Journal();
    const orchestrator = open(journal, { concurrency: 2 });
    const seen: string[] = [];
    orchestrator.on('retry', (event) => seen.push(`retry:${event.id}:${String(event.attempt)}`));
    orchestrator.on('error', (event) => seen.push(`error:${event.id}:${event.error.code}`));
    orchestrator.on('complete', (result) => seen.push(`complete:${result.id}`));
    const [flaky, slow] = await orchestrator.submitAll([
      probe('flaky', 0, { flaky: 2 }, { metadata: { flaky: 2, options: { retries: 3 } } }),
      probe('slow', 0, { ms: 5000 }, { metadata: { ms: 5000, options: { timeout: 100 } } }),
    ]);
    expect(await flaky.result).toMatchObject({ status: 'completed', attempts: 3 });
    expect(await slow.result).toMatchObject({ status: 'failed', error: { code: 'TIMEOUT' } });
    await expect.poll(() => [...seen].sort()).toEqual(['complete:flaky', 'error:slow:TIMEOUT', 'retry:flaky:1', 'retry:flaky:2']);
  });

  it('hands the result of a task to another orchestrator on the same queue, by id', async () => {
    // (A queue of one process has one orchestrator; a durable one outlives it.)
    const journal = new Journal();
    const first = open(journal);
    const handle = await first.submit(probe('shared', 0, { ms: 20 }));
    await handle.result;
    if (!kind.durable) {
      expect(await first.result('shared')).toMatchObject({ status: 'completed', data: 'done:shared' });
      return;
    }
    const queue = kind.queue();
    await first.shutdown();
    const second = open(journal, {}, queue);
    expect(await second.result('shared')).toMatchObject({ id: 'shared', status: 'completed', data: 'done:shared' });
  });

  /**
   * The kind's queue, whose answers from `method` are held back until the
   * task asked about has ended: its end comes between the queue's answer
   * and what the orchestrator does with it. And an orchestrator on it.
   */
  async function answeringLate(journal: Journal, method: 'state' | 'cancel'): Promise<{ queue: TaskQueue; orchestrator: AnyOrchestrator }> {
    const { queue: local, opening } = openQueue(kind.queue());
    const queue = local ?? (await opening);
    const late = new Proxy(queue, {
      get(target, property) {
        if (property === method) {
          return async (id: string, ...rest: unknown[]) => {
            const answer: unknown = await (target[method] as (id: string, ...rest: unknown[]) => Promise<unknown>).call(target, id, ...rest);
            await expect.poll(async () => (await target.state(id))?.status, { timeout: 10_000 }).toBe('finished');
            return answer;
          };
        }
        const value: unknown = Reflect.get(target, property, target);
        return typeof value === 'function' ? (value as (...args: unknown[]) => unknown).bind(target) : value;
      },
    });
    return { queue, orchestrator: open(journal, {}, late) };
  }

  /** A task submitted past the orchestrator (as another process would): it holds no handle of its own for it. */
  async function submitPast(queue: TaskQueue, id: string, ms: number): Promise<void> {
    await queue.submit([{ id, type: 'probe', priority: 0, config: probe(id, 0, { ms }), dependsOn: undefined, attempts: 0, submittedAt: Date.now() }]);
  }

  it('result(id) hears an end that comes while it asks the queue about the task (the answer said it was still running)', async () => {
    const { queue, orchestrator } = await answeringLate(new Journal(), 'state');
    await submitPast(queue, 'raced', 100);
    const outcome = await Promise.race([orchestrator.result('raced'), delay(15_000).then(() => 'never heard')]);
    expect(outcome).toMatchObject({ id: 'raced', status: 'completed', data: 'done:raced' });
  });

  it('cancel(id) hears an end that comes while the queue signals the running task (it ended before the signal mattered)', async () => {
    const journal = new Journal();
    const { queue, orchestrator } = await answeringLate(journal, 'cancel');
    await submitPast(queue, 'raced', 300);
    await expect.poll(() => journal.lines).toContain('start:raced');
    const outcome = await Promise.race([orchestrator.cancel('raced'), delay(15_000).then(() => 'never heard')]);
    expect(outcome).toMatchObject({ id: 'raced', status: 'failed', error: { code: 'CANCELLED' } });
  });

  it('with agingMs, a task that has waited long enough runs before a later one of a higher priority (no starvation)', async () => {
    const journal = new Journal();
    // One point per 100 ms: `old` waits about 10 points before `newer` (priority 5) arrives, so runs first; `urgent` (20) still runs before both.
    const orchestrator = open(journal, { agingMs: 100 });
    const blocker = await orchestrator.submit(probe('blocker', 100, { ms: 1500 }));
    await expect.poll(() => journal.startOrder).toEqual(['blocker']);
    await orchestrator.submit(probe('old', 0));
    await delay(1000);
    const later = await orchestrator.submitAll([probe('newer', 5), probe('urgent', 20)]);
    await Promise.all([blocker.result, ...later.map((handle) => handle.result)]);
    expect(journal.startOrder).toEqual(['blocker', 'urgent', 'old', 'newer']);
  });

  it('shutdown lets running tasks finish within its deadline, and takes no more work', async () => {
    const journal = new Journal();
    const orchestrator = open(journal);
    const running = await orchestrator.submit(probe('finishing', 1, { ms: 100 }));
    const waiting = await orchestrator.submit(probe('waiting', 0));
    await expect.poll(() => journal.signals.has('finishing')).toBe(true);
    await orchestrator.shutdown({ timeoutMs: 5000 });
    expect(await running.result).toMatchObject({ status: 'completed' });
    // The memory queue ends what waits; a durable one keeps it for the next orchestrator.
    expect(await waiting.result).toMatchObject({ status: 'failed', error: { code: 'CANCELLED', details: { requeued: kind.durable } } });
    await expect(orchestrator.submit(probe('late'))).rejects.toMatchObject({ code: 'INVALID_STATE' });
  });

  it('a shutdown whose task ignores its cancellation is bounded: the handle says the task was given up', async () => {
    const journal = new Journal();
    const orchestrator = open(journal);
    const stubborn = await orchestrator.submit(probe('stubborn', 0, { ms: 8000, ignoreAbort: true }));
    await expect.poll(() => journal.signals.has('stubborn')).toBe(true);
    const started = performance.now();
    await orchestrator.shutdown({ timeoutMs: 100 });
    const tookMs = performance.now() - started;
    expect(tookMs).toBeLessThan(6000);
    expect(journal.signals.get('stubborn')?.aborted).toBe(true);
    const given = await stubborn.result;
    expect(given).toMatchObject({ type: 'probe', status: 'failed', error: { code: 'INTERRUPTED', details: { abandoned: true, requeued: kind.durable } } });
    // Its end says what ran: one attempt, from when it started to when it was given up.
    expect(given.attempts).toBe(1);
    expect(Date.parse(given.startedAt)).toBeLessThan(Date.parse(given.finishedAt));
    expect(given.durationMs).toBe(Date.parse(given.finishedAt) - Date.parse(given.startedAt));
    expect(given.durationMs).toBeGreaterThan(0);
  }, 15_000);

  it.runIf(kind.durable)('a process killed mid-run: the next orchestrator on the queue runs the task again and its dependent after it', async () => {
    const journalFile = join(dir, 'journal.txt');
    const location = kind.name === 'sqlite' ? join(dir, 'crash.db') : (redis?.url ?? '');
    const name = `crash-${String(testNumber)}`;
    const child = startScriptFile('test/fixtures/crash-run.ts', [kind.name, location, name, journalFile]);
    let stderr = '';
    child.stderr?.on('data', (chunk: Buffer) => (stderr += chunk.toString()));
    const exited = new Promise((resolve) => child.once('exit', resolve));
    for (let waited = 0; !(existsSync(journalFile) && readFileSync(journalFile, 'utf8').includes('start crash-me')); waited += 10) {
      if (waited > 20_000) throw new Error(`the child never started the task: ${stderr}`);
      await delay(10);
    }
    child.kill('SIGKILL');
    await exited;
    const queue = await openDurableQueue(kind.name, location, name);
    const next: AnyOrchestrator = new Orchestrator({ queue, concurrency: 1, taskTypes: { crash: CrashTask }, context: { journalFile, workMs: 0 } });
    opened.push(next);
    const again = await next.result('crash-me');
    expect(again).toMatchObject({ status: 'completed', attempts: 2, data: `done by ${String(process.pid)}` });
    expect(await next.result('after')).toMatchObject({ status: 'completed' });
    const starts = readFileSync(journalFile, 'utf8').split('\n').filter((line) => line.startsWith('start crash-me'));
    expect(starts).toHaveLength(2);
  }, 30_000);
});

describe('the Orchestrator: one queue, named or given', () => {
  it('takes a queue object or its URL alike, and refuses a URL it cannot open', async () => {
    const { path, remove } = await makeTempDir('api-url-');
    try {
      const byObject = new Orchestrator({ queue: new SqliteQueue(join(path, 'a.db')), taskTypes: { probe: ProbeTask } });
      expect(byObject.queueName).toBe(`sqlite:${join(path, 'a.db')}`);
      await byObject.shutdown();
      const byUrl = new Orchestrator({ queue: `sqlite:${join(path, 'a.db')}`, taskTypes: { probe: ProbeTask } });
      expect(byUrl.queueName).toBe(`sqlite:${join(path, 'a.db')}`);
      // A file another holds: refused where a Redis queue that cannot be opened is (ready(), and every call that
      // needs the queue), not thrown from the constructor.
      const second = new Orchestrator({ queue: `sqlite:${join(path, 'a.db')}`, taskTypes: { probe: ProbeTask } });
      await expect(second.ready()).rejects.toMatchObject({ code: 'BACKEND_UNAVAILABLE', message: expect.stringContaining('is in use by another process') as unknown });
      await expect(second.submit(probe('refused'))).rejects.toMatchObject({ code: 'BACKEND_UNAVAILABLE' });
      await second.shutdown();
      await byUrl.shutdown();
      expect(() => new Orchestrator({ queue: 'postgres://x' })).toThrow(expect.objectContaining({ code: 'VALIDATION_ERROR', message: expect.stringContaining("expected 'memory', 'sqlite:FILE' or 'redis://") as string }));
      expect(() => new Orchestrator({ queue: 'memory', concurrency: 0 })).toThrow(/concurrency: expected a whole number of 1 or more/);
      // Every option is checked in the constructor, as VALIDATION_ERROR naming it: a misspelt one is not ignored.
      const typo = { concurency: 4 } as unknown as OrchestratorOptions;
      expect(() => new Orchestrator(typo)).toThrow(expect.objectContaining({ code: 'VALIDATION_ERROR', message: expect.stringMatching(/^concurency: not an option of the Orchestrator \(its options: concurrency, queue, /) as unknown }));
      expect(() => new Orchestrator({ agingMs: -5 })).toThrow(expect.objectContaining({ code: 'VALIDATION_ERROR', message: 'agingMs: expected a positive number of ms (got -5)' }));
      expect(() => new Orchestrator({ maxInterruptions: -1 })).toThrow(expect.objectContaining({ code: 'VALIDATION_ERROR', message: 'maxInterruptions: expected a whole number of 0 or more (got -1)' }));
    } finally {
      await remove();
    }
  });
});
