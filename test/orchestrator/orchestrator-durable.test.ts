import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { createRequire } from 'node:module';
import type BetterSqlite3 from 'better-sqlite3';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { Orchestrator, type AnyOrchestrator } from '../../src/orchestrator/orchestrator.js';
import { SqliteQueue } from '../../src/orchestrator/queues/sqlite-queue.js';
import { MemoryBackend } from '../../src/storage/backends/memory.js';
import { Journal, ProbeTask, probe } from '../helpers/probe-task.js';
import { ScriptedTask } from '../helpers/scripted-task.js';
import type { QueuedTask, TaskStore } from '../../src/orchestrator/task-store.js';
import { SqliteStore } from '../../src/orchestrator/queues/sqlite-store.js';
import { QueueOverStore } from '../helpers/queue-over-store.js';
import { makeTempDir } from '../helpers/temp-dir.js';

const Database = createRequire(import.meta.url)('better-sqlite3') as typeof BetterSqlite3;

/** The real SQLite store, with a failure injected for one task id (as a full disk would). */
function failingOn(queue: SqliteStore, id: string): TaskStore {
  return {
    name: queue.name,
    durable: queue.durable,
    get waiting() {
      return queue.waiting;
    },
    add(task: QueuedTask, ready: boolean): void {
      if (task.id === id) throw Object.assign(new Error('database or disk is full'), { code: 'SQLITE_FULL' });
      queue.add(task, ready);
    },
    release: (releasedId) => {
      queue.release(releasedId);
    },
    take: () => queue.take(),
    finish: (task, result) => {
      queue.finish(task, result);
    },
    finished: (finishedId) => queue.finished(finishedId),
    recover: () => queue.recover(),
    transaction: (work) => {
      queue.transaction(work);
    },
    close: () => {
      queue.close();
    },
  };
}

let dir = '';
let removeDir: () => Promise<void> = () => Promise.resolve();
const running: AnyOrchestrator[] = [];

beforeEach(async () => {
  ({ path: dir, remove: removeDir } = await makeTempDir('durable-'));
});
afterEach(async () => {
  await Promise.all(running.splice(0).map((orchestrator) => orchestrator.shutdown({ timeoutMs: 0 })));
  await removeDir();
});

function open(file: string, journal: Journal, options: { maxInterruptions?: number; concurrency?: number } = {}): AnyOrchestrator {
  const orchestrator = new Orchestrator({ concurrency: 1, ...options, queue: new SqliteQueue(file), taskTypes: { probe: ProbeTask }, context: { journal } });
  running.push(orchestrator);
  return orchestrator;
}

describe('Orchestrator on a SQLite queue', () => {
  it('results stay queryable after a restart, and a finished id cannot be reused', async () => {
    const file = join(dir, 'q.db');
    const first = open(file, new Journal());
    const ok = await (await first.submit(probe('kept', 2))).result;
    expect(ok.status).toBe('completed');
    await first.shutdown();
    const second = open(file, new Journal());
    expect(await second.get('kept')).toMatchObject({ id: 'kept', type: 'probe', priority: 2, status: 'completed', attempts: 1, result: { data: 'done:kept' } });
    await expect(second.submit(probe('kept'))).rejects.toThrow(expect.objectContaining({ code: 'ALREADY_EXISTS' }));
    // A dependency on a task finished in an earlier run is satisfied.
    expect((await (await second.submit(probe('later', 0, {}, { dependsOn: ['kept'] }))).result).status).toBe('completed');
  });

  it('shutdown leaves waiting tasks in the store, and the next orchestrator runs them', async () => {
    const file = join(dir, 'q.db');
    const journal = new Journal();
    const first = open(file, journal);
    await first.submit(probe('running', 9, { ms: 30 }));
    const waiting = await first.submit(probe('waiting', 1));
    await first.submit(probe('blocked', 5, {}, { dependsOn: ['waiting'] }));
    await new Promise((resolve) => setTimeout(resolve, 5));
    await first.shutdown();
    expect(await waiting.result).toMatchObject({ type: 'probe', status: 'failed', error: { code: 'CANCELLED', details: { requeued: true } }, details: { requeued: true } });
    const second = open(file, journal);
    expect((await second.get('waiting'))?.status).toBe('pending');
    await second.onIdle();
    expect((await second.get('waiting'))?.status).toBe('completed');
    expect((await second.get('blocked'))?.status).toBe('completed');
    expect(journal.startOrder).toEqual(['running', 'waiting', 'blocked']);
  });

  it('a queue reopened by a process that lacks one of its task types leaves those tasks (and what waits on them) waiting, says so once, and is idle; a process with the type runs them', async () => {
    const file = join(dir, 'q.db');
    const journal = new Journal();
    const both = { probe: ProbeTask, resize: ProbeTask };
    // Written by a process that had both types (nothing consumed it).
    const filled = new SqliteQueue(file);
    const queued = (id: string, type: string, priority = 0, dependsOn?: string[]): QueuedTask => ({ id, type, priority, config: { ...probe(id, priority), type, dependsOn }, dependsOn, attempts: 0, submittedAt: Date.now() });
    filled.submitNow([queued('image-1', 'resize'), queued('image-2', 'resize', 5), queued('after-image', 'probe', 9, ['image-1']), queued('plain', 'probe', 1)]);
    await filled.close();
    const warnings: string[] = [];
    const heard = (warning: Error): void => {
      if (warning.name === 'TaskforgeWarning') warnings.push(warning.message);
    };
    process.on('warning', heard);
    try {
      const lacking = open(file, journal, { concurrency: 2 });
      await lacking.onIdle();
      expect(journal.startOrder).toEqual(['plain']);
      for (const id of ['image-1', 'image-2', 'after-image']) expect((await lacking.get(id))?.status).toBe('pending');
      expect(await lacking.counts()).toEqual({ waiting: 3, running: 0 });
      await new Promise((resolve) => setImmediate(resolve));
      expect(warnings).toHaveLength(1);
      expect(warnings[0]).toContain("2 tasks of type 'resize'");
      expect(warnings[0]).toContain('no such task type is registered');
      expect(warnings[0]).toContain('with 1 task that waits on them');
      // A cancel still reaches a task held back, and what waits on it fails with it.
      expect(await lacking.cancel('image-2')).toMatchObject({ status: 'failed', error: { code: 'CANCELLED' } });
      await lacking.shutdown();
      expect(lacking.shutdownReport).toEqual({ cutOff: [], abandoned: [], waiting: 2 });
    } finally {
      process.off('warning', heard);
    }
    const able = new Orchestrator({ concurrency: 2, queue: new SqliteQueue(file), taskTypes: both, context: { journal } });
    running.push(able);
    await able.onIdle();
    expect(journal.startOrder).toEqual(['plain', 'image-1', 'after-image']);
    expect(await able.get('after-image')).toMatchObject({ status: 'completed', attempts: 1 });
    expect(await able.get('image-2')).toMatchObject({ status: 'failed', result: { error: { code: 'CANCELLED' } } });
  });

  it('tasks held back for a type this process lacks run once it registers the type; onIdle() does not wait on them meanwhile', async () => {
    const file = join(dir, 'q.db');
    const filled = new SqliteQueue(file);
    filled.submitNow([1, 2, 3].map((n) => ({ id: `image-${String(n)}`, type: 'resize', priority: n, config: { ...probe(`image-${String(n)}`, n), type: 'resize' }, dependsOn: undefined, attempts: 0, submittedAt: Date.now() })));
    await filled.close();
    const journal = new Journal();
    const heard = (): void => undefined;
    process.on('warning', heard);
    try {
      const lacking = open(file, journal, { concurrency: 2 });
      // Nothing it can run, so no task ends here to wake onIdle(): the queue's finding that nothing is left to start does.
      const idle = await Promise.race([lacking.onIdle().then(() => 'idle'), new Promise((resolve) => setTimeout(resolve, 5000, 'still waiting'))]);
      expect(idle).toBe('idle');
      expect(journal.startOrder).toEqual([]);
      lacking.register('resize', ProbeTask);
      await lacking.onIdle();
      expect(journal.startOrder).toEqual(['image-3', 'image-2', 'image-1']);
      expect(await lacking.counts()).toEqual({ waiting: 0, running: 0 });
    } finally {
      process.off('warning', heard);
    }
  });

  it('a running task the shutdown timeout cuts off stays in the store, as after a crash, and the next orchestrator runs it again', async () => {
    const file = join(dir, 'q.db');
    const journal = new Journal();
    const first = open(file, journal);
    const cut = await first.submit(probe('cut', 0, { ms: 400 }));
    const waiting = await first.submit(probe('waiting'));
    while (journal.running === 0) await new Promise((resolve) => setTimeout(resolve, 5));
    await first.shutdown({ timeoutMs: 10 });
    expect(first.shutdownReport).toEqual({ cutOff: ['cut'], abandoned: [], waiting: 1 });
    expect(await cut.result).toMatchObject({ status: 'failed', error: { code: 'CANCELLED', details: { requeued: true } } });
    expect((await waiting.result).error).toMatchObject({ code: 'CANCELLED', details: { requeued: true } });
    const second = open(file, journal);
    expect((await second.get('cut'))?.status).toBe('pending');
    await second.onIdle();
    // Run again to its end: the cut-off attempt counted (as an interruption), not recorded as its end.
    expect(await second.get('cut')).toMatchObject({ status: 'completed', attempts: 2, result: { data: 'done:cut' } });
    expect((await second.get('waiting'))?.status).toBe('completed');
  });

  it('a task cut off by a shutdown, cancelled before it runs again, ends saying so, with the attempt it made and the reason given', async () => {
    const file = join(dir, 'q.db');
    const journal = new Journal();
    const first = open(file, journal);
    await first.submit(probe('cut', 0, { ms: 400 }));
    while (journal.running === 0) await new Promise((resolve) => setTimeout(resolve, 5));
    await first.shutdown({ timeoutMs: 10 });
    // The queue opened again, with nothing running its tasks yet.
    const queue = new SqliteQueue(file);
    try {
      expect(await queue.cancel('cut', 'not any more')).toMatchObject({
        outcome: 'ended',
        result: { status: 'failed', attempts: 1, error: { code: 'CANCELLED', message: "task 'cut' was cancelled while it waited to run again (its last run was cut off: its worker or process stopped or died): not any more" } },
      });
    } finally {
      await queue.close();
    }
  });

  it('onIdle() called after a shutdown that gave a task up resolves: the task is not waited for', async () => {
    const journal = new Journal();
    const orchestrator = new Orchestrator({ concurrency: 1, taskTypes: { probe: ProbeTask }, context: { journal } });
    const stuck = await orchestrator.submit(probe('stuck', 0, { ms: 4000, ignoreAbort: true }));
    while (journal.running === 0) await new Promise((resolve) => setTimeout(resolve, 5));
    await orchestrator.shutdown({ timeoutMs: 10 });
    expect(orchestrator.shutdownReport).toEqual({ cutOff: ['stuck'], abandoned: ['stuck'], waiting: 0 });
    expect((await stuck.result).error).toMatchObject({ code: 'INTERRUPTED', details: { abandoned: true } });
    // Its work still runs (4 s): idle all the same.
    expect(orchestrator.running).toBe(1);
    await orchestrator.onIdle();
  }, 10_000);

  it('on the memory queue the shutdown timeout ends a running task CANCELLED, and waiting ones too: the report counts them', async () => {
    const journal = new Journal();
    const orchestrator = new Orchestrator({ concurrency: 1, taskTypes: { probe: ProbeTask }, context: { journal } });
    const cut = await orchestrator.submit(probe('cut', 0, { ms: 400 }));
    const waiting = await orchestrator.submit(probe('waiting'));
    while (journal.running === 0) await new Promise((resolve) => setTimeout(resolve, 5));
    expect(orchestrator.shutdownReport).toBeUndefined();
    await orchestrator.shutdown({ timeoutMs: 10 });
    expect(orchestrator.shutdownReport).toEqual({ cutOff: ['cut'], abandoned: [], waiting: 1 });
    expect((await cut.result).error).toMatchObject({ code: 'CANCELLED' });
    expect((await waiting.result).error).toMatchObject({ code: 'CANCELLED', details: { requeued: false } });
  });

  it('a task cut off by crashes more than maxInterruptions times ends INTERRUPTED', async () => {
    const file = join(dir, 'q.db');
    const first = open(file, new Journal());
    await first.submit(probe('poison'));
    await first.shutdown();
    // Mark it running with two interruptions already, as two crashes would have left it.
    const db = new Database(file);
    db.prepare("UPDATE tasks SET state = 'running', interruptions = 2, attempts = 2 WHERE id = 'poison'").run();
    db.close();
    const second = open(file, new Journal(), { maxInterruptions: 2 });
    await second.onIdle();
    expect(await second.get('poison')).toMatchObject({ status: 'failed', attempts: 3, result: { error: { code: 'INTERRUPTED', details: { interruptions: 3 } } } });
  });

  it('a submit the store refuses leaves no trace: the batch is rolled back whole, and the ids stay free', async () => {
    const file = join(dir, 'q.db');
    const sqlite = new SqliteStore(file);
    const orchestrator = new Orchestrator({ concurrency: 1, queue: new QueueOverStore(failingOn(sqlite, 'bad')), taskTypes: { probe: ProbeTask }, context: { journal: new Journal() } });
    running.push(orchestrator);
    const parent = await orchestrator.submit(probe('parent', 0, { ms: 20 }));
    await expect(orchestrator.submitAll([probe('first', 0, {}, { dependsOn: ['parent'] }), probe('bad', 0, {}, { dependsOn: ['parent'] })])).rejects.toThrow('database or disk is full');
    await expect(orchestrator.submit(probe('bad', 0, {}, { dependsOn: ['parent'] }))).rejects.toThrow('database or disk is full');
    expect(await orchestrator.get('first')).toBeUndefined();
    expect(await orchestrator.get('bad')).toBeUndefined();
    expect((await orchestrator.counts()).waiting).toBe(1);
    const again = await orchestrator.submit(probe('first', 0, {}, { dependsOn: ['parent'] }));
    expect((await parent.result).status).toBe('completed');
    expect((await again.result).status).toBe('completed');
    await orchestrator.onIdle();
    expect((await orchestrator.counts()).waiting).toBe(0);
  });

  it('a queue file whose folder is a file is refused with BACKEND_UNAVAILABLE saying so; missing folders are made', async () => {
    const blocker = join(dir, 'blocker');
    await writeFile(blocker, 'a file');
    expect(() => new SqliteQueue(join(blocker, 'q.db'))).toThrow(expect.objectContaining({ code: 'BACKEND_UNAVAILABLE', message: `cannot open the SQLite queue '${join(blocker, 'q.db')}': a part of its folder ${blocker} is a file, not a folder` }));
    expect(() => new SqliteQueue(join(blocker, 'deeper', 'q.db'))).toThrow(expect.objectContaining({ code: 'BACKEND_UNAVAILABLE' }));
    const made = new SqliteQueue(join(dir, 'new', 'folder', 'q.db'));
    await made.close();
  });

  it('refuses what it cannot store as JSON, naming the field, and task objects', async () => {
    const orchestrator = new Orchestrator({ queue: new SqliteQueue(join(dir, 'q.db')), context: { backend: new MemoryBackend() } });
    running.push(orchestrator);
    await expect(orchestrator.submit({ type: 'storage', metadata: { operation: 'write', path: '/a', data: Buffer.from('x') } })).rejects.toThrow(
      expect.objectContaining({ code: 'VALIDATION_ERROR', message: expect.stringMatching(/^metadata\.data: .*a durable queue stores configs as JSON/) as string }),
    );
    await expect(orchestrator.submit(new ScriptedTask({ type: 'scripted' }, () => Promise.resolve(1)))).rejects.toThrow(/a durable queue stores task configs, not task objects/);
  });
});
