import { constants, symlinkSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { LOCAL_DISK_CALLS, pathCallsFor, POOLED_CALLS, type PathCalls } from '../../src/storage/backends/path-calls.js';
import { useTempDir } from '../helpers/temp-dir.js';

describe('path calls', () => {
  const temp = useTempDir();

  it('make lookups at once on a local disk file system, everything through the pool on any other (here /proc) or where statfs fails', async () => {
    expect(await pathCallsFor(temp.path)).toBe(LOCAL_DISK_CALLS);
    if (process.platform === 'linux') expect(await pathCallsFor('/proc')).toBe(POOLED_CALLS);
    expect(await pathCallsFor(join(temp.path, 'missing'))).toBe(POOLED_CALLS);
  });

  for (const [name, calls] of [
    ['local disk', LOCAL_DISK_CALLS],
    ['pooled', POOLED_CALLS],
  ] as [string, PathCalls][]) {
    it(`${name}: answer as promises, and fail with Node's own codes, the same both ways`, async () => {
      const file = join(temp.path, `${name}.txt`);
      expect(await calls.lstat(file)).toBeUndefined();
      expect(await calls.stat(file)).toBeUndefined();
      writeFileSync(file, 'x');
      expect((await calls.lstat(file))?.isFile()).toBe(true);
      symlinkSync(file, `${file}.link`);
      expect((await calls.stat(`${file}.link`))?.ino).toBe((await calls.lstat(file))?.ino);
      expect((await calls.lstat(`${file}.link`))?.isSymbolicLink()).toBe(true);
      await expect(calls.open(file, constants.O_WRONLY | constants.O_CREAT | constants.O_EXCL, 0o666)).rejects.toMatchObject({ code: 'EEXIST' });
      await expect(calls.rename(join(temp.path, 'nothing'), file)).rejects.toMatchObject({ code: 'ENOENT' });
      await expect(calls.link(file, file)).rejects.toMatchObject({ code: 'EEXIST' });
      await calls.rename(file, `${file}.moved`);
      await calls.unlink(`${file}.moved`);
      await expect(calls.unlink(`${file}.moved`)).rejects.toMatchObject({ code: 'ENOENT' });
      writeFileSync(file, 'x');
      // Only "nothing there" is an answer; a file on the way is an error.
      await expect(calls.lstat(join(file, 'below'))).rejects.toMatchObject({ code: 'ENOTDIR' });
    });
  }
});
