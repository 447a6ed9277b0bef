import { S3Client, GetObjectCommand } from '@aws-sdk/client-s3';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { backendFromUrl } from '../../src/storage/storage-url.js';
import { S3Backend } from '../../src/storage/backends/s3.js';
import { repoModule, runScript } from '../helpers/child.js';
import { S3RVER_CREDENTIALS, startS3Server, type S3Server } from '../helpers/s3-server.js';

let server: S3Server | undefined;
beforeAll(async () => {
  server = await startS3Server('from-env');
});
afterAll(async () => {
  await server?.stop();
});

describe('TASKFORGE_STORAGE', () => {
  it('s3://BUCKET/PREFIX?endpoint=...&region=... puts a standalone StorageTask on S3, credentials from the AWS variables', async () => {
    if (server === undefined) throw new Error('no server');
    const url = `s3://from-env/team-a?endpoint=${encodeURIComponent(server.endpoint)}&region=us-east-1`;
    const child = runScript(
      `import { StorageTask, TaskType } from ${JSON.stringify(repoModule('src/index.ts'))};
       const write = await new StorageTask({ type: TaskType.STORAGE, metadata: { operation: 'write', path: '/data/file.txt', data: { content: 'Hello World' } } }).execute();
       const read = await new StorageTask({ type: TaskType.STORAGE, metadata: { operation: 'read', path: '/data/file.txt' } }).execute();
       console.log(JSON.stringify({ write: write.status, read: read.data }));`,
      // The SDK warns on Node 20 that its 2027 releases need Node 22: true, and not this test's subject.
      { env: { ...process.env, AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED: 'true', TASKFORGE_STORAGE: url, AWS_ACCESS_KEY_ID: S3RVER_CREDENTIALS.accessKeyId, AWS_SECRET_ACCESS_KEY: S3RVER_CREDENTIALS.secretAccessKey } },
    );
    expect(child.stderr).toBe('');
    expect(JSON.parse(child.stdout)).toEqual({ write: 'completed', read: { content: 'Hello World' } });
    const client = new S3Client({ endpoint: server.endpoint, region: 'us-east-1', forcePathStyle: true, credentials: S3RVER_CREDENTIALS });
    const stored = await client.send(new GetObjectCommand({ Bucket: 'from-env', Key: 'team-a/data/file.txt' }));
    expect(await stored.Body?.transformToString()).toBe('{"content":"Hello World"}');
    client.destroy();
  });

  it('a malformed value fails each task with VALIDATION_ERROR naming the variable; the constructor does not throw', () => {
    const child = runScript(
      `import { StorageTask, TaskType } from ${JSON.stringify(repoModule('src/index.ts'))};
       const result = await new StorageTask({ type: TaskType.STORAGE, metadata: { operation: 'read', path: '/x' } }).execute();
       console.log(JSON.stringify(result.error));`,
      { env: { ...process.env, TASKFORGE_STORAGE: 'ftp://somewhere/else' } },
    );
    expect(JSON.parse(child.stdout)).toMatchObject({ code: 'VALIDATION_ERROR', message: 'TASKFORGE_STORAGE: the scheme must be s3: (got ftp:) (got "ftp://somewhere/else")' });
  });

  it('parses bucket, prefix, endpoint, region and path style, and refuses what it does not know', () => {
    const backend = backendFromUrl('s3://my-bucket/some/prefix?endpoint=http%3A%2F%2F127.0.0.1%3A9000&region=eu-west-1');
    expect(backend).toBeInstanceOf(S3Backend);
    expect(backend.name).toBe('s3:my-bucket/some/prefix/');
    expect(() => backendFromUrl('s3:///prefix')).toThrow(/TASKFORGE_STORAGE: it names no bucket/);
    expect(() => backendFromUrl('s3://b?colour=blue')).toThrow(/unknown parameter 'colour' \(known: endpoint, region, forcePathStyle\)/);
    expect(() => backendFromUrl('not a url')).toThrow(/TASKFORGE_STORAGE: expected a URL such as s3:\/\/bucket\/prefix/);
    // An endpoint that is no http(s) URL is refused here, not as INTERNAL or a retryable BACKEND_UNAVAILABLE at the first request.
    for (const endpoint of ['notaurl', '127.0.0.1:9777', 'ftp://127.0.0.1:21']) {
      expect(() => backendFromUrl(`s3://b?endpoint=${encodeURIComponent(endpoint)}`), endpoint).toThrow(new RegExp(`endpoint must be an http:// or https:// URL .*got '${endpoint.replace(/[.]/g, '\\.')}'`));
      expect(() => backendFromUrl(`s3://b?endpoint=${encodeURIComponent(endpoint)}`)).toThrow(expect.objectContaining({ code: 'VALIDATION_ERROR' }) as Error);
    }
  });
});
