import { spawnSync } from 'node:child_process';
import { chmodSync, mkdirSync, readdirSync, readFileSync, symlinkSync, writeFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { pathToFileURL } from 'node:url';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { BIN } from './helpers/bin.js';
import { makeTempDir } from './helpers/temp-dir.js';
import { startRedisServer } from './helpers/redis-server.js';
import { serviceAvailable } from './helpers/services.js';

/**
 * The README's examples, run as a reader would run them. An example is a
 * code block right after an `<!-- example: NAME -->` line; every one named
 * here must be there, so an example cannot drift from the binary unseen.
 */
const README = readFileSync('README.md', 'utf8');
const EXAMPLES = new Map([...README.matchAll(/<!-- example: ([\w-]+)[^>]*-->\n```\w*\n([\s\S]*?)\n```/g)].map((match) => [match[1] ?? '', match[2] ?? '']));
const TSX_LOADER = pathToFileURL(resolve('node_modules/tsx/dist/loader.mjs')).href;

function example(name: string): string {
  const code = EXAMPLES.get(name);
  if (code === undefined) throw new Error(`the README has no example '${name}'`);
  return code;
}

let base = '';
let removeBase: () => Promise<void> = () => Promise.resolve();
let cwd = '';
let round = 0;
/** A folder with a `taskforge` command on it, as `npm install -g` or `npx` would give. */
let binDir = '';

beforeAll(async () => {
  ({ path: base, remove: removeBase } = await makeTempDir('readme-'));
  binDir = join(base, 'bin');
  mkdirSync(binDir);
  writeFileSync(join(binDir, 'taskforge'), `#!/bin/sh\nexec "${process.execPath}" "${BIN}" "$@"\n`);
  chmodSync(join(binDir, 'taskforge'), 0o755);
});
afterAll(() => removeBase());
beforeEach(() => {
  round += 1;
  cwd = join(base, `case-${String(round)}`);
  // `import ... from 'taskforge'` finds this package, as it would once installed.
  mkdirSync(join(cwd, 'node_modules'), { recursive: true });
  symlinkSync(process.cwd(), join(cwd, 'node_modules', 'taskforge'));
});

const env = (extra: Record<string, string> = {}): NodeJS.ProcessEnv => ({ PATH: `${binDir}:${process.env['PATH'] ?? ''}`, HOME: process.env['HOME'], ...extra });

function sh(script: string, extra: Record<string, string> = {}): { code: number | null; stdout: string; stderr: string } {
  const ran = spawnSync('bash', ['--norc', '--noprofile', '-euo', 'pipefail', '-c', script], { cwd, env: env(extra), encoding: 'utf8', timeout: 120_000 });
  return { code: ran.status, stdout: ran.stdout, stderr: ran.stderr };
}

/** Runs TypeScript as a consumer's module file would run (here through tsx, for the types). */
function typescript(code: string, extra: Record<string, string> = {}): { code: number | null; stdout: string; stderr: string } {
  writeFileSync(join(cwd, 'example.mts'), code);
  const ran = spawnSync(process.execPath, ['--import', TSX_LOADER, 'example.mts'], { cwd, env: env(extra), encoding: 'utf8', timeout: 60_000 });
  return { code: ran.status, stdout: ran.stdout, stderr: ran.stderr };
}

describe("the README's examples run as written", () => {
  it('has every example this test runs', () => {
    expect([...EXAMPLES.keys()].sort()).toEqual(['orchestrator', 'quick-start', 'quick-start-key', 'quick-start-read', 'set-up', 'shell', 'synopsis', 'tasks-module', 'tasks-shell']);
  });

  it('set up: npm run demo writes, reads, lists and deletes under the storage root', () => {
    const command = example('set-up').split('\n')[0]?.replace(/#.*$/, '').trim() ?? '';
    expect(command).toBe('npm ci && npm run demo');
    // npm ci is what CI itself ran before this test; the demo runs from the repository, storing under a root of our choosing.
    const ran = spawnSync('npm', ['run', '--silent', 'demo'], { env: { ...process.env, TASKFORGE_STORAGE_ROOT: join(cwd, 'store') }, encoding: 'utf8', timeout: 120_000 });
    expect(ran.status, ran.stderr).toBe(0);
    expect(ran.stdout).toContain('demo-write-encrypted: write /demo/secret.json');
    expect(ran.stdout).toContain('failed: PATH_OUTSIDE_ROOT');
  });

  it("quick start: with the key from the README's command, the spec's example stores a container without the plaintext, and the read gives the value back", () => {
    const key = sh(`${example('quick-start-key')}\nprintf %s "$TASKFORGE_ENCRYPTION_KEY"`);
    expect(Buffer.from(key.stdout, 'base64')).toHaveLength(32);
    const ran = typescript(`${example('quick-start')}\n${example('quick-start-read')}\nconsole.log(JSON.stringify({ status: result.status, data: read.data }));\n`, { TASKFORGE_ENCRYPTION_KEY: key.stdout });
    expect(ran.stderr).toBe('');
    expect(JSON.parse(ran.stdout)).toEqual({ status: 'completed', data: { content: 'Hello World' } });
    expect(readFileSync(join(cwd, 'taskforge-data', 'data', 'file.txt')).includes('Hello World')).toBe(false);
    // Without a key, the same write fails with KEY_NOT_FOUND before anything is stored, as the README says.
    const withoutKey = typescript(`${example('quick-start')}\nconsole.log(result.error?.code);\n`, { TASKFORGE_STORAGE_ROOT: join(cwd, 'other') });
    expect(withoutKey.stdout).toBe('KEY_NOT_FOUND\n');
  });

  it('orchestrator: the read waits for the write and prints { n: 1 }', () => {
    const ran = typescript(example('orchestrator'));
    expect(ran).toMatchObject({ code: 0, stdout: '{ n: 1 }\n', stderr: '' });
  });

  it('orchestrator: the same example on a SQLite file and on Redis, only its queue option changed', async () => {
    const code = example('orchestrator');
    expect(code).toContain("queue: 'memory'");
    const sqlite = typescript(code.replace("queue: 'memory'", "queue: 'sqlite:./queue.db'"));
    expect(sqlite).toMatchObject({ code: 0, stdout: '{ n: 1 }\n', stderr: '' });
    expect(readdirSync(cwd)).toContain('queue.db');
    if (!serviceAvailable('Redis', 'redis-server', 'apt-get install -y redis-server')) return;
    const redis = await startRedisServer();
    try {
      const onRedis = typescript(code.replace("queue: 'memory'", `queue: '${redis.url}'`));
      expect(onRedis).toMatchObject({ code: 0, stdout: '{ n: 1 }\n', stderr: '' });
    } finally {
      await redis.stop();
    }
  }, 60_000);

  it('shell: write, read and a run on a SQLite queue, with the taskforge command', () => {
    const ran = sh(example('shell'));
    expect(ran.stderr).toBe('');
    const lines = ran.stdout.trim().split('\n');
    expect(lines[0]).toMatch(/^wrote \/greetings\/hello\.json \(\d+ B stored, compressed\)$/);
    expect(lines[1]).toBe('{"hello":"world"}');
    expect(JSON.parse(lines[2] ?? '')).toMatchObject({ from: 'batch.ndjson:1', operation: 'list', status: 'completed' });
    expect(readdirSync(cwd)).toContain('queue.db');
  });

  it('tasks: run --tasks with the README\'s module runs its type, and refuses a bad config with exit 2 and the message the README shows', () => {
    writeFileSync(join(cwd, 'my-tasks.js'), example('tasks-module'));
    const ran = sh(example('tasks-shell'));
    expect(ran.stderr).toBe('');
    expect(JSON.parse(ran.stdout.trim())).toMatchObject({ from: 'images.ndjson:1', type: 'resize', status: 'completed' });
    const refusal = /`(echo '\{"type":"resize"[^`]*)`\nprints `([^`]*)`/.exec(README);
    const refused = sh(`${refusal?.[1] ?? 'false'} || echo "exit $?"`);
    expect(refused.stderr).toBe(`${refusal?.[2] ?? ''}\n`);
    expect(refused.stdout).toBe('exit 2\n');
  });

  it("the synopsis: every flag it shows is in that command's --help, and it shows every command", () => {
    const lines = example('synopsis').split('\n').filter((line) => line.startsWith('taskforge '));
    const commands = lines.map((line) => line.split(' ')[1] ?? '');
    const help = spawnSync(process.execPath, [BIN, '--help'], { encoding: 'utf8' }).stdout;
    const listed = [...help.matchAll(/^ {2}(\w+)\b/gm)].map((match) => match[1]).filter((name) => name !== 'help');
    // (A command may show more than one form: write and read of one object, and of a tree.)
    expect([...new Set(commands)].sort()).toEqual([...listed].sort());
    for (const line of lines) {
      const command = line.split(' ')[1] ?? '';
      const commandHelp = spawnSync(process.execPath, [BIN, command, '--help'], { encoding: 'utf8' }).stdout;
      for (const flag of line.match(/(?<=[[\s|])--?[a-z][\w-]*/g) ?? []) expect(commandHelp, `${command} ${flag}`).toContain(flag);
    }
  });

  it('the configuration table names every TASKFORGE_ variable the code reads, and only those', () => {
    const table = README.slice(README.indexOf('## Configuration'), README.indexOf('## Stored format'));
    const documented = new Set(table.match(/TASKFORGE_[A-Z_]+/g));
    const read = new Set<string>();
    const walk = (directory: string): void => {
      for (const entry of readdirSync(directory, { withFileTypes: true })) {
        const path = join(directory, entry.name);
        if (entry.isDirectory()) walk(path);
        else if (entry.name.endsWith('.ts')) for (const name of readFileSync(path, 'utf8').match(/(?<=env\[')TASKFORGE_[A-Z_]+|(?<=env\.)TASKFORGE_[A-Z_]+/g) ?? []) read.add(name);
      }
    };
    walk('src');
    expect([...read].sort()).toEqual([...documented].sort());
  });
});
