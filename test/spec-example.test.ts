import { readdir, readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { StorageTask, TaskType } from '../src/index.js';
import { makeTempDir } from './helpers/temp-dir.js';

describe("the spec's usage example", () => {
  let dir: { path: string; remove: () => Promise<void> };
  let previousRoot: string | undefined;

  beforeEach(async () => {
    dir = await makeTempDir();
    previousRoot = process.env['TASKFORGE_STORAGE_ROOT'];
    process.env['TASKFORGE_STORAGE_ROOT'] = join(dir.path, 'data-root');
  });

  afterEach(async () => {
    if (previousRoot === undefined) delete process.env['TASKFORGE_STORAGE_ROOT'];
    else process.env['TASKFORGE_STORAGE_ROOT'] = previousRoot;
    await dir.remove();
  });

  it('runs as written; until compression and encryption land it fails cleanly with UNSUPPORTED_OPTION and stores nothing', async () => {
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

    expect(result).toMatchObject({ id: 'storage-1', type: 'storage', status: 'failed', success: false, attempts: 0 });
    expect(result.error?.code).toBe('UNSUPPORTED_OPTION');
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
