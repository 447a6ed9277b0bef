import { randomBytes } from 'node:crypto';
import { mkdir, readdir, utimes, writeFile } from 'node:fs/promises';
import { dirname, join } from 'node:path';
import { Readable } from 'node:stream';
import { describe, expect, it } from 'vitest';
import { FileSystemBackend } from '../../src/storage/backends/filesystem.js';
import { StorageTask } from '../../src/tasks/storage-task.js';
import type { TaskResult } from '../../src/tasks/task-result.js';
import { makeTempDir } from '../helpers/temp-dir.js';
import { useFileSystemFixture } from '../helpers/fs-fixture.js';
import { describeBackendConformance } from './conformance.js';

describeBackendConformance('filesystem', async () => {
  const dir = await makeTempDir();
  const root = `${dir.path}/root`;
  return {
    backend: new FileSystemBackend({ root }),
    dispose: dir.remove,
    // Another program: plain files and directories under the root.
    foreign: {
      putFile: async (path, content) => {
        await mkdir(dirname(join(root, path)), { recursive: true });
        await writeFile(join(root, path), content);
      },
      makeDirectory: async (path) => {
        await mkdir(join(root, path), { recursive: true });
      },
    },
  };
});

describe('filesystem backend: small objects are read whole', () => {
  const fixture = useFileSystemFixture();
  const signal = new AbortController().signal;

  async function bytesOf(body: AsyncIterable<Uint8Array>): Promise<Buffer> {
    const chunks: Buffer[] = [];
    for await (const chunk of body) chunks.push(Buffer.from(chunk));
    return Buffer.concat(chunks);
  }

  it('gives back every byte on both sides of the size where streaming begins (0, 1, 256 KiB, 256 KiB + 1, 1 MiB)', async () => {
    for (const size of [0, 1, 256 * 1024, 256 * 1024 + 1, 1024 * 1024]) {
      const data = randomBytes(size);
      await fixture.backend.write(`/s/${String(size)}`, Readable.from([data]), { overwrite: true, metadata: {}, signal });
      const opened = await fixture.backend.read(`/s/${String(size)}`);
      expect(opened.info.size).toBe(size);
      // Read whole up to 256 KiB: the bytes are given as they are, and the body gives the same.
      expect([size, opened.bytes?.equals(data)]).toEqual([size, size <= 256 * 1024 ? true : undefined]);
      expect((await bytesOf(opened.body)).equals(data), `size ${String(size)}`).toBe(true);
    }
  });

  it('reads an object of any size whole when the caller asks (a tree\'s pack), and its body gives the same bytes', async () => {
    for (const size of [256 * 1024 + 1, 5 * 1024 * 1024 + 3]) {
      const data = randomBytes(size);
      await fixture.backend.write(`/w/${String(size)}`, Readable.from([data]), { overwrite: true, metadata: {}, signal });
      const opened = await fixture.backend.read(`/w/${String(size)}`, { whole: true });
      expect([size, opened.bytes?.equals(data)]).toEqual([size, true]);
      expect((await bytesOf(opened.body)).equals(data), `size ${String(size)}`).toBe(true);
    }
  });

  it('holds no descriptor once a small object is opened, even if its body is never read', async () => {
    for (let index = 0; index < 20; index += 1) await fixture.backend.write(`/f/${String(index)}`, Readable.from([Buffer.from('x')]), { overwrite: true, metadata: {}, signal });
    const before = (await readdir('/proc/self/fd')).length;
    const opened = [];
    for (let index = 0; index < 20; index += 1) opened.push(await fixture.backend.read(`/f/${String(index)}`));
    expect((await readdir('/proc/self/fd')).length).toBeLessThanOrEqual(before);
    const [first] = opened;
    expect(first === undefined ? undefined : (await bytesOf(first.body)).toString()).toBe('x');
  });
});

describe('filesystem backend: times', () => {
  const fixture = useFileSystemFixture();
  const signal = new AbortController().signal;

  it('a listing gives the same modification time as a stat (and a write\'s result): cut to the millisecond, never rounded up', async () => {
    const { root, backend } = fixture;
    await mkdir(root, { recursive: true });
    await writeFile(join(root, 'a.txt'), 'a');
    // 0.7 ms past a millisecond: rounding would move it to the next one.
    await utimes(join(root, 'a.txt'), 1_796_574_279.6377, 1_796_574_279.6377);
    const info = await backend.stat('/a.txt');
    const page = await backend.list('/', { signal, recursive: false, limit: 10 });
    expect(info?.modifiedAt.toISOString()).toBe('2026-12-06T16:24:39.637Z');
    expect(page.entries.map((entry) => entry.modifiedAt)).toEqual(['2026-12-06T16:24:39.637Z']);
  });
});

describe('filesystem backend: a root that cannot be made', () => {
  it('refuses an empty root at once (it would be the working directory): VALIDATION_ERROR naming it', () => {
    expect(() => new FileSystemBackend({ root: '' })).toThrow(expect.objectContaining({ code: 'VALIDATION_ERROR', message: "root: expected a folder (got ''; '.' is the working directory)" }));
  });

  it('fails the first write with a coded error that says the storage root is the problem (not the object), and leaks no host path', async () => {
    const { path: dir, remove } = await makeTempDir('fs-root-');
    const write = (root: string): Promise<TaskResult> => new StorageTask({ type: 'storage', metadata: { operation: 'write', path: '/x.txt', data: 'data' } }, { backend: new FileSystemBackend({ root }) }).execute();
    try {
      await writeFile(join(dir, 'a-file'), 'x');
      expect((await write(join(dir, 'a-file', 'store'))).error).toMatchObject({
        code: 'NOT_A_DIRECTORY',
        message: "write of '/x.txt' failed: the storage root cannot be made: it, or a folder above it, is a file (ENOTDIR)",
      });
      // The root itself a file: not "a parent of it".
      expect((await write(join(dir, 'a-file'))).error).toMatchObject({
        code: 'NOT_A_DIRECTORY',
        message: "write of '/x.txt' failed: the storage root cannot be made: it, or a folder above it, is a file (ENOTDIR)",
      });
      // Where no folder can be made at all (Node's own recursive mkdir spins for ever there).
      expect((await write('/proc/taskforge-none/store')).error).toMatchObject({
        code: 'NOT_FOUND',
        message: "write of '/x.txt' failed: the storage root cannot be made: no such object or directory (ENOENT)",
      });
    } finally {
      await remove();
    }
  });
});
