import { randomBytes } from 'node:crypto';
import { readdirSync } from 'node:fs';
import { S3Client } from '@aws-sdk/client-s3';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ErrorCode, TaskforgeError } from '../../src/core/errors.js';
import type { StorageBackend } from '../../src/storage/backend.js';
import { FileSystemBackend } from '../../src/storage/backends/filesystem.js';
import { MemoryBackend } from '../../src/storage/backends/memory.js';
import { S3Backend } from '../../src/storage/backends/s3.js';
import { StorageTask } from '../../src/tasks/storage-task.js';
import type { StorageMetadata } from '../../src/tasks/storage-task-config.js';
import type { TaskResult } from '../../src/tasks/task-result.js';
import { S3RVER_CREDENTIALS, startS3Server, type S3Server } from '../helpers/s3-server.js';
import { makeTempDir } from '../helpers/temp-dir.js';

/**
 * Fencing: a storage task given a `beforeCommit` check (a Redis worker's
 * "do I still hold this task's lock?") calls it right before a write or a
 * delete commits; when it refuses, nothing is committed, on every backend.
 */
let s3: S3Server | undefined;
let client: S3Client | undefined;
let dir = { path: '', remove: (): Promise<void> => Promise.resolve() };

beforeAll(async () => {
  s3 = await startS3Server('fencing');
  client = new S3Client({ endpoint: s3.endpoint, region: 'us-east-1', forcePathStyle: true, credentials: S3RVER_CREDENTIALS });
  dir = await makeTempDir('fencing-');
}, 30_000);
afterAll(async () => {
  client?.destroy();
  await s3?.stop();
  await dir.remove();
});

const backends: Record<string, () => StorageBackend> = {
  memory: () => new MemoryBackend(),
  filesystem: () => new FileSystemBackend({ root: `${dir.path}/${randomBytes(4).toString('hex')}` }),
  s3: () => {
    if (s3 === undefined || client === undefined) throw new Error('the S3 server did not start');
    return new S3Backend({ bucket: s3.bucket, prefix: `f${randomBytes(6).toString('hex')}`, client, partSize: 5 * 1024 * 1024 });
  },
};

function run(backend: StorageBackend, metadata: StorageMetadata, beforeCommit?: () => Promise<void>): Promise<TaskResult> {
  return new StorageTask({ type: 'storage', metadata }, { backend, ...(beforeCommit === undefined ? {} : { beforeCommit }) }).execute();
}

const refuse = (): Promise<void> => Promise.reject(new TaskforgeError(ErrorCode.LOCK_LOST, 'lost the lock', { retryable: false }));

describe.each(Object.keys(backends))('beforeCommit on the %s backend', (name) => {
  // 11 MiB on S3 is a multipart upload (5 MiB parts): the completion waits for the check too.
  it.each([
    ['a small write', 'new'],
    ['a multipart-sized write', 'n'.repeat(11 * 1024 * 1024)],
  ])('%s refused right before it commits leaves the old object, and is not retried', async (_what, data) => {
    const backend = backends[name]?.() ?? new MemoryBackend();
    expect(await run(backend, { operation: 'write', path: '/d/obj.txt', data: 'old' })).toMatchObject({ status: 'completed' });
    const calls: string[] = [];
    const refused = await run(backend, { operation: 'write', path: '/d/obj.txt', data, options: { retries: 2 } }, () => {
      calls.push('check');
      return refuse();
    });
    expect(refused).toMatchObject({ status: 'failed', attempts: 1, error: { code: 'LOCK_LOST' } });
    expect(calls).toEqual(['check']);
    expect(await run(backend, { operation: 'read', path: '/d/obj.txt', options: { as: 'text' } })).toMatchObject({ status: 'completed', data: 'old' });
    const listed = await run(backend, { operation: 'list', path: '/d' });
    expect((listed.data as { entries: { name: string }[] }).entries.map((entry) => entry.name)).toEqual(['obj.txt']);
    if (backend instanceof FileSystemBackend) expect(readdirSync(`${backend.root}/d`).filter((file) => file.includes('tmp-'))).toEqual([]);
  }, 60_000);

  it('a delete refused by the check deletes nothing; a check that passes lets the write and the delete commit', async () => {
    const backend = backends[name]?.() ?? new MemoryBackend();
    await run(backend, { operation: 'write', path: '/kept.txt', data: 'old' });
    expect(await run(backend, { operation: 'delete', path: '/kept.txt' }, refuse)).toMatchObject({ status: 'failed', error: { code: 'LOCK_LOST' } });
    expect(await run(backend, { operation: 'read', path: '/kept.txt', options: { as: 'text' } })).toMatchObject({ data: 'old' });
    const pass = (): Promise<void> => Promise.resolve();
    expect(await run(backend, { operation: 'write', path: '/kept.txt', data: 'new' }, pass)).toMatchObject({ status: 'completed' });
    expect(await run(backend, { operation: 'read', path: '/kept.txt', options: { as: 'text' } })).toMatchObject({ data: 'new' });
    expect(await run(backend, { operation: 'delete', path: '/kept.txt' }, pass)).toMatchObject({ status: 'completed', data: { deleted: true } });
  }, 60_000);
});
