import { randomBytes } from 'node:crypto';
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { restoreTree, storeTree } from '../../src/index.js';
import { Gate, LARGE_FILE_BYTES, LARGE_FILES_AT_ONCE } from '../../src/orchestrator/trees/tree-limits.js';
import type { ObjectInfo, OpenedObject, WriteOptions } from '../../src/storage/backend.js';
import { MemoryBackend } from '../../src/storage/backends/memory.js';
import { useTempDir } from '../helpers/temp-dir.js';

/** A memory backend that counts the writes and reads of large objects in flight, and keeps the most seen at once. */
class CountingBackend extends MemoryBackend {
  writing = 0;
  mostWriting = 0;
  reading = 0;
  mostReading = 0;

  override async write(path: string, body: AsyncIterable<Uint8Array>, options: WriteOptions): Promise<ObjectInfo> {
    const large = path.includes('/large-');
    if (large) this.mostWriting = Math.max(this.mostWriting, (this.writing += 1));
    try {
      // Slow enough that, unbounded, every large file would be in flight together.
      await new Promise((resolve) => setTimeout(resolve, 5));
      return await super.write(path, body, options);
    } finally {
      if (large) this.writing -= 1;
    }
  }

  override async read(path: string): Promise<OpenedObject> {
    const large = path.includes('/large-');
    if (large) this.mostReading = Math.max(this.mostReading, (this.reading += 1));
    try {
      await new Promise((resolve) => setTimeout(resolve, 5));
      return await super.read(path);
    } finally {
      if (large) this.reading -= 1;
    }
  }
}

describe('how many files of a tree are in flight', () => {
  const temp = useTempDir('tree-limits-');

  it('a Gate lets `limit` holders in, the rest in order as places free', async () => {
    const gate = new Gate(2);
    const order: number[] = [];
    await gate.enter();
    await gate.enter();
    const third = gate.enter().then(() => order.push(3));
    const fourth = gate.enter().then(() => order.push(4));
    await Promise.resolve();
    expect(order).toEqual([]);
    gate.leave();
    await third;
    expect(order).toEqual([3]);
    gate.leave();
    await fourth;
    expect(order).toEqual([3, 4]);
    gate.leave();
    gate.leave();
    // Both places free again: two enter at once.
    await Promise.all([gate.enter(), gate.enter()]);
  });

  it('at the default concurrency, at most 8 files over 1 MiB are stored or restored at once; every byte comes back', async () => {
    const source = join(temp.path, 'src');
    mkdirSync(source);
    const contents = new Map<string, Buffer>();
    for (let index = 0; index < 20; index += 1) {
      const name = index < 14 ? `large-${String(index)}.bin` : `small-${String(index)}.txt`;
      const bytes = randomBytes(index < 14 ? LARGE_FILE_BYTES + 1 + index : 100);
      writeFileSync(join(source, name), bytes);
      contents.set(name, bytes);
    }
    const backend = new CountingBackend();
    expect(await storeTree({ source, prefix: '/t', backend })).toMatchObject({ stored: 20, failed: 0 });
    expect(backend.mostWriting).toBe(LARGE_FILES_AT_ONCE);
    const out = join(temp.path, 'out');
    expect(await restoreTree({ prefix: '/t', destination: out, backend })).toMatchObject({ stored: 20, failed: 0 });
    expect(backend.mostReading).toBe(LARGE_FILES_AT_ONCE);
    for (const [name, bytes] of contents) expect(Buffer.compare(readFileSync(join(out, name)), bytes), name).toBe(0);
  });
});
