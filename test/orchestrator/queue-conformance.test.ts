import { setTimeout as delay } from 'node:timers/promises';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { MemoryQueue } from '../../src/orchestrator/queues/memory-queue.js';
import { SqliteQueue } from '../../src/orchestrator/queues/sqlite-queue.js';
import type { QueuedTask, TaskQueue } from '../../src/orchestrator/task-queue.js';
import type { TaskResult } from '../../src/tasks/task-result.js';
import { makeTempDir } from '../helpers/temp-dir.js';

/** How to make a queue of one kind; `reopen` gives a new queue on the same store (durable queues only). */
interface QueueKind {
  readonly name: string;
  readonly durable: boolean;
  open(options?: { agingMs?: number; maxFinished?: number }): TaskQueue;
}

let dir = '';
let removeDir: () => Promise<void> = () => Promise.resolve();
const opened: TaskQueue[] = [];

beforeEach(async () => {
  ({ path: dir, remove: removeDir } = await makeTempDir('queue-'));
});

afterEach(async () => {
  for (const queue of opened.splice(0)) queue.close();
  await removeDir();
});

const kinds: QueueKind[] = [
  { name: 'memory', durable: false, open: (options = {}) => track(new MemoryQueue(options)) },
  { name: 'sqlite', durable: true, open: (options = {}) => track(new SqliteQueue(join(dir, 'queue.db'), options)) },
];

function track(queue: TaskQueue): TaskQueue {
  opened.push(queue);
  return queue;
}

function task(id: string, priority = 0, extra: Partial<QueuedTask> = {}): QueuedTask {
  return { id, type: 'probe', priority, config: { id, type: 'probe', priority, metadata: { n: id } }, dependsOn: undefined, attempts: 0, submittedAt: Date.now(), ...extra };
}

function result(id: string, status: 'completed' | 'failed' = 'completed', data?: unknown, attempts = 1): TaskResult {
  const at = new Date().toISOString();
  return {
    id,
    type: 'probe',
    status,
    success: status === 'completed',
    ...(data === undefined ? {} : { data }),
    ...(status === 'failed' ? { error: { code: 'IO_ERROR' as const, message: 'disk said no', retryable: false } } : {}),
    attempts,
    startedAt: at,
    finishedAt: at,
    durationMs: 0,
  };
}

function takeAll(queue: TaskQueue): string[] {
  const ids: string[] = [];
  for (let next = queue.take(); next !== undefined; next = queue.take()) ids.push(next.id);
  return ids;
}

describe.each(kinds)('queue conformance: $name', (kind) => {
  it('hands out ready tasks by priority, larger first, then in submission order', () => {
    const queue = kind.open();
    expect(queue.take()).toBeUndefined();
    for (const [id, priority] of [['a', 1], ['b', 5], ['c', 1], ['d', -3], ['e', 5], ['f', 2.5]] as const) queue.add(task(id, priority), true);
    expect(queue.waiting).toBe(6);
    expect(takeAll(queue)).toEqual(['b', 'e', 'f', 'a', 'c', 'd']);
    expect(queue.waiting).toBe(0);
  });

  it('gives back what was queued: id, type, priority, config, dependencies, attempts', () => {
    const queue = kind.open();
    const original = task('full', 7, { dependsOn: ['x', 'y'], attempts: 2 });
    queue.add(original, true);
    const taken = queue.take();
    expect(taken).toMatchObject({ id: 'full', type: 'probe', priority: 7, config: original.config, dependsOn: ['x', 'y'], attempts: 2, submittedAt: original.submittedAt });
  });

  it('holds a blocked task back until it is released', () => {
    const queue = kind.open();
    queue.add(task('blocked', 9), false);
    queue.add(task('ready', 0), true);
    expect(queue.waiting).toBe(2);
    expect(takeAll(queue)).toEqual(['ready']);
    queue.release('blocked');
    queue.release('ready'); // not blocked: nothing happens
    expect(takeAll(queue)).toEqual(['blocked']);
  });

  it('a task that finishes while waiting leaves the queue', () => {
    const queue = kind.open();
    const tasks = { stays: task('stays'), cancelled: task('cancelled'), blockedCancelled: task('blocked-cancelled') };
    queue.add(tasks.stays, true);
    queue.add(tasks.cancelled, true);
    queue.add(tasks.blockedCancelled, false);
    queue.finish(tasks.cancelled, result('cancelled', 'failed', undefined, 0));
    queue.finish(tasks.blockedCancelled, result('blocked-cancelled', 'failed', undefined, 0));
    expect(queue.waiting).toBe(1);
    expect(takeAll(queue)).toEqual(['stays']);
    expect(queue.finished('cancelled')).toMatchObject({ status: 'failed', attempts: 0 });
  });

  it('keeps finished tasks queryable: status, attempts, priority, result; small JSON data kept, bytes dropped', () => {
    const queue = kind.open();
    const tasks = { ok: task('ok', 3, { dependsOn: ['zero'] }), bytes: task('bytes'), bad: task('bad') };
    for (const added of Object.values(tasks)) queue.add(added, true);
    takeAll(queue);
    queue.finish(tasks.ok, result('ok', 'completed', { path: '/a', size: 3 }, 2));
    queue.finish(tasks.bytes, result('bytes', 'completed', Buffer.from('payload')));
    queue.finish(tasks.bad, result('bad', 'failed'));
    expect(queue.finished('ok')).toMatchObject({ id: 'ok', type: 'probe', priority: 3, status: 'completed', attempts: 2, dependsOn: ['zero'], result: { data: { path: '/a', size: 3 } } });
    const bytes = queue.finished('bytes');
    expect(bytes?.result.data).toBeUndefined();
    expect(bytes?.result.details).toEqual({ dataRetained: false });
    expect(queue.finished('bad')?.result.error).toEqual({ code: 'IO_ERROR', message: 'disk said no', retryable: false });
    expect(queue.finished('never')).toBeUndefined();
    expect(queue.finished('ok')?.result.success).toBe(true);
  });

  it('keeps at most maxFinished finished tasks, dropping the oldest', () => {
    const queue = kind.open({ maxFinished: 3 });
    for (let index = 0; index < 5; index += 1) {
      const added = task(`t${String(index)}`);
      queue.add(added, true);
      queue.take();
      queue.finish(added, result(added.id));
    }
    // A durable queue sweeps in batches: reopening runs a sweep.
    const checked = kind.durable ? reopen(kind, queue, { maxFinished: 3 }) : queue;
    expect(['t0', 't1', 't2', 't3', 't4'].map((id) => checked.finished(id) !== undefined)).toEqual([false, false, true, true, true]);
  });

  it('with aging, a task that waited long enough overtakes a later higher-priority one', async () => {
    const queue = kind.open({ agingMs: 1 });
    queue.add(task('old-low', 0), true);
    await delay(40);
    queue.add(task('new-high', 10), true);
    expect(takeAll(queue)).toEqual(['old-low', 'new-high']);
  });

  it('a batch in a transaction is stored whole or not at all', () => {
    const queue = kind.open();
    if (queue.transaction === undefined) return;
    queue.transaction(() => {
      queue.add(task('t1'), true);
      queue.add(task('t2'), true);
    });
    expect(queue.waiting).toBe(2);
    if (kind.durable) {
      expect(() => {
        queue.transaction?.(() => {
          queue.add(task('t3'), true);
          queue.add(task('t1'), true); // a duplicate id: the store refuses it
        });
      }).toThrow();
      expect(takeAll(reopen(kind, queue))).toEqual(['t1', 't2']);
    }
  });

  it(kind.durable ? 'after a crash, hands back waiting tasks, and running ones as ready with the cut-off attempt counted' : 'has nothing to recover', () => {
    const queue = kind.open();
    const waiting = task('waiting', 1);
    queue.add(task('ran'), true);
    queue.add(task('running', 5), true);
    queue.add(waiting, true);
    queue.add(task('blocked', 1, { dependsOn: ['running'] }), false);
    expect(queue.take()?.id).toBe('running');
    expect(queue.take()?.id).toBe('waiting');
    queue.finish(waiting, result('waiting'));
    expect(queue.take()?.id).toBe('ran');
    if (!kind.durable) {
      expect(queue.recover()).toEqual([]);
      return;
    }
    // Not closed: the process "died" holding it; the next one opens the same file.
    const next = reopen(kind, queue);
    const unfinished = next.recover();
    expect(unfinished.map((entry) => [entry.id, entry.ready, entry.attempts, entry.interruptions])).toEqual([
      ['ran', true, 1, 1],
      ['running', true, 1, 1],
      ['blocked', false, 0, 0],
    ]);
    expect(unfinished[2]?.dependsOn).toEqual(['running']);
    expect(next.waiting).toBe(3);
    expect(next.finished('waiting')).toMatchObject({ status: 'completed' });
    expect(takeAll(next)).toEqual(['running', 'ran']);
  });
});

/** Closes a durable queue and opens a new one on the same file, as a restarted process would. */
function reopen(kind: QueueKind, queue: TaskQueue, options: { maxFinished?: number } = {}): TaskQueue {
  queue.close();
  return kind.open(options);
}

describe('SqliteQueue', () => {
  it('refuses a second process on the same file while the first holds it', async () => {
    const file = join(dir, 'held.db');
    track(new SqliteQueue(file));
    const { runScript } = await import('../helpers/child.js');
    const child = runScript(
      `import { SqliteQueue } from ${JSON.stringify((await import('../helpers/child.js')).repoModule('src/orchestrator/queues/sqlite-queue.ts'))};
       try { new SqliteQueue(${JSON.stringify(file)}); console.log('opened'); } catch (error) { console.log(error.code, error.message); }`,
    );
    expect(child.stdout.trim()).toBe(`BACKEND_UNAVAILABLE the SQLite queue '${file}' is in use by another process`);
  });

  it('refuses a file that is not a SQLite database, and a task object', () => {
    const file = join(dir, 'not-a-db');
    writeFileSync(file, 'hello, I am text and not a database at all, and I am long enough to have a header');
    expect(() => new SqliteQueue(file)).toThrow(expect.objectContaining({ code: 'BACKEND_UNAVAILABLE', message: expect.stringContaining(`cannot use the SQLite queue '${file}'`) as string }));
    const queue = track(new SqliteQueue(join(dir, 'ok.db')));
    expect(() => { queue.add({ ...task('object'), config: { execute: () => undefined } as never }, true); }).toThrow(/a durable queue stores task configs, not task objects/);
  });

  it('creates missing directories for its file', () => {
    const queue = track(new SqliteQueue(join(dir, 'a', 'b', 'q.db')));
    queue.add(task('x'), true);
    expect(queue.name).toBe(`sqlite:${join(dir, 'a', 'b', 'q.db')}`);
  });

  it('refuses bad retention limits and aging', () => {
    expect(() => new SqliteQueue(join(dir, 'r.db'), { maxFinished: -1 })).toThrow(/maxFinished must be a non-negative integer/);
    expect(() => new SqliteQueue(join(dir, 'r.db'), { agingMs: 0 })).toThrow(/agingMs must be a positive number/);
  });
});
