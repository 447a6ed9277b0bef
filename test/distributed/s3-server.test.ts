import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { bucketAnswers, startS3Server, type S3Server } from '../helpers/s3-server.js';

describe('an S3-protocol server of the tests own (s3rver)', () => {
  let server: S3Server | undefined;
  beforeAll(async () => {
    server = await startS3Server('conformance');
  });
  afterAll(async () => {
    await server?.stop();
  });

  it('serves its bucket on a free loopback port, lists with ListObjectsV2, and stops by PID', async () => {
    if (server === undefined) throw new Error('no server');
    expect(server.endpoint).toMatch(/^http:\/\/127\.0\.0\.1:\d+$/);
    const put = await fetch(`${server.endpoint}/conformance/a/b.txt`, { method: 'PUT', body: 'hello' });
    expect(put.status).toBe(200);
    const listing = await (await fetch(`${server.endpoint}/conformance?list-type=2&max-keys=1`)).text();
    expect(listing).toContain('<Key>a/b.txt</Key>');
    expect(await bucketAnswers(server.endpoint, 'missing-bucket')).toBe(false);
    await server.stop();
    expect(() => process.kill(server?.pid ?? 0, 0)).toThrow();
    expect(await bucketAnswers(server.endpoint, 'conformance')).toBe(false);
  });
});
