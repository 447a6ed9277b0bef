import { randomBytes } from 'node:crypto';
import { appendFileSync, chmodSync, closeSync, openSync, statSync, truncateSync, utimesSync, writeFileSync, writeSync } from 'node:fs';
import { mkdir } from 'node:fs/promises';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import type { ObjectInfo, WriteOptions } from '../../src/storage/backend.js';
import { MemoryBackend } from '../../src/storage/backends/memory.js';
import { Keyring } from '../../src/storage/codec/keyring.js';
import { StorageTask } from '../../src/tasks/storage-task.js';
import type { StorageMetadata } from '../../src/tasks/storage-task-config.js';
import { FlakyWrites } from '../helpers/flaky-backend.js';
import { NO_WAIT } from '../helpers/scripted-task.js';
import { expectCode, expectData } from '../helpers/storage.js';
import { useTempDir } from '../helpers/temp-dir.js';

/** A memory backend that appends to `file` once it has taken the first chunk of a write: the file changes while it is read. */
class AppendsWhileReading extends MemoryBackend {
  constructor(
    readonly file: string,
    readonly meddle: (file: string) => void = (target) => {
      appendFileSync(target, 'more');
    },
  ) {
    super();
  }

  override write(path: string, body: AsyncIterable<Uint8Array>, options: WriteOptions): Promise<ObjectInfo> {
    const { file, meddle } = this;
    let first = true;
    const meddled: AsyncIterable<Uint8Array> = {
      async *[Symbol.asyncIterator]() {
        for await (const chunk of body) {
          if (first) meddle(file);
          first = false;
          yield chunk;
        }
      },
    };
    return super.write(path, meddled, options);
  }
}

describe('a write whose data is a local file (metadata.file)', () => {
  const temp = useTempDir('file-source-');

  function run(backend: MemoryBackend | FlakyWrites, metadata: StorageMetadata, keyring?: Keyring) {
    return new StorageTask({ type: 'storage', metadata }, { backend, ...NO_WAIT, ...(keyring === undefined ? {} : { keyring }) }).execute();
  }

  it('stores the file as bytes, plain or compressed and encrypted, and says what it read: size, mtime and mode', async () => {
    const file = join(temp.path, 'photo.bin');
    const bytes = randomBytes(3 * 1024 * 1024 + 17);
    writeFileSync(file, bytes);
    chmodSync(file, 0o640);
    utimesSync(file, new Date('2024-01-02T03:04:05Z'), new Date('2024-01-02T03:04:05Z'));
    const backend = new MemoryBackend();
    const keyring = new Keyring({ keys: { k: randomBytes(32) } });
    for (const options of [{}, { compression: true, encryption: true }]) {
      const result = await run(backend, { operation: 'write', path: '/p.bin', file, options }, keyring);
      expect(result).toMatchObject({ success: true, data: { path: '/p.bin', source: { size: bytes.length, mtimeMs: Date.parse('2024-01-02T03:04:05Z'), mode: 0o640 } } });
      const back = await new StorageTask({ type: 'storage', metadata: { operation: 'read', path: '/p.bin' } }, { backend, keyring }).execute();
      expect(Buffer.compare(back.data as Buffer, bytes)).toBe(0);
    }
    // An empty file is an empty object.
    writeFileSync(join(temp.path, 'empty'), '');
    expect(await run(backend, { operation: 'write', path: '/empty', file: join(temp.path, 'empty') })).toMatchObject({ success: true, data: { size: 0, source: { size: 0 } } });
  });

  it('a file that changes while it is read fails with SOURCE_CHANGED and stores nothing: what was there stays', async () => {
    const file = join(temp.path, 'growing.log');
    writeFileSync(file, randomBytes(4 * 1024 * 1024));
    const backend = new AppendsWhileReading(file);
    await expectData(backend, { operation: 'write', path: '/log', data: 'before' });
    const result = await run(backend, { operation: 'write', path: '/log', file, options: { retries: 2 } });
    expect(result).toMatchObject({ success: false, attempts: 1, error: { code: 'SOURCE_CHANGED', retryable: false } });
    expect(result.error?.message).toContain("write of '/log' failed: its source");
    expect(await expectData(backend, { operation: 'read', path: '/log' })).toBe('before');
  });

  it('a change in place of the same size whose modification time is put back (rsync --inplace, touch -r) fails with SOURCE_CHANGED too: the change time cannot be put back', async () => {
    const file = join(temp.path, 'in-place.bin');
    writeFileSync(file, randomBytes(3 * 1024 * 1024));
    // A whole second, which utimes puts back exactly.
    const wholeSecond = new Date('2024-05-06T07:08:09Z');
    utimesSync(file, wholeSecond, wholeSecond);
    const before = statSync(file);
    const backend = new AppendsWhileReading(file, (target) => {
      const handle = openSync(target, 'r+');
      writeSync(handle, Buffer.alloc(4096, 7), 0, 4096, 3 * 1024 * 1024 - 4096);
      closeSync(handle);
      utimesSync(target, wholeSecond, wholeSecond);
    });
    await expectData(backend, { operation: 'write', path: '/in-place', data: 'before' });
    const result = await run(backend, { operation: 'write', path: '/in-place', file });
    expect(statSync(file).mtimeMs).toBe(before.mtimeMs);
    expect(result).toMatchObject({ success: false, error: { code: 'SOURCE_CHANGED' } });
    expect(result.error?.message).toContain('changed while it was read (it was written to or its attributes changed)');
    expect(await expectData(backend, { operation: 'read', path: '/in-place' })).toBe('before');
  });

  it("progress of a file's write gives the file's size as the total, and its last event says all of it was read", async () => {
    const file = join(temp.path, 'progress.bin');
    const size = 5 * 1024 * 1024 + 3;
    writeFileSync(file, randomBytes(size));
    const task = new StorageTask({ type: 'storage', metadata: { operation: 'write', path: '/progress.bin', file, options: { compression: true } } }, { backend: new MemoryBackend() });
    const events: { bytesDone: number; bytesTotal?: number }[] = [];
    task.on('progress', (event) => events.push(event));
    expect((await task.execute()).success).toBe(true);
    expect(events.at(-1)).toEqual({ id: task.id, type: 'storage', bytesDone: size, bytesTotal: size });
    for (const event of events) expect(event.bytesTotal).toBe(size);
  });

  it('a file that shrinks while it is read fails with SOURCE_CHANGED too', async () => {
    const file = join(temp.path, 'shrinking.bin');
    writeFileSync(file, randomBytes(3 * 1024 * 1024));
    const backend = new AppendsWhileReading(file, (target) => {
      truncateSync(target, 1024 * 1024 + 5);
    });
    const result = await run(backend, { operation: 'write', path: '/s', file });
    expect(result).toMatchObject({ success: false, error: { code: 'SOURCE_CHANGED' } });
    expect(result.error?.message).toContain('3145728 when opened');
  });

  it('files around the size of one read (1 MiB) are stored whole, byte for byte', async () => {
    const backend = new MemoryBackend();
    for (const size of [1, 1024 * 1024 - 1, 1024 * 1024, 1024 * 1024 + 1, 2 * 1024 * 1024, 2 * 1024 * 1024 + 7]) {
      const bytes = randomBytes(size);
      const file = join(temp.path, `sized-${String(size)}`);
      writeFileSync(file, bytes);
      expect(await run(backend, { operation: 'write', path: `/sized/${String(size)}`, file })).toMatchObject({ success: true, data: { size, source: { size } } });
      const back = await new StorageTask({ type: 'storage', metadata: { operation: 'read', path: `/sized/${String(size)}` } }, { backend }).execute();
      expect(Buffer.compare(back.data as Buffer, bytes)).toBe(0);
    }
  });

  it('a missing file, or a directory, fails with SOURCE_ERROR and stores nothing', async () => {
    const backend = new MemoryBackend();
    const missing = await run(backend, { operation: 'write', path: '/m', file: join(temp.path, 'nobody') });
    expect(missing).toMatchObject({ success: false, error: { code: 'SOURCE_ERROR', retryable: false } });
    expect(missing.error?.message).toContain('no such file');
    await mkdir(join(temp.path, 'folder'));
    expect(await run(backend, { operation: 'write', path: '/m', file: join(temp.path, 'folder') })).toMatchObject({ success: false, error: { code: 'SOURCE_ERROR' } });
    expect(await expectCode(backend, { operation: 'read', path: '/m' })).toBe('NOT_FOUND');
  });

  it('a retry reads the file again from its start', async () => {
    const file = join(temp.path, 'data.bin');
    const bytes = randomBytes(2 * 1024 * 1024);
    writeFileSync(file, bytes);
    const flaky = new FlakyWrites(new MemoryBackend(), 2);
    const result = await run(flaky, { operation: 'write', path: '/r', file, options: { retries: 2 } });
    expect(result).toMatchObject({ success: true, attempts: 3, data: { size: bytes.length } });
    expect(Buffer.compare((await expectData(flaky, { operation: 'read', path: '/r' })) as Buffer, bytes)).toBe(0);
  });

  it('refuses data and file together, a write with neither, and a file on any other operation', async () => {
    const backend = new MemoryBackend();
    const file = join(temp.path, 'x');
    writeFileSync(file, 'x');
    const both = await run(backend, { operation: 'write', path: '/x', data: 'x', file });
    expect(both).toMatchObject({ success: false, error: { code: 'VALIDATION_ERROR', details: { fields: [{ field: 'metadata.file' }] } } });
    expect(await run(backend, { operation: 'write', path: '/x' })).toMatchObject({ success: false, error: { code: 'VALIDATION_ERROR' } });
    expect(await run(backend, { operation: 'read', path: '/x', file })).toMatchObject({ success: false, error: { code: 'VALIDATION_ERROR', details: { fields: [{ field: 'metadata.file' }] } } });
    expect(statSync(file).size).toBe(1);
  });
});
