import { execFileSync } from 'node:child_process';
import { mkdir, readdir, readFile, rename, symlink, writeFile } from 'node:fs/promises';
import { getAttribute, setAttribute } from 'fs-xattr';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import type { ListPage } from '../../src/storage/backend.js';
import { FileSystemBackend } from '../../src/storage/backends/filesystem.js';
import { METADATA_ATTRIBUTE } from '../../src/storage/backends/filesystem-xattr.js';
import { ReadCache } from '../../src/storage/read-cache.js';
import { expectCode, expectData, runStorage } from '../helpers/storage.js';
import { useFileSystemFixture } from '../helpers/fs-fixture.js';
import { makeTempDir } from '../helpers/temp-dir.js';

describe('filesystem backend: nothing outside the root is touched', () => {
  let dir: { path: string; remove: () => Promise<void> };
  let root: string;
  let outside: string;
  let backend: FileSystemBackend;

  beforeEach(async () => {
    dir = await makeTempDir();
    root = join(dir.path, 'root');
    outside = join(dir.path, 'outside');
    await mkdir(root, { recursive: true });
    await mkdir(outside, { recursive: true });
    await writeFile(join(outside, 'secret.txt'), 'top secret');
    backend = new FileSystemBackend({ root });
  });

  afterEach(async () => {
    await dir.remove();
  });

  it('a write through a symlinked directory that leads outside is refused, and nothing is written there', async () => {
    await symlink(outside, join(root, 'escape'));
    expect(await expectCode(backend, { operation: 'write', path: '/escape/new.txt', data: 'x' })).toBe('PATH_OUTSIDE_ROOT');
    expect(await expectCode(backend, { operation: 'write', path: '/escape/deeper/new.txt', data: 'x' })).toBe('PATH_OUTSIDE_ROOT');
    expect((await readdir(outside)).sort()).toEqual(['secret.txt']);
  });

  it('a write through a folder link that stays inside lands in its target, and a folder swapped for a link out after a write is refused at the next', async () => {
    await mkdir(join(root, 'real'));
    await symlink(join(root, 'real'), join(root, 'inside'));
    await expectData(backend, { operation: 'write', path: '/inside/a.txt', data: 'through the link' });
    expect(await readFile(join(root, 'real', 'a.txt'), 'utf8')).toBe('through the link');
    await mkdir(join(root, 'swapped'));
    await expectData(backend, { operation: 'write', path: '/swapped/b.txt', data: 'first' });
    await rename(join(root, 'swapped'), join(root, 'moved-away'));
    await symlink(outside, join(root, 'swapped'));
    expect(await expectCode(backend, { operation: 'write', path: '/swapped/b.txt', data: 'second' })).toBe('PATH_OUTSIDE_ROOT');
    expect((await readdir(outside)).sort()).toEqual(['secret.txt']);
  });

  it('a read of a symlink that leads outside is refused', async () => {
    await symlink(join(outside, 'secret.txt'), join(root, 'link.txt'));
    expect(await expectCode(backend, { operation: 'read', path: '/link.txt' })).toBe('PATH_OUTSIDE_ROOT');
    await symlink(outside, join(root, 'dirlink'));
    expect(await expectCode(backend, { operation: 'read', path: '/dirlink/secret.txt' })).toBe('PATH_OUTSIDE_ROOT');
  });

  it('a list of a symlinked directory that leads outside is refused, and the link is not listed', async () => {
    await symlink(outside, join(root, 'dirlink'));
    await symlink(join(outside, 'secret.txt'), join(root, 'filelink'));
    await writeFile(join(root, 'inside.txt'), 'in');
    expect(await expectCode(backend, { operation: 'list', path: '/dirlink' })).toBe('PATH_OUTSIDE_ROOT');
    const page = (await expectData(backend, { operation: 'list', path: '/', options: { recursive: true } })) as ListPage;
    expect(page.entries.map((entry) => entry.path)).toEqual(['/inside.txt']);
  });

  it('a delete of a symlink removes the link itself, never what it leads to', async () => {
    await symlink(join(outside, 'secret.txt'), join(root, 'link.txt'));
    expect(await expectData(backend, { operation: 'delete', path: '/link.txt' })).toEqual({ path: '/link.txt', deleted: true });
    expect(await readFile(join(outside, 'secret.txt'), 'utf8')).toBe('top secret');
  });

  it('a recursive delete through a symlinked directory that leads outside is refused', async () => {
    await symlink(outside, join(root, 'dirlink'));
    expect(await expectCode(backend, { operation: 'delete', path: '/dirlink/secret.txt' })).toBe('PATH_OUTSIDE_ROOT');
    expect(await readFile(join(outside, 'secret.txt'), 'utf8')).toBe('top secret');
  });

  it('a delete through a folder link that stays inside removes from its target; once the folder is swapped for a link out, a delete is refused and nothing outside goes', async () => {
    await mkdir(join(root, 'real'));
    await symlink(join(root, 'real'), join(root, 'inside'));
    await expectData(backend, { operation: 'write', path: '/real/a.txt', data: 'a' });
    expect(await expectData(backend, { operation: 'delete', path: '/inside/a.txt' })).toEqual({ path: '/inside/a.txt', deleted: true });
    expect(await readdir(join(root, 'real'))).toEqual([]);
    await expectData(backend, { operation: 'write', path: '/swapped/secret.txt', data: 'mine' });
    await rename(join(root, 'swapped'), join(root, 'moved-away'));
    await symlink(outside, join(root, 'swapped'));
    expect(await expectCode(backend, { operation: 'delete', path: '/swapped/secret.txt' })).toBe('PATH_OUTSIDE_ROOT');
    // The link itself goes, never what it leads to.
    expect(await expectData(backend, { operation: 'delete', path: '/swapped', options: { recursive: true } })).toEqual({ path: '/swapped', deleted: true });
    expect(await readFile(join(outside, 'secret.txt'), 'utf8')).toBe('top secret');
    expect(await expectData(backend, { operation: 'delete', path: '/missing/deeper/x.txt' })).toEqual({ path: '/missing/deeper/x.txt', deleted: false });
  });

  it('the backend asked to delete its root (which a task refuses) takes the root folder only with recursive, and nothing beside it', async () => {
    await expectData(backend, { operation: 'write', path: '/a/b.txt', data: 'b' });
    await expect(backend.delete('/', { signal: new AbortController().signal, recursive: false })).rejects.toMatchObject({ code: 'IS_A_DIRECTORY' });
    expect(await backend.delete('/', { signal: new AbortController().signal, recursive: true })).toEqual({ deleted: true });
    expect((await readdir(dir.path)).sort()).toEqual(['outside']);
    expect(await readFile(join(outside, 'secret.txt'), 'utf8')).toBe('top secret');
    expect(await backend.delete('/', { signal: new AbortController().signal, recursive: true })).toEqual({ deleted: false });
  });

  it('a write onto a symlink replaces the link and leaves its target alone', async () => {
    await symlink(join(outside, 'secret.txt'), join(root, 'link.txt'));
    await expectData(backend, { operation: 'write', path: '/link.txt', data: 'replaced' });
    expect(await readFile(join(outside, 'secret.txt'), 'utf8')).toBe('top secret');
    expect(await expectData(backend, { operation: 'read', path: '/link.txt' })).toBe('replaced');
  });

  it('symlinks that stay inside the root are followed for reads and listed with their target type', async () => {
    await expectData(backend, { operation: 'write', path: '/real/file.txt', data: 'real' });
    await symlink(join(root, 'real', 'file.txt'), join(root, 'alias.txt'));
    await symlink(join(root, 'real'), join(root, 'alias-dir'));
    expect(await expectData(backend, { operation: 'read', path: '/alias.txt', options: { as: 'text' } })).toBe('real');
    const page = (await expectData(backend, { operation: 'list', path: '/' })) as ListPage;
    expect(page.entries.map((entry) => [entry.path, entry.type])).toEqual([
      ['/alias-dir', 'directory'],
      ['/alias.txt', 'file'],
      ['/real', 'directory'],
    ]);
  });

  it('a stat goes through links inside the root and is refused through links that lead out; a cache check is true only for the very file, unchanged', async () => {
    await expectData(backend, { operation: 'write', path: '/real/file.txt', data: 'real' });
    await symlink(join(root, 'real'), join(root, 'alias-dir'));
    await symlink(outside, join(root, 'dirlink'));
    await symlink(join(outside, 'secret.txt'), join(root, 'filelink'));
    const direct = await backend.stat('/real/file.txt');
    if (direct === undefined) throw new Error('the file was written');
    expect(direct.size).toBe(4);
    expect((await backend.stat('/alias-dir/file.txt'))?.version).toBe(direct.version);
    expect(await backend.isCurrent('/real/file.txt', direct.version)).toBe(true);
    expect(await backend.isCurrent('/alias-dir/file.txt', direct.version)).toBe(true);
    expect(await backend.stat('/real/none.txt')).toBeUndefined();
    expect(await backend.isCurrent('/real/none.txt', direct.version)).toBe(false);
    expect(await backend.isCurrent('/real/file.txt/below', direct.version)).toBe(false);
    for (const path of ['/dirlink/secret.txt', '/filelink', '/dirlink/none.txt']) {
      await expect(backend.stat(path), path).rejects.toMatchObject({ code: 'PATH_OUTSIDE_ROOT' });
      expect(await backend.isCurrent(path, direct.version), path).toBe(false);
    }
    // Rewritten with the same size: another file (the write renames a new one in), so no longer current.
    await expectData(backend, { operation: 'write', path: '/real/file.txt', data: 'REAL' });
    expect(await backend.isCurrent('/real/file.txt', direct.version)).toBe(false);
    expect(await backend.isCurrent('/real', direct.version)).toBe(false);
  });

  it('a cached object whose folder is swapped for a link that leads out is not served from the cache', async () => {
    await mkdir(join(outside, 'folder'));
    await writeFile(join(outside, 'folder', 'file.txt'), 'outside copy');
    await expectData(backend, { operation: 'write', path: '/folder/file.txt', data: 'inside' });
    const cache = new ReadCache();
    const read = { operation: 'read', path: '/folder/file.txt', options: { as: 'text', cache: true } } as const;
    expect(await expectData(backend, read, { cache })).toBe('inside');
    expect(await expectData(backend, read, { cache })).toBe('inside');
    await rename(join(root, 'folder'), join(root, 'moved'));
    await symlink(join(outside, 'folder'), join(root, 'folder'));
    expect(await expectCode(backend, read, { cache })).toBe('PATH_OUTSIDE_ROOT');
  });

  it('a FIFO in the root is no object: a read says NOT_FOUND at once (it does not wait for a writer), a stat finds nothing, a listing leaves it out', async () => {
    await expectData(backend, { operation: 'write', path: '/dir/file.txt', data: 'x' });
    execFileSync('mkfifo', [join(root, 'dir', 'pipe')]);
    await symlink(join(root, 'dir', 'pipe'), join(root, 'dir', 'pipe-link'));
    for (const path of ['/dir/pipe', '/dir/pipe-link']) {
      expect(await expectCode(backend, { operation: 'read', path }), path).toBe('NOT_FOUND');
      expect(await backend.stat(path), path).toBeUndefined();
      expect(await backend.isCurrent(path, 'any'), path).toBe(false);
    }
    const page = (await expectData(backend, { operation: 'list', path: '/dir' })) as ListPage;
    expect(page.entries.map((entry) => entry.path)).toEqual(['/dir/file.txt']);
  });

  it('whether a file exists outside cannot be learnt through a link: missing and present both give PATH_OUTSIDE_ROOT', async () => {
    await symlink(outside, join(root, 'dirlink'));
    // A link at the last segment whose target is missing outside, beside one whose target exists there.
    await symlink(join(outside, 'secret.txt'), join(root, 'to-present'));
    await symlink(join(outside, 'no-such-file'), join(root, 'to-missing'));
    await symlink(join(outside, 'no-such-dir', 'deeper'), join(root, 'to-missing-deep'));
    for (const operation of ['read', 'list'] as const) {
      for (const path of ['/dirlink/secret.txt', '/dirlink/secret.txt/x', '/dirlink/no-such-file', '/dirlink/no-such-dir/x', '/to-present', '/to-missing', '/to-missing-deep', '/to-missing/below']) {
        expect([operation, path, await expectCode(backend, { operation, path })]).toEqual([operation, path, 'PATH_OUTSIDE_ROOT']);
      }
    }
    for (const path of ['/dirlink/secret.txt', '/dirlink/no-such-file', '/to-missing/below']) {
      expect(['write', path, await expectCode(backend, { operation: 'write', path, data: 'x' })]).toEqual(['write', path, 'PATH_OUTSIDE_ROOT']);
      expect(['delete', path, await expectCode(backend, { operation: 'delete', path })]).toEqual(['delete', path, 'PATH_OUTSIDE_ROOT']);
    }
    expect((await readdir(outside)).sort()).toEqual(['secret.txt']);
  });

  it('a dangling link that stays inside the root reads as NOT_FOUND, through a chain of links too', async () => {
    await symlink(join(root, 'not-yet'), join(root, 'dangling'));
    await symlink(join(root, 'dangling'), join(root, 'chain'));
    await symlink(join(root, 'chain-out'), join(root, 'chain-to-outside'));
    await symlink(join(outside, 'secret.txt'), join(root, 'chain-out'));
    await symlink(join(outside, 'gone'), join(root, 'chain-out-missing'));
    await symlink(join(root, 'chain-out-missing'), join(root, 'chain-to-outside-missing'));
    expect(await expectCode(backend, { operation: 'read', path: '/dangling' })).toBe('NOT_FOUND');
    expect(await expectCode(backend, { operation: 'read', path: '/chain' })).toBe('NOT_FOUND');
    expect(await expectCode(backend, { operation: 'read', path: '/chain-to-outside' })).toBe('PATH_OUTSIDE_ROOT');
    expect(await expectCode(backend, { operation: 'read', path: '/chain-to-outside-missing' })).toBe('PATH_OUTSIDE_ROOT');
    expect(await expectCode(backend, { operation: 'read', path: '/nothing/here' })).toBe('NOT_FOUND');
  });

  it('a symlink loop is refused rather than followed', async () => {
    await symlink(join(root, 'b'), join(root, 'a'));
    await symlink(join(root, 'a'), join(root, 'b'));
    expect(await expectCode(backend, { operation: 'read', path: '/a' })).toBe('PATH_OUTSIDE_ROOT');
  });
});

describe("filesystem backend: taskforge's own files", () => {
  const fixture = useFileSystemFixture();

  it('the content kind lives in an attribute of the object itself: no second file, and it reads back as written', async () => {
    await expectData(fixture.backend, { operation: 'write', path: '/d/value.json', data: { a: 1 } });
    await expectData(fixture.backend, { operation: 'write', path: '/d/note.txt', data: 'hello' });
    await expectData(fixture.backend, { operation: 'write', path: '/d/raw', data: Buffer.from('raw') });
    expect((await readdir(join(fixture.root, 'd'))).sort()).toEqual(['note.txt', 'raw', 'value.json']);
    expect(JSON.parse(String(await getAttribute(join(fixture.root, 'd', 'note.txt'), METADATA_ATTRIBUTE)))).toEqual({ 'content-kind': 'text' });
    expect(JSON.parse(String(await getAttribute(join(fixture.root, 'd', 'raw'), METADATA_ATTRIBUTE)))).toEqual({});
    expect(await expectData(fixture.backend, { operation: 'read', path: '/d/value.json' })).toEqual({ a: 1 });
    expect(await expectData(fixture.backend, { operation: 'read', path: '/d/note.txt' })).toBe('hello');
    expect(await expectData(fixture.backend, { operation: 'read', path: '/d/raw' })).toEqual(Buffer.from('raw'));
  });

  it('temporary files never show in a listing', async () => {
    await expectData(fixture.backend, { operation: 'write', path: '/d/value.json', data: { a: 1 } });
    // A temporary file a crashed writer left behind.
    await writeFile(join(fixture.root, 'd', '.taskforge-tmp-deadbeef'), 'half written');
    const page = (await expectData(fixture.backend, { operation: 'list', path: '/d', options: { recursive: true } })) as ListPage;
    expect(page.entries.map((entry) => entry.name)).toEqual(['value.json']);
  });

  it('a damaged attribute costs only the content kind, never the bytes', async () => {
    await expectData(fixture.backend, { operation: 'write', path: '/d/v.json', data: { a: 1 } });
    await setAttribute(join(fixture.root, 'd', 'v.json'), METADATA_ATTRIBUTE, '{not json');
    expect(await expectData(fixture.backend, { operation: 'read', path: '/d/v.json' })).toEqual(Buffer.from('{"a":1}'));
  });

  it('a file replaced by another program reads as its own bytes: the attribute went with the old file', async () => {
    await expectData(fixture.backend, { operation: 'write', path: '/d/v.json', data: { a: 1 } });
    await writeFile(join(fixture.root, 'd', 'other'), '{"b":2}');
    await rename(join(fixture.root, 'd', 'other'), join(fixture.root, 'd', 'v.json'));
    expect(await expectData(fixture.backend, { operation: 'read', path: '/d/v.json' })).toEqual(Buffer.from('{"b":2}'));
  });

  it('a store written with sidecars is read the same by a backend that keeps attributes', async () => {
    const old = new FileSystemBackend({ root: fixture.root, metadataIn: 'sidecars' });
    await expectData(old, { operation: 'write', path: '/d/v.json', data: { a: 1 } });
    await expectData(old, { operation: 'write', path: '/d/t.txt', data: 'text' });
    expect(await expectData(fixture.backend, { operation: 'read', path: '/d/v.json' })).toEqual({ a: 1 });
    expect(await expectData(fixture.backend, { operation: 'read', path: '/d/t.txt' })).toBe('text');
    // Written again through attributes: the old sidecar is no longer what answers.
    await expectData(fixture.backend, { operation: 'write', path: '/d/t.txt', data: Buffer.from('bytes now') });
    expect(await expectData(fixture.backend, { operation: 'read', path: '/d/t.txt' })).toEqual(Buffer.from('bytes now'));
    expect(await expectData(old, { operation: 'read', path: '/d/t.txt' })).toEqual(Buffer.from('bytes now'));
  });

  it('a list of the root before anything was written is empty, and creates nothing', async () => {
    expect(await expectData(fixture.backend, { operation: 'list', path: '/' })).toEqual({ entries: [] });
    await expect(readdir(fixture.root)).rejects.toMatchObject({ code: 'ENOENT' });
  });

  it('a path segment too long for the filesystem fails with VALIDATION_ERROR', async () => {
    const tooLong = await runStorage(fixture.backend, { operation: 'write', path: `/${'x'.repeat(300)}`, data: 'x' });
    expect(tooLong.error).toMatchObject({ code: 'VALIDATION_ERROR', message: expect.stringContaining('a name in the path, or the whole path, is too long for the file system (ENAMETOOLONG)') as unknown });
  });
});

describe('filesystem backend: metadata in sidecar files (metadataIn: sidecars, and file systems without extended attributes)', () => {
  const fixture = useFileSystemFixture('test', { metadataIn: 'sidecars' });

  it('metadata files never show in a listing', async () => {
    await expectData(fixture.backend, { operation: 'write', path: '/d/value.json', data: { a: 1 } });
    await writeFile(join(fixture.root, 'd', '.taskforge-tmp-deadbeef'), 'half written');
    const onDisk = (await readdir(join(fixture.root, 'd'))).sort();
    expect(onDisk).toEqual(['.taskforge-meta-value.json', '.taskforge-tmp-deadbeef', 'value.json']);
    const page = (await expectData(fixture.backend, { operation: 'list', path: '/d', options: { recursive: true } })) as ListPage;
    expect(page.entries.map((entry) => entry.name)).toEqual(['value.json']);
    expect(await expectData(fixture.backend, { operation: 'read', path: '/d/value.json' })).toEqual({ a: 1 });
  });

  it('a delete removes the metadata file with the object', async () => {
    await expectData(fixture.backend, { operation: 'write', path: '/d/value.json', data: { a: 1 } });
    await expectData(fixture.backend, { operation: 'delete', path: '/d/value.json' });
    expect(await readdir(join(fixture.root, 'd'))).toEqual([]);
  });

  it('a plain bytes write over a JSON object drops the old metadata', async () => {
    await expectData(fixture.backend, { operation: 'write', path: '/d/x', data: { a: 1 } });
    await expectData(fixture.backend, { operation: 'write', path: '/d/x', data: Buffer.from('raw') });
    expect(await readdir(join(fixture.root, 'd'))).toEqual(['x']);
    expect(await expectData(fixture.backend, { operation: 'read', path: '/d/x' })).toEqual(Buffer.from('raw'));
  });

  it('metadata of names too long to prefix is kept under a hashed name', async () => {
    const name = 'n'.repeat(240);
    await expectData(fixture.backend, { operation: 'write', path: `/long/${name}`, data: { long: true } });
    expect((await readdir(join(fixture.root, 'long'))).filter((entry) => entry.startsWith('.taskforge-meta-h-'))).toHaveLength(1);
    expect(await expectData(fixture.backend, { operation: 'read', path: `/long/${name}` })).toEqual({ long: true });
  });

  it('a damaged metadata file costs only the content kind, never the bytes', async () => {
    await expectData(fixture.backend, { operation: 'write', path: '/d/v.json', data: { a: 1 } });
    await writeFile(join(fixture.root, 'd', '.taskforge-meta-v.json'), '{not json');
    expect(await expectData(fixture.backend, { operation: 'read', path: '/d/v.json' })).toEqual(Buffer.from('{"a":1}'));
  });
});
