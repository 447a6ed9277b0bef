import { randomBytes } from 'node:crypto';
import { readdir, readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { StorageTask, TaskType } from '../src/index.js';
import { makeTempDir } from './helpers/temp-dir.js';

describe("the spec's usage example", () => {
  let dir: { path: string; remove: () => Promise<void> };
  const saved = { ...process.env };

  beforeEach(async () => {
    dir = await makeTempDir();
    process.env['TASKFORGE_STORAGE_ROOT'] = join(dir.path, 'data-root');
  });

  afterEach(async () => {
    for (const name of ['TASKFORGE_STORAGE_ROOT', 'TASKFORGE_ENCRYPTION_KEY', 'TASKFORGE_KEYRING']) {
      const value = saved[name];
      if (value === undefined) Reflect.deleteProperty(process.env, name);
      else process.env[name] = value;
    }
    await dir.remove();
  });

  it('runs as written with a key in the environment: compressed and encrypted, and a read gives the value back', async () => {
    process.env['TASKFORGE_ENCRYPTION_KEY'] = randomBytes(32).toString('base64');
    // --- the spec's example, verbatim ---
    // Create a storage task
    const task = new StorageTask({
      id: 'storage-1',
      type: TaskType.STORAGE,
      priority: 1,
      metadata: {
        operation: 'write',
        path: '/data/file.txt',
        data: { content: 'Hello World' },
        options: {
          compression: true,
          encryption: true
        }
      }
    });

    // Execute the task
    const result = await task.execute();
    // --- end of the example ---

    expect(result).toMatchObject({ id: 'storage-1', type: 'storage', status: 'completed', success: true, attempts: 1 });
    const onDisk = await readFile(join(dir.path, 'data-root', 'data', 'file.txt'));
    expect(onDisk.includes('Hello')).toBe(false);
    expect(onDisk.includes('content')).toBe(false);

    const read = await new StorageTask({ id: 'storage-2', type: TaskType.STORAGE, metadata: { operation: 'read', path: '/data/file.txt' } }).execute();
    expect(read.data).toEqual({ content: 'Hello World' });
  });

  it('without a key, fails with KEY_NOT_FOUND before anything is stored', async () => {
    delete process.env['TASKFORGE_ENCRYPTION_KEY'];
    delete process.env['TASKFORGE_KEYRING'];
    const result = await new StorageTask({
      id: 'storage-1',
      type: TaskType.STORAGE,
      priority: 1,
      metadata: { operation: 'write', path: '/data/file.txt', data: { content: 'Hello World' }, options: { compression: true, encryption: true } },
    }).execute();
    expect(result).toMatchObject({ status: 'failed', attempts: 0, error: { code: 'KEY_NOT_FOUND' } });
    await expect(readdir(join(dir.path, 'data-root'))).rejects.toMatchObject({ code: 'ENOENT' });
  });

  it('without those two options, writes { content: "Hello World" } and reads it back as the same value', async () => {
    const task = new StorageTask({
      id: 'storage-1',
      type: TaskType.STORAGE,
      priority: 1,
      metadata: { operation: 'write', path: '/data/file.txt', data: { content: 'Hello World' } },
    });
    const result = await task.execute();
    expect(result).toMatchObject({ id: 'storage-1', status: 'completed', success: true, attempts: 1, data: { path: '/data/file.txt' } });
    expect(await readFile(join(dir.path, 'data-root', 'data', 'file.txt'), 'utf8')).toBe('{"content":"Hello World"}');

    const read = await new StorageTask({ id: 'storage-2', type: TaskType.STORAGE, metadata: { operation: 'read', path: '/data/file.txt' } }).execute();
    expect(read.data).toEqual({ content: 'Hello World' });
  });
});
