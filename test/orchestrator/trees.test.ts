import { execFileSync, spawnSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { chmodSync, existsSync, lstatSync, lutimesSync, mkdirSync, readdirSync, readFileSync, readlinkSync, statSync, symlinkSync, utimesSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { Readable } from 'node:stream';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { restoreTree, storeTree, type FileOutcome, type TreeProgress } from '../../src/index.js';
import { FileSystemBackend } from '../../src/storage/backends/filesystem.js';
import { MemoryBackend } from '../../src/storage/backends/memory.js';
import { Keyring } from '../../src/storage/codec/keyring.js';
import { temporaryName } from '../../src/storage/backends/temporary-file.js';
import { StorageTask } from '../../src/tasks/storage-task.js';
import { saveIndex } from '../../src/tasks/tree-index.js';
import { makeTempDir } from '../helpers/temp-dir.js';

describe('storeTree and restoreTree (the library the CLI uses)', () => {
  let dir = '';
  let remove: () => Promise<void> = () => Promise.resolve();
  beforeEach(async () => {
    ({ path: dir, remove } = await makeTempDir('trees-'));
    mkdirSync(join(dir, 'src', 'a'), { recursive: true });
    for (let index = 0; index < 20; index += 1) writeFileSync(join(dir, 'src', 'a', `${String(index)}.txt`), `file ${String(index)}`);
    writeFileSync(join(dir, 'src', 'top.bin'), Buffer.alloc(10_000, 3));
  });
  afterEach(async () => {
    await remove();
  });

  it('stores and restores through any backend, telling every file and the progress as it goes', async () => {
    const backend = new MemoryBackend();
    const files: FileOutcome[] = [];
    const progress: TreeProgress[] = [];
    const summary = await storeTree({ source: join(dir, 'src'), prefix: '/t', backend, concurrency: 3, onFile: (outcome) => files.push(outcome), onProgress: (counts) => progress.push(counts) });
    expect(summary).toMatchObject({ files: 21, stored: 21, unchanged: 0, failed: 0, bytesRead: 10_000 + 20 * 6 + 10 * 1, interrupted: false });
    expect(files.map((file) => file.storagePath)).toContain('/t/a/7.txt');
    expect(progress.at(-1)).toMatchObject({ files: 21, filesDone: 21, bytesDone: summary.bytesRead });
    expect(progress.map((counts) => counts.filesDone)).toEqual(Array.from({ length: 21 }, (_, index) => index + 1));
    const stored = await new StorageTask({ type: 'storage', metadata: { operation: 'read', path: '/t/a/7.txt' } }, { backend }).execute();
    expect(stored.data).toEqual(Buffer.from('file 7'));
    const restored = await restoreTree({ prefix: '/t', destination: join(dir, 'out'), backend });
    expect(restored).toMatchObject({ files: 21, stored: 21, failed: 0 });
    expect(readFileSync(join(dir, 'out', 'a', '7.txt'), 'utf8')).toBe('file 7');
    // Again into the same place: every file is already there.
    expect(await restoreTree({ prefix: '/t', destination: join(dir, 'out'), backend })).toMatchObject({ stored: 0, unchanged: 21 });
  });

  it('puts times back to the microsecond the source had, never the one before; a store of the restored copy finds it unchanged', async () => {
    const times = ['1985-01-01 00:00:00.001000000', '2024-05-06 07:08:09.999999999', '2024-05-06 07:08:09.123456789', '2001-01-01 00:00:00.000000000', '2030-12-31 23:59:59.000999500', '1960-01-01 00:00:00.000000000', '1969-12-31 23:59:59.500000000', '1969-12-31 23:59:59.123456789'];
    const source = join(dir, 'timed');
    mkdirSync(join(source, 'folder'), { recursive: true });
    times.forEach((time, index) => {
      writeFileSync(join(source, 'folder', `${String(index)}.txt`), `time ${time}`);
      // touch sets the nanoseconds as given (Node's utimes keeps microseconds at most).
      execFileSync('touch', ['-h', '-d', time, join(source, 'folder', `${String(index)}.txt`)]);
    });
    symlinkSync('0.txt', join(source, 'folder', 'link'));
    execFileSync('touch', ['-h', '-d', times[1] ?? '', join(source, 'folder', 'link')]);
    execFileSync('touch', ['-d', times[0] ?? '', join(source, 'folder')]);
    const backend = new MemoryBackend();
    await storeTree({ source, prefix: '/timed', backend });
    const out = join(dir, 'timed-out');
    await restoreTree({ prefix: '/timed', destination: out, backend });
    for (const name of ['folder', ...times.map((_, index) => `folder/${String(index)}.txt`), 'folder/link']) {
      const wanted = lstatSync(join(source, name), { bigint: true }).mtimeNs;
      expect([name, lstatSync(join(out, name), { bigint: true }).mtimeNs]).toEqual([name, (wanted / 1000n) * 1000n]);
    }
    // The restored copy stored where the source was: nothing to store again.
    expect(await storeTree({ source: out, prefix: '/timed', backend })).toMatchObject({ files: times.length, stored: 0, unchanged: times.length });
  });

  it('a restore again over one that was killed removes the temporary files that killed one left; those of running writers stay', async () => {
    const backend = new MemoryBackend();
    await storeTree({ source: join(dir, 'src'), prefix: '/t', backend });
    await restoreTree({ prefix: '/t', destination: join(dir, 'out'), backend });
    // A temporary name of this process, then the same name as a process that has exited would have had it.
    const ours = temporaryName();
    const exited = spawnSync(process.execPath, ['-e', '0']).pid;
    const dead = ours.replace(`-${String(process.pid)}-`, `-${String(exited)}-`);
    writeFileSync(join(dir, 'out', 'a', dead), 'half a file');
    writeFileSync(join(dir, 'out', 'a', ours), 'a write under way');
    // The file the killed restore was replacing is not in place: the next restore writes it, and clears its folder first.
    writeFileSync(join(dir, 'out', 'a', '3.txt'), 'older');
    expect(await restoreTree({ prefix: '/t', destination: join(dir, 'out'), backend })).toMatchObject({ stored: 1, unchanged: 20, failed: 0 });
    expect(readFileSync(join(dir, 'out', 'a', '3.txt'), 'utf8')).toBe('file 3');
    expect(existsSync(join(dir, 'out', 'a', dead))).toBe(false);
    expect(existsSync(join(dir, 'out', 'a', ours))).toBe(true);
  });

  it('a tampered index cannot make a restore write outside its destination, nor through a link in it', async () => {
    const backend = new MemoryBackend();
    await storeTree({ source: join(dir, 'src'), prefix: '/t', backend });
    const access = { backend, prefix: '/t', options: {}, keyring: undefined, signal: new AbortController().signal };
    await saveIndex(access, new Map([['../escaped.txt', { kind: 'file', size: 1, mtimeMs: 0, mode: 0o644, stored: { size: 1, modifiedAt: '' } }]]));
    await expect(restoreTree({ prefix: '/t', destination: join(dir, 'out'), backend })).rejects.toMatchObject({ code: 'PATH_OUTSIDE_ROOT' });
    expect(existsSync(join(dir, 'escaped.txt'))).toBe(false);
    // A folder of the destination that is a link is never written through.
    await storeTree({ source: join(dir, 'src'), prefix: '/u', backend });
    mkdirSync(join(dir, 'elsewhere'));
    mkdirSync(join(dir, 'dest'));
    symlinkSync(join(dir, 'elsewhere'), join(dir, 'dest', 'a'));
    const failures: FileOutcome[] = [];
    const summary = await restoreTree({ prefix: '/u', destination: join(dir, 'dest'), backend, onFile: (outcome) => { if (outcome.action === 'failed') failures.push(outcome); } });
    expect(existsSync(join(dir, 'elsewhere', '7.txt'))).toBe(false);
    expect(readdirSync(join(dir, 'elsewhere'))).toEqual([]);
    // The folder is failed, and each of its files; the rest of the tree is restored, and the run ends with its summary.
    expect(summary).toMatchObject({ files: 21, stored: 1, failed: 21, interrupted: false });
    expect(failures.find((outcome) => outcome.path === 'a')?.error).toEqual({ code: 'NOT_A_DIRECTORY', message: "restore of '/u/a' failed: restore into 'a' refused: it is a link, and nothing is written through one" });
    expect(new Set(failures.map((outcome) => outcome.error?.code))).toEqual(new Set(['NOT_A_DIRECTORY']));
    expect(readFileSync(join(dir, 'dest', 'top.bin'))).toEqual(Buffer.alloc(10_000, 3));
    // The destination itself a link, or a file: nothing can be restored, said at once.
    symlinkSync(join(dir, 'elsewhere'), join(dir, 'dest-link'));
    await expect(restoreTree({ prefix: '/u', destination: join(dir, 'dest-link'), backend })).rejects.toMatchObject({ code: 'NOT_A_DIRECTORY', message: `restore into '${join(dir, 'dest-link')}' refused: it is a link, and nothing is written through one` });
    expect(readdirSync(join(dir, 'elsewhere'))).toEqual([]);
  });

  it('an encrypted tree refuses a plain object put in place of one of its files (a downgrade), also when the restore does not ask for encryption', async () => {
    const backend = new MemoryBackend();
    const keyring = Keyring.fromKey(randomBytes(32));
    writeFileSync(join(dir, 'src', 'big.bin'), randomBytes(3 * 1024 * 1024));
    await storeTree({ source: join(dir, 'src'), prefix: '/t', backend, keyring, options: { encryption: true } });
    // Someone who can write to the store but holds no key puts plain bytes where the file's object is.
    const planted = await new StorageTask({ type: 'storage', metadata: { operation: 'write', path: '/t/big.bin', data: Buffer.alloc(3 * 1024 * 1024, 0x45) } }, { backend }).execute();
    expect(planted.success).toBe(true);
    const failures: FileOutcome[] = [];
    const restored = await restoreTree({ prefix: '/t', destination: join(dir, 'out'), backend, keyring, onFile: (outcome) => {
      if (outcome.action === 'failed') failures.push(outcome);
    } });
    expect(restored).toMatchObject({ failed: 1 });
    expect(failures.map((outcome) => [outcome.path, outcome.error?.code])).toEqual([['big.bin', 'ENCRYPTION_REQUIRED']]);
    expect(existsSync(join(dir, 'out', 'big.bin'))).toBe(false);
    expect(readFileSync(join(dir, 'out', 'a', '7.txt'), 'utf8')).toBe('file 7');
  });

  it('a destination that cannot be made fails with a coded error naming it, at once (a file above it, a place no folder can be made)', async () => {
    const backend = new MemoryBackend();
    await storeTree({ source: join(dir, 'src'), prefix: '/t', backend });
    const underFile = join(dir, 'src', 'top.bin', 'out');
    await expect(restoreTree({ prefix: '/t', destination: underFile, backend })).rejects.toMatchObject({ code: 'NOT_A_DIRECTORY', message: expect.stringContaining(underFile) as string });
    // Node's own recursive mkdir never returns here (mkdir answers ENOENT under a folder that exists).
    await expect(restoreTree({ prefix: '/t', destination: '/proc/taskforge-restore-here', backend })).rejects.toMatchObject({ code: 'NOT_FOUND', message: expect.stringContaining('/proc/taskforge-restore-here') as string });
  });

  it("a store whose folder is inside the tree it stores leaves that folder out: a second run does not store the first one's objects", async () => {
    mkdirSync(join(dir, 'src', 'backups'));
    const backend = new FileSystemBackend({ root: join(dir, 'src', 'backups') });
    const skipped: FileOutcome[] = [];
    const onFile = (outcome: FileOutcome): void => {
      if (outcome.action === 'skipped') skipped.push(outcome);
    };
    expect(await storeTree({ source: join(dir, 'src'), prefix: '/t', backend, onFile })).toMatchObject({ files: 21, failed: 0 });
    expect(await storeTree({ source: join(dir, 'src'), prefix: '/t', backend, onFile })).toMatchObject({ files: 21, stored: 0, unchanged: 21, failed: 0 });
    expect(existsSync(join(dir, 'src', 'backups', 't', 'backups'))).toBe(false);
    expect(skipped.map((outcome) => [outcome.path, outcome.reason])).toEqual([
      ['backups', "the store's own folder (the tree is stored into it)"],
      ['backups', "the store's own folder (the tree is stored into it)"],
    ]);
  });

  it('a damaged index is an error, not a guess: INTEGRITY_ERROR', async () => {
    const backend = new MemoryBackend();
    await storeTree({ source: join(dir, 'src'), prefix: '/t', backend });
    await backend.write('/t/.taskforge-tree', Readable.from([Buffer.from('{"version":1,"entries":{"x":{"kind":"file"}}}')]), { signal: new AbortController().signal, overwrite: true, metadata: {} });
    await expect(storeTree({ source: join(dir, 'src'), prefix: '/t', backend })).rejects.toMatchObject({ code: 'INTEGRITY_ERROR', message: "the tree index '/t/.taskforge-tree' cannot be used: it is not a version 1 tree index" });
    await expect(restoreTree({ prefix: '/t', destination: join(dir, 'out'), backend })).rejects.toMatchObject({ code: 'INTEGRITY_ERROR' });
    expect(existsSync(join(dir, 'out'))).toBe(false);
    await backend.write('/t/.taskforge-tree', Readable.from([Buffer.from('not json at all')]), { signal: new AbortController().signal, overwrite: true, metadata: {} });
    await expect(storeTree({ source: join(dir, 'src'), prefix: '/t', backend })).rejects.toMatchObject({ code: 'INTEGRITY_ERROR', message: "the tree index '/t/.taskforge-tree' cannot be used: it is not JSON" });
    // A mode is permission bits (setuid, setgid and sticky included), never a file type's bits, and a time is a number.
    for (const entry of [
      { kind: 'directory', mtimeMs: 0, mode: 0o120777 },
      { kind: 'directory', mtimeMs: 0, mode: -1 },
      { kind: 'directory', mtimeMs: 0, mode: 0.5 },
      { kind: 'directory', mtimeMs: Number.MAX_VALUE * 0, mode: 0o755, extra: 1 },
    ]) {
      const index = JSON.stringify({ version: 1, entries: { d: entry } }).replace('"mtimeMs":0,"mode":493,"extra":1', '"mtimeMs":1e400,"mode":493');
      await backend.write('/t/.taskforge-tree', Readable.from([Buffer.from(index)]), { signal: new AbortController().signal, overwrite: true, metadata: {} });
      await expect(restoreTree({ prefix: '/t', destination: join(dir, 'out'), backend }), index).rejects.toMatchObject({ code: 'INTEGRITY_ERROR' });
    }
    expect(existsSync(join(dir, 'out'))).toBe(false);
  });

  it('restores small files whole and large ones streamed, every byte, mode and mtime, on both sides of the size where streaming begins', async () => {
    const backend = new MemoryBackend();
    const sizes = [0, 1024 * 1024, 1024 * 1024 + 1, 3 * 1024 * 1024];
    mkdirSync(join(dir, 'sized'));
    for (const [index, size] of sizes.entries()) {
      const file = join(dir, 'sized', `${String(size)}.bin`);
      writeFileSync(file, randomBytes(size));
      chmodSync(file, index % 2 === 0 ? 0o640 : 0o755);
      utimesSync(file, 1_600_000_000 + index, 1_600_000_000 + index);
    }
    // The tree's own folder too: its mode and mtime go to the destination.
    chmodSync(join(dir, 'sized'), 0o750);
    utimesSync(join(dir, 'sized'), 1_500_000_000, 1_500_000_000);
    await storeTree({ source: join(dir, 'sized'), prefix: '/sized', backend, options: { compression: true } });
    expect(await restoreTree({ prefix: '/sized', destination: join(dir, 'sized-out'), backend })).toMatchObject({ files: 4, stored: 4, failed: 0 });
    expect([statSync(join(dir, 'sized-out')).mode & 0o7777, statSync(join(dir, 'sized-out')).mtimeMs]).toEqual([0o750, 1_500_000_000_000]);
    for (const size of sizes) {
      const [from, to] = [join(dir, 'sized', `${String(size)}.bin`), join(dir, 'sized-out', `${String(size)}.bin`)];
      expect(readFileSync(to).equals(readFileSync(from)), `${String(size)} bytes`).toBe(true);
      expect([statSync(to).mode, statSync(to).mtimeMs]).toEqual([statSync(from).mode, statSync(from).mtimeMs]);
    }
    expect(readdirSync(join(dir, 'sized-out')).filter((name) => name.startsWith('.taskforge'))).toEqual([]);
  });

  it("restores a link's own mtime, not its target's, and an index written before link times were kept still restores", async () => {
    const backend = new MemoryBackend();
    symlinkSync('a/7.txt', join(dir, 'src', 'to-seven'));
    lutimesSync(join(dir, 'src', 'to-seven'), 1_500_000_000, 1_500_000_000);
    await storeTree({ source: join(dir, 'src'), prefix: '/t', backend });
    await restoreTree({ prefix: '/t', destination: join(dir, 'out'), backend });
    expect(readlinkSync(join(dir, 'out', 'to-seven'))).toBe('a/7.txt');
    expect(lstatSync(join(dir, 'out', 'to-seven')).mtimeMs).toBe(1_500_000_000_000);
    // The target keeps its own time (to the microsecond that utimes can set).
    expect(Math.abs(statSync(join(dir, 'out', 'a', '7.txt')).mtimeMs - statSync(join(dir, 'src', 'a', '7.txt')).mtimeMs)).toBeLessThan(0.01);
    // An older index: the link without its time.
    const access = { backend, prefix: '/old', options: {}, keyring: undefined, signal: new AbortController().signal };
    await saveIndex(access, new Map([['link', { kind: 'symlink', target: 'elsewhere' }]]));
    expect(await restoreTree({ prefix: '/old', destination: join(dir, 'old-out'), backend })).toMatchObject({ links: 1, failed: 0 });
    expect(readlinkSync(join(dir, 'old-out', 'link'))).toBe('elsewhere');
  });
});
