import { mkdir, realpath, symlink, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { FileSystemRoot } from '../../src/storage/backends/filesystem-root.js';
import { useTempDir } from '../helpers/temp-dir.js';

describe('FileSystemRoot.parentOf', () => {
  const temp = useTempDir();

  it('makes missing folders one by one and names each folder that gained one (its sync makes the entry durable)', async () => {
    const root = new FileSystemRoot(join(temp.path, 'root'));
    const parent = await root.parentOf('/a/b/c/file.txt', true);
    try {
      const real = await realpath(join(temp.path, 'root'));
      expect(parent.real).toBe(join(real, 'a', 'b', 'c'));
      expect(parent.name).toBe('file.txt');
      expect([...parent.made]).toEqual([real, join(real, 'a'), join(real, 'a', 'b')]);
      await writeFile(join(parent.directory, parent.name), 'x');
    } finally {
      parent.release();
    }
    const again = await root.parentOf('/a/b/c/other.txt', true);
    again.release();
    expect(again.made).toEqual([]);
    const deeper = await root.parentOf('/a/b/d/e/f.txt', true);
    deeper.release();
    const real = await realpath(join(temp.path, 'root'));
    expect([...deeper.made]).toEqual([join(real, 'a', 'b'), join(real, 'a', 'b', 'd')]);
  });

  it('makes nothing when asked not to, and refuses a folder on the way that leads out of the root', async () => {
    await mkdir(join(temp.path, 'root'));
    await mkdir(join(temp.path, 'outside'));
    const root = new FileSystemRoot(join(temp.path, 'root'));
    const unmade = await root.parentOf('/x/y.txt', false);
    unmade.release();
    expect(unmade.made).toEqual([]);
    await symlink(join(temp.path, 'outside'), join(temp.path, 'root', 'out'));
    await expect(root.parentOf('/out/new/deeper/f.txt', true)).rejects.toMatchObject({ code: 'PATH_OUTSIDE_ROOT' });
    await expect(root.parentOf('/out/f.txt', true)).rejects.toMatchObject({ code: 'PATH_OUTSIDE_ROOT' });
  });

  it('a folder on the way that is a link inside the root is followed, and the folders made are named by their real paths', async () => {
    await mkdir(join(temp.path, 'root', 'target'), { recursive: true });
    await symlink(join(temp.path, 'root', 'target'), join(temp.path, 'root', 'via'));
    const root = new FileSystemRoot(join(temp.path, 'root'));
    const parent = await root.parentOf('/via/n/f.txt', true);
    parent.release();
    const real = await realpath(join(temp.path, 'root'));
    expect(parent.real).toBe(join(real, 'target', 'n'));
    expect([...parent.made]).toEqual([join(real, 'target')]);
  });
});
