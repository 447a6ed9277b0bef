import { randomBytes } from 'node:crypto';
import { PutObjectCommand } from '@aws-sdk/client-s3';
import { S3Backend } from '../../src/storage/backends/s3.js';
import { useS3Server } from '../helpers/use-s3-server.js';
import { describeBackendConformance } from './conformance.js';

const s3Server = useS3Server('conformance');

// Each test gets a prefix of its own in the one bucket: an empty store.
describeBackendConformance('s3 (s3rver)', () => {
  const { server, client: s3 } = s3Server();
  const { bucket } = server;
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
