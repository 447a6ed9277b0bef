import { spawnSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { existsSync, mkdirSync, readdirSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { beforeEach, describe, expect, it } from 'vitest';
import { BIN, runBin, startBin, until, type RunningBin } from '../helpers/bin.js';
import { useCaseDirectories } from '../helpers/case-dirs.js';

const caseDirectory = useCaseDirectories('cli-interrupt-');
let cwd = '';
beforeEach(() => {
  cwd = caseDirectory();
});

const root = (): string => join(cwd, 'taskforge-data');

/** Every file under `directory` whose name matches, at any depth. */
function filesMatching(directory: string, pattern: RegExp): string[] {
  if (!existsSync(directory)) return [];
  return readdirSync(directory, { recursive: true, encoding: 'utf8' }).filter((name) => pattern.test(name.split('/').at(-1) ?? ''));
}

const TEMPORARY = /^\.taskforge-tmp-/;
const PART = /^\.out\.bin\..*\.part$/;

/**
 * Sends `signal` while the command is surely mid-way: once `begun` holds,
 * the process is frozen (SIGSTOP), signalled, and let go (SIGCONT), so the
 * signal lands before the work could finish however fast the disk is.
 */
async function interruptMidWay(running: RunningBin, begun: () => boolean, signal: NodeJS.Signals): Promise<void> {
  await until(() => begun() || running.child.exitCode !== null);
  expect(running.child.exitCode, running.output.stderr).toBeNull();
  running.child.kill('SIGSTOP');
  running.child.kill(signal);
  running.child.kill('SIGCONT');
}

describe('Ctrl-C and SIGTERM remove what the interrupted command made', () => {
  it('write from stdin, SIGINT: exit 1, nothing stored, no temporary file, and it says so', async () => {
    const running = startBin(cwd, ['write', '/big.bin']);
    running.child.stdin.write(randomBytes(4 * 1024 * 1024));
    await interruptMidWay(running, () => filesMatching(root(), TEMPORARY).length > 0, 'SIGINT');
    const ran = await running.exited;
    expect(ran.code).toBe(1);
    expect(ran.stderr).toBe('taskforge: interrupted by SIGINT: nothing was stored at /big.bin (what was there before is unchanged; the partial copy is removed)\n');
    expect(readdirSync(root())).toEqual([]);
  });

  it('write --file of 96 MiB over an existing object, SIGTERM: the old object stays, no temporary file', async () => {
    expect(runBin(cwd, ['write', '/big.bin', '--data', 'the old one']).code).toBe(0);
    writeFileSync(join(cwd, 'big'), randomBytes(96 * 1024 * 1024));
    const running = startBin(cwd, ['write', '/big.bin', '--file', 'big', '--compress', '--encrypt'], { TASKFORGE_ENCRYPTION_KEY: Buffer.alloc(32, 1).toString('base64') });
    await interruptMidWay(running, () => filesMatching(root(), TEMPORARY).length > 0, 'SIGTERM');
    const ran = await running.exited;
    expect(ran).toMatchObject({ code: 1, stdout: '', stderr: expect.stringContaining('interrupted by SIGTERM: nothing was stored at /big.bin') as string });
    expect(filesMatching(root(), TEMPORARY)).toEqual([]);
    expect(runBin(cwd, ['read', '/big.bin']).stdout).toBe('the old one');
  });

  it('read -o, SIGINT: no .part file is left in the folder, and an existing output file is unchanged', async () => {
    writeFileSync(join(cwd, 'big'), randomBytes(96 * 1024 * 1024));
    expect(runBin(cwd, ['write', '/big.bin', '--file', 'big']).code).toBe(0);
    const interrupted = async (): Promise<string> => {
      const running = startBin(cwd, ['read', '/big.bin', '-o', 'out.bin']);
      await interruptMidWay(running, () => filesMatching(cwd, PART).length > 0, 'SIGINT');
      const ran = await running.exited;
      expect(ran.code).toBe(1);
      expect(filesMatching(cwd, PART)).toEqual([]);
      return ran.stderr;
    };
    expect(await interrupted()).toBe('taskforge: interrupted by SIGINT: out.bin was not written (the partial copy is removed)\n');
    expect(existsSync(join(cwd, 'out.bin'))).toBe(false);
    writeFileSync(join(cwd, 'out.bin'), 'mine');
    expect(await interrupted()).toBe('taskforge: interrupted by SIGINT: out.bin was not written (the partial copy is removed; the out.bin already there is unchanged)\n');
    expect(readFileSync(join(cwd, 'out.bin'), 'utf8')).toBe('mine');
  });
});

describe('a reader that stops reading (| head)', () => {
  /** Runs `taskforge ARGS | head -c 10` and gives taskforge's exit code and stderr. */
  function piped(args: string): { code: number; stderr: string } {
    const ran = spawnSync('bash', ['--norc', '--noprofile', '-c', `"${process.execPath}" "${BIN}" ${args} 2>err.txt | head -c 10 >/dev/null; echo \${PIPESTATUS[0]}`], { cwd, env: { PATH: process.env['PATH'] }, encoding: 'utf8' });
    return { code: Number(ran.stdout.trim()), stderr: readFileSync(join(cwd, 'err.txt'), 'utf8') };
  }

  it('read and ls stop quietly with exit 0; run cancels what waits, says why, exits 1, and leaves no temporary file', () => {
    writeFileSync(join(cwd, 'big'), randomBytes(8 * 1024 * 1024));
    expect(runBin(cwd, ['write', '/big.bin', '--file', 'big']).code).toBe(0);
    expect(piped('read /big.bin')).toEqual({ code: 0, stderr: '' });
    expect(piped('read /big.bin --json')).toEqual({ code: 0, stderr: '' });
    const batch = Array.from({ length: 2000 }, (_, index) => JSON.stringify({ type: 'storage', metadata: { operation: 'write', path: `/many/${String(index)}`, data: 'x' } }));
    writeFileSync(join(cwd, 'batch.ndjson'), batch.join('\n'));
    expect(piped('ls / --recursive')).toEqual({ code: 0, stderr: '' });
    const run = piped('run batch.ndjson --json --concurrency 2');
    expect(run).toEqual({ code: 1, stderr: 'taskforge: the output was closed; waiting tasks are cancelled, running ones get 10 s to finish (Ctrl-C to stop at once)\n' });
    expect(filesMatching(root(), TEMPORARY)).toEqual([]);
  });
});

describe('taskforge sweep', () => {
  it("removes a killed writer's temporary file at once, keeps a running writer's, and says what it did", async () => {
    // A writer killed outright (SIGKILL: no cleanup can run) leaves its temporary file.
    const killed = startBin(cwd, ['write', '/killed.bin']);
    killed.child.stdin.write(Buffer.alloc(1024 * 1024, 1));
    await until(() => filesMatching(root(), TEMPORARY).some((name) => statSync(join(root(), name)).size === 1024 * 1024));
    killed.child.kill('SIGKILL');
    await killed.exited;
    expect(filesMatching(root(), TEMPORARY)).toHaveLength(1);
    // A writer still running, waiting for the rest of its data.
    const live = startBin(cwd, ['write', '/live.bin']);
    live.child.stdin.write('first half, ');
    await until(() => filesMatching(root(), TEMPORARY).length > 1);

    const swept = runBin(cwd, ['sweep']);
    expect(swept).toMatchObject({ code: 0, stderr: '' });
    expect(swept.stdout).toBe(`removed 1 temporary file and 0 orphaned metadata files (1.0 MiB) from ${root()}; kept 1 temporary file a running write may still need\n`);
    expect(filesMatching(root(), TEMPORARY)).toHaveLength(1);
    live.child.stdin.end('second half');
    expect((await live.exited).code).toBe(0);
    expect(runBin(cwd, ['read', '/live.bin']).stdout).toBe('first half, second half');
    expect(JSON.parse(runBin(cwd, ['sweep', '--json']).stdout)).toEqual({ root: root(), temporaryFiles: 0, orphanedMetadata: 0, bytesFreed: 0, kept: 0 });
  });

  it('a file no writer can be traced to goes only once older than --older-than; S3 and bad input are usage errors', () => {
    mkdirSync(root());
    writeFileSync(join(root(), '.taskforge-tmp-0123456789abcdef'), 'from another machine');
    expect(runBin(cwd, ['sweep', '--json']).stdout).toContain('"temporaryFiles":0');
    expect(runBin(cwd, ['sweep', '--older-than', '0', '--json']).stdout).toContain('"temporaryFiles":1');
    const onS3 = runBin(cwd, ['sweep'], { env: { TASKFORGE_STORAGE: 's3://bucket/prefix?endpoint=http://127.0.0.1:9' } });
    expect(onS3).toMatchObject({ code: 2, stderr: expect.stringContaining('taskforge: sweep cleans a filesystem store; s3:bucket/prefix/ keeps no temporary files') as string });
    expect(runBin(cwd, ['sweep', '--older-than', '-1'])).toMatchObject({ code: 2, stderr: expect.stringContaining("expected 0 or more (got '-1')") as string });
  });
});
