import { randomBytes } from 'node:crypto';
import { rename, rm, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import type { Readable } from 'node:stream';
import { describe, expect, it } from 'vitest';
import { Keyring } from '../../src/storage/codec/keyring.js';
import { ReadCache } from '../../src/storage/read-cache.js';
import type { StorageBackend } from '../../src/storage/backend.js';
import { StorageTask } from '../../src/tasks/storage-task.js';
import type { StorageMetadata } from '../../src/tasks/storage-task-config.js';
import type { TaskResult } from '../../src/tasks/task-result.js';
import { useFileSystemFixture } from '../helpers/fs-fixture.js';

function runner(backend: () => StorageBackend, cache: ReadCache, keyring?: Keyring) {
  return (metadata: StorageMetadata): Promise<TaskResult> =>
    new StorageTask({ type: 'storage', metadata }, { backend: backend(), cache, ...(keyring === undefined ? {} : { keyring }) }).execute();
}

describe('the read cache', () => {
  const fixture = useFileSystemFixture();

  it('a first read misses and fills the cache; the next one hits; both say so and are counted', async () => {
    const cache = new ReadCache();
    const run = runner(() => fixture.backend, cache);
    await run({ operation: 'write', path: '/c/a.json', data: { n: 1 } });
    const first = await run({ operation: 'read', path: '/c/a.json', options: { cache: true } });
    const second = await run({ operation: 'read', path: '/c/a.json', options: { cache: true } });
    expect(first).toMatchObject({ data: { n: 1 }, details: { cache: 'miss' } });
    expect(second).toMatchObject({ data: { n: 1 }, details: { cache: 'hit' } });
    expect(cache.stats()).toMatchObject({ hits: 1, misses: 1, entries: 1 });
  });

  it('a read without the cache option neither uses nor fills it', async () => {
    const cache = new ReadCache();
    const run = runner(() => fixture.backend, cache);
    await run({ operation: 'write', path: '/c/b', data: 'x' });
    const plain = await run({ operation: 'read', path: '/c/b' });
    expect(plain.details).toEqual({ bytesRead: 1, kind: 'text' });
    expect(cache.stats()).toMatchObject({ hits: 0, misses: 0, entries: 0 });
  });

  it('a write through this process invalidates at once', async () => {
    const cache = new ReadCache();
    const run = runner(() => fixture.backend, cache);
    await run({ operation: 'write', path: '/c/v', data: 'one' });
    await run({ operation: 'read', path: '/c/v', options: { cache: { ttlMs: 60_000 } } });
    await run({ operation: 'write', path: '/c/v', data: 'two' });
    expect(await run({ operation: 'read', path: '/c/v', options: { cache: { ttlMs: 60_000 } } })).toMatchObject({ data: 'two', details: { cache: 'miss' } });
  });

  it('a delete invalidates, and a recursive delete invalidates everything below', async () => {
    const cache = new ReadCache();
    const run = runner(() => fixture.backend, cache);
    await run({ operation: 'write', path: '/tree/a/x', data: 'x' });
    await run({ operation: 'write', path: '/tree/b', data: 'b' });
    await run({ operation: 'read', path: '/tree/a/x', options: { cache: { ttlMs: 60_000 } } });
    await run({ operation: 'read', path: '/tree/b', options: { cache: { ttlMs: 60_000 } } });
    expect(cache.stats().entries).toBe(2);
    await run({ operation: 'delete', path: '/tree', options: { recursive: true } });
    expect(cache.stats().entries).toBe(0);
    expect((await run({ operation: 'read', path: '/tree/b', options: { cache: { ttlMs: 60_000 } } })).error?.code).toBe('NOT_FOUND');
  });

  it('with cache: true, a change by another program is seen at the next read (the version is checked)', async () => {
    const cache = new ReadCache();
    const run = runner(() => fixture.backend, cache);
    await run({ operation: 'write', path: '/ext.txt', data: 'mine' });
    expect((await run({ operation: 'read', path: '/ext.txt', options: { cache: true, as: 'text' } })).data).toBe('mine');
    await writeFile(join(fixture.root, 'ext.new'), 'theirs!');
    await rename(join(fixture.root, 'ext.new'), join(fixture.root, 'ext.txt'));
    expect(await run({ operation: 'read', path: '/ext.txt', options: { cache: true, as: 'text' } })).toMatchObject({ data: 'theirs!', details: { cache: 'miss' } });
  });

  it('an object deleted by another program is not served from the cache, and its entry is dropped', async () => {
    const cache = new ReadCache();
    const run = runner(() => fixture.backend, cache);
    await run({ operation: 'write', path: '/gone.txt', data: 'here' });
    await run({ operation: 'read', path: '/gone.txt', options: { cache: true } });
    await rm(join(fixture.root, 'gone.txt'));
    expect((await run({ operation: 'read', path: '/gone.txt', options: { cache: true } })).error?.code).toBe('NOT_FOUND');
    expect(cache.stats().entries).toBe(0);
  });

  it('with ttlMs, an entry is trusted that long after its last check, then checked again', async () => {
    const cache = new ReadCache();
    const run = runner(() => fixture.backend, cache);
    await run({ operation: 'write', path: '/ttl.txt', data: 'v1' });
    await run({ operation: 'read', path: '/ttl.txt', options: { cache: { ttlMs: 150 }, as: 'text' } });
    await writeFile(join(fixture.root, 'ttl.tmp'), 'v2 from elsewhere');
    await rename(join(fixture.root, 'ttl.tmp'), join(fixture.root, 'ttl.txt'));
    // Within the ttl: the documented trade, served from memory.
    expect((await run({ operation: 'read', path: '/ttl.txt', options: { cache: { ttlMs: 150 }, as: 'text' } })).data).toBe('v1');
    await new Promise((resolve) => setTimeout(resolve, 200));
    expect((await run({ operation: 'read', path: '/ttl.txt', options: { cache: { ttlMs: 150 }, as: 'text' } })).data).toBe('v2 from elsewhere');
  });

  it('a caller that changes the Buffer it read does not change what the cache serves', async () => {
    const cache = new ReadCache();
    const run = runner(() => fixture.backend, cache);
    await run({ operation: 'write', path: '/bytes.bin', data: Buffer.from([1, 2, 3]) });
    const first = (await run({ operation: 'read', path: '/bytes.bin', options: { cache: true } })).data as Buffer;
    first[0] = 99;
    const second = (await run({ operation: 'read', path: '/bytes.bin', options: { cache: true } })).data as Buffer;
    expect([...second]).toEqual([1, 2, 3]);
  });

  it('holds decoded data of encrypted objects, and a read requiring encryption never gets a plain entry', async () => {
    const keyring = new Keyring({ keys: { c: randomBytes(32) } });
    const cache = new ReadCache();
    const run = runner(() => fixture.backend, cache, keyring);
    await run({ operation: 'write', path: '/sec.json', data: { s: 1 }, options: { encryption: true, compression: true } });
    await run({ operation: 'read', path: '/sec.json', options: { cache: true } });
    expect(await run({ operation: 'read', path: '/sec.json', options: { cache: true, encryption: true } })).toMatchObject({ data: { s: 1 }, details: { cache: 'hit' } });
    await run({ operation: 'write', path: '/open.json', data: { o: 1 } });
    await run({ operation: 'read', path: '/open.json', options: { cache: true } });
    expect((await run({ operation: 'read', path: '/open.json', options: { cache: true, encryption: true } })).error?.code).toBe('ENCRYPTION_REQUIRED');
  });

  it('keeps to its byte budget: objects over the entry limit are not kept, older ones are evicted', async () => {
    const cache = new ReadCache({ maxBytes: 64 * 1024, maxEntryBytes: 16 * 1024 });
    const run = runner(() => fixture.backend, cache);
    await run({ operation: 'write', path: '/big', data: Buffer.alloc(32 * 1024, 7) });
    // Not kept, and served as a read without cache would be.
    expect((await run({ operation: 'read', path: '/big', options: { cache: true } })).data).toEqual(Buffer.alloc(32 * 1024, 7));
    expect(cache.stats().entries).toBe(0);
    // (An entry costs its bytes and 64 of bookkeeping.)
    expect([cache.holds(16 * 1024 - 64), cache.holds(16 * 1024 - 63)]).toEqual([true, false]);
    for (let index = 0; index < 10; index += 1) {
      await run({ operation: 'write', path: `/s${index}`, data: Buffer.alloc(10 * 1024, index) });
      await run({ operation: 'read', path: `/s${index}`, options: { cache: true } });
    }
    expect(cache.stats().bytes).toBeLessThanOrEqual(64 * 1024);
    expect(cache.stats().entries).toBeLessThan(10);
    expect((await run({ operation: 'read', path: '/s9', options: { cache: true } })).details).toEqual({ cache: 'hit', kind: 'bytes' });
    expect((await run({ operation: 'read', path: '/s0', options: { cache: true } })).details).toEqual({ cache: 'miss', bytesRead: 10240, kind: 'bytes' });
  });

  it('a hit still obeys maxBytes and the asked form, stream included', async () => {
    const cache = new ReadCache();
    const run = runner(() => fixture.backend, cache);
    await run({ operation: 'write', path: '/f.txt', data: 'hello stream' });
    await run({ operation: 'read', path: '/f.txt', options: { cache: true } });
    expect((await run({ operation: 'read', path: '/f.txt', options: { cache: true, maxBytes: 4 } })).error?.code).toBe('LIMIT_EXCEEDED');
    const streamed = await run({ operation: 'read', path: '/f.txt', options: { cache: true, as: 'stream' } });
    expect(streamed.details).toEqual({ cache: 'hit', kind: 'text' });
    const chunks: Buffer[] = [];
    for await (const chunk of streamed.data as Readable) chunks.push(chunk as Buffer);
    expect(Buffer.concat(chunks).toString()).toBe('hello stream');
  });
});
