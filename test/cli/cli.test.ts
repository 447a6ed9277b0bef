import { spawn, spawnSync } from 'node:child_process';
import { appendFileSync, existsSync, mkdirSync, readdirSync, readFileSync, symlinkSync, writeFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { makeTempDir } from '../helpers/temp-dir.js';

/** The real bin, as npm installs it (`bin.taskforge` in package.json), built by `npm run build`. */
const BIN = resolve('dist/src/cli/bin.js');
const KEY = Buffer.alloc(32, 7).toString('base64');

let base = '';
let removeBase: () => Promise<void> = () => Promise.resolve();
let cwd = '';
let round = 0;

beforeAll(async () => {
  const packageJson = JSON.parse(readFileSync('package.json', 'utf8')) as { bin: Record<string, string> };
  expect(resolve(packageJson.bin['taskforge'] ?? '')).toBe(BIN);
  if (!existsSync(BIN)) throw new Error(`${BIN} is missing: run npm run build first (npm test does)`);
  ({ path: base, remove: removeBase } = await makeTempDir('cli-'));
});
afterAll(() => removeBase());
beforeEach(() => {
  round += 1;
  cwd = join(base, `case-${String(round)}`);
  mkdirSync(cwd);
});

interface Ran {
  readonly code: number | null;
  readonly stdout: string;
  readonly stderr: string;
}

/** Runs `taskforge ARGS` in the case's directory, with a clean environment plus `env`. */
function taskforge(args: readonly string[], options: { input?: string | Buffer; env?: Record<string, string> } = {}): Ran {
  const env: NodeJS.ProcessEnv = { PATH: process.env['PATH'], HOME: process.env['HOME'], ...options.env };
  const ran = spawnSync(process.execPath, [BIN, ...args], { cwd, env, input: options.input ?? '', encoding: 'utf8', timeout: 60_000 });
  return { code: ran.status, stdout: ran.stdout, stderr: ran.stderr };
}

function stored(path: string, root = join(cwd, 'taskforge-data')): Buffer {
  return readFileSync(join(root, path));
}

describe('taskforge --help', () => {
  it.each(['write', 'read', 'ls', 'rm', 'run', 'worker', 'cancel', 'keygen'])('%s --help explains the command with an example, exit 0', (command) => {
    const ran = taskforge([command, '--help']);
    expect(ran.code).toBe(0);
    expect(ran.stdout).toContain(`Usage: taskforge ${command}`);
    expect(ran.stdout).toMatch(/Examples?:\n {2}\$ taskforge /);
  });

  it('the top-level help lists every command and the exit codes', () => {
    const ran = taskforge(['--help']);
    expect(ran.code).toBe(0);
    for (const command of ['write', 'read', 'ls', 'rm', 'run', 'worker', 'cancel', 'keygen']) expect(ran.stdout).toContain(`  ${command} `);
    expect(ran.stdout).toContain('Exit codes: 0 every task succeeded, 1 a task failed, 2 a usage or config error.');
  });

  it('an unknown command or option is a usage error: exit 2, message on stderr', () => {
    const unknown = taskforge(['frob']);
    expect(unknown.code).toBe(2);
    expect(unknown.stderr).toMatch(/^taskforge: unknown command 'frob'/);
    const option = taskforge(['ls', '--frobnicate']);
    expect(option.code).toBe(2);
    expect(option.stderr).toMatch(/^taskforge: unknown option '--frobnicate'/);
  });
});

describe('taskforge write / read', () => {
  it('writes --data under ./taskforge-data by default and reads it back to stdout', () => {
    const wrote = taskforge(['write', '/notes/a.txt', '--data', 'hello there']);
    expect(wrote).toMatchObject({ code: 0, stdout: 'wrote /notes/a.txt (11 B stored)\n', stderr: '' });
    expect(stored('notes/a.txt').toString()).toBe('hello there');
    expect(taskforge(['read', '/notes/a.txt'])).toMatchObject({ code: 0, stdout: 'hello there', stderr: '' });
  });

  it('writes from --file and from stdin, byte for byte', () => {
    const bytes = Buffer.from(Array.from({ length: 70_000 }, (_, index) => (index * 31) % 256));
    writeFileSync(join(cwd, 'input.bin'), bytes);
    expect(taskforge(['write', '/bin/from-file', '--file', 'input.bin']).code).toBe(0);
    expect(taskforge(['write', '/bin/from-stdin'], { input: bytes }).code).toBe(0);
    expect(stored('bin/from-file').equals(bytes)).toBe(true);
    expect(stored('bin/from-stdin').equals(bytes)).toBe(true);
  });

  it('write --file of a file that grows while it is read stores nothing, never a torn copy: SOURCE_CHANGED, exit 1', async () => {
    const file = join(cwd, 'growing.log');
    writeFileSync(file, Buffer.alloc(32 * 1024 * 1024, 1));
    const child = spawn(process.execPath, [BIN, 'write', '/grow.log', '--file', 'growing.log'], { cwd, env: { PATH: process.env['PATH'], HOME: process.env['HOME'] }, stdio: ['ignore', 'pipe', 'pipe'] });
    let stderr = '';
    child.stderr.setEncoding('utf8').on('data', (text: string) => (stderr += text));
    // Another program keeps appending for as long as the write runs.
    const appending = setInterval(() => {
      appendFileSync(file, 'another line\n');
    }, 1);
    const code = await new Promise<number | null>((resolve) => child.on('close', resolve));
    clearInterval(appending);
    expect({ code, stderr }).toMatchObject({ code: 1, stderr: expect.stringContaining('SOURCE_CHANGED') as string });
    expect(stderr).toContain('changed while it was read');
    expect(readdirSync(join(cwd, 'taskforge-data')).filter((name) => name !== '.taskforge')).toEqual([]);
  });

  it("a root or a SQLite queue where no folder can be made (in /proc) fails at once with a coded error, never spins (Node's recursive mkdir does not return there)", () => {
    expect(taskforge(['write', '/x', '--data', 'a', '--root', '/proc/taskforge-root'])).toMatchObject({ code: 1, stderr: expect.stringContaining('NOT_FOUND') as string });
    writeFileSync(join(cwd, 'one.json'), JSON.stringify([{ type: 'storage', metadata: { operation: 'write', path: '/a', data: 'x' } }]));
    expect(taskforge(['run', 'one.json', '--queue', 'sqlite:/proc/taskforge-queue/q.db'])).toMatchObject({ code: 2, stderr: expect.stringContaining("cannot open the SQLite queue '/proc/taskforge-queue/q.db'") as string });
  });

  it('--root, else TASKFORGE_STORAGE_ROOT, picks the root', () => {
    const env = { TASKFORGE_STORAGE_ROOT: join(cwd, 'from-env') };
    expect(taskforge(['write', '/x', '--data', 'env'], { env }).code).toBe(0);
    expect(taskforge(['write', '/x', '--data', 'flag', '--root', 'from-flag'], { env }).code).toBe(0);
    expect(stored('x', join(cwd, 'from-env')).toString()).toBe('env');
    expect(stored('x', join(cwd, 'from-flag')).toString()).toBe('flag');
  });

  it('ls of a storage root that does not exist says so on stderr (a mistyped --root is not an empty store), exit 0, and makes no folder; an empty root that exists says nothing', () => {
    const missing = join(cwd, 'no-such-root');
    expect(taskforge(['ls', '/', '--root', missing])).toEqual({ code: 0, stdout: '', stderr: `taskforge: nothing is stored: the storage root ${missing} does not exist (does --root or TASKFORGE_STORAGE_ROOT name another folder?)\n` });
    expect(taskforge(['ls', '/', '--root', missing, '--json']).stderr).toContain('the storage root');
    expect(existsSync(missing)).toBe(false);
    mkdirSync(join(cwd, 'empty-root'));
    expect(taskforge(['ls', '/', '--root', join(cwd, 'empty-root')])).toEqual({ code: 0, stdout: '', stderr: '' });
  });

  it('a list task of a run batch on a storage root that does not exist says so too, once; on a root that exists, nothing', () => {
    const missing = join(cwd, 'no-such-run-root');
    const batch = [{ type: 'storage', metadata: { operation: 'list', path: '/' } }, { type: 'storage', metadata: { operation: 'list', path: '/', options: { recursive: true } } }].map((line) => JSON.stringify(line)).join('\n');
    const ran = taskforge(['run', '-', '--root', missing, '--json'], { input: batch });
    expect(ran.code).toBe(0);
    expect(ran.stdout.trim().split('\n').map((line) => (JSON.parse(line) as { status: string; data: { entries: unknown[] } }).data.entries)).toEqual([[], []]);
    expect(ran.stderr).toBe(`taskforge: nothing is stored: the storage root ${missing} does not exist (does --root or TASKFORGE_STORAGE_ROOT name another folder?)\n`);
    expect(existsSync(missing)).toBe(false);
    mkdirSync(join(cwd, 'empty-run-root'));
    expect(taskforge(['run', '-', '--root', join(cwd, 'empty-run-root'), '--json'], { input: batch }).stderr).toBe('');
  });

  it('a URL given as --root or TASKFORGE_STORAGE_ROOT is a usage error (exit 2) that says where S3 goes, and no folder is made', () => {
    const url = 's3://bucket/trial?endpoint=http://127.0.0.1:9777';
    const flag = taskforge(['write', '/r.txt', '--data', 'hi', '--root', url]);
    expect(flag.code).toBe(2);
    expect(flag.stderr).toContain(`--root takes a folder, not a URL (got '${url}'): for S3, set TASKFORGE_STORAGE=s3://`);
    const variable = taskforge(['ls', '/'], { env: { TASKFORGE_STORAGE_ROOT: url } });
    expect(variable.code).toBe(2);
    expect(variable.stderr).toContain('TASKFORGE_STORAGE_ROOT takes a folder, not a URL');
    expect(existsSync(join(cwd, 's3:'))).toBe(false);
  });

  it('--compress and --encrypt store a container with no plaintext; read decodes it; --json prints the result', () => {
    const env = { TASKFORGE_ENCRYPTION_KEY: KEY };
    const wrote = taskforge(['write', '/secret.txt', '--data', 'the plaintext secret', '--compress=gzip', '--encrypt', '--json'], { env });
    expect(wrote.code).toBe(0);
    expect(JSON.parse(wrote.stdout)).toMatchObject({ path: '/secret.txt', size: expect.any(Number) as number, version: expect.any(String) as string });
    const raw = stored('secret.txt');
    expect(raw.subarray(0, 4).toString('latin1')).toBe('\u0089TFC');
    expect(raw.includes(Buffer.from('plaintext'))).toBe(false);
    expect(taskforge(['read', '/secret.txt', '--encrypted'], { env })).toMatchObject({ code: 0, stdout: 'the plaintext secret' });
  });

  it('read -o writes a file; --json then prints what was read', () => {
    taskforge(['write', '/r.txt', '--data', 'to a file']);
    const ran = taskforge(['read', '/r.txt', '-o', 'out.txt', '--json']);
    expect(ran.code).toBe(0);
    expect(JSON.parse(ran.stdout)).toEqual({ path: '/r.txt', file: 'out.txt', bytes: 9 });
    expect(readFileSync(join(cwd, 'out.txt'), 'utf8')).toBe('to a file');
  });

  it('with --json a failure is a JSON line on stdout too (a script parsing stdout is told why), beside the words on stderr', () => {
    const read = taskforge(['read', '/nope.txt', '--json']);
    expect(read.code).toBe(1);
    expect(read.stderr).toMatch(/^taskforge: NOT_FOUND: read of '\/nope\.txt' failed/);
    expect(JSON.parse(read.stdout)).toEqual({ path: '/nope.txt', error: { code: 'NOT_FOUND', message: expect.stringMatching(/^read of '\/nope\.txt' failed/) as unknown } });
    const listed = taskforge(['write', '/f.txt', '--data', 'x']).code === 0 ? taskforge(['ls', '/f.txt/below', '--json']) : undefined;
    expect(listed?.code).toBe(1);
    expect(JSON.parse(listed?.stdout ?? '')).toMatchObject({ path: '/f.txt/below', error: { code: 'NOT_A_DIRECTORY' } });
    // A refusal before any task runs (a key that cannot be used): the same, with its exit code.
    const badKey = taskforge(['write', '/k.txt', '--data', 'x', '--encrypt', '--json'], { env: { TASKFORGE_ENCRYPTION_KEY: 'c2hvcnQ=' } });
    expect(badKey.code).toBe(2);
    expect(JSON.parse(badKey.stdout)).toMatchObject({ error: { code: 'VALIDATION_ERROR', message: expect.stringContaining('TASKFORGE_ENCRYPTION_KEY') as unknown } });
    // A usage error the argument parser finds (a required option missing, a bad number), too.
    const noQueue = taskforge(['status', '--json']);
    expect(noQueue.code).toBe(2);
    expect(JSON.parse(noQueue.stdout)).toEqual({ error: { code: 'USAGE', message: "required option '-q, --queue <url>' not specified" } });
    expect(JSON.parse(taskforge(['run', 'x.ndjson', '--json', '--concurrency', 'abc']).stdout)).toMatchObject({ error: { code: 'USAGE' } });
  });

  it('a missing object is a task failure: exit 1, NOT_FOUND on stderr, and -o leaves no file', () => {
    const ran = taskforge(['read', '/nope.txt', '-o', 'out.txt']);
    expect(ran.code).toBe(1);
    expect(ran.stderr).toBe("taskforge: NOT_FOUND: read of '/nope.txt' failed: no such object or directory (ENOENT)\n");
    expect(existsSync(join(cwd, 'out.txt'))).toBe(false);
  });

  it('--no-overwrite refuses an existing object: exit 1, ALREADY_EXISTS, the old data kept', () => {
    taskforge(['write', '/once', '--data', 'first']);
    const ran = taskforge(['write', '/once', '--data', 'second', '--no-overwrite']);
    expect(ran.code).toBe(1);
    expect(ran.stderr).toMatch(/^taskforge: ALREADY_EXISTS: /);
    expect(stored('once').toString()).toBe('first');
  });

  it('a path outside the root is a usage error: exit 2, PATH_OUTSIDE_ROOT, nothing written', () => {
    const ran = taskforge(['write', '../escape.txt', '--data', 'x']);
    expect(ran.code).toBe(2);
    expect(ran.stderr).toBe("taskforge: PATH_OUTSIDE_ROOT: path '../escape.txt' is refused: it has a '..' segment\n");
    expect(existsSync(join(cwd, 'escape.txt'))).toBe(false);
    expect(taskforge(['read', '/a/../../etc/passwd']).code).toBe(2);
  });

  it('bad input to write is a usage error naming the option: exit 2', () => {
    expect(taskforge(['write', '/x', '--file', 'missing.bin'])).toMatchObject({ code: 2, stderr: "taskforge: --file: no such file 'missing.bin'\n" });
    expect(taskforge(['write', '/x', '--file', 'a', '--data', 'b'])).toMatchObject({ code: 2, stderr: 'taskforge: give the data once: --file or --data, not both\n' });
    expect(taskforge(['write', '/x', '--data', 'b', '--compress=lz4'])).toMatchObject({ code: 2, stderr: "taskforge: --compress: expected gzip, brotli or zstd (got 'lz4')\n" });
    expect(taskforge(['write', '/x', '--data', 'b', '--timeout', 'soon']).stderr).toContain("option '--timeout <ms>' argument 'soon' is invalid. expected a whole number (got 'soon')");
    expect(taskforge(['write']).stderr).toMatch(/^taskforge: missing required argument 'path'/);
  });

  it('--encrypt without a key is a config error: exit 2, nothing stored', () => {
    const ran = taskforge(['write', '/k', '--data', 'x', '--encrypt']);
    expect(ran.code).toBe(2);
    expect(ran.stderr).toMatch(/^taskforge: KEY_NOT_FOUND: .*no key is configured \(set TASKFORGE_ENCRYPTION_KEY or TASKFORGE_KEYRING/);
    expect(existsSync(join(cwd, 'taskforge-data', 'k'))).toBe(false);
  });

  it('read --json without -o prints the object as one JSON line with its kind: text and JSON as values, bytes as base64', () => {
    taskforge(['write', '/t.txt', '--data', 'héllo']);
    expect(JSON.parse(taskforge(['read', '/t.txt', '--json']).stdout)).toEqual({ path: '/t.txt', kind: 'text', value: 'héllo' });
    taskforge(['run', '-'], { input: JSON.stringify({ type: 'storage', metadata: { operation: 'write', path: '/v.json', data: { n: [1, 'two'] }, options: { compression: true } } }) });
    expect(JSON.parse(taskforge(['read', '/v.json', '--json']).stdout)).toEqual({ path: '/v.json', kind: 'json', value: { n: [1, 'two'] } });
    const bytes = Buffer.from([0, 255, 1, 254]);
    taskforge(['write', '/b.bin'], { input: bytes });
    const line = taskforge(['read', '/b.bin', '--json']);
    expect(line).toMatchObject({ code: 0, stderr: '' });
    expect(line.stdout.split('\n')).toHaveLength(2);
    expect(JSON.parse(line.stdout)).toEqual({ path: '/b.bin', kind: 'bytes', bytes: 4, base64: bytes.toString('base64') });
    const limited = taskforge(['read', '/b.bin', '--json', '--max-bytes', '3']);
    expect(limited).toMatchObject({ code: 1, stderr: expect.stringContaining('LIMIT_EXCEEDED') as string });
    // No object line: the failure's.
    expect(JSON.parse(limited.stdout)).toMatchObject({ path: '/b.bin', error: { code: 'LIMIT_EXCEEDED' } });
  });

  it('read --json says plainly when an object is too big for one line: -o or --max-bytes', () => {
    writeFileSync(join(cwd, 'big'), Buffer.alloc(64 * 1024 * 1024 + 1));
    expect(taskforge(['write', '/big', '--file', 'big', '--compress']).code).toBe(0);
    const ran = taskforge(['read', '/big', '--json']);
    expect(ran.code).toBe(1);
    expect(JSON.parse(ran.stdout)).toMatchObject({ path: '/big', error: { code: 'LIMIT_EXCEEDED' } });
    expect(ran.stderr).toContain('taskforge: read --json prints the object in one line and holds at most 64.0 MiB: give -o FILE, or --max-bytes N to allow more\n');
  });
});

describe('words a command-line user reads', () => {
  it('hints name the flags, never the library option, and no message shows an id the command made up', () => {
    taskforge(['write', '/d/a', '--data', 'x']);
    const lines = [
      taskforge(['rm', '/d']),
      taskforge(['write', '/d/a', '--data', 'y', '--no-overwrite']),
      taskforge(['read', '/d/a', '--max-bytes', '0']),
      taskforge(['read', '/d/a', '--encrypted']),
      taskforge(['write', '/e', '--data', 'x', '--encrypt']),
      taskforge(['write', '/e', '--data', 'x', '--compress', '--level', '99']),
    ].map((ran) => ran.stderr);
    expect(lines).toEqual([
      "taskforge: IS_A_DIRECTORY: delete of '/d' failed: it is a directory (use --recursive to remove it)\n",
      "taskforge: ALREADY_EXISTS: write of '/d/a' failed: it already exists (and --no-overwrite was given)\n",
      'taskforge: VALIDATION_ERROR: --max-bytes: Too small: expected number to be >=1 (got number 0)\n',
      "taskforge: ENCRYPTION_REQUIRED: read of '/d/a' failed: --encrypted was given and the stored object is plain\n",
      "taskforge: KEY_NOT_FOUND: write of '/e' asks for encryption and no key is configured (set TASKFORGE_ENCRYPTION_KEY or TASKFORGE_KEYRING); nothing was stored\n",
      'taskforge: VALIDATION_ERROR: --level: zstd levels run from 1 to 19 (got number 99)\n',
    ]);
  });

  it('a failure in a batch names the task by its place in the batch when the batch gave no id', () => {
    const slow = { type: 'storage', metadata: { operation: 'write', path: '/slow', data: 'x'.repeat(3_000_000), options: { timeout: 1, compression: { algorithm: 'brotli', level: 11 } } } };
    const ran = taskforge(['run', '-', '--json'], { input: `${JSON.stringify({ type: 'storage', metadata: { operation: 'list', path: '/' } })}\n${JSON.stringify(slow)}\n` });
    expect(ran.code).toBe(1);
    const lines = ran.stdout.trim().split('\n').map((line) => JSON.parse(line) as { from: string; error?: { message: string } });
    expect(lines.map((line) => line.from).sort()).toEqual(['stdin:1', 'stdin:2']);
    expect(lines.find((line) => line.from === 'stdin:2')?.error?.message).toBe('attempt 1 of task at stdin:2 timed out after 1 ms');
    for (const line of lines) expect(line.error?.message ?? '').not.toMatch(/'b[0-9a-f]{12}-\d+'/);
  });
});

describe('environment', () => {
  it('a TASKFORGE_LOG_LEVEL that is no level is a config error (exit 2, naming it), not a crash; any case of a real one works', () => {
    expect(taskforge(['ls', '/'], { env: { TASKFORGE_LOG_LEVEL: 'loud' } })).toMatchObject({
      code: 2,
      stdout: '',
      stderr: 'taskforge: TASKFORGE_LOG_LEVEL: expected one of trace, debug, info, warn, error, fatal, silent (got "loud")\n',
    });
    taskforge(['write', '/x', '--data', 'x']);
    expect(taskforge(['ls', '/'], { env: { TASKFORGE_LOG_LEVEL: 'INFO' } }).code).toBe(0);
  });
});

describe('taskforge ls / rm', () => {
  it('lists a tree for people and, with --json, one entry per line', () => {
    taskforge(['write', '/docs/a.txt', '--data', 'aa']);
    taskforge(['write', '/docs/sub/b.txt', '--data', 'bbb']);
    const human = taskforge(['ls', '/docs']);
    expect(human.code).toBe(0);
    expect(human.stdout.trim().split('\n').map((line) => line.split(/\s+/).at(-1))).toEqual(['/docs/a.txt', '/docs/sub/']);
    const json = taskforge(['ls', '/docs', '--recursive', '--json']);
    expect(json.stdout.trim().split('\n').map((line) => JSON.parse(line) as { path: string; type: string; size: number })).toEqual([
      expect.objectContaining({ path: '/docs/a.txt', type: 'file', size: 2 }),
      expect.objectContaining({ path: '/docs/sub', type: 'directory' }),
      expect.objectContaining({ path: '/docs/sub/b.txt', type: 'file', size: 3 }),
    ]);
    const first = taskforge(['ls', '/docs', '--recursive', '--limit', '2', '--json']);
    expect(first.stdout.trim().split('\n')).toHaveLength(2);
    // Stopped by --limit with more to come: stderr gives the cursor that goes on, and the rest follows from it.
    const cursor = /^taskforge ls: stopped at --limit 2; more entries follow: go on with --cursor (\S+)\n$/.exec(first.stderr)?.[1] ?? '';
    expect(cursor).not.toBe('');
    const rest = taskforge(['ls', '/docs', '--recursive', '--json', '--cursor', cursor]);
    expect(rest).toMatchObject({ code: 0, stderr: '' });
    expect(rest.stdout.trim().split('\n').map((line) => (JSON.parse(line) as { path: string }).path)).toEqual(['/docs/sub/b.txt']);
    // Nothing more: no cursor line.
    expect(taskforge(['ls', '/docs', '--recursive', '--limit', '3'])).toMatchObject({ code: 0, stderr: '' });
    expect(taskforge(['ls', '/docs', '--cursor', 'not-a-cursor'])).toMatchObject({ code: 2, stderr: expect.stringContaining('VALIDATION_ERROR') as string });
  });

  it('ls of a missing directory fails with NOT_FOUND (exit 1); outside the root, exit 2', () => {
    expect(taskforge(['ls', '/missing'])).toMatchObject({ code: 1, stderr: "taskforge: NOT_FOUND: list of '/missing' failed: no such object or directory (ENOENT)\n" });
    expect(taskforge(['ls', '/../..']).code).toBe(2);
  });

  it('rm deletes an object, says when there was nothing, and deletes a tree with --recursive', () => {
    taskforge(['write', '/t/one', '--data', '1']);
    taskforge(['write', '/t/two', '--data', '2']);
    expect(taskforge(['rm', '/t/one'])).toMatchObject({ code: 0, stdout: 'deleted /t/one\n' });
    expect(taskforge(['rm', '/t/one', '--json'])).toMatchObject({ code: 0, stdout: '{"path":"/t/one","deleted":false}\n' });
    expect(taskforge(['rm', '/t']).code).toBe(1);
    expect(taskforge(['rm', '/t', '--recursive']).stdout).toBe('deleted /t\n');
    expect(existsSync(join(cwd, 'taskforge-data', 't'))).toBe(false);
    expect(taskforge(['rm', '../../etc']).code).toBe(2);
  });
});

describe('taskforge keygen', () => {
  it('prints a fresh 256-bit base64 key, and {"key"} with --json', () => {
    const first = taskforge(['keygen']);
    const second = taskforge(['keygen', '--json']);
    expect(first.code).toBe(0);
    expect(Buffer.from(first.stdout.trim(), 'base64')).toHaveLength(32);
    const { key } = JSON.parse(second.stdout) as { key: string };
    expect(Buffer.from(key, 'base64')).toHaveLength(32);
    expect(key).not.toBe(first.stdout.trim());
    expect(taskforge(['keygen', 'extra']).code).toBe(2);
  });
});

describe('taskforge run', () => {
  const batch = [
    { id: 'w1', type: 'storage', priority: 1, metadata: { operation: 'write', path: '/a.txt', data: 'alpha' } },
    { id: 'w2', type: 'storage', priority: 5, metadata: { operation: 'write', path: '/b.json', data: { n: 2 }, options: { compression: true } } },
    { id: 'r1', type: 'storage', priority: 9, dependsOn: ['w1'], metadata: { operation: 'read', path: '/a.txt' } },
  ];

  it('runs a JSON array by priority and dependencies; --json prints one line per finished task and nothing else', () => {
    writeFileSync(join(cwd, 'batch.json'), JSON.stringify(batch));
    const ran = taskforge(['run', 'batch.json', '--json', '--concurrency', '1']);
    expect(ran.code).toBe(0);
    const lines = ran.stdout.trim().split('\n').map((line) => JSON.parse(line) as Record<string, unknown>);
    expect(lines.map((line) => line['id'])).toEqual(['w2', 'w1', 'r1']);
    for (const line of lines) {
      expect(Object.keys(line)).toEqual(expect.arrayContaining(['id', 'type', 'status', 'success', 'attempts', 'priority', 'startedAt', 'finishedAt', 'durationMs']));
      expect(line).toMatchObject({ type: 'storage', status: 'completed', success: true, attempts: 1 });
    }
    expect(lines[0]).toMatchObject({ id: 'w2', priority: 5, operation: 'write', path: '/b.json' });
    expect(stored('a.txt').toString()).toBe('alpha');
  });

  it('reads NDJSON from stdin; a failed task gives exit 1 and error {code, message}; its dependents fail too', () => {
    const ndjson = [
      JSON.stringify({ id: 'missing', type: 'storage', metadata: { operation: 'read', path: '/none' } }),
      '',
      JSON.stringify({ id: 'after', type: 'storage', dependsOn: ['missing'], metadata: { operation: 'delete', path: '/x' } }),
    ].join('\n');
    const ran = taskforge(['run', '-', '--json'], { input: ndjson });
    expect(ran.code).toBe(1);
    const lines = ran.stdout.trim().split('\n').map((line) => JSON.parse(line) as Record<string, unknown>);
    expect(lines).toEqual([
      expect.objectContaining({ id: 'missing', status: 'failed', success: false, error: { code: 'NOT_FOUND', message: "read of '/none' failed: no such object or directory (ENOENT)" } }),
      expect.objectContaining({ id: 'after', status: 'failed', attempts: 0, error: expect.objectContaining({ code: 'DEPENDENCY_FAILED' }) as unknown }),
    ]);
  });

  it('a --json line carries what its task gave back: a read of small text its text, a larger one `dataOmitted` (as a queue keeps a result), a failure none', () => {
    const ndjson = [
      JSON.stringify({ id: 'small', type: 'storage', metadata: { operation: 'write', path: '/small.txt', data: 'hi' } }),
      JSON.stringify({ id: 'large', type: 'storage', metadata: { operation: 'write', path: '/large.txt', data: 'y'.repeat(100_000) } }),
      JSON.stringify({ id: 'read-small', type: 'storage', dependsOn: ['small'], metadata: { operation: 'read', path: '/small.txt' } }),
      JSON.stringify({ id: 'read-large', type: 'storage', dependsOn: ['large'], metadata: { operation: 'read', path: '/large.txt' } }),
      JSON.stringify({ id: 'read-none', type: 'storage', metadata: { operation: 'read', path: '/none.txt' } }),
    ].join('\n');
    const ran = taskforge(['run', '-', '--json'], { input: ndjson });
    expect(ran.code).toBe(1);
    const byId = new Map(ran.stdout.trim().split('\n').map((line) => JSON.parse(line) as Record<string, unknown>).map((line) => [line['id'], line]));
    expect(byId.get('small')).toMatchObject({ data: { path: '/small.txt', size: 2 } });
    expect(byId.get('read-small')).toMatchObject({ data: 'hi' });
    expect(byId.get('read-large')).toMatchObject({ status: 'completed', dataOmitted: true });
    expect(byId.get('read-large')).not.toHaveProperty('data');
    expect(byId.get('read-none')).not.toHaveProperty('data');
    expect(byId.get('read-none')).toMatchObject({ error: { code: 'NOT_FOUND' } });
  });

  it('a batch line names a local file as the data (metadata.file, from the working directory): binary bytes stored as they are; a missing file fails that task alone', () => {
    const bytes = Buffer.from(Array.from({ length: 70_000 }, (_, index) => (index * 31) % 256));
    mkdirSync(join(cwd, 'in'));
    writeFileSync(join(cwd, 'in', 'blob.bin'), bytes);
    const ndjson = [
      JSON.stringify({ id: 'blob', type: 'storage', metadata: { operation: 'write', path: '/blob.bin', file: 'in/blob.bin' } }),
      JSON.stringify({ id: 'gone', type: 'storage', metadata: { operation: 'write', path: '/gone.bin', file: 'in/nobody.bin' } }),
    ].join('\n');
    const ran = taskforge(['run', '-', '--json'], { input: ndjson });
    expect(ran.code).toBe(1);
    const lines = ran.stdout.trim().split('\n').map((line) => JSON.parse(line) as Record<string, unknown>);
    expect(lines).toEqual(
      expect.arrayContaining([
        expect.objectContaining({ id: 'blob', status: 'completed' }),
        expect.objectContaining({ id: 'gone', status: 'failed', error: expect.objectContaining({ code: 'SOURCE_ERROR' }) as unknown }),
      ]),
    );
    expect(Buffer.compare(stored('blob.bin'), bytes)).toBe(0);
    expect(existsSync(join(cwd, 'taskforge-data', 'gone.bin'))).toBe(false);
    // data and file together is a config error before anything runs.
    const both = taskforge(['run', '-'], { input: JSON.stringify({ type: 'storage', metadata: { operation: 'write', path: '/x', data: 'x', file: 'in/blob.bin' } }) });
    expect(both.code).toBe(2);
    expect(both.stderr).toContain('metadata.file: give the data once: data or file, not both');
  });

  it('encrypts with the key every other path uses: a batch line with encryption true stores a container, and reads back', () => {
    const line = (metadata: object, id: string): string => JSON.stringify({ id, type: 'storage', metadata });
    const ndjson = [line({ operation: 'write', path: '/secret.txt', data: 'classified', options: { encryption: true } }, 'enc'), line({ operation: 'read', path: '/secret.txt', options: { encryption: true } }, 'dec')].join('\n');
    const withKey = taskforge(['run', '-', '--json', '--concurrency', '1'], { input: ndjson, env: { TASKFORGE_ENCRYPTION_KEY: KEY } });
    expect(withKey.stderr).toBe('');
    expect(withKey.code).toBe(0);
    expect(stored('secret.txt').subarray(0, 4)).toEqual(Buffer.from([0x89, 0x54, 0x46, 0x43]));
    expect(stored('secret.txt').includes('classified')).toBe(false);
    // Without a key it is refused before anything runs, and nothing is stored.
    const withoutKey = taskforge(['run', '-'], { input: line({ operation: 'write', path: '/other.txt', data: 'x', options: { encryption: true } }, 'nokey') });
    expect(withoutKey.code).toBe(2);
    expect(withoutKey.stderr).toContain('KEY_NOT_FOUND');
    expect(existsSync(join(cwd, 'taskforge-data', 'other.txt'))).toBe(false);
  });

  it('prints a summary table for people', () => {
    writeFileSync(join(cwd, 'batch.json'), JSON.stringify(batch));
    const ran = taskforge(['run', 'batch.json']);
    expect(ran.code).toBe(0);
    expect(ran.stdout).toMatch(/^task\s+type\s+status\s+attempts\s+duration\s+error\n/);
    expect(ran.stdout).toMatch(/\nr1\s+storage\s+completed\s+1\s+\d+ ms\n/);
    // In the batch's order, whatever order they finished in (w2, of higher priority, runs before w1).
    expect(ran.stdout.split('\n').slice(1, 4).map((line) => line.split(/\s+/)[0])).toEqual(['w1', 'w2', 'r1']);
    expect(ran.stdout).toMatch(/\n3 completed · 0 failed · \d+ B stored · \d+ B read from the store · [\d.]+ s · \d+ tasks?\/s\n$/);
  });

  it('with --queue sqlite:FILE, running the same batch again submits nothing twice, reports every task with its result, and exits by the whole batch', () => {
    // Tasks without ids too: theirs come from the batch, the same each run.
    const withFailure = [...batch, { type: 'storage', metadata: { operation: 'read', path: '/none' } }, { type: 'storage', metadata: { operation: 'list', path: '/' } }];
    writeFileSync(join(cwd, 'batch.json'), JSON.stringify(withFailure));
    const first = taskforge(['run', 'batch.json', '--queue', 'sqlite:state/q.db', '--json']);
    expect(first.code).toBe(1);
    expect(existsSync(join(cwd, 'state', 'q.db'))).toBe(true);
    const again = taskforge(['run', 'batch.json', '--queue', 'sqlite:state/q.db', '--json']);
    expect(again.code).toBe(1);
    expect(again.stderr).toMatch(/^taskforge: this batch is already in sqlite:\S+q\.db: 5 of its 5 tasks have ended \(reported below\); to run it afresh, give its tasks new ids or use another queue\n$/);
    const byFrom = (stdout: string): Record<string, unknown>[] => stdout.trim().split('\n').map((line) => JSON.parse(line) as Record<string, unknown>).sort((a, b) => String(a['from']).localeCompare(String(b['from'])));
    expect(byFrom(again.stdout)).toEqual(byFrom(first.stdout));
    expect(byFrom(again.stdout).map((line) => [line['from'], line['status']])).toEqual([
      ['batch.json[0]', 'completed'],
      ['batch.json[1]', 'completed'],
      ['batch.json[2]', 'completed'],
      ['batch.json[3]', 'failed'],
      ['batch.json[4]', 'completed'],
    ]);
    // For people: the table names each task by its id, or by where it is in the batch; never by a made-up id.
    const table = taskforge(['run', 'batch.json', '--queue', 'sqlite:state/q.db']);
    expect(table.code).toBe(1);
    expect(table.stdout).toMatch(/\nbatch\.json\[3\]\s+storage\s+failed\s+1\s+\d+ ms\s+NOT_FOUND\n/);
    // And why, under the table: the code alone does not say which object is missing.
    expect(table.stdout).toContain("\nbatch.json[3]: read of '/none' failed: no such object or directory (ENOENT)\n");
    // Their bytes were moved by the earlier runs: this one stored and read nothing.
    expect(table.stdout).toMatch(/\n4 completed · 1 failed \(5 of them in an earlier run\) · 0 B stored · 0 B read from the store · [\d.]+ s · 0 tasks\/s\n$/);
    expect(table.stdout).not.toMatch(/\bb[0-9a-f]{12}-\d/);
  });

  it('after a crash mid-run on a SQLite queue, the same command again finishes the batch and reports every task of it once', async () => {
    const lines = Array.from({ length: 400 }, (_, index) => JSON.stringify({ type: 'storage', metadata: { operation: 'write', path: `/c/${String(index)}`, data: 'x' } }));
    writeFileSync(join(cwd, 'crash.ndjson'), lines.join('\n'));
    const child = spawn(process.execPath, [BIN, 'run', 'crash.ndjson', '--json', '--concurrency', '1', '--queue', 'sqlite:q.db'], { cwd, env: { PATH: process.env['PATH'] } });
    let stdout = '';
    child.stdout.on('data', (chunk: Buffer) => (stdout += chunk.toString()));
    const exited = new Promise<NodeJS.Signals | null>((done) => child.once('exit', (_code, signal) => { done(signal); }));
    while (stdout.split('\n').length < 20) await new Promise((done) => setTimeout(done, 5));
    child.kill('SIGKILL');
    expect(await exited).toBe('SIGKILL');
    const rerun = taskforge(['run', 'crash.ndjson', '--json', '--concurrency', '4', '--queue', 'sqlite:q.db']);
    expect(rerun.code, rerun.stderr).toBe(0);
    expect(rerun.stderr).toMatch(/^taskforge: this batch is already in sqlite:\S+: \d+ of its 400 tasks have ended \(reported below\), \d+ (is|are) unfinished and awaited\n$/);
    const reported = rerun.stdout.trim().split('\n').map((line) => JSON.parse(line) as { from: string; status: string });
    expect(reported).toHaveLength(400);
    expect(new Set(reported.map((line) => line.from)).size).toBe(400);
    expect(reported.every((line) => line.status === 'completed')).toBe(true);
    expect(readdirSync(join(cwd, 'taskforge-data', 'c')).filter((name) => !name.startsWith('.'))).toHaveLength(400);
  });

  it('a run on a SQLite queue holding tasks of a type it is not given (--tasks) leaves them waiting and says so; a run given the type runs them', () => {
    const module = `import { BaseTask } from ${JSON.stringify(resolve('dist/src/index.js'))};\nclass Resize extends BaseTask {\n  async executeTask() {\n    return 'resized';\n  }\n}\nexport default { resize: Resize };\n`;
    writeFileSync(join(cwd, 'resize.mjs'), module);
    // The queue as a process that had the type left it: tasks submitted, none run.
    const onQueue = (code: string): string => {
      const script = `import { SqliteQueue } from ${JSON.stringify(resolve('dist/src/orchestrator/queues/sqlite-queue.js'))};\nconst queue = new SqliteQueue('held.db');\n${code}\nawait queue.close();\n`;
      const ran = spawnSync(process.execPath, ['--input-type=module', '-e', script], { cwd, encoding: 'utf8' });
      expect(ran.status, ran.stderr).toBe(0);
      return ran.stdout;
    };
    onQueue(`const task = (id, config, dependsOn) => ({ id, type: config.type, priority: 0, config: { id, ...config, ...(dependsOn ? { dependsOn } : {}) }, dependsOn, attempts: 0, submittedAt: Date.now() });
const resize = { type: 'resize' };
queue.submitNow([task('r1', resize), task('r2', resize), task('r3', { type: 'storage', metadata: { operation: 'write', path: '/held/r3.txt', data: 'after r1' } }, ['r1'])]);`);
    const states = (): string => onQueue(`console.log(['r1', 'r2', 'r3'].map((id) => queue.stateNow(id)?.status ?? 'gone').join(' '));`).trim();
    const other = taskforge(['run', '-', '--queue', 'sqlite:held.db'], { input: '{"id":"w1","type":"storage","metadata":{"operation":"write","path":"/held/w1.txt","data":"x"}}' });
    expect(other.code, other.stderr).toBe(0);
    expect(other.stdout).toMatch(/\nw1\s+storage\s+completed/);
    expect(other.stderr).toContain("taskforge: 2 tasks of type 'resize' wait in the queue sqlite:");
    expect(other.stderr).toContain('no such task type is registered in this process: they stay waiting, with 1 task that waits on them, until a process that registers the type opens the queue');
    expect(other.stderr).toContain('taskforge: 3 tasks stay in sqlite:');
    expect(other.stderr).toContain('held.db, waiting on a task type this run does not register: a run given it (--tasks) runs them\n');
    // Node's own form of a warning is not what the CLI prints.
    expect(other.stderr).not.toContain('(node:');
    expect(other.stderr).not.toContain('the same command again');
    // (Held back, they do not run beside its batch: nothing is said of that.)
    expect(other.stderr).not.toContain('also holds');
    expect(states()).toBe('pending pending pending');
    const able = taskforge(['run', '-', '--queue', 'sqlite:held.db', '--tasks', './resize.mjs', '--json'], { input: '{"id":"w2","type":"storage","metadata":{"operation":"write","path":"/held/w2.txt","data":"x"}}' });
    expect(able.code, able.stderr).toBe(0);
    // What it runs beside its batch is said: its time would be a mystery otherwise.
    expect(able.stderr).toMatch(/^taskforge: sqlite:\S+held\.db also holds 3 unfinished tasks of other batches: they run now too, and this run waits for them \(they are not in its table\)\n$/);
    expect(stored('/held/w2.txt').toString()).toBe('x');
    expect(states()).toBe('finished finished finished');
    expect(stored('/held/r3.txt').toString()).toBe('after r1');
  });

  it.each(['SIGINT', 'SIGTERM'] as const)('%s cancels the waiting tasks, lets the running ones finish, prints their results and exits 1', async (signal) => {
    const many = Array.from({ length: 3000 }, (_, index) => JSON.stringify({ id: `s${String(index)}`, type: 'storage', metadata: { operation: 'write', path: `/s/${String(index)}`, data: 'x' } }));
    writeFileSync(join(cwd, 'many.ndjson'), many.join('\n'));
    const child = spawn(process.execPath, [BIN, 'run', 'many.ndjson', '--json', '--concurrency', '1'], { cwd, env: { PATH: process.env['PATH'] } });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (chunk: Buffer) => (stdout += chunk.toString()));
    child.stderr.on('data', (chunk: Buffer) => (stderr += chunk.toString()));
    const exited = new Promise<number | null>((done) => child.once('exit', (code) => { done(code); }));
    while (!stdout.includes('"completed"')) await new Promise((done) => setTimeout(done, 10));
    child.kill(signal);
    expect(await exited).toBe(1);
    expect(stderr).toContain(`taskforge: interrupted by ${signal}; waiting tasks are cancelled, running ones get 10 s to finish (again to stop at once)`);
    const lines = stdout.trim().split('\n').map((line) => JSON.parse(line) as { status: string; error?: { code: string } });
    expect(lines).toHaveLength(3000);
    const cancelled = lines.filter((line) => line.error?.code === 'CANCELLED').length;
    expect(cancelled).toBeGreaterThan(0);
    expect(lines.filter((line) => line.status === 'completed').length + cancelled).toBe(3000);
  });

  it('refuses bad input before running anything: exit 2 with the file, line or field named', () => {
    writeFileSync(join(cwd, 'broken.json'), '[{"type": "storage",');
    expect(taskforge(['run', 'broken.json']).stderr).toMatch(/^taskforge: broken\.json: bad JSON: /);
    expect(taskforge(['run', 'broken.json']).code).toBe(2);
    expect(taskforge(['run', '-'], { input: '{"type":"storage","metadata":{"operation":"list","path":"/"}}\n{oops}\n' })).toMatchObject({
      code: 2,
      stderr: expect.stringMatching(/^taskforge: stdin: line 2: bad JSON: /) as string,
    });
    expect(taskforge(['run', 'absent.json'])).toMatchObject({ code: 2, stderr: "taskforge: no such file 'absent.json'\n" });
    const unknownOperation = taskforge(['run', '-'], { input: JSON.stringify([batch[0], { id: 'cp', type: 'storage', metadata: { operation: 'copy', path: '/x' } }]) });
    expect(unknownOperation.code).toBe(2);
    expect(unknownOperation.stderr).toContain("taskforge: stdin[1] (id 'cp'): VALIDATION_ERROR: metadata.operation: ");
    expect(existsSync(join(cwd, 'taskforge-data', 'a.txt'))).toBe(false);
    const outside = taskforge(['run', '-'], { input: JSON.stringify([{ id: 'out', type: 'storage', metadata: { operation: 'read', path: '/../../etc/passwd' } }]) });
    expect(outside).toMatchObject({ code: 2, stderr: expect.stringContaining("stdin[0] (id 'out'): PATH_OUTSIDE_ROOT:") as string });
    const cycle = taskforge(['run', '-'], {
      input: JSON.stringify([
        { id: 'p', type: 'storage', dependsOn: ['q'], metadata: { operation: 'list', path: '/' } },
        { id: 'q', type: 'storage', dependsOn: ['p'], metadata: { operation: 'list', path: '/' } },
      ]),
    });
    expect(cycle).toMatchObject({ code: 2, stderr: expect.stringContaining('dependsOn: a dependency cycle: p -> q -> p') as string });
    // Refused at submit (a dependency on nothing known): named by its line, as the checks before submit name it, and no summary of a run that did not happen.
    writeFileSync(join(cwd, 'unknown-dependency.ndjson'), `${JSON.stringify(batch[0])}\n${JSON.stringify({ id: 'late', type: 'storage', dependsOn: ['nowhere'], metadata: { operation: 'list', path: '/' } })}\n`);
    expect(taskforge(['run', 'unknown-dependency.ndjson'])).toEqual({
      code: 2,
      stdout: '',
      stderr: "taskforge: unknown-dependency.ndjson:2 (id 'late'): VALIDATION_ERROR: dependsOn[0]: no task with id 'nowhere' is known (it was never submitted, or it finished longer ago than the queue keeps)\n",
    });
    expect(existsSync(join(cwd, 'taskforge-data', 'a.txt'))).toBe(false);
    expect(taskforge(['run', '-'], { input: '[{"type":"email","metadata":{}}]' }).stderr).toContain("stdin[0]: type: expected 'storage' (custom types come from --tasks MODULE) (got \"email\")");
    // Every refused task named in one go (a batch with three mistakes is mended in one round), and how many, with nothing run.
    const three = [
      { id: 'up', type: 'storage', metadata: { operation: 'read', path: '/../x' } },
      batch[0],
      { type: 'storage', metadata: { operation: 'write', path: '/empty' } },
      { type: 'email' },
    ];
    expect(taskforge(['run', '-'], { input: three.map((config) => JSON.stringify(config)).join('\n') })).toEqual({
      code: 2,
      stdout: '',
      stderr: [
        "taskforge: stdin:1 (id 'up'): PATH_OUTSIDE_ROOT: path '/../x' is refused: it has a '..' segment",
        'taskforge: stdin:3: VALIDATION_ERROR: metadata.data: a write needs data (or a file) (got nothing)',
        "taskforge: stdin:4: type: expected 'storage' (custom types come from --tasks MODULE) (got \"email\")",
        "taskforge: 3 of the batch's 4 tasks are refused; nothing ran",
        '',
      ].join('\n'),
    });
    expect(existsSync(join(cwd, 'taskforge-data', 'a.txt'))).toBe(false);
    // With --json, the same refusal on stdout as one message, its lines without the stderr prefix.
    const asJson = taskforge(['run', '-', '--json'], { input: three.map((config) => JSON.stringify(config)).join('\n') });
    const refusal = JSON.parse(asJson.stdout) as { error: { code: string; message: string } };
    expect(refusal.error.code).toBe('USAGE');
    expect(refusal.error.message.split('\n')).toEqual([
      "stdin:1 (id 'up'): PATH_OUTSIDE_ROOT: path '/../x' is refused: it has a '..' segment",
      'stdin:3: VALIDATION_ERROR: metadata.data: a write needs data (or a file) (got nothing)',
      "stdin:4: type: expected 'storage' (custom types come from --tasks MODULE) (got \"email\")",
      "3 of the batch's 4 tasks are refused; nothing ran",
    ]);
    const many = Array.from({ length: 25 }, (_, index) => ({ type: 'storage', metadata: { operation: 'read', path: `/../${String(index)}` } }));
    const manyRefused = taskforge(['run', '-'], { input: JSON.stringify(many) }).stderr.split('\n');
    expect(manyRefused.slice(-3)).toEqual(['taskforge: … and 5 more', "taskforge: 25 of the batch's 25 tasks are refused; nothing ran", '']);
    expect(manyRefused).toHaveLength(23);
    expect(taskforge(['run', 'x.json', '--queue', 'postgres://h:1']).stderr).toBe("taskforge: --queue: expected 'memory', 'sqlite:FILE' or 'redis://HOST:PORT' (got 'postgres://h:1')\n");
    expect(taskforge(['run', 'x.json', '--concurrency', '0']).stderr).toContain("option '-c, --concurrency <n>' argument '0' is invalid. expected 1 or more (got '0')");
  });
});

describe("exit codes: the README's one rule, row by row", () => {
  /** The exit code and the error code on stderr of one command. */
  function outcome(args: readonly string[], env: Record<string, string> = {}): [number | null, string] {
    const ran = taskforge(args, { env });
    return [ran.code, /taskforge: ([A-Z_]+):/.exec(ran.stderr)?.[1] ?? ''];
  }

  it('1 for a task that failed; 2 for input or configuration that is wrong, whichever command meets it and however late', () => {
    const other = Buffer.alloc(32, 9).toString('base64');
    mkdirSync(join(cwd, 'outside'));
    writeFileSync(join(cwd, 'outside', 'file.txt'), 'not yours');
    mkdirSync(join(cwd, 'taskforge-data'));
    symlinkSync(join(cwd, 'outside'), join(cwd, 'taskforge-data', 'link'));
    expect(taskforge(['write', '/plain.txt', '--data', 'p']).code).toBe(0);
    expect(taskforge(['write', '/sealed.txt', '--data', 's', '--encrypt'], { env: { TASKFORGE_ENCRYPTION_KEY: KEY } }).code).toBe(0);
    const rows: [string, readonly string[], Record<string, string>, [number, string]][] = [
      ['a missing object', ['read', '/none'], {}, [1, 'NOT_FOUND']],
      ['an existing object, --no-overwrite', ['write', '/plain.txt', '--data', 'x', '--no-overwrite'], {}, [1, 'ALREADY_EXISTS']],
      ['a wrong key (another valid key)', ['read', '/sealed.txt'], { TASKFORGE_ENCRYPTION_KEY: other }, [2, 'KEY_NOT_FOUND']],
      ['a .. path, read', ['read', '/../x'], {}, [2, 'PATH_OUTSIDE_ROOT']],
      ['a .. path, write', ['write', '/../x', '--data', 'x'], {}, [2, 'PATH_OUTSIDE_ROOT']],
      ['a symlink out of the root, read', ['read', '/link/file.txt'], {}, [2, 'PATH_OUTSIDE_ROOT']],
      ['a symlink out of the root, write', ['write', '/link/new.txt', '--data', 'x'], {}, [2, 'PATH_OUTSIDE_ROOT']],
      ['a symlink out of the root, ls', ['ls', '/link'], {}, [2, 'PATH_OUTSIDE_ROOT']],
      ['no key, write --encrypt', ['write', '/k.txt', '--data', 'x', '--encrypt'], {}, [2, 'KEY_NOT_FOUND']],
      ['no key, read of an encrypted object', ['read', '/sealed.txt'], {}, [2, 'KEY_NOT_FOUND']],
      ['a malformed key, write --encrypt', ['write', '/k.txt', '--data', 'x', '--encrypt'], { TASKFORGE_ENCRYPTION_KEY: 'not-a-key' }, [2, 'VALIDATION_ERROR']],
      ['a malformed key, read of an encrypted object', ['read', '/sealed.txt'], { TASKFORGE_ENCRYPTION_KEY: 'not-a-key' }, [2, 'VALIDATION_ERROR']],
    ];
    const seen = rows.map(([what, args, env]) => [what, ...outcome(args, env)]);
    expect(seen).toEqual(rows.map(([what, , , [code, error]]) => [what, code, error]));
    expect(readFileSync(join(cwd, 'outside', 'file.txt'), 'utf8')).toBe('not yours');
    expect(existsSync(join(cwd, 'outside', 'new.txt'))).toBe(false);
  });
});
