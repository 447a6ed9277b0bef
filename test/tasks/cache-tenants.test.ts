import { randomBytes } from 'node:crypto';
import { Readable } from 'node:stream';
import { text } from 'node:stream/consumers';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Keyring } from '../../src/storage/codec/keyring.js';
import { ReadCache } from '../../src/storage/read-cache.js';
import { MemoryBackend } from '../../src/storage/backends/memory.js';
import { S3Backend } from '../../src/storage/backends/s3.js';
import type { StorageBackend } from '../../src/storage/backend.js';
import { StorageTask } from '../../src/tasks/storage-task.js';
import type { StorageMetadata, StorageOptions } from '../../src/tasks/storage-task-config.js';
import type { TaskResult } from '../../src/tasks/task-result.js';
import { useFileSystemFixture } from '../helpers/fs-fixture.js';
import { S3RVER_CREDENTIALS, startS3Server, type S3Server } from '../helpers/s3-server.js';

const keyA = randomBytes(32);
const keyB = randomBytes(32);

/** Tenants sharing one process and one cache. Ids are names users choose: two of them call different keys "main". */
const tenants = {
  owner: new Keyring({ keys: { main: keyA } }),
  sameIdOtherKey: new Keyring({ keys: { main: keyB } }),
  sameKeyOtherId: new Keyring({ keys: { other: keyA } }),
  ownerWithMore: new Keyring({ keys: { main: keyA, extra: keyB }, active: 'extra' }),
  noKeyring: undefined,
} as const;

type Tenant = keyof typeof tenants;

function run(backend: StorageBackend, cache: ReadCache, tenant: Tenant, metadata: StorageMetadata): Promise<TaskResult> {
  const keyring = tenants[tenant];
  return new StorageTask({ type: 'storage', metadata }, { backend, cache, ...(keyring === undefined ? {} : { keyring }) }).execute();
}

/** What a caller can observe of a read: its outcome, error code, and the value (a stream read to its end, or the error it ends with). */
async function observed(result: TaskResult): Promise<unknown> {
  const data = result.data instanceof Readable ? await text(result.data).catch((error: unknown) => ({ streamError: (error as { code?: unknown }).code })) : Buffer.isBuffer(result.data) ? result.data.toString('utf8') : result.data;
  return { status: result.status, code: result.error?.code, data };
}

const cacheModes: StorageOptions['cache'][] = [true, { ttlMs: 60_000 }];
const forms = [undefined, 'buffer', 'text', 'json', 'stream'] as const;
const encryptionAsked = [undefined, true] as const;

describe('two tenants in one process, one cache', () => {
  const fixture = useFileSystemFixture();

  it('every tenant, read form and cache mode gets from a warm cache exactly what the backend gives it', async () => {
    const backend = fixture.backend;
    await run(backend, new ReadCache(), 'owner', { operation: 'write', path: '/secret.json', data: { pin: 1234 }, options: { encryption: true } });
    await run(backend, new ReadCache(), 'owner', { operation: 'write', path: '/plain.json', data: { open: true } });
    const checked: string[] = [];
    for (const path of ['/secret.json', '/plain.json']) {
      for (const tenant of Object.keys(tenants) as Tenant[]) {
        for (const cache of cacheModes) {
          for (const as of forms) {
            for (const encryption of encryptionAsked) {
              const options: StorageOptions = { cache, ...(as === undefined ? {} : { as }), ...(encryption === undefined ? {} : { encryption }) };
              const metadata: StorageMetadata = { operation: 'read', path, options };
              // The backend's answer: a cache that holds nothing.
              const expected = await observed(await run(backend, new ReadCache(), tenant, metadata));
              // The same read against a cache the owner has just filled.
              const shared = new ReadCache();
              const filled = await run(backend, shared, 'owner', { operation: 'read', path, options: { cache } });
              expect(filled.details).toMatchObject({ cache: 'miss' });
              const actual = await observed(await run(backend, shared, tenant, metadata));
              expect({ path, tenant, options, ...(actual as object) }).toEqual({ path, tenant, options, ...(expected as object) });
              checked.push(`${path} ${tenant}`);
            }
          }
        }
      }
    }
    expect(checked).toHaveLength(2 * 5 * cacheModes.length * forms.length * encryptionAsked.length);
  });

  it('a tenant whose keyring lacks the key gets the error, never the plaintext, and the owner still hits', async () => {
    const backend = fixture.backend;
    const cache = new ReadCache();
    await run(backend, cache, 'owner', { operation: 'write', path: '/s', data: 'top secret', options: { encryption: true } });
    expect(await run(backend, cache, 'owner', { operation: 'read', path: '/s', options: { cache: { ttlMs: 60_000 } } })).toMatchObject({ data: 'top secret' });

    const other = await run(backend, cache, 'sameIdOtherKey', { operation: 'read', path: '/s', options: { cache: { ttlMs: 60_000 } } });
    expect(other).toMatchObject({ status: 'failed', error: { code: 'INTEGRITY_ERROR' } });
    expect(JSON.stringify(other)).not.toContain('top secret');
    expect(await run(backend, cache, 'sameKeyOtherId', { operation: 'read', path: '/s', options: { cache: true } })).toMatchObject({ status: 'failed', error: { code: 'KEY_NOT_FOUND' } });
    expect(await run(backend, cache, 'noKeyring', { operation: 'read', path: '/s', options: { cache: true } })).toMatchObject({ status: 'failed', error: { code: 'KEY_NOT_FOUND' } });

    expect(await run(backend, cache, 'owner', { operation: 'read', path: '/s', options: { cache: { ttlMs: 60_000 } } })).toMatchObject({ data: 'top secret', details: { cache: 'hit' } });
    expect(await run(backend, cache, 'ownerWithMore', { operation: 'read', path: '/s', options: { cache: { ttlMs: 60_000 } } })).toMatchObject({
      data: 'top secret',
      details: { cache: 'hit' },
    });
  });
});

describe('the cache is keyed by the backend\'s full identity', () => {
  it('two memory backends are two stores, even under one name', async () => {
    const cache = new ReadCache();
    const first = new MemoryBackend({ name: 'shared' });
    const second = new MemoryBackend({ name: 'shared' });
    await run(first, cache, 'noKeyring', { operation: 'write', path: '/x', data: 'in the first' });
    await run(first, cache, 'noKeyring', { operation: 'read', path: '/x', options: { cache: { ttlMs: 60_000 } } });
    const fromSecond = await run(second, cache, 'noKeyring', { operation: 'read', path: '/x', options: { cache: { ttlMs: 60_000 } } });
    expect(fromSecond).toMatchObject({ status: 'failed', error: { code: 'NOT_FOUND' } });
  });

  describe('S3', () => {
    let servers: S3Server[] = [];
    beforeAll(async () => {
      servers = [await startS3Server('same-bucket'), await startS3Server('same-bucket')];
    });
    afterAll(async () => {
      await Promise.all(servers.map((server) => server.stop()));
    });

    const backendOn = (server: S3Server, prefix = ''): S3Backend =>
      new S3Backend({ bucket: server.bucket, prefix, clientConfig: { endpoint: server.endpoint, region: 'us-east-1', forcePathStyle: true, credentials: S3RVER_CREDENTIALS } });

    it('the same bucket and prefix on two endpoints are two stores', async () => {
      const [one, two] = servers;
      if (one === undefined || two === undefined) throw new Error('servers did not start');
      const cache = new ReadCache();
      await run(backendOn(one), cache, 'noKeyring', { operation: 'write', path: '/k', data: 'on one' });
      await run(backendOn(one), cache, 'noKeyring', { operation: 'read', path: '/k', options: { cache: { ttlMs: 60_000 } } });
      expect(await run(backendOn(two), cache, 'noKeyring', { operation: 'read', path: '/k', options: { cache: { ttlMs: 60_000 } } })).toMatchObject({
        status: 'failed',
        error: { code: 'NOT_FOUND' },
      });
      // The same endpoint, bucket and prefix is the same store: a second backend object shares the entry.
      expect(await run(backendOn(one), cache, 'noKeyring', { operation: 'read', path: '/k', options: { cache: { ttlMs: 60_000 } } })).toMatchObject({
        data: 'on one',
        details: { cache: 'hit' },
      });
    });

    it('two prefixes, and two regions, are two stores', () => {
      const [one] = servers;
      if (one === undefined) throw new Error('servers did not start');
      const identities = new Set([
        backendOn(one, 'a').identity,
        backendOn(one, 'b').identity,
        new S3Backend({ bucket: one.bucket, clientConfig: { endpoint: one.endpoint, region: 'eu-west-1', forcePathStyle: true, credentials: S3RVER_CREDENTIALS } }).identity,
        backendOn(one).identity,
      ]);
      expect(identities.size).toBe(4);
    });
  });
});

describe('a cached read never stores a version a write has replaced', () => {
  const fixture = useFileSystemFixture();

  it('a read that began before a write does not fill the cache with the old bytes', async () => {
    const backend = fixture.backend;
    const cache = new ReadCache();
    const path = '/race.txt';
    await run(backend, cache, 'noKeyring', { operation: 'write', path, data: 'old' });
    // A backend whose reads pause after opening, so that a write lands while the read is under way.
    let releaseRead: () => void = () => undefined;
    let slowRead: Promise<TaskResult> | undefined;
    const readOpened = new Promise<void>((opened) => {
      const slow: StorageBackend = Object.assign(Object.create(backend) as StorageBackend, {
        read: async (p: string) => {
          const openedObject = await backend.read(p);
          opened();
          await new Promise<void>((resolve) => (releaseRead = resolve));
          return openedObject;
        },
      });
      slowRead = run(slow, cache, 'noKeyring', { operation: 'read', path, options: { cache: { ttlMs: 60_000 } } });
    });
    await readOpened;
    await run(backend, cache, 'noKeyring', { operation: 'write', path, data: 'new' });
    releaseRead();
    expect(await slowRead).toMatchObject({ data: 'old' });
    expect(await run(backend, cache, 'noKeyring', { operation: 'read', path, options: { cache: { ttlMs: 60_000 } } })).toMatchObject({ data: 'new' });
  });
});
