import { randomBytes } from 'node:crypto';
import { chmodSync, existsSync, mkdirSync, readFileSync, rmSync, statSync, symlinkSync, utimesSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { Readable } from 'node:stream';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { restoreTree, storeTree, type FileOutcome } from '../../src/index.js';
import type { ListEntry, StorageBackend } from '../../src/storage/backend.js';
import { FileSystemBackend } from '../../src/storage/backends/filesystem.js';
import { MemoryBackend } from '../../src/storage/backends/memory.js';
import { Keyring } from '../../src/storage/codec/keyring.js';
import { collectBytes } from '../../src/storage/content.js';
import { readSmallFileSync } from '../../src/storage/file-source.js';
import { StorageTask } from '../../src/tasks/storage-task.js';
import { loadIndex, saveIndex, type IndexEntry } from '../../src/tasks/tree-index.js';
import { makeTempDir } from '../helpers/temp-dir.js';

const signal = new AbortController().signal;
const keyring = new Keyring({ keys: { k1: randomBytes(32) } });

async function listAll(backend: StorageBackend, path: string, recursive: boolean, limit: number, options: { keyring?: Keyring } = {}): Promise<ListEntry[]> {
  const found: ListEntry[] = [];
  let cursor: string | undefined;
  do {
    const listed = await new StorageTask(
      { type: 'storage', metadata: { operation: 'list', path, options: { recursive, limit, ...(cursor === undefined ? {} : { cursor }) } } },
      { backend, ...(options.keyring === undefined ? {} : { keyring: options.keyring }) },
    ).execute();
    if (!listed.success) throw new Error(listed.error.message);
    found.push(...listed.data.entries);
    cursor = listed.data.cursor;
  } while (cursor !== undefined);
  return found;
}

async function readAt(backend: StorageBackend, path: string, options: { keyring?: Keyring } = {}): Promise<{ success: boolean; data?: unknown; code?: string }> {
  const result = await new StorageTask({ type: 'storage', metadata: { operation: 'read', path, options: { as: 'buffer' } } }, { backend, ...(options.keyring === undefined ? {} : { keyring: options.keyring }) }).execute();
  return result.success ? { success: true, data: result.data } : { success: false, code: result.error.code };
}

function packNames(index: ReadonlyMap<string, IndexEntry>): string[] {
  return [...new Set([...index.values()].flatMap((entry) => (entry.kind === 'file' && entry.pack !== undefined ? [entry.pack.name] : [])))];
}

describe('a tree in packs', () => {
  let dir = '';
  let remove: () => Promise<void> = () => Promise.resolve();
  beforeEach(async () => {
    ({ path: dir, remove } = await makeTempDir('tree-packs-'));
    mkdirSync(join(dir, 'src', 'a', 'b'), { recursive: true });
    mkdirSync(join(dir, 'src', 'empty'));
    for (let index = 0; index < 12; index += 1) writeFileSync(join(dir, 'src', 'a', `${String(index)}.txt`), `file ${String(index)}\n`);
    writeFileSync(join(dir, 'src', 'a', 'b', 'deep.txt'), 'deep\n');
    chmodSync(join(dir, 'src', 'a', 'b', 'deep.txt'), 0o600);
    utimesSync(join(dir, 'src', 'a', 'b', 'deep.txt'), new Date('2020-01-02T03:04:05Z'), new Date('2020-01-02T03:04:05Z'));
    writeFileSync(join(dir, 'src', 'large.bin'), randomBytes(1024 * 1024 + 10));
  });
  afterEach(async () => {
    await remove();
  });

  it('lists a tree as if each packed file were an object at its path, page by page, merged with its objects', async () => {
    const backend = new MemoryBackend();
    await storeTree({ source: join(dir, 'src'), prefix: '/t', backend });
    const whole = await listAll(backend, '/t', true, 1000);
    expect(whole.map((entry) => `${entry.type} ${entry.path}`)).toEqual([
      'directory /t/a',
      ...['0', '1', '10', '11', '2', '3', '4', '5', '6', '7', '8', '9'].map((name) => `file /t/a/${name}.txt`),
      'directory /t/a/b',
      'file /t/a/b/deep.txt',
      'directory /t/empty',
      'file /t/large.bin',
    ]);
    // In pages of 3, the same entries in the same order: the merge never skips nor repeats across a page's end.
    expect(await listAll(backend, '/t', true, 3)).toEqual(whole);
    expect((await listAll(backend, '/t', false, 1000)).map((entry) => entry.path)).toEqual(['/t/a', '/t/empty', '/t/large.bin']);
    // A folder of the tree with nothing in it lists as empty, as a folder made on the backend would.
    expect(await listAll(backend, '/t/empty', false, 1000)).toEqual([]);
    // Read, a folder of the tree is what any folder is.
    expect(await readAt(backend, '/t/a')).toMatchObject({ success: false, code: 'IS_A_DIRECTORY' });
    expect((await listAll(backend, '/t/a/b', false, 1000)).map((entry) => entry.path)).toEqual(['/t/a/b/deep.txt']);
    const listedFile = await new StorageTask({ type: 'storage', metadata: { operation: 'list', path: '/t/a/1.txt' } }, { backend }).execute();
    expect(listedFile.error?.code).toBe('NOT_A_DIRECTORY');
    // A folder the tree does not have is not found, as any missing folder.
    const missing = await new StorageTask({ type: 'storage', metadata: { operation: 'list', path: '/t/nope' } }, { backend }).execute();
    expect(missing.error?.code).toBe('NOT_FOUND');
  });

  it('a recursive listing above trees lists their packed files too, in every page size, each path once; an encrypted one without its key shows its objects alone', async () => {
    writeFileSync(join(dir, 'src', '-early.txt'), 'sorts before the index\n');
    writeFileSync(join(dir, 'src', 'a', '#hash.txt'), 'sorts before the folders\n');
    for (const backend of [new MemoryBackend(), new FileSystemBackend({ root: join(dir, 'store') })]) {
      await storeTree({ source: join(dir, 'src'), prefix: '/top/t', backend });
      await storeTree({ source: join(dir, 'src', 'a'), prefix: '/top/t-2', backend });
      await storeTree({ source: join(dir, 'src', 'a', 'b'), prefix: '/top/z/secret', backend, keyring, options: { encryption: true } });
      await new StorageTask({ type: 'storage', metadata: { operation: 'write', path: '/top/loose.txt', data: 'loose' } }, { backend }).execute();
      const fromTree = (await listAll(backend, '/top/t', true, 1000)).map((entry) => entry.path.replace('/top/t/', ''));
      const whole = await listAll(backend, '/', true, 1000, { keyring });
      const paths = whole.map((entry) => entry.path);
      // Every path of each tree, as listed from the tree itself, and the rest.
      expect(paths.filter((path) => path.startsWith('/top/t/')).map((path) => path.replace('/top/t/', ''))).toEqual(fromTree);
      expect(paths.filter((path) => path.startsWith('/top/t-2/'))).toEqual((await listAll(backend, '/top/t-2', true, 1000)).map((entry) => entry.path));
      expect(paths).toEqual(expect.arrayContaining(['/top', '/top/-early.txt'.replace('/top/', '/top/t/'), '/top/loose.txt', '/top/t-2/#hash.txt', '/top/z/secret/deep.txt']));
      expect(new Set(paths).size).toBe(paths.length);
      expect(paths).toEqual([...paths].sort());
      // The same entries, whatever the page size: no page skips or repeats a packed file at its ends.
      for (const limit of [1, 2, 3, 7]) expect(await listAll(backend, '/', true, limit, { keyring })).toEqual(whole);
      expect(await listAll(backend, '/top', true, 2, { keyring })).toEqual(whole.filter((entry) => entry.path.startsWith('/top/')));
      // Without the key, the encrypted tree's packed file is not listed (its name is in the encrypted index); the rest is.
      const keyless = (await listAll(backend, '/', true, 3)).map((entry) => entry.path);
      expect(keyless).toEqual(paths.filter((path) => path !== '/top/z/secret/deep.txt'));
    }
  });

  it('a delete of a packed file is refused (UNSUPPORTED_OPTION, naming the tree), not told "nothing there" while the file is still read; a path the tree does not hold is nothing', async () => {
    for (const withKey of [false, true]) {
      const backend = new MemoryBackend();
      const keys = withKey ? { keyring } : {};
      await storeTree({ source: join(dir, 'src'), prefix: '/t', backend, ...keys, ...(withKey ? { options: { encryption: true } } : {}) });
      const deleted = await new StorageTask({ type: 'storage', metadata: { operation: 'delete', path: '/t/a/b/deep.txt' } }, { backend, ...keys }).execute();
      expect(deleted.error?.code).toBe('UNSUPPORTED_OPTION');
      expect(deleted.error?.message).toBe("delete of '/t/a/b/deep.txt' failed: it is a file of the tree stored at '/t', whose index records it: deleted alone it would leave the index naming what is gone (a restore would fail). Store the tree again without it (write --recursive --delete), or delete the whole tree");
      expect(deleted.error?.details).toEqual({ path: '/t/a/b/deep.txt', tree: '/t' });
      expect(await readAt(backend, '/t/a/b/deep.txt', keys)).toEqual({ success: true, data: Buffer.from('deep\n') });
      const nothing = await new StorageTask({ type: 'storage', metadata: { operation: 'delete', path: '/t/a/nope.txt' } }, { backend, ...keys }).execute();
      expect(nothing.data).toEqual({ path: '/t/a/nope.txt', deleted: false });
    }
    // Without the key of an encrypted tree its index cannot be read: whether the path is the tree's cannot be told, so nothing is deleted.
    const backend = new MemoryBackend();
    await storeTree({ source: join(dir, 'src'), prefix: '/t', backend, keyring, options: { encryption: true } });
    for (const path of ['/t/a/b/deep.txt', '/t/large.bin']) {
      const keyless = await new StorageTask({ type: 'storage', metadata: { operation: 'delete', path } }, { backend }).execute();
      expect(keyless.error).toMatchObject({ code: 'KEY_NOT_FOUND', message: expect.stringMatching(new RegExp(`^delete of '${path}' failed: it is inside the tree stored at '/t', whose index cannot be read \\(KEY_NOT_FOUND: `)) as string, details: { path, tree: '/t' } });
    }
    expect(await readAt(backend, '/t/large.bin', { keyring })).toMatchObject({ success: true });
  });

  it('a delete of any file or folder of a stored tree is refused (UNSUPPORTED_OPTION) before anything is deleted, recursive or not: the tree restores whole after; the whole tree, and an object of its folder that is not the tree\'s, are deleted', async () => {
    const backend = new MemoryBackend();
    await storeTree({ source: join(dir, 'src'), prefix: '/t', backend });
    const refusals: [string, boolean, string][] = [
      ['/t/large.bin', false, 'a file'],
      ['/t/large.bin', true, 'a file'],
      ['/t/a', false, 'a folder'],
      ['/t/a', true, 'a folder'],
      ['/t/a/b', true, 'a folder'],
      ['/t/empty', true, 'a folder'],
    ];
    for (const [path, recursive, what] of refusals) {
      const deleted = await new StorageTask({ type: 'storage', metadata: { operation: 'delete', path, options: { recursive } } }, { backend }).execute();
      expect(deleted.error).toMatchObject({ code: 'UNSUPPORTED_OPTION', details: { path, tree: '/t' } });
      expect(deleted.error?.message).toBe(`delete of '${path}' failed: it is ${what} of the tree stored at '/t', whose index records it: deleted alone it would leave the index naming what is gone (a restore would fail). Store the tree again without it (write --recursive --delete), or delete the whole tree`);
    }
    const out = join(dir, 'out');
    expect(await restoreTree({ prefix: '/t', destination: out, backend })).toMatchObject({ failed: 0, stored: 14 });
    expect(readFileSync(join(out, 'large.bin'))).toEqual(readFileSync(join(dir, 'src', 'large.bin')));
    // Not the tree's: an object written into its folder by someone else is deleted as any object.
    await new StorageTask({ type: 'storage', metadata: { operation: 'write', path: '/t/a/loose.txt', data: 'loose' } }, { backend }).execute();
    expect((await new StorageTask({ type: 'storage', metadata: { operation: 'delete', path: '/t/a/loose.txt' } }, { backend }).execute()).data).toEqual({ path: '/t/a/loose.txt', deleted: true });
    // The whole tree goes at once.
    expect((await new StorageTask({ type: 'storage', metadata: { operation: 'delete', path: '/t', options: { recursive: true } } }, { backend }).execute()).data).toEqual({ path: '/t', deleted: true });
    expect(await listAll(backend, '/', true, 1000)).toEqual([]);
  });

  it('a store with deleteMissing deletes the objects of files gone from the source (a large file, its own object) and drops them from the index', async () => {
    const backend = new MemoryBackend();
    await storeTree({ source: join(dir, 'src'), prefix: '/t', backend });
    rmSync(join(dir, 'src', 'large.bin'));
    rmSync(join(dir, 'src', 'a', '3.txt'));
    const deleted: string[] = [];
    const summary = await storeTree({ source: join(dir, 'src'), prefix: '/t', backend, deleteMissing: true, onFile: (outcome) => outcome.action === 'deleted' && deleted.push(outcome.path) });
    expect(summary).toMatchObject({ deleted: 2, failed: 0 });
    expect(deleted.sort()).toEqual(['a/3.txt', 'large.bin']);
    expect(await readAt(backend, '/t/large.bin')).toEqual({ success: false, code: 'NOT_FOUND' });
    expect([...(await loadIndex({ backend, prefix: '/t', options: {}, keyring: undefined, signal })).keys()]).not.toContain('large.bin');
    expect(await restoreTree({ prefix: '/t', destination: join(dir, 'out'), backend })).toMatchObject({ failed: 0, stored: 12 });
  });

  it('a source file whose name holds a control character is skipped, told by its escaped name; the rest is stored', async () => {
    writeFileSync(join(dir, 'src', 'evil\u001b[2Jname'), 'e');
    const skipped: FileOutcome[] = [];
    const backend = new MemoryBackend();
    const summary = await storeTree({ source: join(dir, 'src'), prefix: '/t', backend, onFile: (outcome) => outcome.action === 'skipped' && skipped.push(outcome) });
    expect(summary).toMatchObject({ skipped: 1, failed: 0, stored: 14 });
    expect(skipped).toEqual([expect.objectContaining({ path: 'evil\\u001b[2Jname', reason: 'a name with a control character (U+001B), which no storage path may hold' })]);
  });

  it("an object written at a packed file's path (without any key) is removed by the next store of the tree, even when nothing changed", async () => {
    const backend = new MemoryBackend();
    await storeTree({ source: join(dir, 'src'), prefix: '/t', backend, keyring, options: { encryption: true } });
    const forged = await new StorageTask({ type: 'storage', metadata: { operation: 'write', path: '/t/a/1.txt', data: 'FORGED' } }, { backend }).execute();
    expect(forged.success).toBe(true);
    // Read at its path, the loose object is what a reader gets until the tree is stored again.
    expect(await readAt(backend, '/t/a/1.txt', { keyring })).toEqual({ success: true, data: Buffer.from('FORGED') });
    expect(await storeTree({ source: join(dir, 'src'), prefix: '/t', backend, keyring, options: { encryption: true } })).toMatchObject({ stored: 0, failed: 0 });
    expect(await readAt(backend, '/t/a/1.txt', { keyring })).toEqual({ success: true, data: readFileSync(join(dir, 'src', 'a', '1.txt')) });
  });

  it('an encrypted tree stays encrypted: a run without encryption is refused (ENCRYPTION_REQUIRED) and stores nothing', async () => {
    const backend = new MemoryBackend();
    await storeTree({ source: join(dir, 'src'), prefix: '/t', backend, keyring, options: { compression: true, encryption: true } });
    const index = async (): Promise<Buffer> => (await backend.read('/t/.taskforge-tree')).body.read() as Buffer;
    const before = await index();
    writeFileSync(join(dir, 'src', 'a', '1.txt'), 'changed\n');
    await expect(storeTree({ source: join(dir, 'src'), prefix: '/t', backend, keyring, options: { compression: true } })).rejects.toMatchObject({ code: 'ENCRYPTION_REQUIRED', message: expect.stringContaining("store of the tree '/t' refused: it is stored encrypted") as unknown });
    expect((await index()).equals(before)).toBe(true);
    expect(await readAt(backend, '/t/a/1.txt', { keyring })).toMatchObject({ success: true });
    expect((await readAt(backend, '/t/a/1.txt', { keyring })).data).not.toEqual(Buffer.from('changed\n'));
    // With encryption it goes on as before.
    expect(await storeTree({ source: join(dir, 'src'), prefix: '/t', backend, keyring, options: { compression: true, encryption: true } })).toMatchObject({ stored: 1 });
  });

  it('an encrypted tree: its packed files are read and listed with the key; without it the listing shows its objects only, and a read says KEY_NOT_FOUND', async () => {
    const backend = new MemoryBackend();
    await storeTree({ source: join(dir, 'src'), prefix: '/t', backend, keyring, options: { compression: true, encryption: true } });
    expect(await readAt(backend, '/t/a/b/deep.txt', { keyring })).toEqual({ success: true, data: Buffer.from('deep\n') });
    expect((await listAll(backend, '/t', true, 1000, { keyring })).length).toBe(17);
    expect((await listAll(backend, '/t', true, 1000)).map((entry) => entry.path)).toEqual(['/t/large.bin']);
    // A folder only the index knows of: the key is what is missing, not the folder.
    const listed = await new StorageTask({ type: 'storage', metadata: { operation: 'list', path: '/t/a' } }, { backend }).execute();
    expect(listed.error?.code).toBe('KEY_NOT_FOUND');
    expect(await readAt(backend, '/t/a/b/deep.txt')).toMatchObject({ success: false, code: 'KEY_NOT_FOUND' });
    // Another key cannot open the index either.
    expect(await readAt(backend, '/t/a/b/deep.txt', { keyring: new Keyring({ keys: { k1: randomBytes(32) } }) })).toMatchObject({ success: false });
  });

  it('a damaged pack fails the files in it with INTEGRITY_ERROR and restores the rest; a missing one fails its files NOT_FOUND, naming it', async () => {
    const backend = new MemoryBackend();
    await storeTree({ source: join(dir, 'src'), prefix: '/t', backend, keyring, options: { encryption: true } });
    const access = { backend, prefix: '/t', options: { encryption: true }, keyring, signal };
    const index = await loadIndex(access);
    const [pack] = packNames(index);
    const packPath = `/t/${pack ?? ''}`;
    const original = await collectBytes((await backend.read(packPath)).body, signal);
    const deep = index.get('a/b/deep.txt');
    if (deep?.kind !== 'file' || deep.pack === undefined) throw new Error('deep.txt is not packed');
    const damaged = Buffer.from(original);
    const at = deep.pack.offset + deep.pack.length - 3;
    damaged.writeUInt8(damaged.readUInt8(at) ^ 0xff, at);
    await backend.write(packPath, Readable.from([damaged]), { signal, overwrite: true, metadata: {} });
    const failures: FileOutcome[] = [];
    const summary = await restoreTree({ prefix: '/t', destination: join(dir, 'out'), backend, keyring, onFile: (outcome) => (outcome.action === 'failed' ? failures.push(outcome) : undefined) });
    expect(summary).toMatchObject({ files: 14, stored: 13, failed: 1 });
    expect(failures.map((failure) => [failure.path, failure.error?.code])).toEqual([['a/b/deep.txt', 'INTEGRITY_ERROR']]);
    expect(readFileSync(join(dir, 'out', 'a', '7.txt'), 'utf8')).toBe('file 7\n');
    // An entry that points past its pack's end.
    const entries = new Map(index);
    entries.set('a/b/deep.txt', { ...deep, pack: { ...deep.pack, offset: original.byteLength } });
    await saveIndex(access, entries);
    await backend.write(packPath, Readable.from([original]), { signal, overwrite: true, metadata: {} });
    const past = await readAt(backend, '/t/a/b/deep.txt', { keyring });
    expect(past).toMatchObject({ success: false, code: 'INTEGRITY_ERROR' });
    await saveIndex(access, index);
    await backend.delete(packPath, { signal, recursive: false });
    const gone: FileOutcome[] = [];
    const withoutPack = await restoreTree({ prefix: '/t', destination: join(dir, 'out2'), backend, keyring, onFile: (outcome) => (outcome.action === 'failed' ? gone.push(outcome) : undefined) });
    expect(withoutPack).toMatchObject({ stored: 1, failed: 13 });
    expect(gone[0]?.error).toMatchObject({ code: 'NOT_FOUND', message: expect.stringContaining(`the pack '${packPath}' that the tree index names is missing`) as unknown });
  });

  it("a folder of a tree restores alone, from the tree's index: its files' bytes, modes and times", async () => {
    const backend = new MemoryBackend();
    await storeTree({ source: join(dir, 'src'), prefix: '/t', backend });
    const summary = await restoreTree({ prefix: '/t/a/b', destination: join(dir, 'only-b'), backend });
    expect(summary).toMatchObject({ files: 1, stored: 1, failed: 0 });
    expect(readFileSync(join(dir, 'only-b', 'deep.txt'), 'utf8')).toBe('deep\n');
    expect(statSync(join(dir, 'only-b', 'deep.txt'))).toMatchObject({ mode: 0o100600, mtimeMs: Date.parse('2020-01-02T03:04:05Z') });
    await expect(restoreTree({ prefix: '/t/nope', destination: join(dir, 'nope'), backend })).rejects.toMatchObject({ code: 'NOT_FOUND' });
    // A file (packed or not) or a link is no folder to restore: said plainly, and nothing is made.
    for (const prefix of ['/t/a/1.txt', '/t/large.bin']) {
      await expect(restoreTree({ prefix, destination: join(dir, 'not-made'), backend })).rejects.toMatchObject({ code: 'NOT_A_DIRECTORY', message: expect.not.stringContaining('.taskforge-') as unknown });
    }
    expect(existsSync(join(dir, 'not-made'))).toBe(false);
  });

  it('a restore of a folder above trees restores each tree whole (packed files, modes, times) and the objects beside them; a tree whose key is not given is told failed, the rest restored', async () => {
    const backend = new MemoryBackend();
    await storeTree({ source: join(dir, 'src'), prefix: '/top/t', backend });
    await storeTree({ source: join(dir, 'src', 'a'), prefix: '/top/deeper/u', backend, keyring, options: { encryption: true } });
    await new StorageTask({ type: 'storage', metadata: { operation: 'write', path: '/top/loose.txt', data: 'loose' } }, { backend }).execute();
    const summary = await restoreTree({ prefix: '/top', destination: join(dir, 'all'), backend, keyring });
    expect(summary).toMatchObject({ files: 14 + 13 + 1, stored: 28, failed: 0 });
    // Each tree's folder `a` (the whole of the second tree): packed files with their bytes, modes and times.
    for (const folderA of [join(dir, 'all', 't', 'a'), join(dir, 'all', 'deeper', 'u')]) {
      expect(readFileSync(join(folderA, '7.txt'), 'utf8')).toBe('file 7\n');
      expect(readFileSync(join(folderA, 'b', 'deep.txt'), 'utf8')).toBe('deep\n');
      expect(statSync(join(folderA, 'b', 'deep.txt'))).toMatchObject({ mode: 0o100600, mtimeMs: Date.parse('2020-01-02T03:04:05Z') });
    }
    expect(readFileSync(join(dir, 'all', 't', 'large.bin'))).toEqual(readFileSync(join(dir, 'src', 'large.bin')));
    expect(existsSync(join(dir, 'all', 't', 'empty'))).toBe(true);
    expect(readFileSync(join(dir, 'all', 'loose.txt'), 'utf8')).toBe('loose');
    // From the root, without the encrypted tree's key: that tree fails once, with the index's code, and nothing of it is made; the rest is restored.
    const failures: FileOutcome[] = [];
    const keyless = await restoreTree({ prefix: '/', destination: join(dir, 'keyless'), backend, onFile: (outcome) => (outcome.action === 'failed' ? failures.push(outcome) : undefined) });
    expect(keyless).toMatchObject({ files: 16, stored: 15, failed: 1 });
    expect(failures.map((failure) => [failure.path, failure.error?.code])).toEqual([['top/deeper/u', 'KEY_NOT_FOUND']]);
    expect(existsSync(join(dir, 'keyless', 'top', 'deeper'))).toBe(false);
    expect(readFileSync(join(dir, 'keyless', 'top', 't', 'a', 'b', 'deep.txt'), 'utf8')).toBe('deep\n');
  });

  it('a tree stored one object per file (before packs) moves a changed file into a pack and removes its old object; the unchanged stay as they are', async () => {
    const backend = new MemoryBackend();
    // Stored as earlier versions did: an object per file, and an index without packs.
    await storeTree({ source: join(dir, 'src'), prefix: '/t', backend, queue: 'memory' });
    const access = { backend, prefix: '/t', options: {}, keyring: undefined, signal };
    const packed = await loadIndex(access);
    const perFile = new Map<string, IndexEntry>();
    for (const [path, entry] of packed) {
      if (entry.kind !== 'file' || entry.pack === undefined) {
        perFile.set(path, entry);
        continue;
      }
      const written = await new StorageTask({ type: 'storage', metadata: { operation: 'write', path: `/t/${path}`, file: join(dir, 'src', path) } }, { backend }).execute();
      if (!written.success) throw new Error(written.error.message);
      const { pack: _pack, ...own } = entry;
      perFile.set(path, { ...own, stored: { size: written.data.size, modifiedAt: written.data.modifiedAt } });
    }
    await saveIndex(access, perFile);
    for (const name of packNames(packed)) await backend.delete(`/t/${name}`, { signal, recursive: false });
    writeFileSync(join(dir, 'src', 'a', '3.txt'), 'changed\n');
    expect(await storeTree({ source: join(dir, 'src'), prefix: '/t', backend })).toMatchObject({ stored: 1, unchanged: 13 });
    expect(await backend.stat('/t/a/3.txt')).toBeUndefined();
    expect(await backend.stat('/t/a/4.txt')).toBeDefined();
    expect(await readAt(backend, '/t/a/3.txt')).toEqual({ success: true, data: Buffer.from('changed\n') });
    const after = await loadIndex(access);
    expect(after.get('a/3.txt')).toMatchObject({ pack: { name: expect.stringMatching(/^\.taskforge-pack-[0-9a-f]{16}$/) as unknown } });
    expect(after.get('a/4.txt')).not.toHaveProperty('pack');
  });
});

/** A memory backend whose writes take a while (a slow disk): packs queue for their turn to be written. Records what each write stored. */
class SlowWrites extends MemoryBackend {
  readonly written: { readonly path: string; readonly bytes: number }[] = [];

  override async write(...args: Parameters<MemoryBackend['write']>): ReturnType<MemoryBackend['write']> {
    await new Promise((done) => setTimeout(done, 40));
    const info = await super.write(...args);
    this.written.push({ path: args[0], bytes: info.size });
    return info;
  }
}

describe('packs written', () => {
  it('every pack written is named by the index and none is empty, while packs wait for their turn to be written', async () => {
    const { path: dir, remove } = await makeTempDir('pack-files-');
    try {
      for (let folder = 0; folder < 4; folder += 1) {
        mkdirSync(join(dir, 'src', `f${String(folder)}`), { recursive: true });
        for (let file = 0; file < 150; file += 1) writeFileSync(join(dir, 'src', `f${String(folder)}`, `${String(file)}.bin`), randomBytes(60_000));
      }
      const backend = new SlowWrites();
      await storeTree({ source: join(dir, 'src'), prefix: '/t', backend });
      const packs = backend.written.filter((write) => write.path.startsWith('/t/.taskforge-pack-'));
      const named = packNames(await loadIndex({ backend, prefix: '/t', options: {}, keyring: undefined, signal }));
      expect(packs.map((write) => write.path.slice('/t/'.length)).sort()).toEqual(named.sort());
      for (const pack of packs) expect(pack.bytes).toBeGreaterThan(0);
      // 36 MB of files that do not compress: eight or nine packs of about 4 MiB, not one per batch.
      expect(packs.length).toBeGreaterThanOrEqual(8);
      expect(packs.length).toBeLessThanOrEqual(10);
    } finally {
      await remove();
    }
  });
});

/** A memory backend on which writing a pack fails (a full disk, say), once `failPacks` is set. */
class FailingPacks extends MemoryBackend {
  failPacks = false;

  override async write(...args: Parameters<MemoryBackend['write']>): ReturnType<MemoryBackend['write']> {
    if (this.failPacks && args[0].includes('/.taskforge-pack-')) throw Object.assign(new Error('no space left on device'), { code: 'ENOSPC' });
    return super.write(...args);
  }
}

describe('a pack that cannot be written', () => {
  it("fails each of its files with the write's error; their old content stays what the index names and reads back", async () => {
    const { path: dir, remove } = await makeTempDir('pack-fails-');
    try {
      mkdirSync(join(dir, 'src'));
      writeFileSync(join(dir, 'src', 'a.txt'), 'old a\n');
      writeFileSync(join(dir, 'src', 'b.txt'), 'old b\n');
      const backend = new FailingPacks();
      await storeTree({ source: join(dir, 'src'), prefix: '/t', backend });
      const access = { backend, prefix: '/t', options: {}, keyring: undefined, signal };
      const before = packNames(await loadIndex(access));
      writeFileSync(join(dir, 'src', 'a.txt'), 'new a, longer\n');
      writeFileSync(join(dir, 'src', 'b.txt'), 'new b, longer\n');
      backend.failPacks = true;
      const failures: FileOutcome[] = [];
      const summary = await storeTree({ source: join(dir, 'src'), prefix: '/t', backend, onFile: (outcome) => (outcome.action === 'failed' ? failures.push(outcome) : undefined) });
      expect(summary).toMatchObject({ files: 2, stored: 0, failed: 2 });
      expect(failures.map((failure) => failure.error?.code)).toEqual(['NO_SPACE', 'NO_SPACE']);
      expect(packNames(await loadIndex(access))).toEqual(before);
      expect(await readAt(backend, '/t/a.txt')).toEqual({ success: true, data: Buffer.from('old a\n') });
      expect((await listAll(backend, '/t', true, 100)).map((entry) => entry.path)).toEqual(['/t/a.txt', '/t/b.txt']);
      // The disk has room again: the same run stores both.
      backend.failPacks = false;
      expect(await storeTree({ source: join(dir, 'src'), prefix: '/t', backend })).toMatchObject({ stored: 2, failed: 0 });
      expect(await readAt(backend, '/t/b.txt')).toEqual({ success: true, data: Buffer.from('new b, longer\n') });
    } finally {
      await remove();
    }
  });
});

describe('readSmallFileSync', () => {
  let dir = '';
  let remove: () => Promise<void> = () => Promise.resolve();
  beforeEach(async () => {
    ({ path: dir, remove } = await makeTempDir('small-file-'));
  });
  afterEach(async () => {
    await remove();
  });

  it('reads a file whole with its facts; refuses a link (never followed), a folder and a missing file with SOURCE_ERROR', () => {
    writeFileSync(join(dir, 'f'), 'hello');
    chmodSync(join(dir, 'f'), 0o640);
    const read = readSmallFileSync(join(dir, 'f'), '/x/f');
    expect(read.bytes.toString()).toBe('hello');
    expect(read.facts).toMatchObject({ size: 5, mode: 0o640 });
    symlinkSync(join(dir, 'f'), join(dir, 'link'));
    expect(() => readSmallFileSync(join(dir, 'link'), '/x/link')).toThrow(expect.objectContaining({ code: 'SOURCE_ERROR', message: expect.stringContaining('a link where a file was expected') as unknown }) as Error);
    mkdirSync(join(dir, 'd'));
    expect(() => readSmallFileSync(join(dir, 'd'), '/x/d')).toThrow(expect.objectContaining({ code: 'SOURCE_ERROR' }) as Error);
    expect(() => readSmallFileSync(join(dir, 'gone'), '/x/gone')).toThrow(expect.objectContaining({ code: 'SOURCE_ERROR', message: expect.stringContaining('no such file') as unknown }) as Error);
  });
});
