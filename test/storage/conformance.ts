import { Readable } from 'node:stream';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import type { ListEntry, ListPage, StorageBackend } from '../../src/storage/backend.js';
import { StorageTask } from '../../src/tasks/storage-task.js';
import { TaskType } from '../../src/tasks/task-type.js';
import { expectCode, expectData, runStorage } from '../helpers/storage.js';

/** A backend under test and how to dispose of it. */
export interface BackendFixture {
  readonly backend: StorageBackend;
  readonly dispose: () => Promise<void>;
  /** Writes into the store as another program would, past taskforge; absent where no other program can (memory). */
  readonly foreign?: ForeignWriter;
}

/** What another program can leave in a backend's store: files and empty directories (S3: folder markers). */
export interface ForeignWriter {
  /** Puts `content` at storage path `path` (its directories made as needed). */
  putFile(path: string, content: string): Promise<void>;
  /** Makes an empty directory at `path`: a directory on disk, a `path/` folder-marker key on S3. */
  makeDirectory(path: string): Promise<void>;
}

/**
 * The behaviour every storage backend shares, through StorageTask: each
 * operation, each data form, pagination, path attacks, idempotent delete,
 * concurrent writers. Every backend runs this same suite.
 */
/** What a backend under test can show; the defaults are the contract. */
export interface ConformanceOptions {
  /**
   * False for a test server that rewrites objects in place (s3rver), where a
   * reader during a rewrite can see a partial object, and writers of one
   * object at once can leave a mix (s3rver answers a PUT before its bytes
   * are written). The skips are printed.
   */
  readonly atomicReplace?: boolean;
}

export function describeBackendConformance(name: string, makeFixture: () => Promise<BackendFixture>, conformance: ConformanceOptions = {}): void {
  const atomicReplace = conformance.atomicReplace ?? true;
  if (!atomicReplace) {
    process.stderr.write(
      `\n!!! SKIPPED for ${name}: "a reader during a rewrite sees the old object or the new one" and "concurrent writers to one path": the test server rewrites objects in place\n\n`,
    );
  }
  describe(`storage conformance: ${name}`, () => {
    let fixture: BackendFixture;
    /** The fixture's foreign writer; tests that use it are skipped where there is none. */
    const foreign = (): ForeignWriter => {
      if (fixture.foreign === undefined) throw new Error('this fixture has no foreign writer');
      return fixture.foreign;
    };
    let backend: StorageBackend;

    beforeEach(async () => {
      fixture = await makeFixture();
      backend = fixture.backend;
    });

    afterEach(async () => {
      await fixture.dispose();
    });

    const write = (path: string, data: unknown, options = {}) => expectData(backend, { operation: 'write', path, data, options });
    const read = (path: string, options = {}) => expectData(backend, { operation: 'read', path, options });
    const list = (path: string, options = {}) => expectData(backend, { operation: 'list', path, options }) as Promise<ListPage>;

    describe('data forms come back as written', () => {
      it('a string reads back as the same string', async () => {
        await write('/forms/text.txt', 'Hello, wörld ✓');
        expect(await read('/forms/text.txt')).toBe('Hello, wörld ✓');
      });

      it('a JSON value reads back as an equal value', async () => {
        const value = { content: 'Hello World', n: 3, list: [1, null, { deep: true }] };
        await write('/forms/value.json', value);
        expect(await read('/forms/value.json')).toEqual(value);
      });

      it('JSON scalars and arrays read back as themselves', async () => {
        for (const value of [42, true, null, [1, 'two'], 'a string is text, not JSON']) {
          await write('/forms/scalar', value);
          expect(await read('/forms/scalar')).toEqual(value);
        }
      });

      it('a Buffer reads back as an equal Buffer', async () => {
        const bytes = Buffer.from([0, 1, 2, 255, 254, 0]);
        await write('/forms/bytes.bin', bytes);
        const back = await read('/forms/bytes.bin');
        expect(Buffer.isBuffer(back)).toBe(true);
        expect(back).toEqual(bytes);
      });

      it('a Uint8Array view writes only its own bytes', async () => {
        const whole = new Uint8Array([9, 9, 1, 2, 3, 9]);
        await write('/forms/view.bin', whole.subarray(2, 5));
        expect(await read('/forms/view.bin')).toEqual(Buffer.from([1, 2, 3]));
      });

      it('a Node Readable is streamed in and reads back as its bytes', async () => {
        const chunks = Array.from({ length: 50 }, (_, index) => Buffer.alloc(10_000, index));
        await write('/forms/stream.bin', Readable.from(chunks));
        expect(await read('/forms/stream.bin')).toEqual(Buffer.concat(chunks));
      });

      it('an async iterable of bytes and strings is streamed in', async () => {
        async function* generate(): AsyncGenerator<Uint8Array | string> {
          await Promise.resolve();
          yield 'head:';
          yield new Uint8Array([65, 66]);
          yield ':tail';
        }
        await write('/forms/generated.txt', generate());
        expect(await read('/forms/generated.txt', { as: 'text' })).toBe('head:AB:tail');
      });

      it('an empty string is stored as an empty object', async () => {
        const data = (await write('/forms/empty.txt', '')) as { size: number };
        expect(data.size).toBe(0);
        expect(await read('/forms/empty.txt')).toBe('');
      });

      it('the write result names the path and the stored size', async () => {
        const data = (await write('forms/sized.txt', 'abc')) as { path: string; size: number; version: string; modifiedAt: string };
        expect(data).toMatchObject({ path: '/forms/sized.txt', size: 3 });
        expect(typeof data.version).toBe('string');
        expect(Number.isNaN(Date.parse(data.modifiedAt))).toBe(false);
      });
    });

    describe('read forms', () => {
      beforeEach(async () => {
        await write('/read/value.json', { a: 1 });
      });

      it('as: text gives the JSON text', async () => {
        expect(await read('/read/value.json', { as: 'text' })).toBe('{"a":1}');
      });

      it('as: buffer gives the bytes', async () => {
        expect(await read('/read/value.json', { as: 'buffer' })).toEqual(Buffer.from('{"a":1}'));
      });

      it('as: stream gives a Readable of the bytes', async () => {
        const stream = (await read('/read/value.json', { as: 'stream' })) as Readable;
        expect(stream).toBeInstanceOf(Readable);
        const chunks: Buffer[] = [];
        for await (const chunk of stream) chunks.push(chunk as Buffer);
        expect(Buffer.concat(chunks).toString()).toBe('{"a":1}');
      });

      it('as: json parses text that was written as a string', async () => {
        await write('/read/text.json', '[1,2,3]');
        expect(await read('/read/text.json', { as: 'json' })).toEqual([1, 2, 3]);
      });

      it('as: json of bytes that are not JSON fails with INVALID_CONTENT', async () => {
        await write('/read/not.json', 'not json');
        expect(await expectCode(backend, { operation: 'read', path: '/read/not.json', options: { as: 'json' } })).toBe('INVALID_CONTENT');
      });

      it('as: text of bytes that are not UTF-8 fails with INVALID_CONTENT', async () => {
        await write('/read/latin1.bin', Buffer.from([0xff, 0xfe, 0xfd]));
        expect(await expectCode(backend, { operation: 'read', path: '/read/latin1.bin', options: { as: 'text' } })).toBe('INVALID_CONTENT');
      });
    });

    describe('write', () => {
      it('overwrites an existing object by default', async () => {
        await write('/w/file', 'old');
        await write('/w/file', 'new');
        expect(await read('/w/file')).toBe('new');
      });

      it('with overwrite: false refuses an existing object with ALREADY_EXISTS and keeps it', async () => {
        await write('/w/keep', 'original');
        const code = await expectCode(backend, { operation: 'write', path: '/w/keep', data: 'replacement', options: { overwrite: false } });
        expect(code).toBe('ALREADY_EXISTS');
        expect(await read('/w/keep')).toBe('original');
      });

      it('with overwrite: false creates a new object', async () => {
        await write('/w/fresh', 'first', { overwrite: false });
        expect(await read('/w/fresh')).toBe('first');
      });

      it('under a path whose parent is a file fails with NOT_A_DIRECTORY and keeps the file', async () => {
        await write('/w/parent', 'i am a file');
        expect(await expectCode(backend, { operation: 'write', path: '/w/parent/child', data: 'x' })).toBe('NOT_A_DIRECTORY');
        expect(await read('/w/parent')).toBe('i am a file');
      });

      it('onto a directory fails with IS_A_DIRECTORY and keeps what is inside', async () => {
        await write('/w/dir/inner', 'inside');
        expect(await expectCode(backend, { operation: 'write', path: '/w/dir', data: 'x' })).toBe('IS_A_DIRECTORY');
        expect(await read('/w/dir/inner')).toBe('inside');
      });

      it('onto the root fails with IS_A_DIRECTORY', async () => {
        expect(await expectCode(backend, { operation: 'write', path: '/', data: 'x' })).toBe('IS_A_DIRECTORY');
      });

      it.skipIf(!atomicReplace)('concurrent writers to one path: the last writer wins whole, never a mix', async () => {
        const size = 256 * 1024;
        const writers = Array.from({ length: 12 }, (_, index) => write('/w/contended.bin', Buffer.alloc(size, index + 1)));
        await Promise.all(writers);
        const back = (await read('/w/contended.bin')) as Buffer;
        expect(back.length).toBe(size);
        const first = back[0];
        expect(first).toBeGreaterThan(0);
        expect(back.every((byte) => byte === first)).toBe(true);
      });

      it.skipIf(!atomicReplace)('a reader during a rewrite sees the old object or the new one, whole', async () => {
        const size = 512 * 1024;
        await write('/w/flip.bin', Buffer.alloc(size, 1));
        const reads: Promise<unknown>[] = [];
        const writes: Promise<unknown>[] = [];
        for (let round = 2; round < 8; round += 1) {
          writes.push(write('/w/flip.bin', Buffer.alloc(size, round)));
          reads.push(read('/w/flip.bin'));
        }
        await Promise.all(writes);
        for (const back of (await Promise.all(reads)) as Buffer[]) {
          expect(back.length).toBe(size);
          const first = back[0];
          expect(back.every((byte) => byte === first)).toBe(true);
        }
      });

      it('reports progress while writing a large object', async () => {
        const task = new StorageTask(
          { type: TaskType.STORAGE, metadata: { operation: 'write', path: '/w/large.bin', data: Buffer.alloc(8 * 1024 * 1024, 7) } },
          { backend },
        );
        const seen: { bytesDone: number; bytesTotal?: number }[] = [];
        task.on('progress', (event) => seen.push(event));
        expect((await task.execute()).success).toBe(true);
        expect(seen.length).toBeGreaterThan(0);
        expect(seen.at(-1)).toMatchObject({ bytesDone: 8 * 1024 * 1024, bytesTotal: 8 * 1024 * 1024 });
        expect(seen.filter((event) => event.bytesDone === 8 * 1024 * 1024)).toHaveLength(1);
      });
    });

    describe('read', () => {
      it('of a missing path fails with NOT_FOUND', async () => {
        expect(await expectCode(backend, { operation: 'read', path: '/nothing/here' })).toBe('NOT_FOUND');
      });

      it('of a directory fails with IS_A_DIRECTORY', async () => {
        await write('/r/dir/file', 'x');
        expect(await expectCode(backend, { operation: 'read', path: '/r/dir' })).toBe('IS_A_DIRECTORY');
      });

      it('through a file as if it were a directory fails with NOT_A_DIRECTORY', async () => {
        await write('/r/file', 'x');
        expect(await expectCode(backend, { operation: 'read', path: '/r/file/below' })).toBe('NOT_A_DIRECTORY');
      });

      it('reports progress with the total size', async () => {
        await write('/r/big.bin', Buffer.alloc(3 * 1024 * 1024, 1));
        const task = new StorageTask({ type: TaskType.STORAGE, metadata: { operation: 'read', path: '/r/big.bin' } }, { backend });
        const seen: { bytesDone: number; bytesTotal?: number }[] = [];
        task.on('progress', (event) => seen.push(event));
        await task.execute();
        expect(seen.at(-1)).toEqual({ id: task.id, type: 'storage', bytesDone: 3 * 1024 * 1024, bytesTotal: 3 * 1024 * 1024 });
        // The last count is told once.
        expect(seen.filter((event) => event.bytesDone === 3 * 1024 * 1024)).toHaveLength(1);
      });
    });

    describe('delete', () => {
      it('removes a file and says so; a second delete says nothing was there', async () => {
        await write('/d/file', 'x');
        expect(await expectData(backend, { operation: 'delete', path: '/d/file' })).toEqual({ path: '/d/file', deleted: true });
        expect(await expectData(backend, { operation: 'delete', path: '/d/file' })).toEqual({ path: '/d/file', deleted: false });
        expect(await expectCode(backend, { operation: 'read', path: '/d/file' })).toBe('NOT_FOUND');
      });

      it('of a path under a missing directory is a no-op', async () => {
        expect(await expectData(backend, { operation: 'delete', path: '/no/such/dir/file' })).toEqual({ path: '/no/such/dir/file', deleted: false });
      });

      it('of a directory without recursive fails with IS_A_DIRECTORY and removes nothing', async () => {
        await write('/d/tree/a', 'a');
        expect(await expectCode(backend, { operation: 'delete', path: '/d/tree' })).toBe('IS_A_DIRECTORY');
        expect(await read('/d/tree/a')).toBe('a');
      });

      it('of a directory with recursive removes it and all below it', async () => {
        await write('/d/tree/a', 'a');
        await write('/d/tree/sub/b', 'b');
        await write('/d/other', 'kept');
        expect(await expectData(backend, { operation: 'delete', path: '/d/tree', options: { recursive: true } })).toEqual({ path: '/d/tree', deleted: true });
        expect(await expectCode(backend, { operation: 'read', path: '/d/tree/sub/b' })).toBe('NOT_FOUND');
        expect(await read('/d/other')).toBe('kept');
      });

      it('of the root is refused with VALIDATION_ERROR', async () => {
        await write('/d/survivor', 'x');
        expect(await expectCode(backend, { operation: 'delete', path: '/', options: { recursive: true } })).toBe('VALIDATION_ERROR');
        expect(await read('/d/survivor')).toBe('x');
      });
    });

    describe('list', () => {
      it('of an empty store is an empty page', async () => {
        expect(await list('/')).toEqual({ entries: [] });
      });

      it('gives entries sorted by name with type, size and time', async () => {
        await write('/l/b.txt', 'bb');
        await write('/l/a.txt', 'a');
        await write('/l/c/inner.txt', 'ccc');
        const page = await list('/l');
        expect(page.cursor).toBeUndefined();
        expect(page.entries.map((entry) => [entry.name, entry.path, entry.type, entry.size])).toEqual([
          ['a.txt', '/l/a.txt', 'file', 1],
          ['b.txt', '/l/b.txt', 'file', 2],
          ['c', '/l/c', 'directory', 0],
        ]);
        for (const entry of page.entries) expect(Number.isNaN(Date.parse(entry.modifiedAt))).toBe(false);
      });

      it('with recursive walks subdirectories in path order', async () => {
        await write('/l/a/x', '1');
        await write('/l/a/y/z', '2');
        await write('/l/b', '3');
        const page = await list('/l/', { recursive: true });
        expect(page.entries.map((entry: ListEntry) => entry.path)).toEqual(['/l/a', '/l/a/x', '/l/a/y', '/l/a/y/z', '/l/b']);
      });

      it('pages with limit and cursor cover every entry exactly once, in order', async () => {
        const names = Array.from({ length: 57 }, (_, index) => `item-${String(index).padStart(3, '0')}`);
        for (const name of [...names].reverse()) await write(`/p/${name}`, name);
        const seen: string[] = [];
        let cursor: string | undefined;
        let pages = 0;
        do {
          const page = await list('/p', { limit: 10, ...(cursor === undefined ? {} : { cursor }) });
          expect(page.entries.length).toBeLessThanOrEqual(10);
          seen.push(...page.entries.map((entry) => entry.name));
          cursor = page.cursor;
          pages += 1;
        } while (cursor !== undefined);
        expect(pages).toBe(6);
        expect(seen).toEqual(names);
      });

      it('recursive pages with a cursor resume after the last entry, across directories', async () => {
        for (const path of ['/q/a/1', '/q/a/2', '/q/b/1', '/q/b/2/x', '/q/c']) await write(path, path);
        const all = (await list('/q', { recursive: true })).entries.map((entry) => entry.path);
        const paged: string[] = [];
        let cursor: string | undefined;
        do {
          const page = await list('/q', { recursive: true, limit: 2, ...(cursor === undefined ? {} : { cursor }) });
          paged.push(...page.entries.map((entry) => entry.path));
          cursor = page.cursor;
        } while (cursor !== undefined);
        expect(paged).toEqual(all);
        expect(all).toHaveLength(8);
      });

      it('of a file fails with NOT_A_DIRECTORY', async () => {
        await write('/l/file', 'x');
        expect(await expectCode(backend, { operation: 'list', path: '/l/file' })).toBe('NOT_A_DIRECTORY');
      });

      it('of a missing directory fails with NOT_FOUND', async () => {
        expect(await expectCode(backend, { operation: 'list', path: '/missing' })).toBe('NOT_FOUND');
      });

      it('with a cursor it did not make fails with VALIDATION_ERROR', async () => {
        expect(await expectCode(backend, { operation: 'list', path: '/', options: { cursor: 'not-a-cursor' } })).toBe('VALIDATION_ERROR');
      });

      it('names with unicode and spaces round-trip', async () => {
        await write('/u/naïve file ✓.txt', 'ok');
        expect((await list('/u')).entries.map((entry) => entry.name)).toEqual(['naïve file ✓.txt']);
        expect(await read('/u/naïve file ✓.txt')).toBe('ok');
      });
    });

    describe('path attacks are refused for every operation and touch nothing', () => {
      const attacks: [string, string][] = [
        ['/../escape.txt', 'PATH_OUTSIDE_ROOT'],
        ['/data/../../escape.txt', 'PATH_OUTSIDE_ROOT'],
        ['..', 'PATH_OUTSIDE_ROOT'],
        ['/data/nul\0byte', 'PATH_OUTSIDE_ROOT'],
        ['/data//double', 'PATH_OUTSIDE_ROOT'],
        ['/data/./dot', 'PATH_OUTSIDE_ROOT'],
        ['/data/.taskforge-tmp-x', 'VALIDATION_ERROR'],
      ];
      for (const [path, code] of attacks) {
        it(`${JSON.stringify(path)} gives ${code}`, async () => {
          expect(await expectCode(backend, { operation: 'write', path, data: 'x' })).toBe(code);
          expect(await expectCode(backend, { operation: 'read', path })).toBe(code);
          expect(await expectCode(backend, { operation: 'delete', path, options: { recursive: true } })).toBe(code);
          expect(await expectCode(backend, { operation: 'list', path })).toBe(code);
          expect(await list('/')).toEqual({ entries: [] });
        });
      }
    });

    describe('what other programs left in the store', () => {
      // Memory has no other program; its fixture gives no foreign writer.
      const hasForeign = (): boolean => fixture.foreign !== undefined;

      it('an empty directory is listed once as a directory, lists empty, and is a directory to read, write and delete', async (context) => {
        if (!hasForeign()) context.skip();
        await foreign().makeDirectory('/e');
        await foreign().makeDirectory('/e/sub');
        expect((await list('/')).entries.map((entry) => [entry.name, entry.type])).toEqual([['e', 'directory']]);
        expect((await list('/e')).entries.map((entry) => [entry.name, entry.type])).toEqual([['sub', 'directory']]);
        expect(await list('/e/sub')).toEqual({ entries: [] });
        expect((await list('/', { recursive: true })).entries.map((entry) => [entry.path, entry.type])).toEqual([
          ['/e', 'directory'],
          ['/e/sub', 'directory'],
        ]);
        expect(await expectCode(backend, { operation: 'read', path: '/e/sub' })).toBe('IS_A_DIRECTORY');
        expect(await expectCode(backend, { operation: 'write', path: '/e/sub', data: 'x' })).toBe('IS_A_DIRECTORY');
        expect(await expectCode(backend, { operation: 'delete', path: '/e/sub' })).toBe('IS_A_DIRECTORY');
        expect(await expectData(backend, { operation: 'delete', path: '/e/sub', options: { recursive: true } })).toEqual({ path: '/e/sub', deleted: true });
        expect(await list('/e')).toEqual({ entries: [] });
        expect(await expectCode(backend, { operation: 'list', path: '/e/sub' })).toBe('NOT_FOUND');
      });

      it('a file written into an empty directory lists beside nothing else', async (context) => {
        if (!hasForeign()) context.skip();
        await foreign().makeDirectory('/e');
        await write('/e/inside.txt', 'in');
        expect((await list('/e')).entries.map((entry) => [entry.name, entry.type])).toEqual([['inside.txt', 'file']]);
        expect(await expectData(backend, { operation: 'delete', path: '/e/inside.txt' })).toEqual({ path: '/e/inside.txt', deleted: true });
        expect(await list('/e')).toEqual({ entries: [] });
      });

      it("names reserved for taskforge ('.taskforge-*') are hidden from every listing and refused by every operation", async (context) => {
        if (!hasForeign()) context.skip();
        await foreign().putFile('/x/.taskforge-theirs', 'not taskforge');
        await foreign().putFile('/x/.taskforge-dir/inner', 'not taskforge');
        await foreign().putFile('/x/kept.txt', 'kept');
        expect((await list('/x')).entries.map((entry) => entry.name)).toEqual(['kept.txt']);
        expect((await list('/', { recursive: true })).entries.map((entry) => entry.path)).toEqual(['/x', '/x/kept.txt']);
        for (const path of ['/x/.taskforge-theirs', '/x/.taskforge-dir/inner']) {
          expect(await expectCode(backend, { operation: 'read', path })).toBe('VALIDATION_ERROR');
          expect(await expectCode(backend, { operation: 'write', path, data: 'x' })).toBe('VALIDATION_ERROR');
          expect(await expectCode(backend, { operation: 'delete', path })).toBe('VALIDATION_ERROR');
        }
        expect(await expectCode(backend, { operation: 'list', path: '/x/.taskforge-dir' })).toBe('VALIDATION_ERROR');
        // A directory goes whole: its hidden names with it.
        expect(await expectData(backend, { operation: 'delete', path: '/x', options: { recursive: true } })).toEqual({ path: '/x', deleted: true });
        expect(await list('/')).toEqual({ entries: [] });
      });

      it("a recursive listing asked for tree indexes lists each '.taskforge-tree' file in its place, page by page; nothing else reserved, and never when not recursive", async (context) => {
        if (!hasForeign()) context.skip();
        await foreign().putFile('/x/-first.txt', 'sorts before the index');
        await foreign().putFile('/x/.taskforge-tree', 'an index');
        await foreign().putFile('/x/.taskforge-pack-1', 'a pack');
        await foreign().putFile('/x/kept.txt', 'kept');
        await foreign().putFile('/y/.taskforge-tree/inner', 'a folder so named is no index');
        const signal = new AbortController().signal;
        const paths = async (path: string, options: { recursive: boolean; limit: number }): Promise<string[]> => {
          const found: string[] = [];
          let after: string | undefined;
          for (;;) {
            const page = await backend.list(path, { signal, treeIndexes: true, ...options, ...(after === undefined ? {} : { after }) });
            found.push(...page.entries.map((entry) => `${entry.type} ${entry.path}`));
            if (page.cursor === undefined) return found;
            after = page.entries.at(-1)?.path;
          }
        };
        const whole = ['directory /x', 'file /x/-first.txt', 'file /x/.taskforge-tree', 'file /x/kept.txt', 'directory /y'];
        expect(await paths('/', { recursive: true, limit: 100 })).toEqual(whole);
        expect(await paths('/', { recursive: true, limit: 1 })).toEqual(whole);
        expect(await paths('/x', { recursive: false, limit: 100 })).toEqual(['file /x/-first.txt', 'file /x/kept.txt']);
        // Not asked, hidden as ever.
        expect((await backend.list('/', { signal, recursive: true, limit: 100 })).entries.map((entry) => entry.path)).toEqual(['/x', '/x/-first.txt', '/x/kept.txt', '/y']);
        // A listing above it reads it as a tree's index: one that is not is told, never taken for an empty tree.
        expect(await expectCode(backend, { operation: 'list', path: '/', options: { recursive: true } })).toBe('INTEGRITY_ERROR');
      });

      it('names with a control character (no storage path can hold one) are hidden from every listing, as reserved names are', async (context) => {
        if (!hasForeign()) context.skip();
        await foreign().putFile('/c/evil\u001b[2Jname', 'e');
        await foreign().putFile('/c/two\nlines', 'e');
        await foreign().putFile('/c/kept.txt', 'kept');
        expect((await list('/c')).entries.map((entry) => entry.name)).toEqual(['kept.txt']);
        expect((await list('/', { recursive: true })).entries.map((entry) => entry.path)).toEqual(['/c', '/c/kept.txt']);
        expect(await expectCode(backend, { operation: 'read', path: '/c/evil\u001b[2Jname' })).toBe('VALIDATION_ERROR');
      });

      it('a recursive listing holds exactly what the listing of each directory holds', async (context) => {
        if (!hasForeign()) context.skip();
        await foreign().makeDirectory('/t');
        await foreign().makeDirectory('/t/empty');
        await foreign().makeDirectory('/t/full');
        await foreign().putFile('/t/full/a.txt', 'a');
        await foreign().putFile('/t/full/.taskforge-hidden', 'h');
        await foreign().putFile('/t/b.txt', 'b');
        const line = (entry: ListEntry): string => `${entry.path} ${entry.type} ${String(entry.size)}`;
        // The same entry with the same facts, time included, whichever way it was listed.
        const facts = (entry: ListEntry): string => `${line(entry)} ${entry.modifiedAt}`;
        const recursive = (await list('/t', { recursive: true })).entries;
        const fromEachDirectory: ListEntry[] = [];
        const visit = async (path: string): Promise<void> => {
          for (const entry of (await list(path)).entries) {
            fromEachDirectory.push(entry);
            if (entry.type === 'directory') await visit(entry.path);
          }
        };
        await visit('/t');
        expect(recursive.map(line)).toEqual(['/t/b.txt file 1', '/t/empty directory 0', '/t/full directory 0', '/t/full/a.txt file 1']);
        expect([...fromEachDirectory].sort((a, b) => (a.path < b.path ? -1 : 1)).map(facts)).toEqual(recursive.map(facts));
      });
    });

    it('a failed task leaves the backend as it was', async () => {
      await write('/keep/me', 'safe');
      const result = await runStorage(backend, { operation: 'write', path: '/keep/me/child', data: 'x' });
      expect(result.success).toBe(false);
      expect((await list('/', { recursive: true })).entries.map((entry) => entry.path)).toEqual(['/keep', '/keep/me']);
    });
  });
}
