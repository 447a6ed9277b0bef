import { randomBytes } from 'node:crypto';
import { copyFile, readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { Readable } from 'node:stream';
import { inspect } from 'node:util';
import { describe, expect, it } from 'vitest';
import type { Logger } from '../../src/core/logger.js';
import { CONTAINER_MAGIC } from '../../src/storage/codec/container-format.js';
import { defaultKeyring } from '../../src/storage/codec/default-keyring.js';
import { Keyring } from '../../src/storage/codec/keyring.js';
import { rekeyObject } from '../../src/storage/rekey.js';
import type { StorageBackend } from '../../src/storage/backend.js';
import { StorageTask } from '../../src/tasks/storage-task.js';
import type { StorageMetadata } from '../../src/tasks/storage-task-config.js';
import type { TaskResult } from '../../src/tasks/task-result.js';
import { useFileSystemFixture } from '../helpers/fs-fixture.js';
import { makeTempDir } from '../helpers/temp-dir.js';
import { zstdHere } from '../helpers/zstd.js';

const keyA = randomBytes(32);
const keyB = randomBytes(32);
const keyringA = new Keyring({ keys: { a: keyA } });

function run(backend: StorageBackend, keyring: Keyring | undefined, metadata: StorageMetadata, logger?: Logger): Promise<TaskResult> {
  return new StorageTask({ type: 'storage', metadata }, { backend, ...(keyring === undefined ? {} : { keyring }), ...(logger === undefined ? {} : { logger }) }).execute();
}

describe('StorageTask with encryption and compression', () => {
  const fixture = useFileSystemFixture();

  it('every data form comes back as written, and the file holds no plaintext', async () => {
    const cases: [string, unknown, unknown][] = [
      ['/e/value.json', { secret: 'Hello World' }, { secret: 'Hello World' }],
      ['/e/text.txt', 'Hello World as text', 'Hello World as text'],
      ['/e/bytes.bin', Buffer.from('Hello World bytes'), Buffer.from('Hello World bytes')],
      ['/e/stream.bin', Readable.from([Buffer.from('Hello '), Buffer.from('World stream')]), Buffer.from('Hello World stream')],
    ];
    for (const [path, data, expected] of cases) {
      const written = await run(fixture.backend, keyringA, { operation: 'write', path, data, options: { compression: true, encryption: true } });
      expect(written.success, path).toBe(true);
      const onDisk = await readFile(join(fixture.root, path));
      expect(onDisk.subarray(0, 8).equals(CONTAINER_MAGIC)).toBe(true);
      expect(onDisk.includes('Hello')).toBe(false);
      const read = await run(fixture.backend, keyringA, { operation: 'read', path, options: { encryption: true } });
      expect(read.data, path).toEqual(expected);
    }
  });

  it('a container whose first bytes are damaged or cut short is refused (INTEGRITY_ERROR), not read as a plain file of those bytes', async () => {
    const written = await run(fixture.backend, keyringA, { operation: 'write', path: '/m/secret.bin', data: randomBytes(5000), options: { encryption: true } });
    expect(written.success).toBe(true);
    const file = join(fixture.root, 'm', 'secret.bin');
    const stored = await readFile(file);
    const outcomes: string[] = [];
    for (let offset = 0; offset < CONTAINER_MAGIC.length; offset += 1) {
      for (const bit of [0x01, 0x80]) {
        const damaged = Buffer.from(stored);
        damaged[offset] = (damaged[offset] ?? 0) ^ bit;
        await writeFile(file, damaged);
        const read = await run(fixture.backend, keyringA, { operation: 'read', path: '/m/secret.bin' });
        outcomes.push(`${String(offset)}:${String(bit)}:${read.error?.code ?? 'read'}`);
      }
    }
    expect(outcomes.filter((outcome) => !outcome.endsWith(':INTEGRITY_ERROR'))).toEqual([]);
    for (let length = 1; length < CONTAINER_MAGIC.length; length += 1) {
      await writeFile(file, stored.subarray(0, length));
      expect((await run(fixture.backend, keyringA, { operation: 'read', path: '/m/secret.bin' })).error?.code, `cut to ${String(length)} bytes`).toBe('INTEGRITY_ERROR');
    }
    // Cut to nothing it is an empty file, as another program could leave: only a read that requires encryption refuses it.
    await writeFile(file, Buffer.alloc(0));
    expect((await run(fixture.backend, keyringA, { operation: 'read', path: '/m/secret.bin', options: { encryption: true } })).error?.code).toBe('ENCRYPTION_REQUIRED');
    // A file of another program that only begins with a few of those bytes is still its bytes.
    await writeFile(file, Buffer.from([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a, 1, 2, 3]));
    expect((await run(fixture.backend, keyringA, { operation: 'read', path: '/m/secret.bin' })).data).toEqual(Buffer.from([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a, 1, 2, 3]));
  });

  it("an object written under one key (named by its fingerprint) reads with a keyring that holds that key under a name of its own, as in a rotation", async () => {
    const single = Keyring.fromKey(keyA);
    expect((await run(fixture.backend, single, { operation: 'write', path: '/r/old.txt', data: 'written before the rotation', options: { encryption: true } })).success).toBe(true);
    const rotated = new Keyring({ keys: { '2026-11': keyB, '2026-01': keyA }, active: '2026-11' });
    expect(await run(fixture.backend, rotated, { operation: 'read', path: '/r/old.txt', options: { encryption: true } })).toMatchObject({ success: true, data: 'written before the rotation' });
    // Named by its fingerprint, a key is found only by its bytes: a keyring without them still refuses.
    const other = new Keyring({ keys: { '2026-11': keyB }, active: '2026-11' });
    expect((await run(fixture.backend, other, { operation: 'read', path: '/r/old.txt' })).error).toMatchObject({ code: 'KEY_NOT_FOUND' });
  });

  it('compression alone shrinks text and reads back transparently', async () => {
    const text = 'a line of a log file that repeats\n'.repeat(10_000);
    const choices = [true, { algorithm: 'gzip', level: 6 }, { algorithm: 'brotli', level: 4 }, ...(zstdHere ? [{ algorithm: 'zstd', level: 3 } as const] : [])] as const;
    for (const compression of choices) {
      const written = await run(fixture.backend, undefined, { operation: 'write', path: '/c/log.txt', data: text, options: { compression } });
      expect((written.data as { size: number }).size).toBeLessThan(text.length / 10);
      expect((await run(fixture.backend, undefined, { operation: 'read', path: '/c/log.txt' })).data).toBe(text);
    }
  });

  it('a read with encryption: true refuses a plain object and a compressed-only one (ENCRYPTION_REQUIRED)', async () => {
    await run(fixture.backend, keyringA, { operation: 'write', path: '/plain.txt', data: 'plain' });
    await run(fixture.backend, keyringA, { operation: 'write', path: '/packed.txt', data: 'packed', options: { compression: true } });
    for (const path of ['/plain.txt', '/packed.txt']) {
      const result = await run(fixture.backend, keyringA, { operation: 'read', path, options: { encryption: true } });
      expect(result.error?.code, path).toBe('ENCRYPTION_REQUIRED');
    }
  });

  it('an encrypted file replaced by plain bytes is refused when encryption is required (no downgrade)', async () => {
    await run(fixture.backend, keyringA, { operation: 'write', path: '/secret.json', data: { pin: 1234 }, options: { encryption: true } });
    await writeFile(join(fixture.root, 'secret.json'), '{"pin":0}');
    const result = await run(fixture.backend, keyringA, { operation: 'read', path: '/secret.json', options: { encryption: true } });
    expect(result.error?.code).toBe('ENCRYPTION_REQUIRED');
  });

  it("one object's file copied over another's is detected (INTEGRITY_ERROR)", async () => {
    await run(fixture.backend, keyringA, { operation: 'write', path: '/alice.json', data: { salary: 1 }, options: { encryption: true } });
    await run(fixture.backend, keyringA, { operation: 'write', path: '/bob.json', data: { salary: 2 }, options: { encryption: true } });
    await copyFile(join(fixture.root, 'alice.json'), join(fixture.root, 'bob.json'));
    const result = await run(fixture.backend, keyringA, { operation: 'read', path: '/bob.json' });
    expect(result.error?.code).toBe('INTEGRITY_ERROR');
  });

  it('a flipped byte on disk is detected, and a stream read reports it as a coded stream error', async () => {
    await run(fixture.backend, keyringA, { operation: 'write', path: '/f.bin', data: randomBytes(200_000), options: { encryption: true } });
    const bytes = await readFile(join(fixture.root, 'f.bin'));
    bytes[150_000] = (bytes[150_000] ?? 0) ^ 0x10;
    await writeFile(join(fixture.root, 'f.bin'), bytes);
    expect((await run(fixture.backend, keyringA, { operation: 'read', path: '/f.bin' })).error?.code).toBe('INTEGRITY_ERROR');
    const streamed = await run(fixture.backend, keyringA, { operation: 'read', path: '/f.bin', options: { as: 'stream' } });
    let received = 0;
    const failure = await (async () => {
      try {
        for await (const chunk of streamed.data as Readable) received += (chunk as Buffer).length;
        return 'no error';
      } catch (error) {
        return (error as { code?: string }).code;
      }
    })();
    expect(failure).toBe('INTEGRITY_ERROR');
    // Only the frames before the damaged one were released.
    expect(received).toBeLessThan(150_000);
  });

  it('rotation: old objects read under the new keyring, new writes use the active key, rekey rewrites atomically', async () => {
    await run(fixture.backend, keyringA, { operation: 'write', path: '/r/old.json', data: { v: 'old' }, options: { encryption: true, compression: true } });
    const rotated = new Keyring({ keys: { a: keyA, b: keyB }, active: 'b' });
    expect((await run(fixture.backend, rotated, { operation: 'read', path: '/r/old.json' })).data).toEqual({ v: 'old' });
    await run(fixture.backend, rotated, { operation: 'write', path: '/r/new.json', data: { v: 'new' }, options: { encryption: true } });
    const keyIdOf = async (path: string): Promise<string> => {
      const bytes = await readFile(join(fixture.root, path));
      return bytes.subarray(18, 18 + (bytes[17] ?? 0)).toString('ascii');
    };
    expect(await keyIdOf('r/new.json')).toBe('b');
    expect(await keyIdOf('r/old.json')).toBe('a');
    expect(await rekeyObject({ backend: fixture.backend, keyring: rotated, path: '/r/old.json' })).toEqual({ path: '/r/old.json', rekeyed: true, fromKeyId: 'a', toKeyId: 'b' });
    expect(await keyIdOf('r/old.json')).toBe('b');
    expect((await run(fixture.backend, rotated, { operation: 'read', path: '/r/old.json' })).data).toEqual({ v: 'old' });
    expect((await run(fixture.backend, keyringA, { operation: 'read', path: '/r/old.json' })).error?.code).toBe('KEY_NOT_FOUND');
    expect(await rekeyObject({ backend: fixture.backend, keyring: rotated, path: '/r/old.json' })).toMatchObject({ rekeyed: false });
  });

  it('encryption: { keyId } writes under that key of the keyring, active or not; a key it does not hold is KEY_NOT_FOUND and nothing is stored', async () => {
    const both = new Keyring({ keys: { a: keyA, b: keyB }, active: 'b' });
    const keyIdOf = async (path: string): Promise<string> => {
      const bytes = await readFile(join(fixture.root, path));
      return bytes.subarray(18, 18 + (bytes[17] ?? 0)).toString('ascii');
    };
    const written = await run(fixture.backend, both, { operation: 'write', path: '/n/old-key.json', data: { v: 1 }, options: { encryption: { keyId: 'a' } } });
    expect(written.success).toBe(true);
    expect(await keyIdOf('n/old-key.json')).toBe('a');
    // Readable with only that key; a read naming a key also refuses a plain object, as encryption: true does.
    expect((await run(fixture.backend, keyringA, { operation: 'read', path: '/n/old-key.json', options: { encryption: { keyId: 'a' } } })).data).toEqual({ v: 1 });
    await run(fixture.backend, both, { operation: 'write', path: '/n/plain.txt', data: 'plain' });
    expect((await run(fixture.backend, both, { operation: 'read', path: '/n/plain.txt', options: { encryption: { keyId: 'a' } } })).error?.code).toBe('ENCRYPTION_REQUIRED');
    const refused = await run(fixture.backend, keyringA, { operation: 'write', path: '/n/other.json', data: { v: 2 }, options: { encryption: { keyId: 'b' } } });
    expect(refused).toMatchObject({ success: false, error: { code: 'KEY_NOT_FOUND', retryable: false } });
    expect(refused.error?.message).toContain("write of '/n/other.json' asks for key 'b', which the keyring does not hold (it holds 'a'); nothing was stored");
    expect((await run(fixture.backend, keyringA, { operation: 'read', path: '/n/other.json' })).error?.code).toBe('NOT_FOUND');
    // No keyring at all: the same error as encryption: true without a key.
    expect((await run(fixture.backend, undefined, { operation: 'write', path: '/n/none.json', data: 1, options: { encryption: { keyId: 'a' } } })).error?.code).toBe('KEY_NOT_FOUND');
    // A key id must be named, and nothing else given beside it.
    for (const encryption of [{ keyId: '' }, { keyId: 'a', extra: 1 }, {}, 'a']) {
      const bad = await run(fixture.backend, both, { operation: 'write', path: '/n/bad.json', data: 1, options: { encryption } } as unknown as StorageMetadata);
      expect(bad.error?.code, JSON.stringify(encryption)).toBe('VALIDATION_ERROR');
    }
  });

  it('rekey of a plain object gives ENCRYPTION_REQUIRED, of a missing one NOT_FOUND, and changes nothing', async () => {
    await run(fixture.backend, undefined, { operation: 'write', path: '/r/plain.txt', data: 'plain' });
    await expect(rekeyObject({ backend: fixture.backend, keyring: keyringA, path: '/r/plain.txt' })).rejects.toMatchObject({ code: 'ENCRYPTION_REQUIRED' });
    await expect(rekeyObject({ backend: fixture.backend, keyring: keyringA, path: '/r/none' })).rejects.toMatchObject({ code: 'NOT_FOUND' });
    expect(await readFile(join(fixture.root, 'r', 'plain.txt'), 'utf8')).toBe('plain');
  });

  it('maxBytes stops a read that decodes past it (LIMIT_EXCEEDED), compressed or plain', async () => {
    await run(fixture.backend, undefined, { operation: 'write', path: '/big/zeros', data: Buffer.alloc(8 * 1024 * 1024), options: { compression: true } });
    await run(fixture.backend, undefined, { operation: 'write', path: '/big/plain', data: Buffer.alloc(2 * 1024 * 1024) });
    for (const path of ['/big/zeros', '/big/plain']) {
      const result = await run(fixture.backend, undefined, { operation: 'read', path, options: { maxBytes: 1024 * 1024 } });
      expect(result.error?.code, path).toBe('LIMIT_EXCEEDED');
    }
    expect(((await run(fixture.backend, undefined, { operation: 'read', path: '/big/plain', options: { maxBytes: 2 * 1024 * 1024 } })).data as Buffer).length).toBe(2 * 1024 * 1024);
  });

  it('keys never appear in logs, errors, events or results', async () => {
    const lines: string[] = [];
    const record = (fields: Record<string, unknown>, message: string): void => {
      lines.push(JSON.stringify(fields) + message);
    };
    const logger: Logger = { debug: record, info: record, warn: record, error: record };
    const secrets = [keyA.toString('base64'), keyA.toString('hex'), keyB.toString('base64'), keyB.toString('hex')];
    const seen: string[] = [];
    const results: TaskResult[] = [];
    for (const metadata of [
      { operation: 'write', path: '/k/x', data: 'x', options: { encryption: true } },
      { operation: 'read', path: '/k/x' },
      { operation: 'read', path: '/k/missing' },
    ] as StorageMetadata[]) {
      const task = new StorageTask({ type: 'storage', metadata }, { backend: fixture.backend, keyring: keyringA, logger });
      for (const event of ['start', 'complete', 'error', 'progress'] as const) task.on(event, (payload) => seen.push(JSON.stringify(payload)));
      results.push(await task.execute());
    }
    results.push(await run(fixture.backend, new Keyring({ keys: { a: keyB } }), { operation: 'read', path: '/k/x' }, logger));
    const everything = [...lines, ...seen, ...results.map((result) => JSON.stringify(result)), JSON.stringify(keyringA), inspect(keyringA), String(keyringA)].join('\n');
    for (const secret of secrets) expect(everything.includes(secret)).toBe(false);
    expect(results.at(-1)?.error?.code).toBe('INTEGRITY_ERROR');
  });

  it('progress of an encrypted write counts the data bytes, with the total', async () => {
    const task = new StorageTask(
      { type: 'storage', metadata: { operation: 'write', path: '/p/data', data: randomBytes(3 * 1024 * 1024), options: { encryption: true, compression: true } } },
      { backend: fixture.backend, keyring: keyringA },
    );
    const events: { bytesDone: number; bytesTotal?: number }[] = [];
    task.on('progress', (event) => events.push(event));
    await task.execute();
    expect(events.at(-1)).toMatchObject({ bytesDone: 3 * 1024 * 1024, bytesTotal: 3 * 1024 * 1024 });
  });
});

describe('the keyring from the environment', () => {
  const saved = { ...process.env };
  const restore = (): void => {
    for (const name of ['TASKFORGE_ENCRYPTION_KEY', 'TASKFORGE_KEYRING']) {
      const value = saved[name];
      if (value === undefined) Reflect.deleteProperty(process.env, name);
      else process.env[name] = value;
    }
  };

  it('TASKFORGE_KEYRING names a file of keys with an active one', async () => {
    const dir = await makeTempDir();
    try {
      const file = join(dir.path, 'keyring.json');
      await writeFile(file, JSON.stringify({ active: 'two', keys: { one: keyA.toString('base64'), two: keyB.toString('base64') } }));
      process.env['TASKFORGE_KEYRING'] = file;
      expect(defaultKeyring()?.toJSON()).toEqual({ activeKeyId: 'two', keyIds: ['two', 'one'] });
    } finally {
      restore();
      await dir.remove();
    }
  });

  it('TASKFORGE_ENCRYPTION_KEY is one key named by its fingerprint', () => {
    try {
      process.env['TASKFORGE_ENCRYPTION_KEY'] = keyA.toString('base64');
      Reflect.deleteProperty(process.env, 'TASKFORGE_KEYRING');
      expect(defaultKeyring()?.activeKeyId).toMatch(/^k-[0-9a-f]{16}$/);
    } finally {
      restore();
    }
  });

  it('a malformed key fails an encrypted write with VALIDATION_ERROR naming the problem, and leaves plain writes alone', async () => {
    const dir = await makeTempDir();
    try {
      process.env['TASKFORGE_ENCRYPTION_KEY'] = 'dG9vIHNob3J0';
      Reflect.deleteProperty(process.env, 'TASKFORGE_KEYRING');
      const { MemoryBackend } = await import('../../src/storage/backends/memory.js');
      const backend = new MemoryBackend();
      const encrypted = await new StorageTask({ type: 'storage', metadata: { operation: 'write', path: '/x', data: 'x', options: { encryption: true } } }, { backend }).execute();
      expect(encrypted.error?.code).toBe('VALIDATION_ERROR');
      expect(encrypted.error?.message).toContain('must be 32 bytes');
      expect(encrypted.error?.message).not.toContain('dG9vIHNob3J0');
      // A passphrase pasted in place of a key (Node's decoder would skip its spaces and '!', and call it short): named as not base64, not echoed.
      process.env['TASKFORGE_ENCRYPTION_KEY'] = 'not base64 at all!!';
      const passphrase = await new StorageTask({ type: 'storage', metadata: { operation: 'write', path: '/z', data: 'z', options: { encryption: true } } }, { backend }).execute();
      expect(passphrase.error).toMatchObject({ code: 'VALIDATION_ERROR', message: expect.stringContaining("key 'TASKFORGE_ENCRYPTION_KEY' is not base64") as string });
      expect(passphrase.error?.message).not.toContain('at all');
      // A key given in hex (openssl rand -hex 32) decodes as 48 bytes of base64: it is said to look like hex, and how to turn it into base64.
      process.env['TASKFORGE_ENCRYPTION_KEY'] = 'ab'.repeat(32);
      const hex = await new StorageTask({ type: 'storage', metadata: { operation: 'write', path: '/h', data: 'h', options: { encryption: true } } }, { backend }).execute();
      expect(hex.error?.message).toMatch(/it is 48 bytes; it looks like hex \(openssl rand -hex 32\): give it in base64, e\.g\. `echo HEX \| xxd -r -p \| base64`$/);
      expect(hex.error?.message).not.toContain('abab');
      const plain = await new StorageTask({ type: 'storage', metadata: { operation: 'write', path: '/y', data: 'y' } }, { backend }).execute();
      expect(plain.success).toBe(true);
    } finally {
      restore();
      await dir.remove();
    }
  });

  it('a keyring file that is missing or not JSON is a VALIDATION_ERROR', () => {
    try {
      process.env['TASKFORGE_KEYRING'] = '/nonexistent/keyring.json';
      expect(() => defaultKeyring()).toThrow(expect.objectContaining({ code: 'VALIDATION_ERROR' }) as Error);
    } finally {
      restore();
    }
  });

  it('keyrings refuse bad ids and an active key they do not hold', () => {
    expect(() => new Keyring({ keys: { 'bad id!': keyA } })).toThrow(expect.objectContaining({ code: 'VALIDATION_ERROR' }) as Error);
    expect(() => new Keyring({ keys: { a: keyA, b: keyB } })).toThrow(/active/);
    expect(() => new Keyring({ keys: { a: keyA }, active: 'z' })).toThrow(/not in the keyring/);
  });
});
