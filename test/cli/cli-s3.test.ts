import { spawnSync } from 'node:child_process';
import { chmodSync, mkdirSync, mkdtempSync, readFileSync, readlinkSync, rmSync, statSync, symlinkSync, utimesSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
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

  it('stores a tree in the bucket and restores it: bytes, modes, times, an empty folder and a link; a second run stores nothing', () => {
    if (server === undefined) throw new Error('no server');
    const storage = `s3://cli/trees?endpoint=${encodeURIComponent(server.endpoint)}&region=us-east-1`;
    const source = mkdtempSync(join(tmpdir(), 'cli-s3-tree-'));
    try {
      mkdirSync(join(source, 'in', 'deep'), { recursive: true });
      mkdirSync(join(source, 'empty'));
      writeFileSync(join(source, 'in', 'deep', 'a.bin'), Buffer.alloc(300_000, 7));
      writeFileSync(join(source, 'top.txt'), 'top');
      chmodSync(join(source, 'top.txt'), 0o640);
      utimesSync(join(source, 'top.txt'), new Date('2022-02-02T00:00:00Z'), new Date('2022-02-02T00:00:00Z'));
      symlinkSync('top.txt', join(source, 'link'));
      expect(taskforge(['write', '/t', '--file', source, '--recursive', '--compress'], storage)).toMatchObject({ code: 0, stderr: '' });
      expect(taskforge(['write', '/t', '--file', source, '--recursive'], storage).stdout).toMatch(/^stored 0 of 2 files .* 2 unchanged, 1 links/);
      // The index and the packs are taskforge's own: not in a listing, which shows the tree's files (packed or not) and folders, its empty one too.
      const listed = taskforge(['ls', '/t', '--recursive', '--json'], storage);
      expect(listed.stdout.trim().split('\n').map((line) => (JSON.parse(line) as { path: string }).path)).toEqual(['/t/empty', '/t/in', '/t/in/deep', '/t/in/deep/a.bin', '/t/top.txt']);
      const out = join(source, '..', `${source.split('/').at(-1) ?? 'x'}-out`);
      expect(taskforge(['read', '/t', '-o', out, '--recursive'], storage)).toMatchObject({ code: 0, stderr: '' });
      expect(readFileSync(join(out, 'in', 'deep', 'a.bin')).equals(Buffer.alloc(300_000, 7))).toBe(true);
      expect(statSync(join(out, 'top.txt'))).toMatchObject({ mode: 0o100640, mtimeMs: Date.parse('2022-02-02T00:00:00Z') });
      expect(statSync(join(out, 'empty')).isDirectory()).toBe(true);
      expect(readlinkSync(join(out, 'link'))).toBe('top.txt');
      rmSync(out, { recursive: true });
    } finally {
      rmSync(source, { recursive: true });
    }
  });

  it('a malformed TASKFORGE_STORAGE is a usage error naming the variable: exit 2', () => {
    expect(taskforge(['ls', '/'], 'gs://elsewhere')).toMatchObject({ code: 2, stderr: 'taskforge: TASKFORGE_STORAGE: the scheme must be s3: (got gs:) (got "gs://elsewhere")\n' });
  });
});
