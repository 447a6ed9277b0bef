import { S3Client } from '@aws-sdk/client-s3';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { S3Backend } from '../../src/storage/backends/s3.js';
import { S3RVER_CREDENTIALS, startS3Server, type S3Server } from '../helpers/s3-server.js';
import { freePort } from '../helpers/free-port.js';
import { expectCode, expectData } from '../helpers/storage.js';

let server: S3Server | undefined;
beforeAll(async () => {
  server = await startS3Server('errors');
});
afterAll(async () => {
  await server?.stop();
});

function backendAt(endpoint: string, bucket: string): S3Backend {
  return new S3Backend({ bucket, client: new S3Client({ endpoint, region: 'us-east-1', forcePathStyle: true, credentials: S3RVER_CREDENTIALS, maxAttempts: 1 }) });
}

describe('S3Backend errors', () => {
  it('a server that is not there is BACKEND_UNAVAILABLE (retryable), and nothing is claimed written', async () => {
    const port = await freePort();
    const backend = backendAt(`http://127.0.0.1:${String(port)}`, 'errors');
    expect(await expectCode(backend, { operation: 'write', path: '/a.txt', data: 'x' })).toBe('BACKEND_UNAVAILABLE');
    expect(await expectCode(backend, { operation: 'read', path: '/a.txt' })).toBe('BACKEND_UNAVAILABLE');
  });

  it('a bucket that does not exist is NOT_FOUND, naming the path', async () => {
    if (server === undefined) throw new Error('no server');
    const backend = backendAt(server.endpoint, 'no-such-bucket');
    expect(await expectCode(backend, { operation: 'write', path: '/a.txt', data: 'x' })).toBe('NOT_FOUND');
    expect(await expectCode(backend, { operation: 'list', path: '/' })).toBe('NOT_FOUND');
  });

  it('a write cut off by its timeout mid-stream leaves nothing at the path', async () => {
    if (server === undefined) throw new Error('no server');
    const backend = backendAt(server.endpoint, 'errors');
    async function* slow(): AsyncGenerator<Buffer> {
      for (let index = 0; index < 100; index += 1) {
        yield Buffer.alloc(64 * 1024, index);
        await new Promise((resolve) => setTimeout(resolve, 20));
      }
    }
    expect(await expectCode(backend, { operation: 'write', path: '/slow.bin', data: slow(), options: { timeout: 150 } })).toBe('TIMEOUT');
    expect(await expectCode(backend, { operation: 'read', path: '/slow.bin' })).toBe('NOT_FOUND');
  });

  it('names the backend by bucket and prefix, and keeps a prefix apart from the rest of the bucket', async () => {
    if (server === undefined) throw new Error('no server');
    const client = new S3Client({ endpoint: server.endpoint, region: 'us-east-1', forcePathStyle: true, credentials: S3RVER_CREDENTIALS });
    const teamA = new S3Backend({ bucket: 'errors', prefix: 'team-a', client });
    const teamB = new S3Backend({ bucket: 'errors', prefix: 'team-b/', client });
    expect(teamA.name).toBe('s3:errors/team-a/');
    await expectData(teamA, { operation: 'write', path: '/shared-name.txt', data: 'a' });
    expect(await expectCode(teamB, { operation: 'read', path: '/shared-name.txt' })).toBe('NOT_FOUND');
    expect(await expectData(teamB, { operation: 'list', path: '/' })).toEqual({ entries: [] });
  });
});
