import { S3Client } from '@aws-sdk/client-s3';
import { afterAll, beforeAll } from 'vitest';
import { S3RVER_CREDENTIALS, startS3Server, type S3Server } from './s3-server.js';

/**
 * An s3rver with `bucket`, and an AWS SDK client for it, for one test file:
 * started before its tests and stopped after them. Call it at the file's
 * top level; the getter it returns throws if the server did not start.
 */
export function useS3Server(bucket: string): () => { readonly server: S3Server; readonly client: S3Client } {
  let server: S3Server | undefined;
  let client: S3Client | undefined;
  beforeAll(async () => {
    server = await startS3Server(bucket);
    client = new S3Client({ endpoint: server.endpoint, region: 'us-east-1', forcePathStyle: true, credentials: S3RVER_CREDENTIALS });
  });
  afterAll(async () => {
    client?.destroy();
    await server?.stop();
  });
  return () => {
    if (server === undefined || client === undefined) throw new Error('the S3 server did not start');
    return { server, client };
  };
}
