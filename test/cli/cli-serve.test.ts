import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { chmodSync, existsSync, writeFileSync } from 'node:fs';
import { readFile } from 'node:fs/promises';
import { join, resolve } from 'node:path';
import { afterEach, beforeAll, describe, expect, it } from 'vitest';
import { stopChild } from '../helpers/stop-child.js';
import { makeTempDir } from '../helpers/temp-dir.js';

/** The real bin, built by `npm run build` (npm test does). */
const BIN = resolve('dist/src/cli/bin.js');

describe('taskforge serve', () => {
  const children: ChildProcess[] = [];
  const removals: (() => Promise<void>)[] = [];

  beforeAll(() => {
    if (!existsSync(BIN)) throw new Error(`${BIN} is missing: run npm run build first (npm test does)`);
  });
  afterEach(async () => {
    for (const child of children.splice(0)) await stopChild(child);
    for (const remove of removals.splice(0)) await remove();
  });

  async function workDir(): Promise<string> {
    const dir = await makeTempDir('cli-serve-');
    removals.push(dir.remove);
    return dir.path;
  }

  function env(extra: Record<string, string> = {}): NodeJS.ProcessEnv {
    return { PATH: process.env['PATH'], HOME: process.env['HOME'], TASKFORGE_LOG_LEVEL: 'warn', ...extra };
  }

  it('serves the API on loopback over the storage root, and on SIGTERM stops and exits 0', async () => {
    const dir = await workDir();
    const child = spawn(process.execPath, [BIN, 'serve', '--port', '0', '--root', join(dir, 'data')], { cwd: dir, env: env() });
    children.push(child);
    let stderr = '';
    child.stderr.on('data', (chunk: Buffer) => (stderr += chunk.toString()));
    const exited = new Promise<number | null>((done) => child.once('exit', (code) => { done(code); }));
    const url = await new Promise<string>((done, fail) => {
      const poll = setInterval(() => {
        const match = /taskforge serve: (http:\/\/127\.0\.0\.1:\d+)/.exec(stderr);
        if (match?.[1] !== undefined) {
          clearInterval(poll);
          done(match[1]);
        } else if (child.exitCode !== null) {
          clearInterval(poll);
          fail(new Error(`serve exited: ${stderr}`));
        }
      }, 20);
    });
    expect(stderr).toContain('no token: loopback only');
    const put = await fetch(`${url}/objects/notes/hello.txt`, { method: 'PUT', body: 'hello from http' });
    expect(put.status).toBe(201);
    expect(await readFile(join(dir, 'data', 'notes', 'hello.txt'), 'utf8')).toBe('hello from http');
    const submitted = await fetch(`${url}/tasks`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ id: 'copy', type: 'storage', metadata: { operation: 'read', path: '/notes/hello.txt', options: { as: 'text' } } }) });
    expect(await submitted.json()).toEqual({ ids: ['copy'] });
    let task: { status?: string; result?: { data?: unknown } } = {};
    for (let attempt = 0; attempt < 100 && task.status !== 'completed'; attempt += 1) {
      task = (await (await fetch(`${url}/tasks/copy`)).json()) as typeof task;
      await new Promise((done) => setTimeout(done, 20));
    }
    expect(task).toMatchObject({ status: 'completed', result: { data: 'hello from http' } });
    child.kill('SIGTERM');
    expect(await exited).toBe(0);
    expect(stderr).toContain('taskforge serve: stopped');
  });

  it('refuses with exit 2 to listen beyond loopback without a token, a short token, a port in use, a host that is not this machine, or a bad queue', async () => {
    const dir = await workDir();
    const run = (args: readonly string[], extra: Record<string, string> = {}): { code: number | null; stderr: string } => {
      const ran = spawnSync(process.execPath, [BIN, 'serve', '--root', join(dir, 'data'), ...args], { cwd: dir, env: env(extra), encoding: 'utf8', timeout: 30_000 });
      return { code: ran.status, stderr: ran.stderr };
    };
    expect(run(['--host', '0.0.0.0', '--port', '0'])).toEqual({ code: 2, stderr: 'taskforge: --host 0.0.0.0: listening beyond loopback needs a bearer token in TASKFORGE_TOKEN; refusing to start without one\n' });
    expect(run(['--port', '0'], { TASKFORGE_TOKEN: 'short' })).toEqual({ code: 2, stderr: "taskforge: TASKFORGE_TOKEN: expected at least 16 characters (got 5); 'openssl rand -hex 32' makes one\n" });
    expect(run(['--port', '0', '--queue', 'postgres://x'])).toEqual({ code: 2, stderr: "taskforge: --queue: expected 'memory', 'sqlite:FILE' or 'redis://HOST:PORT' (got 'postgres://x')\n" });
    // A port out of range, a negative timeout: named (Node would throw ERR_SOCKET_BAD_PORT).
    const badPort = run(['--port', '99999']);
    expect(badPort.code).toBe(2);
    expect(badPort.stderr).toContain("option '-p, --port <n>' argument '99999' is invalid. expected a port from 0 to 65535 (got '99999')");
    const badTimeout = run(['--port', '0', '--shutdown-timeout', '-5']);
    expect(badTimeout.code).toBe(2);
    expect(badTimeout.stderr).toContain("expected 0 or more (got '-5')");
    // A queue file under a regular file: said in words, nothing served.
    writeFileSync(join(dir, 'plain'), 'a file');
    expect(run(['--port', '0', '--queue', `sqlite:${join(dir, 'plain', 'q.db')}`])).toEqual({ code: 2, stderr: `taskforge: --queue: cannot open the SQLite queue '${join(dir, 'plain', 'q.db')}': a part of its folder ${join(dir, 'plain')} is a file, not a folder\n` });
    // Nothing listens on port 1: the queue is named, and nothing is served.
    const unreachable = run(['--port', '0', '--queue', 'redis://127.0.0.1:1']);
    expect(unreachable.code).toBe(2);
    expect(unreachable.stderr).toMatch(/^taskforge: --queue: .*127\.0\.0\.1:1/);
    expect(unreachable.stderr).not.toContain('taskforge serve: http');
    // A port another process holds.
    const holder = spawn(process.execPath, ['-e', "const s=require('net').createServer().listen(0,'127.0.0.1',()=>{console.log(s.address().port)})"], { stdio: ['ignore', 'pipe', 'inherit'] });
    children.push(holder);
    const port = await new Promise<string>((done) => holder.stdout.once('data', (chunk: Buffer) => { done(chunk.toString().trim()); }));
    expect(run(['--port', port])).toEqual({ code: 2, stderr: `taskforge: --port ${port}: already in use on 127.0.0.1\n` });
    // A host that is no name, or an address this machine does not have (with a token, so that the address is what is checked).
    const token = { TASKFORGE_TOKEN: 'abcdefghijklmnopqrstuvwxyz0123456789' };
    expect(run(['--host', '999.1.1.1', '--port', '0'], token)).toEqual({ code: 2, stderr: 'taskforge: --host 999.1.1.1: no such host (the name does not resolve)\n' });
    expect(run(['--host', 'no-such-host.invalid', '--port', '0'], token)).toEqual({ code: 2, stderr: 'taskforge: --host no-such-host.invalid: no such host (the name does not resolve)\n' });
    expect(run(['--host', '192.0.2.1', '--port', '0'], token)).toEqual({ code: 2, stderr: 'taskforge: --host 192.0.2.1: not an address of this machine\n' });
    // Without a token too: a host that cannot be listened on is said first, not the token it would need.
    expect(run(['--host', '999.1.1.1', '--port', '0'])).toEqual({ code: 2, stderr: 'taskforge: --host 999.1.1.1: no such host (the name does not resolve)\n' });
    expect(run(['--host', '192.0.2.1', '--port', '0'])).toEqual({ code: 2, stderr: 'taskforge: --host 192.0.2.1: not an address of this machine\n' });
  });

  // Run as nobody where the tests run as root (as here and in CI): a user without the privilege to listen under 1024.
  it.runIf(process.getuid?.() === 0 && existsSync('/usr/bin/setpriv'))('refuses with exit 2 a port under 1024 to a user without the privilege, naming it', async () => {
    const dir = await workDir();
    chmodSync(dir, 0o777);
    const ran = spawnSync('/usr/bin/setpriv', ['--reuid=65534', '--regid=65534', '--clear-groups', process.execPath, BIN, 'serve', '--root', join(dir, 'data'), '--port', '80'], { cwd: dir, env: env(), encoding: 'utf8', timeout: 30_000 });
    expect({ code: ran.status, stderr: ran.stderr }).toEqual({ code: 2, stderr: 'taskforge: --port 80: not allowed to listen on it here (ports under 1024 need privileges)\n' });
  });
});
