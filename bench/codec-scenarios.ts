// Compression and encryption: StorageTask against the raw node pipeline of
// the same algorithm (source -> compressor stream -> AES-256-GCM -> fs stream).
import { createCipheriv, createDecipheriv, randomBytes } from 'node:crypto';
import { createReadStream, createWriteStream } from 'node:fs';
import { mkdir, open, readFile, stat, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { monitorEventLoopDelay } from 'node:perf_hooks';
import { Writable, type Transform } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { createBrotliCompress, createBrotliDecompress, createGunzip, createGzip, constants } from 'node:zlib';
import { Keyring } from '../src/storage/codec/keyring.js';
import { FileSystemBackend } from '../src/storage/backends/filesystem.js';
import { StorageTask } from '../src/tasks/storage-task.js';
import { mixedSource } from './mixed-data.js';
import type { Measurement } from './scenarios.js';

/** One contender's settings. */
export interface CodecSpec {
  readonly algorithm?: 'gzip' | 'brotli' | 'zstd';
  readonly level?: number;
  readonly encrypt: boolean;
  readonly sizeMiB: number;
}

const KEY = Buffer.alloc(32, 7);
const keyring = new Keyring({ keys: { bench: KEY } });

/** Runs `work`, measuring MB/s of plaintext and the event loop's p99 delay meanwhile. */
async function measure(sizeMiB: number, work: () => Promise<void>, storedFile: string): Promise<Measurement> {
  const loop = monitorEventLoopDelay({ resolution: 1 });
  loop.enable();
  const started = performance.now();
  await work();
  const elapsedMs = performance.now() - started;
  loop.disable();
  const stored = (await stat(storedFile)).size;
  return {
    perSecond: (sizeMiB * 1024 * 1024) / 1e6 / (elapsedMs / 1000),
    unit: 'MB/s',
    elapsedMs,
    ratio: stored / (sizeMiB * 1024 * 1024),
    loopP99Ms: loop.percentile(99) / 1e6,
  };
}

export async function storageTaskCodecWrite(directory: string, spec: CodecSpec): Promise<Measurement> {
  const backend = new FileSystemBackend({ root: directory });
  const compression = spec.algorithm === undefined ? undefined : { algorithm: spec.algorithm, ...(spec.level === undefined ? {} : { level: spec.level }) };
  return measure(
    spec.sizeMiB,
    async () => {
      const result = await new StorageTask(
        {
          type: 'storage',
          metadata: { operation: 'write', path: '/mixed.bin', data: mixedSource(spec.sizeMiB), options: { ...(compression === undefined ? {} : { compression }), encryption: spec.encrypt } },
        },
        { backend, keyring },
      ).execute();
      if (!result.success) throw new Error(`write failed: ${result.error.message}`);
    },
    join(directory, 'mixed.bin'),
  );
}

export async function storageTaskCodecRead(directory: string, spec: CodecSpec): Promise<Measurement> {
  const backend = new FileSystemBackend({ root: directory });
  return measure(
    spec.sizeMiB,
    async () => {
      const result = await new StorageTask({ type: 'storage', metadata: { operation: 'read', path: '/mixed.bin', options: { as: 'stream', encryption: spec.encrypt } } }, { backend, keyring }).execute();
      if (!result.success) throw new Error(`read failed: ${result.error.message}`);
      await drain(result.data as AsyncIterable<Buffer>, spec.sizeMiB);
    },
    join(directory, 'mixed.bin'),
  );
}

async function compressor(spec: CodecSpec): Promise<Transform | undefined> {
  switch (spec.algorithm) {
    case undefined:
      return undefined;
    case 'gzip':
      return createGzip({ level: spec.level ?? 1 });
    case 'brotli':
      return createBrotliCompress({ params: { [constants.BROTLI_PARAM_QUALITY]: spec.level ?? 4 } });
    case 'zstd': {
      const { CompressStream } = await import('zstd-napi');
      return new CompressStream({ compressionLevel: spec.level ?? 3 });
    }
  }
  return undefined;
}

async function decompressor(spec: CodecSpec): Promise<Transform | undefined> {
  switch (spec.algorithm) {
    case undefined:
      return undefined;
    case 'gzip':
      return createGunzip();
    case 'brotli':
      return createBrotliDecompress();
    case 'zstd': {
      const { DecompressStream } = await import('zstd-napi');
      return new DecompressStream();
    }
  }
  return undefined;
}

/** The raw pipeline: source -> compressor -> AES-256-GCM -> file, the tag appended, then fsync. */
export async function rawCodecWrite(directory: string, spec: CodecSpec): Promise<Measurement> {
  await mkdir(directory, { recursive: true });
  const file = join(directory, 'raw.bin');
  return measure(
    spec.sizeMiB,
    async () => {
      const stages: (NodeJS.ReadableStream | NodeJS.ReadWriteStream)[] = [mixedSource(spec.sizeMiB)];
      const compress = await compressor(spec);
      if (compress !== undefined) stages.push(compress);
      const iv = randomBytes(12);
      const cipher = spec.encrypt ? createCipheriv('aes-256-gcm', KEY, iv) : undefined;
      if (cipher !== undefined) stages.push(cipher);
      const output = createWriteStream(file);
      await pipeline([...stages, output]);
      const handle = await open(file, 'r+');
      await handle.sync();
      await handle.close();
      // The IV and tag go beside the file, as a raw tool would keep them somewhere.
      if (cipher !== undefined) await writeFile(`${file}.iv-tag`, Buffer.concat([iv, cipher.getAuthTag()]));
    },
    file,
  );
}

/** The raw read: file -> AES-256-GCM (tag from the end) -> decompressor -> sink. */
export async function rawCodecRead(directory: string, spec: CodecSpec): Promise<Measurement> {
  const file = join(directory, 'raw.bin');
  return measure(
    spec.sizeMiB,
    async () => {
      const stages: (NodeJS.ReadableStream | NodeJS.ReadWriteStream)[] = [createReadStream(file, { highWaterMark: 64 * 1024 })];
      if (spec.encrypt) {
        const ivTag = await readFile(`${file}.iv-tag`);
        const decipher = createDecipheriv('aes-256-gcm', KEY, ivTag.subarray(0, 12));
        decipher.setAuthTag(ivTag.subarray(12));
        stages.push(decipher);
      }
      const decompress = await decompressor(spec);
      if (decompress !== undefined) stages.push(decompress);
      let bytes = 0;
      const sink = new Writable({
        write(chunk: Buffer, _encoding, callback) {
          bytes += chunk.length;
          callback();
        },
      });
      await pipeline([...stages, sink]);
      if (bytes !== spec.sizeMiB * 1024 * 1024) throw new Error(`read ${bytes} bytes`);
    },
    file,
  );
}

async function drain(stream: AsyncIterable<Buffer>, sizeMiB: number): Promise<void> {
  let bytes = 0;
  for await (const chunk of stream) bytes += chunk.length;
  if (bytes !== sizeMiB * 1024 * 1024) throw new Error(`read ${bytes} bytes, expected ${sizeMiB} MiB`);
}
