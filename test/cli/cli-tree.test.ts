import { spawnSync } from 'node:child_process';
import { appendFileSync, chmodSync, existsSync, lstatSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, readlinkSync, rmSync, statSync, symlinkSync, utimesSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { createServer, type AddressInfo, type Socket } from 'node:net';
import { join, relative } from 'node:path';
import { beforeEach, describe, expect, it } from 'vitest';
import { BIN, cleanEnv, runBin, startBin, until, type Ran } from '../helpers/bin.js';
import { useCaseDirectories } from '../helpers/case-dirs.js';

const KEY = Buffer.alloc(32, 9).toString('base64');

const caseDirectory = useCaseDirectories('cli-tree-');
let cwd = '';
beforeEach(() => {
  cwd = caseDirectory();
});

function taskforge(args: readonly string[], env: Record<string, string> = {}): Ran {
  return runBin(cwd, args, { env });
}

/** The --json lines of a tree command: one per entry, then the summary. */
function outcomes(ran: Ran): { lines: Record<string, unknown>[]; summary: Record<string, unknown> } {
  const parsed = ran.stdout.trim().split('\n').map((line) => JSON.parse(line) as Record<string, unknown>);
  const last = parsed.at(-1) as { summary: Record<string, unknown> };
  return { lines: parsed.slice(0, -1), summary: last.summary };
}

/** A tree with what trees have: nested folders, empty files and folders, unicode and space names, links in and out, a FIFO. */
function makeTree(root: string): void {
  mkdirSync(join(root, 'docs', 'deep', 'deeper'), { recursive: true });
  mkdirSync(join(root, 'empty folder'));
  mkdirSync(join(root, 'naïve ünïcode'));
  writeFileSync(join(root, 'docs', 'readme.txt'), 'read me\n');
  writeFileSync(join(root, 'docs', 'deep', 'deeper', 'data.bin'), Buffer.from(Array.from({ length: 200_000 }, (_, index) => (index * 7) % 256)));
  writeFileSync(join(root, 'empty.txt'), '');
  writeFileSync(join(root, 'naïve ünïcode', 'file with spaces.md'), '# ünïcode\n');
  chmodSync(join(root, 'docs', 'readme.txt'), 0o600);
  chmodSync(join(root, 'empty folder'), 0o750);
  utimesSync(join(root, 'docs', 'deep', 'deeper', 'data.bin'), new Date('2021-06-07T08:09:10Z'), new Date('2021-06-07T08:09:10Z'));
  symlinkSync('readme.txt', join(root, 'docs', 'link-inside'));
  symlinkSync('/etc/hostname', join(root, 'link-outside'));
  spawnSync('mkfifo', [join(root, 'a-fifo')]);
}

/** The packs in a tree's storage folder. */
function packs(storage: string): string[] {
  return readdirSync(storage).filter((name) => name.startsWith('.taskforge-pack-'));
}

/** Every entry under `root`: its kind, mode and mtime, a file's bytes, a link's target. */
function snapshot(root: string, skip: (path: string) => boolean = () => false): Record<string, string> {
  const found: Record<string, string> = {};
  const walk = (directory: string): void => {
    for (const name of readdirSync(directory).sort()) {
      const host = join(directory, name);
      const path = relative(root, host);
      if (skip(path)) continue;
      const stats = lstatSync(host);
      if (stats.isSymbolicLink()) found[path] = `link -> ${readlinkSync(host)}`;
      else if (stats.isDirectory()) {
        found[path] = `dir ${(stats.mode & 0o7777).toString(8)} ${String(Math.round(stats.mtimeMs))}`;
        walk(host);
      } else if (stats.isFile()) found[path] = `file ${(stats.mode & 0o7777).toString(8)} ${String(Math.round(stats.mtimeMs))} ${readFileSync(host).toString('base64')}`;
    }
  };
  walk(root);
  return found;
}

describe('taskforge write --recursive and read --recursive (the real bin)', () => {
  it('stores a tree and restores it: every byte, mode and mtime, empty files and folders, unicode and space names, links as links; a FIFO is skipped with a line', () => {
    makeTree(join(cwd, 'src'));
    const stored = taskforge(['write', '/backup', '--file', 'src', '--recursive']);
    expect(stored.stderr).toBe('taskforge: a-fifo: skipped: a FIFO, not a file, directory or link\n');
    expect(stored.code).toBe(0);
    expect(stored.stdout).toMatch(/^stored 4 of 4 files \(\d+(\.\d)? KiB read, \d+(\.\d)? KiB stored\) in \d+\.\d s, \d+(\.\d)? [KM]?i?B\/s, 0 unchanged, 2 links, 1 skipped, 0 failed\n$/);
    const restored = taskforge(['read', '/backup', '-o', 'out', '--recursive']);
    expect(restored.stderr).toBe('');
    expect(restored.code).toBe(0);
    expect(snapshot(join(cwd, 'out'))).toEqual(snapshot(join(cwd, 'src'), (path) => path === 'a-fifo'));
    // The link pointing out of the tree is restored as a link, not followed: nothing of its target was stored.
    expect(lstatSync(join(cwd, 'out', 'link-outside')).isSymbolicLink()).toBe(true);
    expect(existsSync(join(cwd, 'taskforge-data', 'backup', 'link-outside'))).toBe(false);
  });

  it('a second run over an unchanged tree stores and rewrites nothing and says so; a changed file is stored again; --delete removes what is gone', () => {
    makeTree(join(cwd, 'src'));
    expect(taskforge(['write', '/b', '--file', 'src', '--recursive']).code).toBe(0);
    const index = join(cwd, 'taskforge-data', 'b', '.taskforge-tree');
    const before = snapshot(join(cwd, 'taskforge-data'));
    const indexBefore = statSync(index);
    const again = taskforge(['write', '/b', '--file', 'src', '--recursive', '--json']);
    expect(again.code).toBe(0);
    const { lines, summary } = outcomes(again);
    expect(lines.filter((line) => line['action'] === 'unchanged').map((line) => line['path'])).toEqual(['docs/deep/deeper/data.bin', 'docs/readme.txt', 'empty.txt', 'naïve ünïcode/file with spaces.md']);
    expect(lines.some((line) => line['action'] === 'stored')).toBe(false);
    expect(summary).toMatchObject({ files: 4, stored: 0, unchanged: 4, failed: 0, bytesRead: 0, interrupted: false });
    expect(snapshot(join(cwd, 'taskforge-data'))).toEqual(before);
    expect(statSync(index).mtimeMs).toBe(indexBefore.mtimeMs);
    // A changed file is stored again, the rest are not.
    writeFileSync(join(cwd, 'src', 'docs', 'readme.txt'), 'read me, changed\n');
    const changed = outcomes(taskforge(['write', '/b', '--file', 'src', '--recursive', '--json']));
    expect(changed.summary).toMatchObject({ stored: 1, unchanged: 3 });
    // A file read at its path gives its content as last stored, packed or not.
    expect(taskforge(['read', '/b/docs/readme.txt']).stdout).toBe('read me, changed\n');
    expect(taskforge(['read', '/b/docs/deep/deeper/data.bin']).code).toBe(0);
    // The pack the old readme was in held other files still used: it stays; the readme's new pack is beside it.
    expect(packs(join(cwd, 'taskforge-data', 'b'))).toHaveLength(2);
    // A file gone from the tree: kept (and restored) without --delete, removed with it.
    rmSync(join(cwd, 'src', 'empty.txt'));
    expect(outcomes(taskforge(['write', '/b', '--file', 'src', '--recursive', '--json'])).summary).toMatchObject({ deleted: 0 });
    expect(taskforge(['read', '/b/empty.txt']).code).toBe(0);
    expect(taskforge(['read', '/b', '-o', 'kept', '--recursive']).code).toBe(0);
    expect(existsSync(join(cwd, 'kept', 'empty.txt'))).toBe(true);
    const deleting = outcomes(taskforge(['write', '/b', '--file', 'src', '--recursive', '--json', '--delete']));
    expect(deleting.summary).toMatchObject({ deleted: 1, stored: 0 });
    expect(deleting.lines).toContainEqual(expect.objectContaining({ path: 'empty.txt', action: 'deleted' }));
    expect(taskforge(['read', '/b/empty.txt'])).toMatchObject({ code: 1, stderr: expect.stringContaining('NOT_FOUND') as unknown });
    expect(taskforge(['read', '/b', '-o', 'after-delete', '--recursive']).code).toBe(0);
    expect(existsSync(join(cwd, 'after-delete', 'empty.txt'))).toBe(false);
    expect(snapshot(join(cwd, 'after-delete'))).toEqual(snapshot(join(cwd, 'src'), (path) => path === 'a-fifo'));
  });

  it('small files go into packs, large ones are objects of their own; a pack no file uses any more is removed once the index no longer names it', () => {
    mkdirSync(join(cwd, 'src', 'sub'), { recursive: true });
    writeFileSync(join(cwd, 'src', 'a.txt'), 'a\n');
    writeFileSync(join(cwd, 'src', 'sub', 'b.txt'), 'b\n');
    writeFileSync(join(cwd, 'src', 'large.bin'), Buffer.alloc(1024 * 1024 + 1, 7));
    expect(taskforge(['write', '/p', '--file', 'src', '--recursive']).code).toBe(0);
    const storage = join(cwd, 'taskforge-data', 'p');
    const firstPacks = packs(storage);
    expect(firstPacks).toHaveLength(1);
    // The large file is an object at its path; the small ones are only in the pack (one create and one fsync for both).
    expect(statSync(join(storage, 'large.bin')).size).toBe(1024 * 1024 + 1);
    expect(existsSync(join(storage, 'a.txt'))).toBe(false);
    expect(taskforge(['read', '/p/sub/b.txt']).stdout).toBe('b\n');
    // Both small files change: their new pack replaces the old one, which no entry names any more.
    writeFileSync(join(cwd, 'src', 'a.txt'), 'a2\n');
    writeFileSync(join(cwd, 'src', 'sub', 'b.txt'), 'b2\n');
    expect(outcomes(taskforge(['write', '/p', '--file', 'src', '--recursive', '--json'])).summary).toMatchObject({ stored: 2, unchanged: 1 });
    const secondPacks = packs(storage);
    expect(secondPacks).toHaveLength(1);
    expect(secondPacks).not.toEqual(firstPacks);
    expect(taskforge(['read', '/p/a.txt']).stdout).toBe('a2\n');
    // A pack gone (removed by hand): its files are stored again by the next run, not taken as unchanged.
    rmSync(join(storage, secondPacks[0] ?? ''));
    expect(taskforge(['read', '/p/a.txt'])).toMatchObject({ code: 1, stderr: expect.stringContaining('NOT_FOUND') as unknown });
    expect(outcomes(taskforge(['write', '/p', '--file', 'src', '--recursive', '--json'])).summary).toMatchObject({ stored: 2, unchanged: 1 });
    expect(taskforge(['read', '/p/sub/b.txt']).stdout).toBe('b2\n');
  });

  it('--compress --encrypt: no plaintext of any file or name in storage, the index included; restore needs the key', () => {
    makeTree(join(cwd, 'src'));
    const env = { TASKFORGE_ENCRYPTION_KEY: KEY };
    expect(taskforge(['write', '/secret', '--file', 'src', '--recursive', '--compress', '--encrypt'], env).code).toBe(0);
    const storedFiles = readdirSync(join(cwd, 'taskforge-data'), { recursive: true, withFileTypes: true }).filter((entry) => entry.isFile());
    for (const entry of storedFiles) {
      const bytes = readFileSync(join(entry.parentPath, entry.name));
      expect(bytes.includes('read me'), entry.name).toBe(false);
      expect(bytes.includes('file with spaces'), entry.name).toBe(false);
    }
    expect(readFileSync(join(cwd, 'taskforge-data', 'secret', '.taskforge-tree')).subarray(0, 4)).toEqual(Buffer.from([0x89, 0x54, 0x46, 0x43]));
    const withoutKey = taskforge(['read', '/secret', '-o', 'out', '--recursive']);
    expect(withoutKey.code).toBe(2);
    expect(withoutKey.stderr).toContain('KEY_NOT_FOUND');
    const withKey = taskforge(['read', '/secret', '-o', 'out', '--recursive', '--encrypted'], env);
    expect(withKey.stderr).toBe('');
    expect(snapshot(join(cwd, 'out'))).toEqual(snapshot(join(cwd, 'src'), (path) => path === 'a-fifo'));
    // --encrypt without a key is refused before anything is stored.
    const noKey = taskforge(['write', '/other', '--file', 'src', '--recursive', '--encrypt']);
    expect(noKey.code).toBe(2);
    expect(existsSync(join(cwd, 'taskforge-data', 'other'))).toBe(false);
    // The encrypted tree stored again without --encrypt: refused before any file is stored, exit 2 as every such refusal.
    const plainAgain = taskforge(['write', '/secret', '--file', 'src', '--recursive'], env);
    expect(plainAgain).toMatchObject({ code: 2, stdout: '', stderr: expect.stringMatching(/^taskforge: ENCRYPTION_REQUIRED: /) as string });
  });

  it('a file that changes while it is read is reported (SOURCE_CHANGED), not stored torn; the rest are stored', async () => {
    mkdirSync(join(cwd, 'src'));
    writeFileSync(join(cwd, 'src', 'calm.txt'), 'calm');
    const busy = join(cwd, 'src', 'busy.log');
    writeFileSync(busy, Buffer.alloc(32 * 1024 * 1024, 1));
    // Something keeps appending to busy.log while the tree is stored.
    const appending = setInterval(() => { appendFileSync(busy, 'x'.repeat(100)); }, 1);
    let ran: Ran;
    try {
      ran = await startBin(cwd, ['write', '/t', '--file', 'src', '--recursive', '--json']).exited;
    } finally {
      clearInterval(appending);
    }
    expect(ran.code).toBe(1);
    const { lines, summary } = outcomes(ran);
    expect(lines).toContainEqual(expect.objectContaining({ path: 'busy.log', action: 'failed', error: expect.objectContaining({ code: 'SOURCE_CHANGED' }) as unknown }));
    expect(summary).toMatchObject({ stored: 1, failed: 1 });
    expect(existsSync(join(cwd, 'taskforge-data', 't', 'busy.log'))).toBe(false);
    expect(readdirSync(join(cwd, 'taskforge-data', 't')).filter((name) => name.startsWith('.taskforge-tmp'))).toEqual([]);
  }, 60_000);

  it('Ctrl-C stops cleanly (no temporary file, a summary of what was stored); the same command again stores the rest and skips what was stored', async () => {
    const source = join(cwd, 'src');
    for (let folder = 0; folder < 30; folder += 1) {
      mkdirSync(join(source, `f${String(folder)}`), { recursive: true });
      // 16 KB each: 48 MB in a dozen packs, so that the run is stopped with packs written and packs to come.
      for (let file = 0; file < 100; file += 1) writeFileSync(join(source, `f${String(folder)}`, `${String(file)}.txt`), `file ${String(folder)}/${String(file)}\n`.repeat(1600).slice(0, 16_000));
    }
    const storage = join(cwd, 'taskforge-data', 'big');
    const writer = startBin(cwd, ['write', '/big', '--file', 'src', '--recursive', '--json']);
    await until(() => writer.output.stdout.split('"action":"stored"').length > 200);
    writer.child.kill('SIGINT');
    const { code, stdout, stderr } = await writer.exited;
    expect(code).toBe(1);
    expect(stderr).toMatch(/taskforge: interrupted by SIGINT: \d+ files were stored whole, none half; the same command again does the rest\n$/);
    const first = Number(outcomes({ code, stdout, stderr }).summary['stored']);
    expect(first).toBeGreaterThanOrEqual(200);
    expect(first).toBeLessThan(3000);
    const leftovers = readdirSync(storage, { recursive: true }).filter((name) => String(name).includes('.taskforge-tmp'));
    expect(leftovers).toEqual([]);
    const again = outcomes(taskforge(['write', '/big', '--file', 'src', '--recursive', '--json']));
    expect(again.summary).toMatchObject({ files: 3000, failed: 0, interrupted: false });
    // What the first run stored (its index was saved as it stopped) is not stored again.
    expect(again.summary['unchanged']).toBeGreaterThanOrEqual(first);
    expect(Number(again.summary['stored']) + Number(again.summary['unchanged'])).toBe(3000);
    // A restore stopped the same way leaves no half file, and the same command again finishes it.
    const out = join(cwd, 'out');
    const restoredCount = (): number => (existsSync(out) ? readdirSync(out, { recursive: true }).filter((name) => String(name).endsWith('.txt')).length : 0);
    const reader = startBin(cwd, ['read', '/big', '-o', 'out', '--recursive', '--concurrency', '2']);
    await until(() => restoredCount() >= 200);
    reader.child.kill('SIGINT');
    const stopped = await reader.exited;
    expect(stopped.code).toBe(1);
    expect(stopped.stderr).toMatch(/files were restored whole, none half/);
    expect(readdirSync(out, { recursive: true }).filter((name) => String(name).includes('.taskforge-tmp'))).toEqual([]);
    const finished = outcomes(taskforge(['read', '/big', '-o', 'out', '--recursive', '--json']));
    expect(finished.summary).toMatchObject({ files: 3000, failed: 0, interrupted: false });
    expect(finished.summary['unchanged']).toBeGreaterThanOrEqual(200);
    expect(snapshot(out)).toEqual(snapshot(source));
  }, 120_000);

  it('a restore whose file cannot be written whole (the file-size limit) fails that file, leaves no part of it and no temporary file, and keeps the old content of a file it was replacing', () => {
    mkdirSync(join(cwd, 'src', 'sub'), { recursive: true });
    writeFileSync(join(cwd, 'src', 'small.txt'), 'small\n');
    writeFileSync(join(cwd, 'src', 'sub', 'packed.bin'), Buffer.alloc(100_000, 3));
    writeFileSync(join(cwd, 'src', 'own.bin'), Buffer.alloc(2 * 1024 * 1024, 4));
    expect(taskforge(['write', '/t', '--file', 'src', '--recursive']).code).toBe(0);
    // Files past 40 KiB fail with EFBIG (Node ignores SIGXFSZ) after the first 40 KiB are written.
    const limited = (out: string): Ran => {
      const ran = spawnSync('bash', ['-c', 'ulimit -f 40; exec "$0" "$@"', process.execPath, BIN, 'read', '/t', '-o', out, '--recursive', '--json'], { cwd, env: cleanEnv(), encoding: 'utf8', timeout: 60_000 });
      return { code: ran.status, stdout: ran.stdout, stderr: ran.stderr };
    };
    const everyName = (root: string): string[] => readdirSync(root, { recursive: true }).map(String).sort();
    // Into a fresh folder (files written in place).
    const fresh = limited('fresh');
    expect(fresh.code).toBe(1);
    expect(outcomes(fresh).summary).toMatchObject({ files: 3, stored: 1, failed: 2 });
    expect(outcomes(fresh).lines.filter((line) => line['action'] === 'failed').map((line) => [line['path'], (line['error'] as { code: string }).code, (line['error'] as { message: string }).message]).sort()).toEqual([
      ['own.bin', 'NO_SPACE', "restore of '/t/own.bin' failed: EFBIG: file too large, write"],
      ['sub/packed.bin', 'NO_SPACE', "restore of '/t/sub/packed.bin' failed: EFBIG: file too large, write"],
    ]);
    expect(everyName(join(cwd, 'fresh'))).toEqual(['small.txt', 'sub']);
    expect(readFileSync(join(cwd, 'fresh', 'small.txt'), 'utf8')).toBe('small\n');
    // Over an older restore (files written beside and renamed): the old files stay whole.
    mkdirSync(join(cwd, 'over', 'sub'), { recursive: true });
    writeFileSync(join(cwd, 'over', 'own.bin'), 'old own\n');
    writeFileSync(join(cwd, 'over', 'sub', 'packed.bin'), 'old packed\n');
    const over = limited('over');
    expect(over.code).toBe(1);
    expect(outcomes(over).summary).toMatchObject({ files: 3, stored: 1, failed: 2 });
    expect(everyName(join(cwd, 'over'))).toEqual(['own.bin', 'small.txt', 'sub', 'sub/packed.bin']);
    expect(readFileSync(join(cwd, 'over', 'own.bin'), 'utf8')).toBe('old own\n');
    expect(readFileSync(join(cwd, 'over', 'sub', 'packed.bin'), 'utf8')).toBe('old packed\n');
    // Without the limit, the same command puts the rest in place.
    expect(outcomes(taskforge(['read', '/t', '-o', 'fresh', '--recursive', '--json'])).summary).toMatchObject({ stored: 2, unchanged: 1, failed: 0 });
    expect(snapshot(join(cwd, 'fresh'))).toEqual(snapshot(join(cwd, 'src')));
  });

  it('a restore over what is in the way fails those entries and finishes the rest with its summary; a destination that is a file is refused, exit 2', () => {
    makeTree(join(cwd, 'src'));
    expect(taskforge(['write', '/t', '--file', 'src', '--recursive']).code).toBe(0);
    mkdirSync(join(cwd, 'out'));
    // A file where a folder belongs, a folder where a file belongs, a folder where a link belongs.
    writeFileSync(join(cwd, 'out', 'docs'), 'in the way\n');
    mkdirSync(join(cwd, 'out', 'empty.txt'));
    mkdirSync(join(cwd, 'out', 'link-outside'));
    const ran = taskforge(['read', '/t', '-o', 'out', '--recursive', '--json']);
    expect(ran.code).toBe(1);
    const { lines, summary } = outcomes(ran);
    const failed = Object.fromEntries(lines.filter((line) => line['action'] === 'failed').map((line): [string, string] => [String(line['path']), (line['error'] as { code: string }).code]));
    expect(failed).toEqual({
      docs: 'NOT_A_DIRECTORY',
      'docs/readme.txt': 'NOT_A_DIRECTORY',
      'docs/deep/deeper/data.bin': 'NOT_A_DIRECTORY',
      'docs/link-inside': 'NOT_A_DIRECTORY',
      'empty.txt': 'IS_A_DIRECTORY',
      'link-outside': 'IS_A_DIRECTORY',
    });
    expect(summary).toMatchObject({ interrupted: false });
    // What was not in the way is restored: files, the empty folder with its mode, nothing removed.
    expect(readFileSync(join(cwd, 'out', 'naïve ünïcode', 'file with spaces.md'), 'utf8')).toBe('# ünïcode\n');
    expect(statSync(join(cwd, 'out', 'empty folder')).mode & 0o7777).toBe(0o750);
    expect(readFileSync(join(cwd, 'out', 'docs'), 'utf8')).toBe('in the way\n');
    // The folder in a file's place is said plainly, before anything is written out for it.
    expect(lines.find((line) => line['path'] === 'empty.txt')?.['error']).toEqual({ code: 'IS_A_DIRECTORY', message: `restore of '/t/empty.txt' failed: a folder is in its place at '${join(cwd, 'out', 'empty.txt')}' (a restore removes no folder)` });
    expect(readdirSync(join(cwd, 'out')).filter((name) => name.startsWith('.taskforge-'))).toEqual([]);
    // A link of the tree is no folder to restore: it comes back with its folder.
    expect(taskforge(['read', '/t/docs/link-inside', '-o', 'one-link', '--recursive'])).toMatchObject({ code: 1, stderr: "taskforge: NOT_A_DIRECTORY: restore of '/t/docs/link-inside' failed: it is a link of the tree, not a folder (restore the folder it is in)\n" });
    // A destination that is a file: nothing to restore into, said with its name, exit 2.
    writeFileSync(join(cwd, 'a-file'), 'x');
    expect(taskforge(['read', '/t', '-o', 'a-file', '--recursive'])).toMatchObject({ code: 2, stdout: '', stderr: 'taskforge: NOT_A_DIRECTORY: -o a-file is a file: a tree is restored into a folder (one that is missing is made); nothing was written\n' });
  });

  it('Ctrl-C while the tree is still being looked up (storage that does not answer) ends with the summary of nothing done, exit 1', async () => {
    // An S3 endpoint that takes connections and never answers: the restore waits on its first request.
    const sockets: Socket[] = [];
    const silent = createServer((socket) => sockets.push(socket));
    await new Promise<void>((resolve) => silent.listen(0, '127.0.0.1', resolve));
    const { port } = silent.address() as AddressInfo;
    try {
      const reader = startBin(cwd, ['read', '/t', '-o', 'out', '--recursive', '--json'], {
        TASKFORGE_STORAGE: `s3://bucket?endpoint=http://127.0.0.1:${String(port)}&region=us-east-1`,
        AWS_ACCESS_KEY_ID: 'x',
        AWS_SECRET_ACCESS_KEY: 'y',
        AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED: 'true',
      });
      await until(() => sockets.length > 0);
      reader.child.kill('SIGINT');
      const { code, stdout, stderr } = await reader.exited;
      expect(code).toBe(1);
      expect(JSON.parse(stdout.trim())).toMatchObject({ summary: { files: 0, stored: 0, failed: 0, interrupted: true } });
      expect(stderr).toBe('taskforge: interrupted by SIGINT: 0 files were restored whole, none half; the same command again does the rest\n');
      expect(existsSync(join(cwd, 'out'))).toBe(false);
    } finally {
      for (const socket of sockets) socket.destroy();
      silent.close();
    }
  }, 30_000);

  it('a name that is not UTF-8 (a file, or a folder and all in it) fails the run with a line saying why; the rest is stored', () => {
    mkdirSync(join(cwd, 'src'));
    writeFileSync(join(cwd, 'src', 'fine.txt'), 'fine\n');
    const raw = (name: number[]): Buffer => Buffer.concat([Buffer.from(`${join(cwd, 'src')}/`), Buffer.from(name)]);
    writeFileSync(raw([0x62, 0x61, 0x64, 0xff]), 'bad name\n');
    mkdirSync(raw([0x64, 0xfe]));
    writeFileSync(Buffer.concat([raw([0x64, 0xfe]), Buffer.from('/inside.txt')]), 'in a bad folder\n');
    const ran = taskforge(['write', '/u', '--file', 'src', '--recursive', '--json']);
    expect(ran.code).toBe(1);
    const { lines, summary } = outcomes(ran);
    expect(lines.filter((line) => line['action'] === 'failed').map((line) => (line['error'] as { code: string; message: string }).code)).toEqual(['SOURCE_ERROR', 'SOURCE_ERROR']);
    expect((lines.find((line) => line['action'] === 'failed')?.['error'] as { message: string }).message).toMatch(/cannot be stored: its name is not valid UTF-8/);
    expect(summary).toMatchObject({ stored: 1, failed: 2 });
    expect(taskforge(['read', '/u/fine.txt']).stdout).toBe('fine\n');
  });

  it('holds open at most a few descriptors per file being stored or restored, however many files the tree has', async () => {
    const source = join(cwd, 'many');
    for (let folder = 0; folder < 20; folder += 1) {
      mkdirSync(join(source, `f${String(folder)}`), { recursive: true });
      for (let file = 0; file < 150; file += 1) writeFileSync(join(source, `f${String(folder)}`, `${String(file)}.txt`), `file ${String(folder)}/${String(file)}\n`);
    }
    /**
     * Runs the bin with --json and samples how many descriptors it holds, every few milliseconds, from its first
     * file's line (once it is loaded: Node's module loader opens a hundred files at once at start-up) until it exits.
     */
    const peakDescriptors = async (args: readonly string[]): Promise<{ peak: number; samples: number; ran: Ran }> => {
      const running = startBin(cwd, [...args, '--json']);
      let peak = 0;
      let samples = 0;
      const ended = { yes: false };
      void running.exited.then(() => (ended.yes = true));
      while (!ended.yes) {
        if (running.output.stdout.length > 0) {
          try {
            peak = Math.max(peak, readdirSync(`/proc/${String(running.child.pid)}/fd`).length);
            samples += 1;
          } catch {
            // Between its exit and our noticing it.
          }
        }
        await new Promise((resolve) => setTimeout(resolve, 2));
      }
      return { peak, samples, ran: await running.exited };
    };
    const stored = await peakDescriptors(['write', '/many', '--file', 'many', '--recursive', '--compress', '--concurrency', '4']);
    expect(stored.ran.code).toBe(0);
    expect(outcomes(stored.ran).summary).toMatchObject({ files: 3000, stored: 3000, failed: 0 });
    const restored = await peakDescriptors(['read', '/many', '-o', 'many-out', '--recursive', '--concurrency', '4']);
    expect(restored.ran.code).toBe(0);
    expect(outcomes(restored.ran).summary).toMatchObject({ files: 3000, stored: 3000, failed: 0 });
    // Node's own (stdio, the event loop, its thread pool) are about 25; 4 files at a time add a few each.
    // Opening every file of the tree at once would be 3,000.
    expect(stored.samples).toBeGreaterThan(10);
    expect(restored.samples).toBeGreaterThan(10);
    expect(stored.peak).toBeLessThan(60);
    expect(restored.peak).toBeLessThan(60);
  }, 60_000);

  it('refuses what makes no sense before doing anything: exit 2', () => {
    writeFileSync(join(cwd, 'plain.txt'), 'x');
    expect(taskforge(['write', '/x', '--file', 'plain.txt', '--recursive'])).toMatchObject({ code: 2, stderr: expect.stringContaining('is not a directory') as string });
    expect(taskforge(['write', '/x', '--file', 'nowhere', '--recursive'])).toMatchObject({ code: 2, stderr: expect.stringMatching(/--file: cannot read the directory 'nowhere' \(\/.*\/nowhere\): no such file or directory \(ENOENT\)/) as string });
    expect(taskforge(['write', '/x', '--data', 'x', '--recursive'])).toMatchObject({ code: 2 });
    expect(taskforge(['write', '/x', '--file', 'plain.txt', '--delete'])).toMatchObject({ code: 2, stderr: expect.stringContaining('--delete needs --recursive') as string });
    expect(taskforge(['read', '/x', '--recursive'])).toMatchObject({ code: 2, stderr: expect.stringContaining('-o DIR') as string });
    mkdirSync(join(cwd, 'tree'));
    expect(taskforge(['write', '/x', '--file', 'tree', '--recursive', '--no-overwrite'])).toMatchObject({ code: 2, stderr: expect.stringContaining('--no-overwrite does not apply to --recursive') as string });
    expect(taskforge(['write', '/x', '--file', 'tree', '--recursive', '--concurrency', '0'])).toMatchObject({ code: 2, stderr: expect.stringContaining('--concurrency: expected 1 to 256 (got 0)') as string });
    expect(taskforge(['read', '/x', '-o', 'out', '--recursive', '--max-bytes', '10'])).toMatchObject({ code: 2, stderr: expect.stringContaining('--max-bytes does not apply to --recursive') as string });
    // None of these stored or restored anything.
    expect(existsSync(join(cwd, 'taskforge-data', 'x'))).toBe(false);
    expect(existsSync(join(cwd, 'out'))).toBe(false);
    expect(taskforge(['read', '/nothing-here', '-o', 'out', '--recursive'])).toMatchObject({ code: 1, stderr: expect.stringContaining('NOT_FOUND') as string });
    mkdirSync(join(cwd, 'dir'));
    expect(taskforge(['write', '/../x', '--file', 'dir', '--recursive'])).toMatchObject({ code: 2, stderr: expect.stringContaining('PATH_OUTSIDE_ROOT') as string });
    // A tree stored where a file is: said of the path given, not of the index file under it; nothing stored.
    expect(taskforge(['write', '/plain.txt', '--data', 'x']).code).toBe(0);
    expect(taskforge(['write', '/plain.txt', '--file', 'dir', '--recursive'])).toEqual({ code: 2, stdout: '', stderr: "taskforge: NOT_A_DIRECTORY: '/plain.txt' (or a folder above it) is a file: a tree is stored under a folder, and read from one\n" });
  });
});

describe('a folder the store cannot list', () => {
  /** Runs the bin as a user without privileges (root reads every folder): as nobody through setpriv when this is root. */
  function unprivileged(dir: string, args: readonly string[]): Ran {
    const asRoot = process.getuid?.() === 0;
    const command = asRoot ? ['setpriv', '--reuid=65534', '--regid=65534', '--clear-groups', process.execPath, BIN, ...args] : [process.execPath, BIN, ...args];
    const ran = spawnSync(command[0] ?? '', command.slice(1), { cwd: dir, env: cleanEnv(), encoding: 'utf8', timeout: 60_000 });
    return { code: ran.status, stdout: ran.stdout, stderr: ran.stderr };
  }
  const canDropPrivileges = process.getuid?.() !== 0 || spawnSync('setpriv', ['--version']).status === 0;

  it.runIf(canDropPrivileges)('fails the run (exit 1), and --delete keeps what is stored of it: a folder that cannot be read is not a folder that is gone', () => {
    // A folder every user can reach, outside the case folders (which only their owner may enter).
    const dir = mkdtempSync(join(tmpdir(), 'tf-unlistable-'));
    try {
      chmodSync(dir, 0o777);
      mkdirSync(join(dir, 'src', 'locked'), { recursive: true, mode: 0o777 });
      chmodSync(join(dir, 'src'), 0o777);
      chmodSync(join(dir, 'src', 'locked'), 0o777);
      writeFileSync(join(dir, 'src', 'open.txt'), 'open');
      writeFileSync(join(dir, 'src', 'locked', 'kept.txt'), 'kept');
      chmodSync(join(dir, 'src', 'open.txt'), 0o666);
      chmodSync(join(dir, 'src', 'locked', 'kept.txt'), 0o666);
      expect(unprivileged(dir, ['write', '/b', '--file', 'src', '--recursive', '--root', 'store'])).toMatchObject({ code: 0 });
      // Now nobody but its owner may list it (root, when the run is nobody's; the run's own user cannot list 0o000 either).
      chmodSync(join(dir, 'src', 'locked'), 0o000);
      const again = unprivileged(dir, ['write', '/b', '--file', 'src', '--recursive', '--root', 'store', '--delete', '--json']);
      chmodSync(join(dir, 'src', 'locked'), 0o777);
      expect(again.code, again.stderr).toBe(1);
      const { lines, summary } = outcomes(again);
      expect(lines.find((line) => line['path'] === 'locked')).toMatchObject({ action: 'failed', error: { code: 'PERMISSION_DENIED', message: expect.stringContaining('cannot be listed (EACCES)') as string } });
      expect(summary).toMatchObject({ failed: 1, deleted: 0 });
      // What was stored of it is still there, and restores.
      const restored = unprivileged(dir, ['read', '/b', '-o', 'out', '--recursive', '--root', 'store']);
      expect(restored.code, restored.stderr).toBe(0);
      expect(readFileSync(join(dir, 'out', 'locked', 'kept.txt'), 'utf8')).toBe('kept');
    } finally {
      chmodSync(join(dir, 'src', 'locked'), 0o777);
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
