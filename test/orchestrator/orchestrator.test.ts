import { setTimeout as delay } from 'node:timers/promises';
import { afterEach, describe, expect, it } from 'vitest';
import { Orchestrator, type OrchestratorOptions } from '../../src/orchestrator/orchestrator.js';
import { MemoryBackend } from '../../src/storage/backends/memory.js';
import { MemoryQueue } from '../../src/orchestrator/queues/memory-queue.js';
import { TaskStatus } from '../../src/tasks/task-status.js';
import { Journal, ProbeTask, probe } from '../helpers/probe-task.js';
import { ScriptedTask } from '../helpers/scripted-task.js';

const opened: Orchestrator[] = [];

function orchestrator(journal: Journal, options: OrchestratorOptions = {}): Orchestrator {
  const made = new Orchestrator({ concurrency: 1, ...options, context: { journal, ...options.context } }).register('probe', ProbeTask);
  opened.push(made);
  return made;
}

afterEach(async () => {
  await Promise.all(opened.splice(0).map((made) => made.shutdown({ timeoutMs: 0 })));
});

describe('Orchestrator: order and concurrency', () => {
  it('runs a larger priority first and equal priorities in submission order', async () => {
    const journal = new Journal();
    const run = orchestrator(journal);
    for (const [id, priority] of [['low', 1], ['top-a', 5], ['mid', 3], ['top-b', 5], ['neg', -2], ['mid-b', 3]] as const) (await run.submit(probe(id, priority)));
    await run.onIdle();
    expect(journal.startOrder).toEqual(['top-a', 'top-b', 'mid', 'mid-b', 'low', 'neg']);
  });

  it('submit returns the id and the promise of the result; get() follows the status', async () => {
    const journal = new Journal();
    const run = orchestrator(journal);
    const handle = await run.submit(probe('p1', 0, { ms: 30 }));
    expect(handle.id).toBe('p1');
    expect(await run.get('p1')).toMatchObject({ id: 'p1', type: 'probe', status: TaskStatus.PENDING, attempts: 0 });
    await delay(10);
    expect((await run.get('p1'))?.status).toBe(TaskStatus.RUNNING);
    const result = await handle.result;
    expect(result).toMatchObject({ id: 'p1', type: 'probe', status: 'completed', success: true, data: 'done:p1', attempts: 1 });
    expect(await run.get('p1')).toMatchObject({ status: TaskStatus.COMPLETED, attempts: 1, result: { data: 'done:p1' } });
    expect(await run.get('nobody')).toBeUndefined();
  });

  it('generates an id when the config has none', async () => {
    const run = orchestrator(new Journal());
    const handle = await run.submit({ type: 'probe' });
    expect(handle.id).toMatch(/^t[0-9a-f]{16}-[0-9a-z]+$/);
    expect((await handle.result).id).toBe(handle.id);
  });

  it('never runs more than `concurrency` tasks at once, and does reach it', async () => {
    const journal = new Journal();
    const run = orchestrator(journal, { concurrency: 3 });
    const handles = await Promise.all(Array.from({ length: 20 }, (_, index) => run.submit(probe(`c${String(index)}`, index % 4, { ms: 5 }))));
    await Promise.all(handles.map((handle) => handle.result));
    expect(journal.maxRunning).toBe(3);
    expect(journal.startOrder).toHaveLength(20);
  });

  it('a timed-out task keeps its slot until its work has really stopped', async () => {
    const journal = new Journal();
    const run = orchestrator(journal, { concurrency: 1 });
    const slow = await run.submit(probe('stubborn', 1, { ms: 150, ignoreAbort: true }, { metadata: { ms: 150, ignoreAbort: true, options: { timeout: 20 } } }));
    await run.submit(probe('next', 0));
    const result = await slow.result;
    expect(result.error?.code).toBe('TIMEOUT');
    expect(result.durationMs).toBeGreaterThanOrEqual(140);
    await run.onIdle();
    expect(journal.maxRunning).toBe(1);
    expect(journal.lines.indexOf('end:stubborn')).toBeLessThan(journal.lines.indexOf('start:next'));
  });

  it('runs the cleanup of every task before its slot goes to the next', async () => {
    const journal = new Journal();
    const run = orchestrator(journal);
    await run.submit(probe('a', 2));
    await run.submit(probe('b', 1));
    await run.onIdle();
    expect(journal.lines).toEqual(['start:a', 'end:a', 'cleanup:a', 'start:b', 'end:b', 'cleanup:b']);
  });

  it('yields to the event loop while many instant tasks run', async () => {
    const run = orchestrator(new Journal(), { concurrency: 4 });
    for (let index = 0; index < 30_000; index += 1) (await run.submit({ type: 'probe' }));
    let ticks = 0;
    const timer = setInterval(() => (ticks += 1), 1);
    await run.onIdle();
    clearInterval(timer);
    expect(ticks).toBeGreaterThan(0);
  });
});

describe('Orchestrator: validation at submit', () => {
  it('refuses an unknown type, a bad priority, a bad id and a duplicate id, naming the field', async () => {
    const run = orchestrator(new Journal());
    await expect(run.submit({ type: 'nope' })).rejects.toThrow(expect.objectContaining({ code: 'VALIDATION_ERROR', message: expect.stringMatching(/^type: no task type 'nope' is registered \(registered: storage, probe\)/) as string }));
    await expect(run.submit({ type: 'probe', priority: Number.NaN })).rejects.toThrow(/priority: expected a finite number/);
    await expect(run.submit({ type: 'probe', id: '' })).rejects.toThrow(/^id: expected a string of 1 to 256 characters/);
    // An id is printed in terminals and logs: an escape sequence or a line break in it is refused, and the message shows it escaped.
    await expect(run.submit({ type: 'probe', id: 'evil\u001b[31mRED\nFAKE LINE' })).rejects.toThrow(
      expect.objectContaining({ code: 'VALIDATION_ERROR', message: 'id: expected no control characters, which would reach terminals and logs as they are (got "evil\\u001b[31mRED\\nFAKE LINE", with U+001B)' }),
    );
    await expect(new ProbeTask({ type: 'probe', id: 'line\nbreak' }, {}).execute()).resolves.toMatchObject({ success: false, error: { code: 'VALIDATION_ERROR' } });
    await expect(run.submit(null as never)).rejects.toThrow(/config: expected a task config object \(got null\)/);
    await run.submit(probe('twice'));
    await expect(run.submit(probe('twice'))).rejects.toThrow(expect.objectContaining({ code: 'ALREADY_EXISTS' }));
  });

  it('a storage config that is wrong for its type is refused at submit, naming the field; a misspelt field too, and a path out of the root', async () => {
    const run = new Orchestrator({ context: { backend: new MemoryBackend() } });
    opened.push(run);
    await expect(run.submit({ type: 'storage', metadata: { operation: 'copy', path: '/x' } } as never)).rejects.toThrow(
      expect.objectContaining({ code: 'VALIDATION_ERROR', details: { fields: [expect.objectContaining({ field: 'metadata.operation' })] } }),
    );
    await expect(run.submit({ type: 'storage', dependOn: ['a'], metadata: { operation: 'write', path: '/x', data: 'x' } } as never)).rejects.toThrow(/dependOn: unknown field/);
    await expect(run.submitAll([{ type: 'storage', metadata: { operation: 'read', path: '/x' } }, { type: 'storage', metadata: { operation: 'write', path: '/x', data: 'x', compresion: 'gzip' } } as never])).rejects.toThrow(
      /^\[1\]: invalid storage task '[^']+': metadata\.compresion: unknown field/,
    );
    await expect(run.submit({ type: 'storage', metadata: { operation: 'delete', path: '/../etc' } })).rejects.toThrow(expect.objectContaining({ code: 'PATH_OUTSIDE_ROOT' }));
    // Nothing of a refused batch was queued.
    expect(await run.counts()).toEqual({ waiting: 0, running: 0 });
  });

  it('register refuses a class that is not a task, a bad type name and a second registration', () => {
    const run = orchestrator(new Journal());
    expect(() => run.register('plain', Map as never)).toThrow(/expected a class that extends BaseTask/);
    expect(() => run.register('Bad Name', ProbeTask)).toThrow(expect.objectContaining({ code: 'VALIDATION_ERROR' }));
    expect(() => run.register('probe', ProbeTask)).toThrow(expect.objectContaining({ code: 'ALREADY_EXISTS' }));
  });

  it('refuses agingMs beside a queue of its own, which takes the option itself', () => {
    expect(() => new Orchestrator({ queue: new MemoryQueue(), agingMs: 10 })).toThrow(
      expect.objectContaining({ code: 'VALIDATION_ERROR', message: expect.stringMatching(/^agingMs: applies to a queue given by URL; give it to the queue instead/) as string }),
    );
  });

  it('refuses a concurrency that is not a whole number of 1 or more', () => {
    expect(() => new Orchestrator({ concurrency: 0 })).toThrow(/concurrency: expected a whole number of 1 or more \(got 0\)/);
    expect(() => new Orchestrator({ concurrency: 1.5 })).toThrow(expect.objectContaining({ code: 'VALIDATION_ERROR' }));
  });

  it('runs a submitted task object as it is', async () => {
    const run = orchestrator(new Journal());
    const task = new ScriptedTask({ id: 'object-1', type: 'scripted' }, () => Promise.resolve(42));
    const result = await (await run.submit(task)).result;
    expect(result).toMatchObject({ id: 'object-1', status: 'completed', data: 42 });
    expect(task.status).toBe(TaskStatus.COMPLETED);
  });
});

describe('Orchestrator: dependencies', () => {
  it('runs a task only after all its dependencies completed, whatever the priorities', async () => {
    const journal = new Journal();
    const run = orchestrator(journal, { concurrency: 4 });
    await run.submit(probe('a', 0, { ms: 20 }));
    await run.submit(probe('b', 0, { ms: 5 }));
    const last = await run.submit(probe('c', 100, {}, { dependsOn: ['a', 'b'] }));
    expect((await run.get('c'))?.status).toBe(TaskStatus.PENDING);
    expect((await last.result).status).toBe('completed');
    expect(journal.lines.indexOf('start:c')).toBeGreaterThan(journal.lines.indexOf('end:a'));
    expect(journal.lines.indexOf('start:c')).toBeGreaterThan(journal.lines.indexOf('end:b'));
    // A dependency that completed before the submit is satisfied at once.
    expect((await (await run.submit(probe('d', 0, {}, { dependsOn: ['a'] }))).result).status).toBe('completed');
  });

  it('a failed dependency fails its dependents, transitively, with DEPENDENCY_FAILED and without running them', async () => {
    const journal = new Journal();
    const run = orchestrator(journal, { concurrency: 2 });
    await run.submit(probe('root', 0, { ms: 10, fail: 'NOT_FOUND' }));
    const child = await run.submit(probe('child', 0, {}, { dependsOn: ['root'] }));
    const grandchild = await run.submit(probe('grandchild', 0, {}, { dependsOn: ['child'] }));
    const failed = await child.result;
    expect(failed).toMatchObject({ status: 'failed', attempts: 0, error: { code: 'DEPENDENCY_FAILED', details: { dependency: 'root', dependencyCode: 'NOT_FOUND' } } });
    expect(failed.error?.message).toBe("task 'child' did not run: its dependency 'root' did not complete (NOT_FOUND)");
    expect(await grandchild.result).toMatchObject({ status: 'failed', error: { code: 'DEPENDENCY_FAILED', details: { dependency: 'child' } } });
    expect(journal.startOrder).toEqual(['root']);
    // Naming a dependency that already failed fails at once too.
    expect(await (await run.submit(probe('late', 0, {}, { dependsOn: ['root'] }))).result).toMatchObject({ error: { code: 'DEPENDENCY_FAILED' } });
  });

  it("fails 200,000 dependents of a failed task's dependent (more than a call's stack holds as arguments)", async () => {
    const run = orchestrator(new Journal(), { concurrency: 1 });
    const handles = await run.submitAll([
      probe('root', 0, { ms: 20, fail: 'NOT_FOUND' }),
      probe('child', 0, {}, { dependsOn: ['root'] }),
      ...Array.from({ length: 200_000 }, (_, index) => probe(`grandchild-${String(index)}`, 0, {}, { dependsOn: ['child'] })),
    ]);
    const last = await handles.at(-1)?.result;
    expect(last).toMatchObject({ status: 'failed', error: { code: 'DEPENDENCY_FAILED', details: { dependency: 'child' } } });
    await run.onIdle();
    expect((await run.counts()).waiting).toBe(0);
  }, 60_000);

  it('refuses unknown ids and self-dependency at submit with VALIDATION_ERROR', async () => {
    const run = orchestrator(new Journal());
    await expect(run.submit(probe('x', 0, {}, { dependsOn: ['ghost'] }))).rejects.toThrow(
      expect.objectContaining({ code: 'VALIDATION_ERROR', message: expect.stringMatching(/^dependsOn\[0\]: no task with id 'ghost' is known/) as string }),
    );
    await expect(run.submit(probe('self', 0, {}, { dependsOn: ['self'] }))).rejects.toThrow(/dependsOn\[0\]: a dependency cycle: task 'self' depends on itself/);
    await expect(run.submit(probe('y', 0, {}, { dependsOn: 'x' as never }))).rejects.toThrow(/dependsOn: expected an array of task ids/);
    expect(await run.get('x')).toBeUndefined();
  });

  it('submitAll takes forward references in a batch and refuses a cycle, queueing nothing', async () => {
    const journal = new Journal();
    const run = orchestrator(journal);
    await expect(
      run.submitAll([probe('one', 0, {}, { dependsOn: ['three'] }), probe('two', 0, {}, { dependsOn: ['one'] }), probe('three', 0, {}, { dependsOn: ['two'] })]),
    ).rejects.toThrow(expect.objectContaining({ code: 'VALIDATION_ERROR', message: expect.stringContaining('a dependency cycle: one -> three -> two -> one') as string }));
    await expect(run.submitAll([probe('dup'), probe('dup')])).rejects.toThrow(/\[1\]\.id: 'dup' appears twice in the batch/);
    expect(await run.get('one')).toBeUndefined();
    const handles = await run.submitAll([probe('after', 9, {}, { dependsOn: ['before'] }), probe('before', 0)]);
    await Promise.all(handles.map((handle) => handle.result));
    expect(journal.startOrder).toEqual(['before', 'after']);
  });
});

describe('Orchestrator: cancellation', () => {
  it('cancels a queued task: it ends FAILED with CANCELLED and never runs; its dependents fail', async () => {
    const journal = new Journal();
    const run = orchestrator(journal);
    await run.submit(probe('busy', 5, { ms: 30 }));
    const queued = await run.submit(probe('queued', 0));
    const dependent = await run.submit(probe('dependent', 0, {}, { dependsOn: ['queued'] }));
    const cancelled: string[] = [];
    run.on('cancel', (event) => cancelled.push(`${event.id}:${event.previousStatus}`));
    const result = await run.cancel('queued', 'not needed');
    expect(result).toMatchObject({ id: 'queued', status: 'failed', attempts: 0, error: { code: 'CANCELLED' } });
    expect(result.error?.message).toContain('not needed');
    expect(await queued.result).toBe(result);
    expect(await dependent.result).toMatchObject({ error: { code: 'DEPENDENCY_FAILED' } });
    await run.onIdle();
    expect(journal.startOrder).toEqual(['busy']);
    expect(cancelled).toEqual(['queued:pending']);
  });

  it('cancels a running task: its signal aborts, it ends CANCELLED, and the slot frees after it stopped', async () => {
    const journal = new Journal();
    const run = orchestrator(journal);
    const running = await run.submit(probe('long', 1, { ms: 10_000 }));
    await run.submit(probe('next', 0));
    await delay(20);
    const result = await run.cancel('long');
    expect(result).toMatchObject({ status: 'failed', error: { code: 'CANCELLED' }, attempts: 1 });
    expect(journal.signals.get('long')?.aborted).toBe(true);
    expect(await running.result).toBe(result);
    await run.onIdle();
    expect(journal.lines.slice(0, 4)).toEqual(['start:long', 'end:long', 'cleanup:long', 'start:next']);
  });

  it('refuses to cancel a finished task (INVALID_STATE) or an unknown one (NOT_FOUND)', async () => {
    const run = orchestrator(new Journal());
    await (await run.submit(probe('done'))).result;
    await expect(run.cancel('done')).rejects.toMatchObject({ code: 'INVALID_STATE', message: "task 'done' cannot be cancelled: it is already completed" });
    await expect(run.cancel('never')).rejects.toMatchObject({ code: 'NOT_FOUND' });
  });
});

describe('Orchestrator: no starvation', () => {
  /** A steady stream of priority-5 work for `streamMs`, plus one priority-0 task submitted first. */
  async function lowStartsAfter(agingMs: number | undefined, streamMs: number): Promise<{ lowStartedAt: number; streamEndedAt: number }> {
    const journal = new Journal();
    const run = orchestrator(journal, agingMs === undefined ? {} : { agingMs });
    await run.submit(probe('busy', 9, { ms: 5 }));
    const started = performance.now();
    let lowStartedAt = Number.POSITIVE_INFINITY;
    run.on('start', (event) => {
      if (event.id === 'low') lowStartedAt = performance.now() - started;
    });
    await run.submit(probe('low', 0));
    let sequence = 0;
    while (performance.now() - started < streamMs) {
      while ((await run.counts()).waiting < 3) await run.submit(probe(`high-${String(sequence++)}`, 5, { ms: 2 }));
      await delay(1);
    }
    const streamEndedAt = performance.now() - started;
    await run.onIdle();
    return { lowStartedAt, streamEndedAt };
  }

  it('with agingMs, a low-priority task runs while high-priority work keeps coming', async () => {
    const { lowStartedAt, streamEndedAt } = await lowStartsAfter(10, 400);
    expect(lowStartedAt).toBeLessThan(streamEndedAt);
  });

  it('without aging (the default), the same stream holds it back until the stream ends', async () => {
    const { lowStartedAt, streamEndedAt } = await lowStartsAfter(undefined, 200);
    expect(lowStartedAt).toBeGreaterThanOrEqual(streamEndedAt);
  });
});

describe('Orchestrator: shutdown', () => {
  it('lets running tasks finish within the deadline, cancels waiting ones, and refuses new work', async () => {
    const journal = new Journal();
    const run = orchestrator(journal);
    const running = await run.submit(probe('finishing', 1, { ms: 30 }));
    const waiting = await run.submit(probe('waiting', 0));
    await delay(5);
    await run.shutdown({ timeoutMs: 5_000 });
    expect(await running.result).toMatchObject({ status: 'completed' });
    expect(await waiting.result).toMatchObject({ status: 'failed', error: { code: 'CANCELLED' }, attempts: 0 });
    expect(journal.startOrder).toEqual(['finishing']);
    await expect(run.submit(probe('late'))).rejects.toThrow(expect.objectContaining({ code: 'INVALID_STATE' }));
  });

  it('past the deadline, cancels running tasks, waits for their work to stop, then runs their cleanup', async () => {
    const journal = new Journal();
    const run = orchestrator(journal, { concurrency: 2 });
    const polite = await run.submit(probe('polite', 0, { ms: 10_000 }));
    const stubborn = await run.submit(probe('stubborn', 0, { ms: 120, ignoreAbort: true }));
    const cleanups: string[] = [];
    run.on('cleanup', (event) => cleanups.push(event.id));
    await delay(10);
    const began = performance.now();
    await run.shutdown({ timeoutMs: 20 });
    expect(performance.now() - began).toBeGreaterThanOrEqual(90);
    expect(await polite.result).toMatchObject({ status: 'failed', error: { code: 'CANCELLED' } });
    expect(await stubborn.result).toMatchObject({ status: 'failed', error: { code: 'CANCELLED' } });
    expect(journal.lines.indexOf('end:stubborn')).toBeLessThan(journal.lines.indexOf('cleanup:stubborn'));
    expect(cleanups.sort()).toEqual(['polite', 'stubborn']);
  });
});

describe('Orchestrator: events', () => {
  it('emits submit, start, complete and error for every task, each with its id', async () => {
    const run = orchestrator(new Journal(), { concurrency: 2 });
    const seen: string[] = [];
    run.on('submit', (event) => seen.push(`submit:${event.id}`));
    run.on('start', (event) => seen.push(`start:${event.id}`));
    run.on('complete', (result) => seen.push(`complete:${result.id}`));
    run.on('error', (event) => seen.push(`error:${event.id}:${event.error.code}`));
    await run.submit(probe('good'));
    await run.submit(probe('bad', 0, { fail: 'PERMISSION_DENIED' }));
    await run.onIdle();
    expect(seen.sort()).toEqual(['complete:good', 'error:bad:PERMISSION_DENIED', 'start:bad', 'start:good', 'submit:bad', 'submit:good']);
  });

  it('a task failing with no error listener does not crash the process', async () => {
    const run = orchestrator(new Journal());
    expect((await (await run.submit(probe('quiet-failure', 0, { fail: 'IO_ERROR' }))).result).status).toBe('failed');
  });
});

describe('Orchestrator: storage tasks', () => {
  it('runs the spec config shape with its context, a read depending on a write', async () => {
    const backend = new MemoryBackend();
    const run = new Orchestrator({ concurrency: 4, context: { backend } });
    opened.push(run);
    const [write, read] = await run.submitAll([
      { id: 'w', type: 'storage', priority: 1, metadata: { operation: 'write', path: '/data/file.txt', data: { content: 'Hello World' }, options: { compression: true } } },
      { id: 'r', type: 'storage', priority: 9, dependsOn: ['w'], metadata: { operation: 'read', path: '/data/file.txt' } },
    ]);
    expect(await write.result).toMatchObject({ status: 'completed', details: { bytesWritten: expect.any(Number) as number } });
    expect(await read.result).toMatchObject({ status: 'completed', data: { content: 'Hello World' } });
    expect((await run.get('w'))?.result?.data).toMatchObject({ path: '/data/file.txt' });
    // Small JSON is kept with the finished task; bytes and streams are not (retained-result.test.ts).
    expect((await run.get('r'))?.result?.data).toEqual({ content: 'Hello World' });
  });
});
