import { existsSync } from 'node:fs';
import { mkdir, writeFile } from 'node:fs/promises';
import { request as httpRequest } from 'node:http';
import { connect } from 'node:net';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { Orchestrator } from '../../src/orchestrator/orchestrator.js';
import { OrchestratorMetrics } from '../../src/orchestrator/metrics.js';
import { FileSystemBackend } from '../../src/storage/backends/filesystem.js';
import { startServer, type TaskforgeServer } from '../../src/server/create-server.js';
import { Journal, probe, ProbeTask } from '../helpers/probe-task.js';
import { makeTempDir } from '../helpers/temp-dir.js';

// What a page on another site can make a browser send to a server on this
// machine: a request whose Host is the attacker's name (DNS rebinding: the
// name was pointed at 127.0.0.1 after the page loaded), and "simple"
// cross-site requests (a form POST, text/plain, no preflight). Sent with
// node:http so that Host and Origin go out exactly as written.

const TOKEN = 'a-long-enough-test-token-0123456789';

interface Served {
  server: TaskforgeServer;
  orchestrator: Orchestrator;
  journal: Journal;
  root: string;
  port: number;
  remove: () => Promise<void>;
}

let served: Served | undefined;
afterEach(async () => {
  await served?.remove();
  served = undefined;
});

async function serve(options: { host?: string; token?: string } = {}): Promise<Served> {
  const dir = await makeTempDir('taskforge-cross-site-');
  const root = join(dir.path, 'root');
  await mkdir(root);
  const backend = new FileSystemBackend({ root });
  const metrics = new OrchestratorMetrics();
  const journal = new Journal();
  const orchestrator = new Orchestrator({ concurrency: 2, metrics, context: { backend, journal }, taskTypes: { probe: ProbeTask } });
  const server = await startServer({ orchestrator, storage: { backend }, metrics, port: 0, ...options });
  served = {
    server,
    orchestrator,
    journal,
    root,
    port: Number(new URL(server.url).port),
    remove: async () => {
      await server.close();
      await orchestrator.shutdown({ timeoutMs: 1000 });
      await dir.remove();
    },
  };
  return served;
}

interface Sent {
  readonly method: string;
  readonly path: string;
  /** The Host header as sent; default 127.0.0.1:PORT. */
  readonly host?: string;
  readonly origin?: string;
  readonly type?: string;
  readonly body?: string;
  readonly token?: string;
}

interface Answer {
  status: number;
  headers: Record<string, string | string[] | undefined>;
  body: string;
}

/** One request to 127.0.0.1:port with the headers as written. A text/event-stream answer is cut after its head (it never ends). */
function send(port: number, sent: Sent): Promise<Answer> {
  const headers: Record<string, string | number> = { host: sent.host ?? `127.0.0.1:${String(port)}` };
  if (sent.origin !== undefined) headers['origin'] = sent.origin;
  if (sent.type !== undefined) headers['content-type'] = sent.type;
  if (sent.token !== undefined) headers['authorization'] = `Bearer ${sent.token}`;
  if (sent.body !== undefined) headers['content-length'] = Buffer.byteLength(sent.body);
  return new Promise((resolve, reject) => {
    const outgoing = httpRequest({ host: '127.0.0.1', port, method: sent.method, path: sent.path, headers, agent: false }, (response) => {
      const answer = { status: response.statusCode ?? 0, headers: response.headers, body: '' };
      if (String(response.headers['content-type']).startsWith('text/event-stream')) {
        response.destroy();
        resolve(answer);
        return;
      }
      response.on('data', (chunk: Buffer) => (answer.body += chunk.toString()));
      response.on('end', () => {
        resolve(answer);
      });
      response.on('error', reject);
    });
    outgoing.on('error', reject);
    outgoing.end(sent.body);
  });
}

/** Bytes written to the port as they are (node:http always adds a Host); the whole answer as text. */
function sendRaw(port: number, text: string): Promise<string> {
  return new Promise((resolve, reject) => {
    const socket = connect({ host: '127.0.0.1', port }, () => socket.end(text));
    let answer = '';
    socket.on('data', (chunk: Buffer) => (answer += chunk.toString()));
    socket.on('end', () => {
      resolve(answer);
    });
    socket.on('error', reject);
  });
}

function errorOf(answer: Answer): { code: string; message: string } {
  return (JSON.parse(answer.body) as { error: { code: string; message: string } }).error;
}

const WRITE_CONFIG = JSON.stringify({ id: 'sneaky', type: 'storage', metadata: { operation: 'write', path: '/sneaky.txt', data: 'x' } });

/** Every route, with a body where it takes one. */
const EVERY_ROUTE: readonly Omit<Sent, 'host'>[] = [
  { method: 'GET', path: '/tasks' },
  { method: 'POST', path: '/tasks', type: 'application/json', body: WRITE_CONFIG },
  { method: 'GET', path: '/tasks/slow' },
  { method: 'POST', path: '/tasks/slow/cancel', type: 'application/json', body: '{}' },
  { method: 'GET', path: '/tasks/slow/events' },
  { method: 'POST', path: '/tasks/slow/retry', type: 'application/json', body: '{}' },
  { method: 'GET', path: '/stats/ends' },
  { method: 'GET', path: '/events' },
  { method: 'GET', path: '/metrics' },
  { method: 'GET', path: '/healthz' },
  { method: 'GET', path: '/openapi.json' },
  { method: 'PUT', path: '/objects/sneaky.txt', type: 'application/octet-stream', body: 'x' },
  { method: 'GET', path: '/objects/kept.txt' },
  { method: 'GET', path: '/objects/?list' },
  { method: 'DELETE', path: '/objects/kept.txt' },
  { method: 'GET', path: '/' },
  { method: 'GET', path: '/dashboard/app.js' },
  { method: 'GET', path: '/nowhere' },
];

/** A running task and a stored object that a refused request must leave alone. */
async function somethingToProtect(s: Served): Promise<void> {
  await s.orchestrator.submit(probe('slow', 0, { ms: 30_000 }));
  await writeFile(join(s.root, 'kept.txt'), 'kept');
  await expect.poll(() => s.journal.startOrder).toContain('slow');
}

/** Nothing a refused request asked for happened: the task runs on, the object is there, nothing new was queued or stored. */
async function nothingChanged(s: Served): Promise<void> {
  expect((await s.orchestrator.get('slow'))?.status).toBe('running');
  expect(s.journal.signals.get('slow')?.aborted).toBe(false);
  expect(await s.orchestrator.get('sneaky')).toBeUndefined();
  expect(existsSync(join(s.root, 'kept.txt'))).toBe(true);
  expect(existsSync(join(s.root, 'sneaky.txt'))).toBe(false);
}

describe('DNS rebinding: the Host a request names', () => {
  it('loopback names and addresses are answered, with and without a port; a foreign Host is refused on every route (403 HOST_NOT_ALLOWED) and nothing happens', async () => {
    const s = await serve();
    await somethingToProtect(s);
    const port = String(s.port);
    for (const host of ['localhost', `localhost:${port}`, 'LocalHost', '127.0.0.1', `127.0.0.1:${port}`, '127.0.0.2', '[::1]', `[::1]:${port}`]) {
      expect((await send(s.port, { method: 'GET', path: '/tasks', host })).status, host).toBe(200);
      expect((await send(s.port, { method: 'GET', path: '/', host })).status, host).not.toBe(403);
    }
    const queued = await send(s.port, { method: 'POST', path: '/tasks', host: `localhost:${port}`, type: 'application/json', body: JSON.stringify(probe('by-name')) });
    expect(queued.status).toBe(202);
    const foreign = ['attacker.example:8080', 'attacker.example', `attacker.example:${port}`, `127.0.0.1.attacker.example:${port}`, 'localhost.attacker.example', '0.0.0.0', 'evil@127.0.0.1', '127.0.0.1/x'];
    for (const host of foreign) {
      for (const route of EVERY_ROUTE) {
        const answer = await send(s.port, { ...route, host });
        const what = `${route.method} ${route.path} Host: ${host}`;
        expect(answer.status, what).toBe(403);
        expect(errorOf(answer).code, what).toBe('HOST_NOT_ALLOWED');
      }
    }
    // HTTP/1.1 without Host, or with two (RFC 9112 3.2): 400 in the shape of every error (Node alone answers an empty 400, or takes the first).
    for (const head of ['GET /tasks HTTP/1.1\r\nConnection: close', `GET /tasks HTTP/1.1\r\nHost: 127.0.0.1:${port}\r\nHost: attacker.example\r\nConnection: close`]) {
      const answer = await sendRaw(s.port, `${head}\r\n\r\n`);
      expect(answer, head).toMatch(/^HTTP\/1\.1 400 /);
      expect(answer, head).toContain('"code":"VALIDATION_ERROR"');
    }
    // Bytes that are not HTTP: Node refuses them before any route; the answer is still in the shape of every error, and the connection closed.
    const garbage = await sendRaw(s.port, 'NOT HTTP AT ALL\r\n\r\n');
    expect(garbage).toMatch(/^HTTP\/1\.1 400 /);
    expect(JSON.parse(garbage.slice(garbage.indexOf('\r\n\r\n') + 4))).toEqual({ error: { code: 'VALIDATION_ERROR', message: expect.stringMatching(/^request: not valid HTTP \(HPE_/) as unknown } });
    // A request in absolute form names its URL's host, whatever its Host header says.
    const absolute = await sendRaw(s.port, `GET http://attacker.example/tasks HTTP/1.1\r\nHost: 127.0.0.1:${port}\r\nConnection: close\r\n\r\n`);
    expect(absolute).toMatch(/^HTTP\/1\.1 403 /);
    expect(absolute).toContain('"code":"HOST_NOT_ALLOWED"');
    expect(await sendRaw(s.port, `GET http://127.0.0.1:${port}/tasks HTTP/1.1\r\nHost: 127.0.0.1:${port}\r\nConnection: close\r\n\r\n`)).toMatch(/^HTTP\/1\.1 200 /);
    // An empty Host, and none at all in HTTP/1.0: no name of this server either.
    for (const head of ['GET /tasks HTTP/1.1\r\nHost: \r\nConnection: close', 'GET /tasks HTTP/1.0']) {
      const answer = await sendRaw(s.port, `${head}\r\n\r\n`);
      expect(answer, head).toMatch(/^HTTP\/1\.[01] 403 /);
      expect(answer, head).toContain('"code":"HOST_NOT_ALLOWED"');
    }
    expect(errorOf(await send(s.port, { method: 'GET', path: '/tasks', host: 'attacker.example:8080' }))).toEqual({
      code: 'HOST_NOT_ALLOWED',
      message: `Host "attacker.example:8080" is not a name of this server (it answers to localhost, 127.0.0.1, [::1]): a page on another site may be trying to reach it through DNS rebinding`,
    });
    await nothingChanged(s);
  });

  it('listening on every address (0.0.0.0) with a token, any Host is accepted and the token decides', async () => {
    const s = await serve({ host: '0.0.0.0', token: TOKEN });
    for (const host of ['tasks.internal.example:8080', `127.0.0.1:${String(s.port)}`, 'localhost']) {
      expect((await send(s.port, { method: 'GET', path: '/tasks', host })).status, host).toBe(401);
      expect((await send(s.port, { method: 'GET', path: '/tasks', host, token: TOKEN })).status, host).toBe(200);
    }
    // A Host that is no host name at all is still refused.
    expect(errorOf(await send(s.port, { method: 'GET', path: '/tasks', host: 'evil@127.0.0.1', token: TOKEN })).code).toBe('HOST_NOT_ALLOWED');
  });
});

describe('cross-site requests: Origin and content type', () => {
  it('a cross-site form cannot submit or cancel: a POST whose type is not application/json is 415, whatever its body', async () => {
    const s = await serve();
    await somethingToProtect(s);
    for (const type of ['text/plain', 'text/plain;charset=UTF-8', 'application/x-www-form-urlencoded', 'multipart/form-data; boundary=x', undefined]) {
      for (const [path, body] of [
        ['/tasks', WRITE_CONFIG],
        ['/tasks/slow/cancel', 'reason=gotcha'],
        ['/tasks/slow/cancel', ''],
        ['/tasks/slow/cancel', undefined],
        ['/tasks/slow/retry', ''],
      ] as const) {
        const answer = await send(s.port, { method: 'POST', path, ...(type === undefined ? {} : { type }), ...(body === undefined ? {} : { body }) });
        const what = `POST ${path} ${type ?? '(no type)'} ${body ?? '(no body)'}`;
        expect(answer.status, what).toBe(415);
        expect(errorOf(answer).code, what).toBe('UNSUPPORTED_MEDIA_TYPE');
      }
    }
    expect(errorOf(await send(s.port, { method: 'POST', path: '/tasks/slow/cancel', type: 'text/plain', body: '' })).message).toBe(
      'POST needs "Content-Type: application/json" (got "text/plain"), so that a page on another site cannot send it as a form',
    );
    await nothingChanged(s);
  });

  it('a cross-origin Origin on POST, PUT or DELETE is refused (403 ORIGIN_NOT_ALLOWED) and nothing happens', async () => {
    const s = await serve();
    await somethingToProtect(s);
    const port = String(s.port);
    for (const origin of ['http://attacker.example', `http://attacker.example:${port}`, 'http://localhost:3000', `http://127.0.0.1:${String(s.port + 1)}`, `http://localhost:${port}`, 'null', 'not a url']) {
      for (const route of [
        { method: 'POST', path: '/tasks', type: 'application/json', body: WRITE_CONFIG },
        { method: 'POST', path: '/tasks/slow/cancel', type: 'application/json', body: '{}' },
        { method: 'POST', path: '/tasks/slow/retry', type: 'application/json', body: '{}' },
        { method: 'PUT', path: '/objects/sneaky.txt', type: 'text/plain', body: 'x' },
        { method: 'DELETE', path: '/objects/kept.txt' },
      ]) {
        const answer = await send(s.port, { ...route, origin });
        const what = `${route.method} ${route.path} Origin: ${origin}`;
        expect(answer.status, what).toBe(403);
        expect(errorOf(answer).code, what).toBe('ORIGIN_NOT_ALLOWED');
      }
    }
    expect(errorOf(await send(s.port, { method: 'DELETE', path: '/objects/kept.txt', origin: 'http://attacker.example' })).message).toBe(
      `DELETE from a page of "http://attacker.example", not of this server (127.0.0.1:${port}): cross-origin requests that change anything are refused`,
    );
    // No route invites a cross-origin reader either.
    const read = await send(s.port, { method: 'GET', path: '/tasks', origin: 'http://attacker.example' });
    expect(read.headers['access-control-allow-origin']).toBeUndefined();
    await nothingChanged(s);
  });

  it('same-origin requests (the dashboard) and requests with no Origin (programs) go through; a cancel may send the JSON type and no body', async () => {
    const s = await serve();
    await somethingToProtect(s);
    const port = String(s.port);
    const self = `http://127.0.0.1:${port}`;
    const submitted = await send(s.port, { method: 'POST', path: '/tasks', origin: self, type: 'application/json; charset=utf-8', body: JSON.stringify(probe('mine')) });
    expect(submitted.status).toBe(202);
    const byName = await send(s.port, { method: 'POST', path: '/tasks', host: `localhost:${port}`, origin: `http://localhost:${port}`, type: 'application/json', body: JSON.stringify(probe('also-mine')) });
    expect(byName.status).toBe(202);
    expect((await send(s.port, { method: 'PUT', path: '/objects/mine.txt', origin: self, type: 'text/plain', body: 'mine' })).status).toBe(201);
    expect((await send(s.port, { method: 'DELETE', path: '/objects/mine.txt', origin: self })).status).toBe(200);
    expect((await send(s.port, { method: 'PUT', path: '/objects/program.txt', body: 'from a program' })).status).toBe(201);
    const cancelled = await send(s.port, { method: 'POST', path: '/tasks/slow/cancel', type: 'application/json' });
    expect(cancelled.status).toBe(200);
    expect(JSON.parse(cancelled.body)).toMatchObject({ id: 'slow', status: 'failed', error: { code: 'CANCELLED' } });
    // An empty JSON body where a route needs one is the route's own 400.
    expect(errorOf(await send(s.port, { method: 'POST', path: '/tasks', type: 'application/json' })).code).toBe('VALIDATION_ERROR');
  });
});
