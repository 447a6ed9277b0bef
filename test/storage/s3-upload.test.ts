import { createHash } from 'node:crypto';
import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { crc32 } from 'node:zlib';
import { GetObjectCommand, HeadObjectCommand, S3Client } from '@aws-sdk/client-s3';
import { describe, expect, it } from 'vitest';
import { S3Backend } from '../../src/storage/backends/s3.js';
import { StorageTask } from '../../src/tasks/storage-task.js';
import { storeTree } from '../../src/orchestrator/trees/tree-store.js';
import { makeTempDir } from '../helpers/temp-dir.js';
import { S3RVER_CREDENTIALS, startS3Server } from '../helpers/s3-server.js';
import { useS3Server } from '../helpers/use-s3-server.js';

// Writes upload their own parts, with the SHA-256 (the signature's payload
// hash) and CRC32 (S3's checksum) taken as the body arrives: what is sent
// must be what S3 would compute, part by part, whatever the chunks' sizes.

const s3 = useS3Server('uploads');
const PART = 5 * 1024 * 1024;

/** What each PUT of a body carried, seen as the server gets it. */
interface Sent {
  readonly query: Record<string, unknown>;
  readonly sha256: string | undefined;
  readonly crc32: string | undefined;
  readonly body: Buffer | undefined;
}

/** A client for the server that records every request with a body after it is signed. */
function recordingClient(endpoint: string): { client: S3Client; sent: Sent[] } {
  const client = new S3Client({ endpoint, region: 'us-east-1', forcePathStyle: true, credentials: S3RVER_CREDENTIALS });
  const sent: Sent[] = [];
  client.middlewareStack.add(
    (next) => async (args) => {
      const request = args.request as { method: string; query: Record<string, unknown>; headers: Record<string, string>; body: unknown };
      if (request.method === 'PUT') {
        sent.push({ query: { ...request.query }, sha256: request.headers['x-amz-content-sha256'], crc32: request.headers['x-amz-checksum-crc32'], body: Buffer.isBuffer(request.body) ? request.body : undefined });
      }
      return next(args);
    },
    { step: 'finalizeRequest', priority: 'low', name: 'recordSent' },
  );
  return { client, sent };
}

/** `size` bytes that differ from part to part, in chunks of `chunk` bytes. */
function bytesOf(size: number): Buffer {
  const bytes = Buffer.alloc(size);
  for (let index = 0; index < size; index += 1) bytes[index] = (index * 2_654_435_761) >>> 24;
  return bytes;
}

async function* chunked(bytes: Buffer, chunk: number): AsyncGenerator<Buffer> {
  for (let offset = 0; offset < bytes.byteLength; offset += chunk) {
    await Promise.resolve();
    yield bytes.subarray(offset, offset + chunk);
  }
}

let watchers = 0;

/** Resolves once the server has answered the first part of a multipart upload sent through `client`. */
function whenFirstPartSent(client: S3Client): Promise<void> {
  // (A name of its own: a client takes one middleware per name, and a test may watch a shared client again.)
  watchers += 1;
  const name = `firstPartSent${String(watchers)}`;
  return new Promise<void>((resolve) => {
    client.middlewareStack.add(
      (next) => async (args) => {
        const answer = await next(args);
        if ((args.request as { query: Record<string, unknown> }).query['partNumber'] === '1') resolve();
        return answer;
      },
      { step: 'finalizeRequest', priority: 'low', name },
    );
  });
}

function expectedCrc32(bytes: Buffer): string {
  const checksum = Buffer.alloc(4);
  checksum.writeUInt32BE(crc32(bytes) >>> 0);
  return checksum.toString('base64');
}

describe('S3 writes send their own parts, hashed as the body arrives', () => {
  it.each([
    ['empty', 0, 1000, 1],
    ['one byte', 1, 1000, 1],
    ['a byte short of a part', PART - 1, 777_777, 1],
    ['exactly a part: one PUT', PART, 777_777, 1],
    ['a part and a byte', PART + 1, 777_777, 2],
    ['two parts and three bytes, in one chunk', 2 * PART + 3, 2 * PART + 3, 3],
  ])('%s: the bytes read back, in the parts expected, each with the hashes of its own bytes', async (_name, size, chunk, parts) => {
    const { server } = s3();
    const { client, sent } = recordingClient(server.endpoint);
    try {
      const backend = new S3Backend({ bucket: server.bucket, prefix: `up-${String(process.pid)}`, client, partSize: PART });
      const bytes = bytesOf(size);
      const path = `/sizes/${String(size)}.bin`;
      const result = await new StorageTask({ type: 'storage', metadata: { operation: 'write', path, data: chunked(bytes, chunk) } }, { backend }).execute();
      expect(result.error).toBeUndefined();
      const key = `up-${String(process.pid)}${path}`;
      const stored = await client.send(new GetObjectCommand({ Bucket: server.bucket, Key: key }));
      // (equals, not toEqual: a deep comparison of MiBs takes the test's whole time)
      expect(Buffer.from((await stored.Body?.transformToByteArray()) ?? []).equals(bytes)).toBe(true);
      const bodies = sent.filter((request) => request.body !== undefined);
      expect(bodies).toHaveLength(parts);
      // One PUT of the object, or parts numbered from 1 of one upload.
      expect(bodies.map((request) => request.query['partNumber']).sort()).toEqual(parts === 1 ? [undefined] : Array.from({ length: parts }, (_, index) => String(index + 1)).sort());
      let offset = 0;
      for (const request of [...bodies].sort((a, b) => Number(a.query['partNumber'] ?? 0) - Number(b.query['partNumber'] ?? 0))) {
        const part = bytes.subarray(offset, offset + (request.body?.byteLength ?? 0));
        offset += part.byteLength;
        expect(request.body?.equals(part)).toBe(true);
        expect(request.sha256).toBe(createHash('sha256').update(part).digest('hex'));
        expect(request.crc32).toBe(expectedCrc32(part));
      }
      expect(offset).toBe(size);
    } finally {
      client.destroy();
    }
  });

  it('a body given whole in memory is hashed a MiB at a time, the event loop served between', async () => {
    const { server, client } = s3();
    const backend = new S3Backend({ bucket: server.bucket, prefix: `turns-${String(process.pid)}`, client, partSize: PART });
    const bytes = bytesOf(12 * 1024 * 1024);
    let turns = 0;
    const ticker = setInterval(() => (turns += 1), 0);
    try {
      // One 12 MiB chunk, read at once: without turns the hashing would never let the interval run.
      const result = await new StorageTask({ type: 'storage', metadata: { operation: 'write', path: '/whole.bin', data: chunked(bytes, bytes.byteLength) } }, { backend }).execute();
      expect(result.error).toBeUndefined();
    } finally {
      clearInterval(ticker);
    }
    expect(turns).toBeGreaterThan(0);
    const stored = await client.send(new GetObjectCommand({ Bucket: server.bucket, Key: `turns-${String(process.pid)}/whole.bin` }));
    expect(Buffer.from((await stored.Body?.transformToByteArray()) ?? []).equals(bytes)).toBe(true);
  });

  it('a source that fails after parts were sent stores nothing at the key, and says the source failed', async () => {
    const { server, client } = s3();
    const backend = new S3Backend({ bucket: server.bucket, prefix: `fails-${String(process.pid)}`, client, partSize: PART });
    async function* failing(): AsyncGenerator<Buffer> {
      for (let index = 0; index < 12; index += 1) {
        await Promise.resolve();
        yield Buffer.alloc(1024 * 1024, index);
      }
      throw new Error('disk gone');
    }
    const result = await new StorageTask({ type: 'storage', metadata: { operation: 'write', path: '/broken.bin', data: failing() } }, { backend }).execute();
    expect(result.error?.code).toBe('SOURCE_ERROR');
    expect(result.error?.message).toContain('disk gone');
    const head = await client.send(new HeadObjectCommand({ Bucket: server.bucket, Key: `fails-${String(process.pid)}/broken.bin` })).catch((error: unknown) => error);
    expect((head as { $metadata?: { httpStatusCode?: number } }).$metadata?.httpStatusCode).toBe(404);
  });

  it.each([
    ['one PUT, cancelled as it is sent', 3 * 1024 * 1024, 'sent'],
    ['one PUT, cancelled once the server answered', 3 * 1024 * 1024, 'answered'],
    ['a multipart completion, cancelled as it is sent', 11 * 1024 * 1024, 'sent'],
    ['a multipart completion, cancelled once the server answered', 11 * 1024 * 1024, 'answered'],
  ] as const)('%s: the commit is not cut off, and the task says what happened: COMPLETED, the new object in place', async (_name, size, when) => {
    const { server } = s3();
    const client = new S3Client({ endpoint: server.endpoint, region: 'us-east-1', forcePathStyle: true, credentials: S3RVER_CREDENTIALS });
    let onCommit: () => void = () => undefined;
    client.middlewareStack.add(
      (next) => async (args) => {
        const request = args.request as { method: string; query: Record<string, unknown> };
        // The commit: a PUT of the whole object (no part number), or the POST that completes an upload.
        const commit = (request.method === 'PUT' && request.query['partNumber'] === undefined) || (request.method === 'POST' && request.query['uploadId'] !== undefined);
        if (commit && when === 'sent') onCommit();
        const answer = await next(args);
        if (commit && when === 'answered') onCommit();
        return answer;
      },
      { step: 'finalizeRequest', priority: 'low', name: 'cancelAtCommit' },
    );
    try {
      const backend = new S3Backend({ bucket: server.bucket, prefix: `commit-${String(process.pid)}`, client, partSize: PART });
      const path = `/${when}-${String(size)}.bin`;
      await new StorageTask({ type: 'storage', metadata: { operation: 'write', path, data: 'old' } }, { backend }).execute();
      const bytes = bytesOf(size);
      const task = new StorageTask({ type: 'storage', metadata: { operation: 'write', path, data: chunked(bytes, 1024 * 1024) } }, { backend });
      let cancelled: Promise<void> | undefined;
      onCommit = () => {
        cancelled = task.cancel('too late');
      };
      const result = await task.execute();
      await cancelled;
      expect(cancelled).toBeDefined();
      expect(result.error).toBeUndefined();
      expect(result.status).toBe('completed');
      const stored = await client.send(new GetObjectCommand({ Bucket: server.bucket, Key: `commit-${String(process.pid)}${path}` }));
      expect(Buffer.from((await stored.Body?.transformToByteArray()) ?? []).equals(bytes)).toBe(true);
    } finally {
      client.destroy();
    }
  });

  it('a cancel before the body has ended stops the write: CANCELLED, and the object that was there is unchanged', async () => {
    const { server, client } = s3();
    const backend = new S3Backend({ bucket: server.bucket, prefix: `early-${String(process.pid)}`, client, partSize: PART });
    await new StorageTask({ type: 'storage', metadata: { operation: 'write', path: '/kept.bin', data: 'old' } }, { backend }).execute();
    async function* body(): AsyncGenerator<Buffer> {
      for (let index = 0; index < 12; index += 1) {
        await Promise.resolve();
        if (index === 7) void task.cancel('early');
        yield Buffer.alloc(1024 * 1024, index);
      }
    }
    const task = new StorageTask({ type: 'storage', metadata: { operation: 'write', path: '/kept.bin', data: body() } }, { backend });
    const result = await task.execute();
    expect(result.error?.code).toBe('CANCELLED');
    const stored = await client.send(new GetObjectCommand({ Bucket: server.bucket, Key: `early-${String(process.pid)}/kept.bin` }));
    expect(await stored.Body?.transformToString()).toBe('old');
  });

  it('a write stopped after parts were sent, on a server that refuses to remove them (s3rver answers 405), says so: CANCELLED with partsLeft', async () => {
    const { server, client } = s3();
    const backend = new S3Backend({ bucket: server.bucket, prefix: `left-${String(process.pid)}`, client, partSize: PART });
    async function* body(): AsyncGenerator<Buffer> {
      for (let index = 0; index < 40; index += 1) {
        // Slow enough that the first parts are sent before the cancel below.
        await new Promise((resolve) => setTimeout(resolve, 5));
        yield Buffer.alloc(1024 * 1024, index);
      }
    }
    const task = new StorageTask({ type: 'storage', metadata: { operation: 'write', path: '/left.bin', data: body() } }, { backend });
    const sent = whenFirstPartSent(client);
    const running = task.execute();
    await sent;
    await task.cancel('stop');
    const result = await running;
    expect(result.error?.code).toBe('CANCELLED');
    expect(result.error?.details?.['partsLeft']).toBe(true);
    expect(result.error?.message).toContain('stopping its upload failed');
    // The cancel's own words are in it.
    expect(result.error?.message).toContain('was cancelled: stop');
  });

  it('a tree store interrupted while a large file is uploaded, on a server that refuses to remove its parts, names the file in uploadsLeft (not silent)', async () => {
    const { server } = s3();
    // A client of its own: the shared one's earlier watch would see this upload's first part too.
    const client = new S3Client({ endpoint: server.endpoint, region: 'us-east-1', forcePathStyle: true, credentials: S3RVER_CREDENTIALS });
    const { path: source, remove } = await makeTempDir('tree-left-');
    try {
      await writeFile(join(source, 'big.bin'), bytesOf(80 * 1024 * 1024));
      await writeFile(join(source, 'small.txt'), 'small');
      const backend = new S3Backend({ bucket: server.bucket, prefix: `tree-left-${String(process.pid)}`, client, partSize: PART });
      const interrupt = new AbortController();
      void whenFirstPartSent(client).then(() => {
        interrupt.abort(new Error('interrupted by SIGINT'));
      });
      const summary = await storeTree({ source, prefix: '/t', backend, signal: interrupt.signal });
      expect(summary).toMatchObject({ interrupted: true, failed: 0, uploadsLeft: ['/t/big.bin'] });
      // Not stored: a restore finds no such file.
      await expect(client.send(new HeadObjectCommand({ Bucket: server.bucket, Key: `tree-left-${String(process.pid)}/t/big.bin` }))).rejects.toMatchObject({ name: 'NotFound' });
    } finally {
      client.destroy();
      await remove();
    }
  });

  it('a write that fails before its body is read to the end lets the source go (its finally runs): a bucket that is not there', async () => {
    const { client } = s3();
    const backend = new S3Backend({ bucket: 'no-such-bucket', client, partSize: PART });
    let released = false;
    async function* body(): AsyncGenerator<Buffer> {
      try {
        for (let index = 0; index < 40; index += 1) {
          await Promise.resolve();
          yield Buffer.alloc(1024 * 1024, index);
        }
      } finally {
        released = true;
      }
    }
    await expect(backend.write('/x.bin', body(), { signal: new AbortController().signal, metadata: {}, overwrite: true })).rejects.toMatchObject({ code: 'NOT_FOUND' });
    expect(released).toBe(true);
  });
});

/** Stops the server (SIGSTOP) as the first request `matches` is about to be sent: it is sent to a server that no longer answers. */
function freezeAtFirst(client: S3Client, pid: number, matches: (request: { method: string; query: Record<string, unknown> }) => boolean): void {
  watchers += 1;
  let frozen = false;
  client.middlewareStack.add(
    (next) => async (args) => {
      if (!frozen && matches(args.request as { method: string; query: Record<string, unknown> })) {
        frozen = true;
        process.kill(pid, 'SIGSTOP');
      }
      return next(args);
    },
    { step: 'finalizeRequest', priority: 'low', name: `freeze${String(watchers)}` },
  );
}

describe('an S3 server killed mid-upload (SIGKILL)', () => {
  it('the write fails BACKEND_UNAVAILABLE and says that the parts it sent stay on the server (they could not be removed): partsLeft, not silence', async () => {
    const server = await startS3Server('killedupload');
    const client = new S3Client({ endpoint: server.endpoint, region: 'us-east-1', forcePathStyle: true, credentials: S3RVER_CREDENTIALS, maxAttempts: 1 });
    try {
      const backend = new S3Backend({ bucket: server.bucket, client, partSize: PART });
      async function* body(): AsyncGenerator<Buffer> {
        for (let index = 0; index < 40; index += 1) {
          await new Promise((resolve) => setTimeout(resolve, 5));
          yield Buffer.alloc(1024 * 1024, index);
        }
      }
      const sent = whenFirstPartSent(client);
      const running = new StorageTask({ type: 'storage', metadata: { operation: 'write', path: '/killed.bin', data: body() } }, { backend }).execute();
      await sent;
      process.kill(server.pid, 'SIGKILL');
      const result = await running;
      // (The part in flight as the server dies is reset, or the next connection refused: either is the write's error.)
      expect(result.error).toMatchObject({ code: 'BACKEND_UNAVAILABLE', details: { path: '/killed.bin', partsLeft: true } });
      expect(result.error?.message).toMatch(/^write of '\/killed\.bin' failed: [^;]*; removing its multipart upload failed too \(.*ECONNREFUSED.*\): the parts sent stay on the server until a lifecycle rule for incomplete uploads removes them \(not retried: the data stream was already read\)$/);
    } finally {
      client.destroy();
      await server.stop();
    }
  }, 60_000);
});

describe('an S3 server that stops answering mid-read (SIGSTOP)', () => {
  it('a stream read handed over (its task long ended) fails BACKEND_UNAVAILABLE once nothing comes for the idle timeout, instead of hanging for ever', async () => {
    const server = await startS3Server('frozenread');
    const clientConfig = { endpoint: server.endpoint, region: 'us-east-1', forcePathStyle: true, credentials: S3RVER_CREDENTIALS, maxAttempts: 1 };
    // A client of its own (made from clientConfig): the backend sets its idle timeout.
    const backend = new S3Backend({ bucket: server.bucket, clientConfig, idleTimeoutMs: 1000 });
    try {
      const size = 48 * 1024 * 1024;
      await new StorageTask({ type: 'storage', metadata: { operation: 'write', path: '/big.bin', data: Buffer.alloc(size, 3) } }, { backend }).execute();
      const read = await new StorageTask({ type: 'storage', metadata: { operation: 'read', path: '/big.bin', options: { as: 'stream' } } }, { backend }).execute();
      expect(read.status).toBe('completed');
      const stream = read.data as AsyncIterable<Buffer>;
      let received = 0;
      const consumed = (async () => {
        for await (const chunk of stream) {
          received += chunk.byteLength;
          if (received > 0 && received - chunk.byteLength === 0) process.kill(server.pid, 'SIGSTOP');
        }
        return 'ended';
      })().catch((error: unknown) => error);
      let timer: NodeJS.Timeout | undefined;
      const outcome = await Promise.race([consumed, new Promise<'still waiting'>((resolve) => (timer = setTimeout(() => { resolve('still waiting'); }, 30_000)))]);
      clearTimeout(timer);
      expect(received).toBeLessThan(size);
      expect(outcome).toMatchObject({ code: 'BACKEND_UNAVAILABLE', message: expect.stringMatching(/^read of '\/big\.bin' failed: the S3 server is unavailable \(TimeoutError: .*1000 ms of inactivity/) as unknown, retryable: true });
    } finally {
      process.kill(server.pid, 'SIGCONT');
      await server.stop();
    }
  }, 60_000);
});

describe('an S3 server that stops answering mid-upload (SIGSTOP)', () => {
  it.each([
    ['one PUT', 1024 * 1024, (request: { method: string; query: Record<string, unknown> }) => request.method === 'PUT'],
    ['a multipart completion', 12 * 1024 * 1024, (request: { method: string; query: Record<string, unknown> }) => request.method === 'POST' && request.query['uploadId'] !== undefined],
  ])('a write whose commit (%s) gets no answer still ends after its timeout and a grace, saying whether it was stored is not known', async (_kind, size, isCommit) => {
    const server = await startS3Server('frozencommit');
    const client = new S3Client({ endpoint: server.endpoint, region: 'us-east-1', forcePathStyle: true, credentials: S3RVER_CREDENTIALS });
    try {
      const backend = new S3Backend({ bucket: server.bucket, client, partSize: PART, commitGraceMs: 1000 });
      freezeAtFirst(client, server.pid, isCommit);
      const running = new StorageTask({ type: 'storage', metadata: { operation: 'write', path: '/commit.bin', data: Buffer.alloc(size, 7), options: { timeout: 1500 } } }, { backend }).execute();
      let timer: NodeJS.Timeout | undefined;
      const ended = await Promise.race([running, new Promise<'still running'>((resolve) => (timer = setTimeout(() => { resolve('still running'); }, 20_000)))]);
      clearTimeout(timer);
      expect(ended).not.toBe('still running');
      if (ended === 'still running') return;
      expect(ended.error).toMatchObject({ code: 'TIMEOUT', details: { path: '/commit.bin', outcome: 'unknown' } });
      expect(ended.error?.message).toMatch(/its commit was sent and had no answer within 1000 ms of the timeout: whether '\/commit\.bin' was stored is not known \(read or stat it to find out\)/);
    } finally {
      process.kill(server.pid, 'SIGCONT');
      client.destroy();
      await server.stop();
    }
  }, 60_000);


  it('a write with a timeout still ends: TIMEOUT, saying its parts may be left (removing them is given up on, not waited for without end)', async () => {
    const server = await startS3Server('frozen');
    const client = new S3Client({ endpoint: server.endpoint, region: 'us-east-1', forcePathStyle: true, credentials: S3RVER_CREDENTIALS });
    try {
      const backend = new S3Backend({ bucket: server.bucket, prefix: 'frozen', client, partSize: PART });
      async function* body(): AsyncGenerator<Buffer> {
        for (let index = 0; index < 40; index += 1) {
          await new Promise((resolve) => setTimeout(resolve, 5));
          yield Buffer.alloc(1024 * 1024, index);
        }
      }
      const firstPartSent = whenFirstPartSent(client);
      const running = new StorageTask({ type: 'storage', metadata: { operation: 'write', path: '/frozen.bin', data: body(), options: { timeout: 1500 } } }, { backend }).execute();
      await firstPartSent;
      process.kill(server.pid, 'SIGSTOP');
      let timer: NodeJS.Timeout | undefined;
      const ended = await Promise.race([running, new Promise<'still running'>((resolve) => (timer = setTimeout(() => { resolve('still running'); }, 40_000)))]);
      clearTimeout(timer);
      expect(ended).not.toBe('still running');
      if (ended === 'still running') return;
      expect(ended.error?.code).toBe('TIMEOUT');
      expect(ended.error?.details?.['partsLeft']).toBe(true);
      expect(ended.error?.message).toContain('stopping its upload failed');
    } finally {
      process.kill(server.pid, 'SIGCONT');
      client.destroy();
      await server.stop();
    }
  }, 60_000);
});
