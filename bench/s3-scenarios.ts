// S3 scenarios: a StorageTask write to an S3-protocol server against a bare
// @aws-sdk/lib-storage upload of the same bytes to the same server.
import { monitorEventLoopDelay } from 'node:perf_hooks';
import type { Readable } from 'node:stream';
import { S3Client } from '@aws-sdk/client-s3';
import { Upload } from '@aws-sdk/lib-storage';
import { S3Backend } from '../src/storage/backends/s3.js';
import { StorageTask } from '../src/tasks/storage-task.js';
import { blockSource } from './mixed-data.js';
import type { Measurement } from './scenarios.js';

/** Where and what to write. */
export interface S3Spec {
  readonly endpoint: string;
  readonly bucket: string;
  readonly sizeMiB: number;
  /** Objects written one after another. */
  readonly count: number;
}

const MIB = 1024 * 1024;
const PART = 8 * MIB;

function client(spec: S3Spec): S3Client {
  return new S3Client({ endpoint: spec.endpoint, region: 'us-east-1', forcePathStyle: true, credentials: { accessKeyId: 'S3RVER', secretAccessKey: 'S3RVER' } });
}

function source(sizeMiB: number): Readable {
  const block = Buffer.alloc(MIB);
  for (let index = 0; index < MIB; index += 1) block[index] = (index * 2_654_435_761) >>> 24;
  return blockSource(sizeMiB, () => block);
}

/** `count` streamed writes of `sizeMiB` through StorageTask on the S3 backend (plain: no codec). */
export async function s3TaskWrite(directory: string, spec: S3Spec): Promise<Measurement> {
  const s3 = client(spec);
  const backend = new S3Backend({ bucket: spec.bucket, prefix: `task-${String(process.pid)}`, client: s3, partSize: PART });
  const loop = monitorEventLoopDelay({ resolution: 1 });
  loop.enable();
  const started = performance.now();
  for (let index = 0; index < spec.count; index += 1) {
    const result = await new StorageTask({ type: 'storage', metadata: { operation: 'write', path: `/${directory.split('/').at(-1) ?? 'x'}/${String(index)}.bin`, data: source(spec.sizeMiB) } }, { backend }).execute();
    if (!result.success) throw new Error(`write failed: ${result.error.message}`);
  }
  const elapsedMs = performance.now() - started;
  loop.disable();
  s3.destroy();
  return { perSecond: (spec.count * spec.sizeMiB * MIB) / 1e6 / (elapsedMs / 1000), unit: 'MB/s', elapsedMs, loopP99Ms: loop.percentile(99) / 1e6 };
}

/** The same bytes through a bare lib-storage Upload, part size and queue as the backend uses. */
export async function bareS3Upload(directory: string, spec: S3Spec): Promise<Measurement> {
  const s3 = client(spec);
  const loop = monitorEventLoopDelay({ resolution: 1 });
  loop.enable();
  const started = performance.now();
  for (let index = 0; index < spec.count; index += 1) {
    await new Upload({ client: s3, params: { Bucket: spec.bucket, Key: `bare-${String(process.pid)}/${directory.split('/').at(-1) ?? 'x'}/${String(index)}.bin`, Body: source(spec.sizeMiB) }, partSize: PART, queueSize: 2 }).done();
  }
  const elapsedMs = performance.now() - started;
  loop.disable();
  s3.destroy();
  return { perSecond: (spec.count * spec.sizeMiB * MIB) / 1e6 / (elapsedMs / 1000), unit: 'MB/s', elapsedMs, loopP99Ms: loop.percentile(99) / 1e6 };
}

export const s3Scenarios = { s3TaskWrite, bareS3Upload } as const;
