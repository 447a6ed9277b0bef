import { chmod, mkdir, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Keyring } from '../../src/storage/codec/keyring.js';
import { makeTempDir } from '../helpers/temp-dir.js';

const KEY = Buffer.alloc(32, 7).toString('base64');

describe('a keyring file (TASKFORGE_KEYRING)', () => {
  let dir = '';
  let remove: () => Promise<void> = () => Promise.resolve();
  beforeAll(async () => {
    ({ path: dir, remove } = await makeTempDir('keyring-file-'));
  });
  afterAll(async () => {
    await remove();
  });

  it('is read: its keys held, the one it names active', async () => {
    const file = join(dir, 'good.json');
    await writeFile(file, JSON.stringify({ active: 'b', keys: { a: KEY, b: Buffer.alloc(32, 9).toString('base64') } }));
    const keyring = Keyring.fromFile(file);
    expect(keyring.activeKeyId).toBe('b');
    expect(keyring.keyIds).toEqual(['b', 'a']);
    expect(Keyring.fromEnvironment({ TASKFORGE_KEYRING: file })?.activeKeyId).toBe('b');
  });

  it('that cannot be read is told as such, with why (not as a file that is not JSON)', async () => {
    const missing = join(dir, 'missing.json');
    expect(() => Keyring.fromFile(missing)).toThrow(expect.objectContaining({ code: 'VALIDATION_ERROR', message: `invalid keyring: the keyring file ${missing} cannot be read: no such file or directory (ENOENT)` }));
    const folder = join(dir, 'a-folder');
    await mkdir(folder);
    expect(() => Keyring.fromFile(folder)).toThrow(expect.objectContaining({ code: 'VALIDATION_ERROR', message: `invalid keyring: the keyring file ${folder} cannot be read: it is a directory (EISDIR)` }));
  });

  it.runIf(process.getuid?.() !== 0)('that this user may not read is told as such', async () => {
    const locked = join(dir, 'locked.json');
    await writeFile(locked, JSON.stringify({ keys: { a: KEY } }));
    await chmod(locked, 0o000);
    expect(() => Keyring.fromFile(locked)).toThrow(expect.objectContaining({ code: 'VALIDATION_ERROR', message: `invalid keyring: the keyring file ${locked} cannot be read: permission denied (EACCES)` }));
  });

  it('that is not JSON, or not a keyring, says which', async () => {
    const garbled = join(dir, 'garbled.json');
    await writeFile(garbled, '{ "keys": ');
    expect(() => Keyring.fromFile(garbled)).toThrow(expect.objectContaining({ code: 'VALIDATION_ERROR', message: expect.stringMatching(new RegExp(`^invalid keyring: the keyring file ${garbled} is not JSON: `)) as string }));
    const shapeless = join(dir, 'shapeless.json');
    await writeFile(shapeless, '[1, 2]');
    expect(() => Keyring.fromFile(shapeless)).toThrow(expect.objectContaining({ code: 'VALIDATION_ERROR', message: `invalid keyring: the keyring file ${shapeless} must hold { "active": "id", "keys": { "id": "base64 key" } }` }));
  });
});
