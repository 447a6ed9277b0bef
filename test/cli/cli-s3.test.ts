import { spawnSync } from 'node:child_process';
import { resolve } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { S3RVER_CREDENTIALS, startS3Server, type S3Server } from '../helpers/s3-server.js';

const BIN = resolve('dist/src/cli/bin.js');
let server: S3Server | undefined;

beforeAll(async () => {
  server = await startS3Server('cli');
});
afterAll(async () => {
  await server?.stop();
});

function taskforge(args: readonly string[], storage: string): { code: number | null; stdout: string; stderr: string } {
  const env = {
    PATH: process.env['PATH'],
    TASKFORGE_STORAGE: storage,
    AWS_ACCESS_KEY_ID: S3RVER_CREDENTIALS.accessKeyId,
    AWS_SECRET_ACCESS_KEY: S3RVER_CREDENTIALS.secretAccessKey,
    // The SDK warns on Node 20 that its 2027 releases need Node 22; not what these tests look at.
    AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED: 'true',
  };
  const ran = spawnSync(process.execPath, [BIN, ...args], { env, encoding: 'utf8', timeout: 60_000 });
  return { code: ran.status, stdout: ran.stdout, stderr: ran.stderr };
}

describe('taskforge on S3 (TASKFORGE_STORAGE=s3://...)', () => {
  it('writes, reads, lists and deletes in the bucket under the prefix', () => {
    if (server === undefined) throw new Error('no server');
    const storage = `s3://cli/from-cli?endpoint=${encodeURIComponent(server.endpoint)}&region=us-east-1`;
    expect(taskforge(['write', '/notes/a.txt', '--data', 'on s3', '--compress'], storage)).toMatchObject({ code: 0, stderr: '' });
    expect(taskforge(['read', '/notes/a.txt'], storage)).toMatchObject({ code: 0, stdout: 'on s3' });
    const listed = taskforge(['ls', '/', '--recursive', '--json'], storage);
    expect(listed.stdout.trim().split('\n').map((line) => (JSON.parse(line) as { path: string }).path)).toEqual(['/notes', '/notes/a.txt']);
    expect(taskforge(['rm', '/notes', '--recursive'], storage)).toMatchObject({ code: 0, stdout: 'deleted /notes\n' });
    expect(taskforge(['read', '/notes/a.txt'], storage).code).toBe(1);
  });

  it('a malformed TASKFORGE_STORAGE is a usage error naming the variable: exit 2', () => {
    expect(taskforge(['ls', '/'], 'gs://elsewhere')).toMatchObject({ code: 2, stderr: 'taskforge: TASKFORGE_STORAGE: the scheme must be s3: (got gs:) (got "gs://elsewhere")\n' });
  });
});
