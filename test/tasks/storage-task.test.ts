import { readdir, readFile } from 'node:fs/promises';
import { once } from 'node:events';
import { join } from 'node:path';
import { PassThrough, Readable } from 'node:stream';
import { describe, expect, it } from 'vitest';
import { MemoryBackend } from '../../src/storage/backends/memory.js';
import { Keyring } from '../../src/storage/codec/keyring.js';
import { StorageTask } from '../../src/tasks/storage-task.js';
import { TaskType } from '../../src/tasks/task-type.js';
import { repoModule, runScript } from '../helpers/child.js';
import { FlakyWrites } from '../helpers/flaky-backend.js';
import { NO_WAIT } from '../helpers/scripted-task.js';
import { expectData } from '../helpers/storage.js';
import { useFileSystemFixture } from '../helpers/fs-fixture.js';
import { makeTempDir } from '../helpers/temp-dir.js';

/** Every name in a directory, hidden ones included. */
async function allNames(directory: string): Promise<string[]> {
  try {
    return (await readdir(directory)).sort();
  } catch {
    return [];
  }
}

describe('StorageTask on the filesystem', () => {
  const fixture = useFileSystemFixture();

  it('a write from a stream that stalls times out, leaving no file and no temporary file', async () => {
    const stalled = new PassThrough();
    stalled.write(Buffer.alloc(1024, 1)); // some bytes arrive, then nothing more
    const task = new StorageTask(
      { type: TaskType.STORAGE, metadata: { operation: 'write', path: '/stall/file.bin', data: stalled, options: { timeout: 100 } } },
      { backend: fixture.backend },
    );
    const result = await task.execute();
    expect(result.error).toMatchObject({ code: 'TIMEOUT' });
    expect(await allNames(join(fixture.root, 'stall'))).toEqual([]);
    expect(stalled.destroyed).toBe(true);
  });

  it('a stalled stream write that times out is not retried: a stream cannot be read twice', async () => {
    const stalled = new PassThrough();
    stalled.write('partial');
    const task = new StorageTask(
      { type: TaskType.STORAGE, metadata: { operation: 'write', path: '/stall/again.bin', data: stalled, options: { timeout: 50, retries: 3 } } },
      { backend: fixture.backend, ...NO_WAIT },
    );
    const result = await task.execute();
    expect(result).toMatchObject({ attempts: 1, error: { code: 'TIMEOUT', retryable: false } });
    expect(result.error?.message).toContain('not retried');
  });

  it('cancelling a running stream write stops it, with no file and no temporary file left', async () => {
    const slow = new PassThrough();
    slow.write(Buffer.alloc(4096));
    const task = new StorageTask({ type: TaskType.STORAGE, metadata: { operation: 'write', path: '/c/file.bin', data: slow } }, { backend: fixture.backend });
    const running = task.execute();
    await new Promise((resolve) => setTimeout(resolve, 30));
    await task.cancel();
    expect((await running).error).toMatchObject({ code: 'CANCELLED' });
    expect(await allNames(join(fixture.root, 'c'))).toEqual([]);
  });

  it('a stream that fails half-way fails the write and keeps the old object', async () => {
    await expectData(fixture.backend, { operation: 'write', path: '/s/file', data: 'old content' });
    async function* broken(): AsyncGenerator<Buffer> {
      yield Buffer.from('new conte');
      await Promise.resolve();
      throw new Error('producer crashed');
    }
    const result = await new StorageTask({ type: TaskType.STORAGE, metadata: { operation: 'write', path: '/s/file', data: broken() } }, { backend: fixture.backend }).execute();
    expect(result.success).toBe(false);
    expect(await readFile(join(fixture.root, 's', 'file'), 'utf8')).toBe('old content');
    expect((await allNames(join(fixture.root, 's'))).filter((name) => name.includes('tmp'))).toEqual([]);
  });

  it('a stream that fails after several MiB (a write under way, more read ahead) fails the write, keeps the old object and leaves no temporary file', async () => {
    await expectData(fixture.backend, { operation: 'write', path: '/big/file', data: 'old content' });
    async function* brokenLate(): AsyncGenerator<Buffer> {
      for (let index = 0; index < 6; index += 1) {
        yield Buffer.alloc(1024 * 1024, index);
        await new Promise((resolve) => setImmediate(resolve));
      }
      throw new Error('producer crashed late');
    }
    for (const encryption of [false, true]) {
      const result = await new StorageTask(
        { type: TaskType.STORAGE, metadata: { operation: 'write', path: '/big/file', data: brokenLate(), options: { encryption, compression: encryption } } },
        { backend: fixture.backend, keyring: Keyring.fromKey(Buffer.alloc(32, 1)) },
      ).execute();
      expect([result.error?.code, result.error?.message.includes('producer crashed late')], String(encryption)).toEqual(['SOURCE_ERROR', true]);
      expect(await readFile(join(fixture.root, 'big', 'file'), 'utf8')).toBe('old content');
      expect(await allNames(join(fixture.root, 'big'))).toEqual(['file']);
    }
  });

  it('a stream yielding something other than bytes fails with VALIDATION_ERROR, naming the field', async () => {
    for (const [data, what] of [
      [Readable.from([1, 2, 3]), 'a number'],
      [Readable.from([{ a: 1 }]), 'an object'],
    ] as const) {
      const result = await new StorageTask({ type: TaskType.STORAGE, metadata: { operation: 'write', path: '/s/odd', data } }, { backend: fixture.backend }).execute();
      expect(result.error).toMatchObject({
        code: 'VALIDATION_ERROR',
        message: `invalid storage task: metadata.data: the stream yielded ${what}, expected bytes or strings`,
        details: { fields: [{ field: 'metadata.data', message: `the stream yielded ${what}, expected bytes or strings` }] },
      });
    }
    expect(await allNames(join(fixture.root, 's'))).toEqual([]);
  });

  it('a stream that has already ended (read elsewhere) fails with SOURCE_ERROR instead of storing nothing as the object', async () => {
    await expectData(fixture.backend, { operation: 'write', path: '/s/read-before', data: 'old content' });
    const consumed = Readable.from([Buffer.from('read by someone else')]);
    consumed.resume();
    await once(consumed, 'end');
    const result = await new StorageTask({ type: TaskType.STORAGE, metadata: { operation: 'write', path: '/s/read-before', data: consumed } }, { backend: fixture.backend }).execute();
    expect(result.error).toMatchObject({ code: 'SOURCE_ERROR', retryable: false });
    expect(result.error?.message).toContain('its data stream had already ended before the write read it');
    expect(await readFile(join(fixture.root, 's', 'read-before'), 'utf8')).toBe('old content');
  });

  it('plain objects are stored as their exact bytes, usable by any tool', async () => {
    await expectData(fixture.backend, { operation: 'write', path: '/plain/text.txt', data: 'Hello World' });
    await expectData(fixture.backend, { operation: 'write', path: '/plain/value.json', data: { content: 'Hello World' } });
    await expectData(fixture.backend, { operation: 'write', path: '/plain/bytes.bin', data: Buffer.from([1, 2, 3]) });
    expect(await readFile(join(fixture.root, 'plain', 'text.txt'), 'utf8')).toBe('Hello World');
    expect(JSON.parse(await readFile(join(fixture.root, 'plain', 'value.json'), 'utf8'))).toEqual({ content: 'Hello World' });
    expect(await readFile(join(fixture.root, 'plain', 'bytes.bin'))).toEqual(Buffer.from([1, 2, 3]));
  });

  it('a file replaced by another program reads back as its bytes, never with the old kind', async () => {
    await expectData(fixture.backend, { operation: 'write', path: '/foreign/value.json', data: { a: 1 } });
    const { writeFile, rename } = await import('node:fs/promises');
    await writeFile(join(fixture.root, 'foreign', 'replacement'), '{"b":2}');
    await rename(join(fixture.root, 'foreign', 'replacement'), join(fixture.root, 'foreign', 'value.json'));
    const back = await expectData(fixture.backend, { operation: 'read', path: '/foreign/value.json' });
    expect(back).toEqual(Buffer.from('{"b":2}'));
  });

  it('a read in stream form hands over an open stream that outlives the task', async () => {
    await expectData(fixture.backend, { operation: 'write', path: '/st/big.bin', data: Buffer.alloc(1024 * 1024, 3) });
    const stream = (await expectData(fixture.backend, { operation: 'read', path: '/st/big.bin', options: { as: 'stream' } })) as Readable;
    let total = 0;
    for await (const chunk of stream) total += (chunk as Buffer).length;
    expect(total).toBe(1024 * 1024);
  });

  it('in-memory data is written again in full on a retry after a transient failure', async () => {
    const flaky = new FlakyWrites(new MemoryBackend(), 2);
    const data = Buffer.alloc(3 * 1024 * 1024, 9);
    const task = new StorageTask({ type: TaskType.STORAGE, metadata: { operation: 'write', path: '/r/file', data, options: { retries: 2 } } }, { backend: flaky, ...NO_WAIT });
    const retries: number[] = [];
    task.on('retry', (event) => retries.push(event.attempt));
    const result = await task.execute();
    expect(result).toMatchObject({ success: true, attempts: 3 });
    expect(retries).toEqual([1, 2]);
    const back = (await expectData(flaky, { operation: 'read', path: '/r/file' })) as Buffer;
    // Buffer.equals: a deep toEqual walks 3 million bytes one by one.
    expect(back.equals(data)).toBe(true);
  });

  it('a stream write that failed transiently after reading began is not retried', async () => {
    const flaky = new FlakyWrites(new MemoryBackend(), 1, 'ECONNRESET');
    const task = new StorageTask(
      { type: TaskType.STORAGE, metadata: { operation: 'write', path: '/r/stream', data: Readable.from([Buffer.from('a'), Buffer.from('b')]), options: { retries: 3 } } },
      { backend: flaky, ...NO_WAIT },
    );
    const result = await task.execute();
    expect(result).toMatchObject({ attempts: 1, error: { code: 'BACKEND_UNAVAILABLE', retryable: false } });
    expect(flaky.writeCalls).toBe(1);
  });

  it('with retries exhausted, the transient error is the result', async () => {
    const flaky = new FlakyWrites(new MemoryBackend(), 5, 'EAGAIN');
    const result = await new StorageTask(
      { type: TaskType.STORAGE, metadata: { operation: 'write', path: '/r/x', data: 'x', options: { retries: 1 } } },
      { backend: flaky, ...NO_WAIT },
    ).execute();
    expect(result).toMatchObject({ attempts: 2, error: { code: 'BACKEND_UNAVAILABLE', retryable: true } });
  });
});

describe('StorageTask defaults that need nothing', () => {
  it('uses the filesystem under TASKFORGE_STORAGE_ROOT', async () => {
    const dir = await makeTempDir();
    const previous = process.env['TASKFORGE_STORAGE_ROOT'];
    process.env['TASKFORGE_STORAGE_ROOT'] = join(dir.path, 'env-root');
    try {
      const task = new StorageTask({ type: TaskType.STORAGE, metadata: { operation: 'write', path: '/from/env.txt', data: 'env' } });
      expect((await task.execute()).success).toBe(true);
      expect(await readFile(join(dir.path, 'env-root', 'from', 'env.txt'), 'utf8')).toBe('env');
      expect(task.backend.name).toBe(`fs:${join(dir.path, 'env-root')}`);
    } finally {
      if (previous === undefined) delete process.env['TASKFORGE_STORAGE_ROOT'];
      else process.env['TASKFORGE_STORAGE_ROOT'] = previous;
      await dir.remove();
    }
  });

  it('without TASKFORGE_STORAGE_ROOT, stores under ./taskforge-data of the working directory', async () => {
    const dir = await makeTempDir();
    try {
      const script = `
        import { StorageTask, TaskType } from '${repoModule('src/index.ts')}';
        const result = await new StorageTask({ type: TaskType.STORAGE, metadata: { operation: 'write', path: '/hello.txt', data: 'hi' } }).execute();
        console.log(result.status);
      `;
      const env = { ...process.env };
      delete env['TASKFORGE_STORAGE_ROOT'];
      const child = runScript(script, { cwd: dir.path, env });
      expect(child.stderr).toBe('');
      expect(child.stdout.trim()).toBe('completed');
      expect(await readFile(join(dir.path, 'taskforge-data', 'hello.txt'), 'utf8')).toBe('hi');
    } finally {
      await dir.remove();
    }
  });
});
