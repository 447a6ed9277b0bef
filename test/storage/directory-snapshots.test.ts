import { mkdir, rm, stat, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { describe, expect, it } from 'vitest';
import type { ListPage } from '../../src/storage/backend.js';
import { DirectorySnapshots } from '../../src/storage/backends/directory-snapshots.js';
import { FileSystemBackend } from '../../src/storage/backends/filesystem.js';
import { expectData } from '../helpers/storage.js';
import { useTempDir } from '../helpers/temp-dir.js';

/** Longer than the margin after a change within which a directory is read again for every page. */
const SETTLED_AFTER_MS = 120;

describe('directory snapshots: a directory listed page by page is read once while it stays unchanged', () => {
  const dir = useTempDir();
  const signal = new AbortController().signal;

  async function folderOf(names: string[]): Promise<string> {
    const folder = join(dir.path, 'folder');
    await mkdir(folder, { recursive: true });
    for (const name of names) await writeFile(join(folder, name), name);
    return folder;
  }

  const namesOf = (entries: readonly { name: string }[] | undefined): string[] | undefined => entries?.map((entry) => entry.name);

  it('gives the names sorted, taskforge files and special kinds left out; keeps a settled directory and reads it again once it changes', async () => {
    const folder = await folderOf(['b', 'a', 'é', 'Z', '.taskforge-tmp-x']);
    await mkdir(join(folder, 'sub'));
    await sleep(SETTLED_AFTER_MS);
    const snapshots = new DirectorySnapshots();
    expect(namesOf(await snapshots.entries(folder, await stat(folder, { bigint: true }), signal))).toEqual(['Z', 'a', 'b', 'sub', 'é']);
    expect(snapshots.kept).toBe(1);
    await writeFile(join(folder, 'c'), 'c');
    await rm(join(folder, 'a'));
    expect(namesOf(await snapshots.entries(folder, await stat(folder, { bigint: true }), signal))).toEqual(['Z', 'b', 'c', 'sub', 'é']);
    // Changed just now: read again, and not kept until it settles.
    expect(snapshots.kept).toBe(0);
  });

  it('a kept snapshot is given back as long as the directory is unchanged', async () => {
    const folder = await folderOf(['one', 'two']);
    await sleep(SETTLED_AFTER_MS);
    const snapshots = new DirectorySnapshots();
    const first = await snapshots.entries(folder, await stat(folder, { bigint: true }), signal);
    const second = await snapshots.entries(folder, await stat(folder, { bigint: true }), signal);
    expect(second).toBe(first);
  });

  it('a directory of more names than it may hold is not read whole: the caller walks it', async () => {
    const folder = await folderOf(['a', 'b', 'c', 'd']);
    await sleep(SETTLED_AFTER_MS);
    const snapshots = new DirectorySnapshots({ perDirectory: 3 });
    expect(await snapshots.entries(folder, await stat(folder, { bigint: true }), signal)).toBeUndefined();
    expect(snapshots.kept).toBe(0);
  });

  it('holds at most its total of names: the directory used least recently goes first', async () => {
    const folders: string[] = [];
    for (const name of ['x', 'y', 'z']) {
      const folder = join(dir.path, name);
      await mkdir(folder);
      for (const file of ['1', '2']) await writeFile(join(folder, file), file);
      folders.push(folder);
    }
    await sleep(SETTLED_AFTER_MS);
    const snapshots = new DirectorySnapshots({ total: 4 });
    const [x, y, z] = folders as [string, string, string];
    const xFirst = await snapshots.entries(x, await stat(x, { bigint: true }), signal);
    await snapshots.entries(y, await stat(y, { bigint: true }), signal);
    // x used again: y is now the least recent, and goes when z comes.
    expect(await snapshots.entries(x, await stat(x, { bigint: true }), signal)).toBe(xFirst);
    await snapshots.entries(z, await stat(z, { bigint: true }), signal);
    expect(snapshots.kept).toBe(2);
    expect(await snapshots.entries(x, await stat(x, { bigint: true }), signal)).toBe(xFirst);
  });

  it('pages through the backend follow changes made between them: a file added after the cursor shows, one removed does not', async () => {
    const names = Array.from({ length: 50 }, (_, index) => `f${String(index).padStart(2, '0')}`);
    const folder = await folderOf(names);
    await sleep(SETTLED_AFTER_MS);
    const backend = new FileSystemBackend({ root: dir.path });
    const first = (await expectData(backend, { operation: 'list', path: '/folder', options: { limit: 20 } })) as ListPage;
    expect(first.entries.map((entry) => entry.name)).toEqual(names.slice(0, 20));
    await writeFile(join(folder, 'f25x'), 'new');
    await rm(join(folder, 'f30'));
    const seen = first.entries.map((entry) => entry.name);
    let cursor = first.cursor;
    while (cursor !== undefined) {
      const page = (await expectData(backend, { operation: 'list', path: '/folder', options: { limit: 20, cursor } })) as ListPage;
      seen.push(...page.entries.map((entry) => entry.name));
      cursor = page.cursor;
    }
    expect(seen).toEqual([...names.slice(0, 26), 'f25x', ...names.slice(26)].filter((name) => name !== 'f30').sort());
  });
});
