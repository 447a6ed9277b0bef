import { createReadStream } from 'node:fs';
import { join } from 'node:path';
import { setImmediate as nextTurn } from 'node:timers/promises';
import type { ReadStream } from 'node:fs';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { Orchestrator } from '../../src/orchestrator/orchestrator.js';
import { SqliteQueue } from '../../src/orchestrator/queues/sqlite-queue.js';
import type { TaskStore } from '../../src/orchestrator/task-store.js';
import { SqliteStore } from '../../src/orchestrator/queues/sqlite-store.js';
import { QueueOverStore } from '../helpers/queue-over-store.js';
import { MemoryBackend } from '../../src/storage/backends/memory.js';
import { StorageTask } from '../../src/tasks/storage-task.js';
import { Journal, ProbeTask, probe } from '../helpers/probe-task.js';
import { ScriptedTask } from '../helpers/scripted-task.js';
import { makeTempDir } from '../helpers/temp-dir.js';

let dir = '';
let removeDir: () => Promise<void> = () => Promise.resolve();
beforeEach(async () => {
  ({ path: dir, remove: removeDir } = await makeTempDir('fault-ends-'));
});
afterEach(() => removeDir());

/** Waits until the stream has failed on its own (opening a missing file fails on a later turn). */
async function failed(stream: ReadStream): Promise<void> {
  while (stream.errored === null) await nextTurn();
}

describe('a data stream that breaks before its task runs', () => {
  it('while the task waits in the queue: the process goes on, and the task ends FAILED with SOURCE_ERROR', async () => {
    const orchestrator = new Orchestrator({ concurrency: 1, context: { backend: new MemoryBackend() } });
    let release: () => void = () => undefined;
    const gate = new Promise<void>((resolve) => (release = resolve));
    const blocker = await orchestrator.submit(new ScriptedTask({ type: 'scripted' }, () => gate));
    const stream = createReadStream(join(dir, 'no-such-file'));
    const write = await orchestrator.submit({ type: 'storage', metadata: { operation: 'write', path: '/copy', data: stream } });
    await failed(stream);
    release();
    expect((await blocker.result).status).toBe('completed');
    const result = await write.result;
    expect(result).toMatchObject({ status: 'failed', error: { code: 'SOURCE_ERROR', retryable: false } });
    expect(result.error?.message).toContain("'/copy'");
    expect(JSON.stringify(result)).not.toContain(dir);
    await orchestrator.shutdown();
  });

  it('given to a task made but not yet executed: execute() ends FAILED with SOURCE_ERROR', async () => {
    const stream = createReadStream(join(dir, 'no-such-file'));
    const task = new StorageTask({ type: 'storage', metadata: { operation: 'write', path: '/copy', data: stream } }, { backend: new MemoryBackend() });
    await failed(stream);
    expect(await task.execute()).toMatchObject({ status: 'failed', error: { code: 'SOURCE_ERROR' } });
  });

  it('a stream whose task ends without reading it is closed: cancelled while waiting, a failed dependency; and one of a config refused at submit', async () => {
    await import('node:fs/promises').then(({ writeFile }) => writeFile(join(dir, 'data.bin'), 'payload'));
    const orchestrator = new Orchestrator({ concurrency: 1, context: { backend: new MemoryBackend() }, taskTypes: { probe: ProbeTask } });
    let release: () => void = () => undefined;
    const gate = new Promise<void>((resolve) => (release = resolve));
    await orchestrator.submit(new ScriptedTask({ type: 'scripted' }, () => gate));
    const streams = [0, 1, 2, 3].map(() => createReadStream(join(dir, 'data.bin')));
    const [cancelled, orphaned, invalid, batchedWithInvalid] = streams;
    const waiting = await orchestrator.submit({ id: 'cancel-me', type: 'storage', metadata: { operation: 'write', path: '/a', data: cancelled } });
    await orchestrator.submit(probe('parent', 0, { fail: 'VALIDATION_ERROR' }));
    const dependent = await orchestrator.submit({ type: 'storage', dependsOn: ['parent'], metadata: { operation: 'write', path: '/b', data: orphaned } });
    await expect(orchestrator.submit({ type: 'storage', metadata: { operation: 'write', path: '/../c', data: invalid } })).rejects.toThrow(expect.objectContaining({ code: 'PATH_OUTSIDE_ROOT' }));
    // A batch is refused whole: the good config's stream is closed with it.
    await expect(orchestrator.submitAll([{ type: 'storage', metadata: { operation: 'write', path: '/d', data: batchedWithInvalid } }, { type: 'nope' }])).rejects.toThrow(/\[1\]\.type/);
    await orchestrator.cancel('cancel-me');
    release();
    expect((await waiting.result).error?.code).toBe('CANCELLED');
    expect((await dependent.result).error?.code).toBe('DEPENDENCY_FAILED');
    await orchestrator.shutdown();
    expect(streams.map((stream) => stream.destroyed)).toEqual([true, true, true, true]);
  });
});

describe('a read that hands back a stream', () => {
  it('is refused at submit by a durable queue, whose results outlive the caller (VALIDATION_ERROR naming the field)', async () => {
    const orchestrator = new Orchestrator({ queue: new SqliteQueue(join(dir, 'q.db')), context: { backend: new MemoryBackend() } });
    await expect(orchestrator.submit({ type: 'storage', metadata: { operation: 'read', path: '/x', options: { as: 'stream' } } })).rejects.toThrow(
      expect.objectContaining({ code: 'VALIDATION_ERROR', details: { fields: [expect.objectContaining({ field: 'metadata.options.as' })] } }),
    );
    await expect(orchestrator.submitAll([{ type: 'storage', metadata: { operation: 'read', path: '/x', options: { as: 'stream' } } }])).rejects.toThrow(/\[0\]\.metadata\.options\.as/);
    expect((await orchestrator.counts()).waiting).toBe(0);
    await orchestrator.shutdown();
  });
});

/** The real SQLite queue, whose store fails for the end of one task (as a full disk would). */
function endsFailFor(queue: SqliteStore, id: string): TaskStore {
  return Object.assign(Object.create(null) as TaskStore, {
    name: queue.name,
    durable: true,
    get waiting() {
      return queue.waiting;
    },
    add: queue.add.bind(queue),
    release: queue.release.bind(queue),
    take: queue.take.bind(queue),
    finish: (task: Parameters<TaskStore['finish']>[0], result: Parameters<TaskStore['finish']>[1]) => {
      if (task.id === id) throw Object.assign(new Error('database or disk is full'), { code: 'SQLITE_FULL' });
      queue.finish(task, result);
    },
    finished: queue.finished.bind(queue),
    recover: queue.recover.bind(queue),
    transaction: queue.transaction.bind(queue),
    close: queue.close.bind(queue),
  });
}

describe('an end the queue cannot store', () => {
  it('still settles the handle, with the storing error; dependents fail; the orchestrator goes on', async () => {
    const sqlite = new SqliteStore(join(dir, 'q.db'));
    const orchestrator = new Orchestrator({ concurrency: 1, queue: new QueueOverStore(endsFailFor(sqlite, 'unlucky')), taskTypes: { probe: ProbeTask }, context: { journal: new Journal() } });
    const errors: string[] = [];
    orchestrator.on('error', (event) => errors.push(`${event.id} ${event.error.code}`));
    const unlucky = await orchestrator.submit(probe('unlucky'));
    const dependent = await orchestrator.submit(probe('dependent', 0, {}, { dependsOn: ['unlucky'] }));
    const result = await unlucky.result;
    expect(result).toMatchObject({ status: 'failed', success: false, error: { code: 'NO_SPACE', details: { endedAs: 'completed' } } });
    expect(result.error?.message).toMatch(/could not be stored/);
    expect((await dependent.result).error?.code).toBe('DEPENDENCY_FAILED');
    expect(errors).toEqual(['unlucky NO_SPACE', 'dependent DEPENDENCY_FAILED']);
    const after = await orchestrator.submit(probe('after'));
    expect((await after.result).status).toBe('completed');
    await orchestrator.onIdle();
    expect(orchestrator.running).toBe(0);
    await orchestrator.shutdown();
  });
});

describe('a task whose work ignores its abort', () => {
  it('ends at its timeout and the grace after it, and frees its slot: the next task runs; its cleanup waits for its work to stop', async () => {
    const orchestrator = new Orchestrator({ concurrency: 1 });
    const events: string[] = [];
    let finish: () => void = () => undefined;
    class Deaf extends ScriptedTask {
      protected override cleanupTask(): void {
        events.push('cleanup');
      }
    }
    try {
      const deaf = await orchestrator.submit(
        new Deaf({ type: 'scripted', id: 'deaf', metadata: { options: { timeout: 50 } } }, () => new Promise<void>((resolve) => (finish = resolve))),
      );
      const next = await orchestrator.submit(new ScriptedTask({ type: 'scripted', id: 'next' }, () => Promise.resolve('ran')));
      expect(await deaf.result).toMatchObject({ status: 'failed', error: { code: 'TIMEOUT', details: { abandoned: true, outcome: 'unknown' } } });
      expect(await next.result).toMatchObject({ status: 'completed', data: 'ran' });
      expect(events).toEqual([]);
      finish();
      await expect.poll(() => events).toEqual(['cleanup']);
    } finally {
      await orchestrator.shutdown();
    }
  });
});
