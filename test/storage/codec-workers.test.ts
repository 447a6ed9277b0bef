import { randomBytes } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { FrameWorkerPool } from '../../src/storage/codec/frame-worker-pool.js';
import { Keyring } from '../../src/storage/codec/keyring.js';
import { repoModule, runScript } from '../helpers/child.js';
import { decodeBytes, encodeBytes } from '../helpers/codec.js';

const keyring = new Keyring({ keys: { w: randomBytes(32) } });

describe('frame workers', () => {
  it('gzip and brotli frames of multi-frame objects are done off the event loop thread', async () => {
    const data = Buffer.from('worker threads share the compression load; '.repeat(40_000));
    for (const compression of ['gzip', 'brotli'] as const) {
      const before = FrameWorkerPool.shared()?.stats.completed ?? 0;
      const stored = await encodeBytes(data, { compression, keyring });
      expect((await decodeBytes(stored, { keyring })).bytes.equals(data), compression).toBe(true);
      expect(FrameWorkerPool.shared()?.stats.completed ?? 0, compression).toBeGreaterThan(before);
    }
  });

  it('zstd and AES-GCM alone stay on the calling thread, where they are faster than a worker round trip', async () => {
    const data = Buffer.from('fast enough to stay home; '.repeat(40_000));
    FrameWorkerPool.shared();
    const before = FrameWorkerPool.shared()?.stats.completed ?? 0;
    for (const compression of ['zstd', undefined] as const) {
      const stored = await encodeBytes(data, { ...(compression === undefined ? {} : { compression }), keyring });
      expect((await decodeBytes(stored, { keyring })).bytes.equals(data)).toBe(true);
    }
    expect(FrameWorkerPool.shared()?.stats.completed ?? 0).toBe(before);
  });

  it('TASKFORGE_CODEC_WORKERS=0 does the same work on the calling thread', () => {
    const script = `
      import { encodeBytes, decodeBytes } from '${repoModule('test/helpers/codec.ts')}';
      import { FrameWorkerPool } from '${repoModule('src/storage/codec/frame-worker-pool.ts')}';
      const data = Buffer.from('inline please; '.repeat(100000));
      const stored = await encodeBytes(data, { compression: 'gzip' });
      const back = await decodeBytes(stored);
      console.log(JSON.stringify({ same: back.bytes.equals(data), pool: FrameWorkerPool.shared() === undefined ? 'none' : 'some' }));
    `;
    const child = runScript(script, { env: { ...process.env, TASKFORGE_CODEC_WORKERS: '0' } });
    expect(child.stderr).toBe('');
    expect(JSON.parse(child.stdout)).toEqual({ same: true, pool: 'none' });
  });

  it('the process exits on its own once the work is done: idle workers hold nothing open', () => {
    const script = `
      import { encodeBytes } from '${repoModule('test/helpers/codec.ts')}';
      await encodeBytes(Buffer.alloc(4 * 1024 * 1024, 1), { compression: 'zstd' });
      console.log('done');
    `;
    const child = runScript(script);
    expect(child.status).toBe(0);
    expect(child.stdout.trim()).toBe('done');
  });
});
