import { describe, expect, it } from 'vitest';
import { WorkerThreads } from '../../src/core/worker-threads.js';
import { FileEncoders } from '../../src/orchestrator/trees/file-encoders.js';
import { makeTempDir } from '../helpers/temp-dir.js';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { decodeBytes } from '../helpers/codec.js';

describe('the worker threads of a tree store', () => {
  it('a worker module that cannot start fails the job it was given and every job after, with IO_ERROR naming it', async () => {
    const threads = new WorkerThreads<{ readonly files: readonly string[] }, { readonly id: number }>(new URL('./no-such-worker', import.meta.url), undefined, 1);
    await expect(threads.run({ files: [] })).rejects.toMatchObject({ code: 'IO_ERROR', message: expect.stringContaining('no-such-worker') as unknown });
    await expect(threads.run({ files: [] })).rejects.toMatchObject({ code: 'IO_ERROR' });
    await threads.close();
    await expect(threads.run({ files: [] })).rejects.toMatchObject({ code: 'CANCELLED' });
  });

  it('encodes a batch on a worker: each file its own container for its path, a file that cannot be read failing alone', async () => {
    const { path: dir, remove } = await makeTempDir('tree-threads-');
    try {
      writeFileSync(join(dir, 'a'), 'alpha');
      writeFileSync(join(dir, 'b'), 'bravo bravo');
      const encoders = new FileEncoders({ compression: { algorithm: 'brotli', level: 4 } });
      const reply = await encoders.encode([
        { host: join(dir, 'a'), path: '/t/a' },
        { host: join(dir, 'missing'), path: '/t/missing' },
        { host: join(dir, 'b'), path: '/t/b' },
      ]);
      await encoders.close();
      const [a, missing, b] = reply.files;
      expect(missing).toMatchObject({ stored: false, code: 'SOURCE_ERROR' });
      if (a?.stored !== true || b?.stored !== true) throw new Error('a and b were not encoded');
      expect(a.facts.size).toBe(5);
      expect((await decodeBytes(reply.bytes.subarray(a.offset, a.offset + a.length), { path: '/t/a' })).bytes.toString()).toBe('alpha');
      expect((await decodeBytes(reply.bytes.subarray(b.offset, b.offset + b.length), { path: '/t/b' })).bytes.toString()).toBe('bravo bravo');
    } finally {
      await remove();
    }
  });
});
