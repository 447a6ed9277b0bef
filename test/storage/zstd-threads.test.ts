import { spawnSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { existsSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { pathToFileURL } from 'node:url';
import { describe, expect, it } from 'vitest';
import { compressionChoice } from '../../src/storage/codec/chunk-compression.js';
import { Keyring } from '../../src/storage/codec/keyring.js';
import { encodeWhole } from '../../src/storage/codec/whole-encoder.js';
import { ZSTD_THREAD_LEVEL } from '../../src/storage/codec/zstd-threads.js';
import { decodeBytes, encodeBytes, mixed } from '../helpers/codec.js';
import { zstdHere } from '../helpers/zstd.js';

const keyring = new Keyring({ keys: { 'key-a': randomBytes(32) } });
const salt = randomBytes(32);
const CHUNK = 256 * 1024;

describe.runIf(zstdHere)("zstd's slow levels compress on worker threads", () => {
  for (const level of [ZSTD_THREAD_LEVEL, 19]) {
    for (const encrypted of [false, true]) {
      it(`level ${String(level)}, ${encrypted ? 'encrypted' : 'not encrypted'}: the very bytes this thread's compression makes, and they decode`, async () => {
        const data = mixed(3 * CHUNK + 17);
        const threaded = await encodeBytes(data, { path: '/t/f', chunkSize: CHUNK, salt, compression: 'zstd', level, ...(encrypted ? { keyring } : {}) });
        const active = keyring.activeKey();
        // encodeWhole compresses on its own thread (it runs inside a tree's worker threads).
        const inline = Buffer.concat(
          await encodeWhole(data, { kind: 'bytes', path: '/t/f', chunkSize: CHUNK, compression: compressionChoice('zstd', level), ...(encrypted ? { encryption: { keyId: active.id, key: active.key, salt } } : {}) }),
        );
        expect(threaded.equals(inline)).toBe(true);
        expect((await decodeBytes(threaded, { path: '/t/f', keyring })).bytes.equals(data)).toBe(true);
      });
    }
  }

  it('keeps the event loop turning while a chunk compresses (on this thread it would wait for each whole chunk)', async () => {
    const data = mixed(4 * CHUNK);
    let turns = 0;
    let encoding = true;
    const spin = (): void => {
      turns += 1;
      if (encoding) setImmediate(spin);
    };
    setImmediate(spin);
    await encodeBytes(data, { chunkSize: CHUNK, compression: 'zstd', level: 19 });
    encoding = false;
    // On this thread: about one turn per chunk (each chunk yields once). Each chunk at level 19 is tens of ms of work.
    expect(turns).toBeGreaterThan(100);
  });

  it('an idle zstd thread does not hold the process: a script that wrote at level 19 exits by itself', () => {
    const index = resolve('dist/src/index.js');
    if (!existsSync(index)) throw new Error(`${index} is missing: run npm run build first (npm test does)`);
    const script = `
      import { StorageTask } from ${JSON.stringify(pathToFileURL(index).href)};
      await new StorageTask({ type: 'storage', metadata: { operation: 'write', path: '/big.txt', data: 'taskforge '.repeat(200000), options: { compression: { algorithm: 'zstd', level: 19 } } } }).execute();
      console.log('written');
    `;
    const root = mkdtempSync(join(tmpdir(), 'zstd-exit-'));
    try {
      // A file, not --eval: an evaluated module's process exits at its end whatever still holds its loop.
      writeFileSync(join(root, 'write.mjs'), script);
      const ran = spawnSync(process.execPath, [join(root, 'write.mjs')], { encoding: 'utf8', timeout: 30_000, env: { PATH: process.env['PATH'], TASKFORGE_STORAGE_ROOT: root } });
      expect({ status: ran.status, signal: ran.signal, stdout: ran.stdout, stderr: ran.stderr }).toEqual({ status: 0, signal: null, stdout: 'written\n', stderr: '' });
    } finally {
      rmSync(root, { recursive: true, force: true });
    }
  });
});
