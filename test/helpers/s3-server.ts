import { spawn } from 'node:child_process';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { setTimeout as delay } from 'node:timers/promises';
import { freePort } from './free-port.js';
import { stopChild } from './stop-child.js';

/** An S3-protocol server of a test's own (s3rver), on a free loopback port, with one bucket. */
export interface S3Server {
  readonly endpoint: string;
  readonly bucket: string;
  readonly pid: number;
  /** Stops it by PID and removes its data directory. */
  stop(): Promise<void>;
}

/** s3rver accepts any credentials; these are what tests hand the AWS SDK. */
export const S3RVER_CREDENTIALS = { accessKeyId: 'S3RVER', secretAccessKey: 'S3RVER' } as const;

/** Starts s3rver on 127.0.0.1 and a free port with `bucket` made; resolves once the bucket answers. */
export async function startS3Server(bucket = 'taskforge-test'): Promise<S3Server> {
  const port = await freePort();
  const directory = await mkdtemp(join(tmpdir(), 's3rver-'));
  const bin = join(process.cwd(), 'node_modules', 's3rver', 'bin', 's3rver.js');
  const child = spawn(process.execPath, [bin, '--directory', directory, '--address', '127.0.0.1', '--port', String(port), '--silent', '--configure-bucket', bucket], {
    stdio: ['ignore', 'pipe', 'pipe'],
    // s3rver's signature code uses MD4-era digests that OpenSSL 3 keeps in its legacy provider (paginated listing needs it).
    env: { ...process.env, NODE_OPTIONS: '--openssl-legacy-provider' },
  });
  let output = '';
  child.stdout.on('data', (chunk: Buffer) => (output += chunk.toString()));
  child.stderr.on('data', (chunk: Buffer) => (output += chunk.toString()));
  const pid = child.pid;
  if (pid === undefined) throw new Error('s3rver did not start');
  const endpoint = `http://127.0.0.1:${String(port)}`;
  for (let waited = 0; !(await bucketAnswers(endpoint, bucket)); waited += 50) {
    if (child.exitCode !== null || waited > 15_000) {
      child.kill('SIGKILL');
      await rm(directory, { recursive: true, force: true });
      throw new Error(`s3rver on port ${String(port)} did not come up: ${output.slice(-500)}`);
    }
    await delay(50);
  }
  return {
    endpoint,
    bucket,
    pid,
    stop: async () => {
      await stopChild(child);
      await rm(directory, { recursive: true, force: true });
    },
  };
}

/** True when a listing of `bucket` at `endpoint` answers 200. */
export async function bucketAnswers(endpoint: string, bucket: string): Promise<boolean> {
  try {
    const response = await fetch(`${endpoint}/${bucket}?list-type=2`, { signal: AbortSignal.timeout(1000) });
    await response.arrayBuffer();
    return response.status === 200;
  } catch {
    return false;
  }
}
