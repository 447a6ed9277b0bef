import { randomBytes } from 'node:crypto';
import * as fs from 'node:fs';
import { readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { PassThrough } from 'node:stream';
import { describe, expect, it } from 'vitest';
import type { StorageBackend } from '../../src/storage/backend.js';
import { Keyring } from '../../src/storage/codec/keyring.js';
import { StorageTask } from '../../src/tasks/storage-task.js';
import { TaskType } from '../../src/tasks/task-type.js';
import { useFileSystemFixture } from '../helpers/fs-fixture.js';

const MiB = 1024 * 1024;
const keyring = Keyring.fromKey(Buffer.alloc(32, 4));

/**
 * A file stream made with the real `fs` underneath, recording the length
 * each read asks for: what the write made of the stream it was handed.
 */
function recordedFileStream(file: string, options: { start?: number; end?: number; encoding?: BufferEncoding } = {}): { stream: fs.ReadStream; readLengths: number[] } {
  const readLengths: number[] = [];
  const recordingFs = {
    open: fs.open,
    close: fs.close,
    read: (fd: number, buffer: Buffer, offset: number, length: number, position: number | null, callback: (error: NodeJS.ErrnoException | null, bytesRead: number, buffer: Buffer) => void) => {
      readLengths.push(length);
      fs.read(fd, buffer, offset, length, position, callback);
    },
  };
  const stream = fs.createReadStream(file, { ...options, fs: recordingFs });
  return { stream, readLengths };
}

/** Writes `metadata` on `backend` and reads it back: the bytes stored. */
async function storedBytes(backend: StorageBackend, metadata: { path: string; data: unknown; options?: { encryption?: boolean } }): Promise<Buffer> {
  const written = await new StorageTask({ type: TaskType.STORAGE, metadata: { operation: 'write', ...metadata } }, { backend, keyring }).execute();
  if (!written.success) throw new Error(`write failed: ${written.error.code}: ${written.error.message}`);
  const read = await new StorageTask({ type: TaskType.STORAGE, metadata: { operation: 'read', path: metadata.path } }, { backend, keyring }).execute();
  if (!read.success) throw new Error(`read failed: ${read.error.code}: ${read.error.message}`);
  return read.data as Buffer;
}

describe('a stream handed to a write', () => {
  const fixture = useFileSystemFixture();

  it('a default file stream is read 1 MiB at a time, not 64 KiB (each small read is a trip through the thread pool), and stored exactly', async () => {
    const bytes = randomBytes(3 * MiB + 12_345);
    const file = join(fixture.dir, 'source.bin');
    await writeFile(file, bytes);
    for (const encryption of [false, true]) {
      const { stream, readLengths } = recordedFileStream(file);
      const stored = await storedBytes(fixture.backend, { path: `/big-${String(encryption)}.bin`, data: stream, options: { encryption } });
      expect(stored.equals(bytes), String(encryption)).toBe(true);
      // The first read may be the stream's own default (64 KiB); every one after it is a whole MiB.
      expect(Math.max(...readLengths), String(encryption)).toBe(MiB);
      expect(readLengths.length, String(encryption)).toBeLessThanOrEqual(6);
      expect(stream.destroyed, String(encryption)).toBe(true);
    }
  });

  it("a file stream's start and end are kept, and its text encoding: the stored bytes are what the stream gives", async () => {
    const bytes = randomBytes(2 * MiB + 999);
    const file = join(fixture.dir, 'part.bin');
    await writeFile(file, bytes);
    const { stream } = recordedFileStream(file, { start: 100, end: 1_500_000 });
    expect((await storedBytes(fixture.backend, { path: '/part.bin', data: stream })).equals(bytes.subarray(100, 1_500_001))).toBe(true);

    const text = 'å ß ✓ line of text\n'.repeat(150_000);
    const textFile = join(fixture.dir, 'text.txt');
    await writeFile(textFile, text);
    const { stream: textStream } = recordedFileStream(textFile, { encoding: 'utf8' });
    expect((await storedBytes(fixture.backend, { path: '/text.txt', data: textStream })).toString('utf8')).toBe(text);
  });

  it('a stream fed in small pieces over time is stored whole, in order', async () => {
    const piece = (index: number): Buffer => Buffer.alloc(10_000, index % 251);
    const fed = new PassThrough();
    const feeding = (async () => {
      for (let index = 0; index < 300; index += 1) {
        if (!fed.write(piece(index))) await new Promise((resolve) => fed.once('drain', resolve));
        if (index % 50 === 0) await new Promise((resolve) => setTimeout(resolve, 5));
      }
      fed.end();
    })();
    const stored = await storedBytes(fixture.backend, { path: '/fed.bin', data: fed, options: { encryption: true } });
    await feeding;
    expect(stored.equals(Buffer.concat(Array.from({ length: 300 }, (_, index) => piece(index))))).toBe(true);
  });

  it("progress of a stream's write ends with an event for all of it (the total is not known before the end)", async () => {
    const size = 3 * MiB + 5;
    async function* slowly(): AsyncGenerator<Buffer> {
      for (let sent = 0; sent < size; sent += 64 * 1024) {
        yield Buffer.alloc(Math.min(64 * 1024, size - sent), 1);
        await new Promise((resolve) => setImmediate(resolve));
      }
    }
    const task = new StorageTask({ type: TaskType.STORAGE, metadata: { operation: 'write', path: '/slow.bin', data: slowly() } }, { backend: fixture.backend });
    const events: { bytesDone: number; bytesTotal?: number }[] = [];
    task.on('progress', (event) => events.push(event));
    expect((await task.execute()).success).toBe(true);
    expect(events.at(-1)).toEqual({ id: task.id, type: 'storage', bytesDone: size });
  });

  it('a stream that already holds data when the write starts gives it first', async () => {
    const early = new PassThrough();
    early.write(Buffer.alloc(2 * MiB, 7)); // buffered past its highWaterMark before anyone reads
    early.end(Buffer.from('tail'));
    const stored = await storedBytes(fixture.backend, { path: '/early.bin', data: early });
    expect(stored.equals(Buffer.concat([Buffer.alloc(2 * MiB, 7), Buffer.from('tail')]))).toBe(true);
    expect(await readFile(join(fixture.root, 'early.bin'))).toHaveLength(2 * MiB + 4);
  });
});
