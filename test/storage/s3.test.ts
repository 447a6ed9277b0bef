import { randomBytes } from 'node:crypto';
import { PutObjectCommand, S3Client } from '@aws-sdk/client-s3';
import { afterAll, beforeAll } from 'vitest';
import { S3Backend } from '../../src/storage/backends/s3.js';
import { S3RVER_CREDENTIALS, startS3Server, type S3Server } from '../helpers/s3-server.js';
import { describeBackendConformance } from './conformance.js';

let server: S3Server | undefined;
let client: S3Client | undefined;

beforeAll(async () => {
  server = await startS3Server('conformance');
  client = new S3Client({ endpoint: server.endpoint, region: 'us-east-1', forcePathStyle: true, credentials: S3RVER_CREDENTIALS });
});

afterAll(async () => {
  client?.destroy();
  await server?.stop();
});

// Each test gets a prefix of its own in the one bucket: an empty store.
describeBackendConformance('s3 (s3rver)', () => {
  if (server === undefined || client === undefined) throw new Error('the S3 server did not start');
  const { bucket } = server;
  const s3 = client;
  const prefix = `t${randomBytes(6).toString('hex')}`;
  const backend = new S3Backend({ bucket, prefix, client: s3, partSize: 5 * 1024 * 1024 });
  const put = async (key: string, content: string): Promise<void> => {
    await s3.send(new PutObjectCommand({ Bucket: bucket, Key: `${prefix}/${key}`, Body: content }));
  };
  return Promise.resolve({
    backend,
    dispose: () => Promise.resolve(),
    // Another tool (the AWS console, rclone, s3cmd): plain PUTs; an empty folder is a zero-byte `path/` key.
    foreign: {
      putFile: (path, content) => put(path.slice(1), content),
      makeDirectory: (path) => put(`${path.slice(1)}/`, ''),
    },
  });
  // s3rver writes an object's file in place (createWriteStream on the final path), so a GET during a
  // PUT can see part of it; S3 itself replaces an object whole, which the backend relies on.
}, { atomicReplace: false });
