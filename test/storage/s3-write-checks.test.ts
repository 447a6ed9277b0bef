import { ListObjectsV2Command } from '@aws-sdk/client-s3';
import { describe, expect, it } from 'vitest';
import { S3Backend } from '../../src/storage/backends/s3.js';
import { StorageTask } from '../../src/tasks/storage-task.js';
import { useS3Server } from '../helpers/use-s3-server.js';
import { expectData } from '../helpers/storage.js';

// What is at a path is checked while the body uploads (its round trips overlap
// the parts): a refusal must still commit nothing, and stop the upload early.

const s3 = useS3Server('write-checks');

/** 40 chunks of 1 MiB, slowly: counts how many were taken. */
function slowSource(): { source: AsyncGenerator<Buffer>; taken: () => number } {
  let taken = 0;
  async function* source(): AsyncGenerator<Buffer> {
    for (let index = 0; index < 40; index += 1) {
      await new Promise((resolve) => setTimeout(resolve, 5));
      taken += 1;
      yield Buffer.alloc(1024 * 1024, index);
    }
  }
  return { source: source(), taken: () => taken };
}

describe('S3 writes: the checks of what is at the path run beside the upload', () => {
  it('a large streamed write onto a directory or under a file is refused early, and nothing of it is stored', async () => {
    const { server, client } = s3();
    const { bucket } = server;
    const prefix = `checks-${String(process.pid)}`;
    const backend = new S3Backend({ bucket, prefix, client, partSize: 5 * 1024 * 1024 });
    await expectData(backend, { operation: 'write', path: '/dir/inside.txt', data: 'x' });
    await expectData(backend, { operation: 'write', path: '/file.txt', data: 'x' });
    for (const [path, code] of [
      ['/dir', 'IS_A_DIRECTORY'],
      ['/file.txt/below.bin', 'NOT_A_DIRECTORY'],
    ] as const) {
      const { source, taken } = slowSource();
      const result = await new StorageTask({ type: 'storage', metadata: { operation: 'write', path, data: source } }, { backend }).execute();
      expect(result.error?.code, path).toBe(code);
      // Stopped long before the 40 MiB were read (the check takes a few round trips).
      expect(taken(), path).toBeLessThan(20);
    }
    const listed = await client.send(new ListObjectsV2Command({ Bucket: bucket, Prefix: `${prefix}/` }));
    expect((listed.Contents ?? []).map((object) => object.Key).sort()).toEqual([`${prefix}/dir/inside.txt`, `${prefix}/file.txt`]);
  });
});
