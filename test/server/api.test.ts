import { randomBytes } from 'node:crypto';
import { request as httpRequest } from 'node:http';
import { readdir, readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { Orchestrator } from '../../src/orchestrator/orchestrator.js';
import { OrchestratorMetrics } from '../../src/orchestrator/metrics.js';
import { FileSystemBackend } from '../../src/storage/backends/filesystem.js';
import { Keyring } from '../../src/storage/codec/keyring.js';
import { ReadCache } from '../../src/storage/read-cache.js';
import { startServer, type TaskforgeServer } from '../../src/server/create-server.js';
import { headFirst } from '../helpers/head-first.js';
import { Journal, probe, ProbeTask } from '../helpers/probe-task.js';
import { makeTempDir } from '../helpers/temp-dir.js';

interface Fixture {
  server: TaskforgeServer;
  orchestrator: Orchestrator;
  root: string;
  outside: string;
  journal: Journal;
  remove: () => Promise<void>;
}

async function fixture(options: { token?: string; host?: string; maxObjectBytes?: number; bodyLimit?: number } = {}): Promise<Fixture> {
  const dir = await makeTempDir('taskforge-server-');
  const root = join(dir.path, 'root');
  const outside = join(dir.path, 'outside.txt');
  await writeFile(outside, 'not yours');
  const backend = new FileSystemBackend({ root });
  const metrics = new OrchestratorMetrics();
  const journal = new Journal();
  const storage = { backend, keyring: Keyring.fromKey(randomBytes(32)), cache: new ReadCache({ maxBytes: 1024 * 1024 }) };
  const orchestrator = new Orchestrator({ concurrency: 4, metrics, context: { ...storage, journal }, taskTypes: { probe: ProbeTask } });
  const server = await startServer({ orchestrator, storage, metrics, port: 0, ...options });
  return {
    server,
    orchestrator,
    root,
    outside,
    journal,
    remove: async () => {
      await server.close();
      await orchestrator.shutdown({ timeoutMs: 1000 });
      await dir.remove();
    },
  };
}

async function json(response: Response): Promise<Record<string, unknown>> {
  return (await response.json()) as Record<string, unknown>;
}

/** A request sent as written (fetch would resolve `..` segments away), with an optional body of a given type. */
function rawRequest(url: string, method: string, path: string, body?: string, type?: string): Promise<{ status: number; body: string }> {
  const { hostname, port } = new URL(url);
  return new Promise((resolve, reject) => {
    const headers: Record<string, string | number> = body === undefined ? {} : { 'content-length': Buffer.byteLength(body), ...(type === undefined ? {} : { 'content-type': type }) };
    const outgoing = httpRequest({ host: hostname, port, method, path, headers }, (response) => {
      let text = '';
      response.on('data', (chunk: Buffer) => (text += chunk.toString()));
      response.on('end', () => {
        resolve({ status: response.statusCode ?? 0, body: text });
      });
    });
    outgoing.on('error', reject);
    outgoing.end(body);
  });
}

async function waitForRow(base: string, match: (row: Record<string, unknown>) => boolean): Promise<Record<string, unknown>> {
  for (let attempt = 0; attempt < 200; attempt += 1) {
    const { tasks } = (await (await fetch(`${base}/tasks`)).json()) as { tasks: Record<string, unknown>[] };
    const found = tasks.find(match);
    if (found !== undefined) return found;
    await new Promise((resolve) => setTimeout(resolve, 20));
  }
  throw new Error('no such row appeared');
}

async function waitForStatus(base: string, id: string, status: string): Promise<Record<string, unknown>> {
  for (let attempt = 0; attempt < 200; attempt += 1) {
    const task = await json(await fetch(`${base}/tasks/${id}`));
    if (task['status'] === status) return task;
    await new Promise((resolve) => setTimeout(resolve, 20));
  }
  throw new Error(`task ${id} never reached ${status}`);
}

describe('the HTTP API', () => {
  let f: Fixture;
  let base = '';
  beforeEach(async () => {
    f = await fixture();
    base = f.server.url;
  });
  afterEach(async () => {
    await f.remove();
  });

  it('POST /tasks queues one config or an array (202 with ids); the tasks run and GET /tasks/:id shows the result', async () => {
    const one = await fetch(`${base}/tasks`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ type: 'storage', metadata: { operation: 'write', path: '/a.txt', data: 'alpha' } }) });
    expect(one.status).toBe(202);
    const { ids } = (await one.json()) as { ids: string[] };
    expect(ids).toHaveLength(1);
    const many = await fetch(`${base}/tasks`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify([probe('p1', 5), { id: 'w2', type: 'storage', priority: 1, metadata: { operation: 'write', path: '/b.json', data: { b: 2 } } }]),
    });
    expect(many.status).toBe(202);
    expect(await many.json()).toEqual({ ids: ['p1', 'w2'] });
    const done = await waitForStatus(base, ids[0] ?? '', 'completed');
    expect(done).toMatchObject({ type: 'storage', operation: 'write', path: '/a.txt', attempts: 1, result: { success: true, data: { path: '/a.txt', size: 5 } } });
    await waitForStatus(base, 'w2', 'completed');
    expect(await readFile(join(f.root, 'b.json'), 'utf8')).toBe('{"b":2}');
  });

  it('POST /tasks refuses bad input with 400 and the fields at fault, and queues nothing of the batch', async () => {
    const post = (body: string, type = 'application/json'): Promise<Response> => fetch(`${base}/tasks`, { method: 'POST', headers: { 'content-type': type }, body });
    const bad = await post(JSON.stringify([{ id: 'ok1', type: 'storage', metadata: { operation: 'write', path: '/x', data: 'x' } }, { type: 'storage', metadata: { operation: 'explode', path: '' } }]));
    expect(bad.status).toBe(400);
    const body = (await bad.json()) as { error: { code: string; message: string; fields: { field: string }[] } };
    expect(body.error.code).toBe('VALIDATION_ERROR');
    expect(body.error.fields.map((field) => field.field)).toEqual(expect.arrayContaining(['[1].metadata.operation', '[1].metadata.path']));
    expect(await (await fetch(`${base}/tasks/ok1`)).json()).toMatchObject({ error: { code: 'NOT_FOUND' } });
    expect(await json(await post('{"type": "storage",'))).toMatchObject({ error: { code: 'VALIDATION_ERROR' } });
    expect((await post('[]')).status).toBe(400);
    expect(await json(await post('[]'))).toMatchObject({ error: { code: 'VALIDATION_ERROR', message: 'request body: expected a task config or a non-empty array of them' } });
    const tooMany = JSON.stringify(Array.from({ length: 1001 }, () => probe('x')));
    expect(await json(await post(tooMany))).toMatchObject({ error: { message: 'request body: expected at most 1000 tasks per request (got 1001)' } });
    expect(await json(await post('"text"'))).toMatchObject({ error: { code: 'VALIDATION_ERROR', message: 'request body: expected a task config (an object with a type)' } });
    const escape = await post(JSON.stringify({ type: 'storage', metadata: { operation: 'write', path: '/a/../../etc/passwd', data: 'x' } }));
    expect(escape.status).toBe(400);
    expect(await json(escape)).toMatchObject({ error: { code: 'PATH_OUTSIDE_ROOT', fields: [{ field: 'metadata.path' }] } });
    // In a batch: the item is named, in the message and the field.
    const escapeInBatch = await json(await post(JSON.stringify([probe('fine0'), { type: 'storage', metadata: { operation: 'write', path: '/a/../../x', data: 'x' } }])));
    expect(escapeInBatch).toMatchObject({ error: { code: 'PATH_OUTSIDE_ROOT', fields: [{ field: '[1].metadata.path' }] } });
    expect((escapeInBatch['error'] as { message: string }).message).toMatch(/^storage task \[1\]: path '\/a\/\.\.\/\.\.\/x'/);
    // A result that is a stream could never come back as JSON, and would hold its file open.
    const streamed = await post(JSON.stringify([probe('fine'), { type: 'storage', metadata: { operation: 'read', path: '/a.txt', options: { as: 'stream' } } }]));
    expect(streamed.status).toBe(400);
    expect(await json(streamed)).toMatchObject({ error: { code: 'VALIDATION_ERROR', fields: [{ field: '[1].metadata.options.as' }] } });
    expect(await json(await fetch(`${base}/tasks/fine`))).toMatchObject({ error: { code: 'NOT_FOUND' } });
    const unknownType = await post(JSON.stringify({ type: 'teleport' }));
    expect(unknownType.status).toBe(400);
    expect(await json(unknownType)).toMatchObject({ error: { code: 'VALIDATION_ERROR', fields: [{ field: 'type' }] } });
    await post(JSON.stringify(probe('dup')));
    const duplicate = await post(JSON.stringify(probe('dup')));
    expect(duplicate.status).toBe(409);
    expect(await json(duplicate)).toMatchObject({ error: { code: 'ALREADY_EXISTS' } });
    const tooLarge = await post(JSON.stringify({ type: 'storage', metadata: { operation: 'write', path: '/big', data: 'x'.repeat(2 * 1024 * 1024) } }));
    expect(tooLarge.status).toBe(413);
    // It names the bound, and the way to send more.
    expect(await json(tooLarge)).toMatchObject({ error: { code: 'LIMIT_EXCEEDED', message: expect.stringMatching(/over 1 MiB \(1048576 bytes\).*PUT \/objects\/PATH/) as unknown } });
    // Declared over it to a client that waits for 100 Continue: refused before a byte of it is sent.
    const declaredOver = await headFirst(base, 'POST /tasks', { expect: '100-continue', 'content-length': String(2 * 1024 * 1024) }, '');
    expect(declaredOver).toMatch(/^HTTP\/1\.1 413 [^]*connection: close[^]*over 1 MiB/i);
    const wrongType = await post('a=b', 'application/x-www-form-urlencoded');
    expect(wrongType.status).toBe(415);
    // A file on the server is not a client's to store (and then read back).
    const serverFile = await post(JSON.stringify({ type: 'storage', metadata: { operation: 'write', path: '/stolen', file: '/etc/passwd' } }));
    expect(serverFile.status).toBe(400);
    expect(await json(serverFile)).toMatchObject({ error: { code: 'VALIDATION_ERROR', fields: [{ field: 'metadata.file' }] } });
  });

  it('answers odd input with a 4xx and a JSON error, never a 5xx or a stack trace', async () => {
    const cases: [string, string, string | undefined, string | undefined][] = [
      ['POST', '/tasks', '{"type":"storage","metadata":null}', 'application/json'],
      ['POST', '/tasks', '{"type":5}', 'application/json'],
      ['POST', '/tasks', '{"type":"probe","priority":"high"}', 'application/json'],
      ['POST', '/tasks', '{"type":"probe","dependsOn":["nobody"]}', 'application/json'],
      ['POST', '/tasks', '{"type":"probe","id":""}', 'application/json'],
      ['POST', '/tasks', '{"__proto__":{"polluted":true},"type":"probe"}', 'application/json'],
      ['POST', '/tasks', '[null]', 'application/json'],
      ['POST', '/tasks', 'null', 'application/json'],
      ['POST', '/tasks', '', 'application/json'],
      ['POST', '/tasks', '\u0000', 'application/json'],
      ['POST', '/tasks/x/cancel', '{"reason":', 'application/json'],
      ['GET', '/tasks?limit=1&limit=2', undefined, undefined],
      ['GET', '/tasks/%E0%A4%A', undefined, undefined],
      ['GET', '/objects/a%00b', undefined, undefined],
      ['PUT', '/objects/.taskforge-meta-x', 'x', 'text/plain'],
      ['DELETE', '/objects/a//b', undefined, undefined],
      ['PATCH', '/tasks', '{}', 'application/json'],
    ];
    for (const [method, path, body, type] of cases) {
      const response = await rawRequest(base, method, path, body, type);
      expect(response.status, `${method} ${path} ${body ?? ''}`).toBeGreaterThanOrEqual(400);
      expect(response.status, `${method} ${path} ${body ?? ''}`).toBeLessThan(500);
      const parsed = JSON.parse(response.body) as { error: { code: string; message: string } };
      expect(typeof parsed.error.code, `${method} ${path} ${body ?? ''}: ${response.body}`).toBe('string');
      expect(response.body).not.toMatch(/\bat .*\.(ts|js):\d+/);
    }
    expect(({} as Record<string, unknown>)['polluted']).toBeUndefined();
  });

  it('GET /tasks lists newest first, filters by status and type, pages with a cursor, and refuses bad parameters', async () => {
    const handles = await f.orchestrator.submitAll([probe('l1'), probe('l2'), probe('l3', 0, { fail: 'IO_ERROR' }), { id: 'l4', type: 'storage', metadata: { operation: 'write', path: '/l4', data: '4' } }]);
    await Promise.all(handles.map((handle) => handle.result));
    const all = (await (await fetch(`${base}/tasks`)).json()) as { tasks: { id: string }[]; cursor?: string };
    expect(all.tasks.map((task) => task.id)).toEqual(['l4', 'l3', 'l2', 'l1']);
    expect(all.cursor).toBeUndefined();
    const failed = (await (await fetch(`${base}/tasks?status=failed`)).json()) as { tasks: { id: string; error: unknown }[] };
    expect(failed.tasks).toEqual([expect.objectContaining({ id: 'l3', error: { code: 'IO_ERROR', message: "probe 'l3' failed on purpose" } })]);
    const storage = (await (await fetch(`${base}/tasks?type=storage&status=completed,failed`)).json()) as { tasks: { id: string }[] };
    // Submitted in code, not over HTTP: the orchestrator's submit event still says what the task does.
    expect(storage.tasks).toEqual([expect.objectContaining({ id: 'l4', operation: 'write', path: '/l4', status: 'completed' })]);
    const first = (await (await fetch(`${base}/tasks?limit=3`)).json()) as { tasks: { id: string }[]; cursor: string };
    expect(first.tasks.map((task) => task.id)).toEqual(['l4', 'l3', 'l2']);
    const second = (await (await fetch(`${base}/tasks?limit=3&cursor=${first.cursor}`)).json()) as { tasks: { id: string }[]; cursor?: string };
    expect(second).toEqual({ tasks: [expect.objectContaining({ id: 'l1' })] });
    for (const [query, field] of [
      ['status=done', 'status'],
      ['limit=0', 'limit'],
      ['limit=1001', 'limit'],
      ['limit=ten', 'limit'],
      ['cursor=abc', 'cursor'],
      ['limt=1', 'limt'],
      ['stauts=failed', 'stauts'],
    ] as const) {
      const response = await fetch(`${base}/tasks?${query}`);
      expect(response.status).toBe(400);
      expect(await json(response)).toMatchObject({ error: { code: 'VALIDATION_ERROR', fields: [{ field }] } });
    }
    expect(await json(await fetch(`${base}/tasks/nope`))).toEqual({ error: { code: 'NOT_FOUND', message: "no task with id 'nope' is known" } });
    // The longest id a task may have (256 characters, some needing percent-encoding) reaches its route.
    const longId = `é${'x'.repeat(255)}`;
    await (await f.orchestrator.submit(probe(longId))).result;
    expect(await json(await fetch(`${base}/tasks/${encodeURIComponent(longId)}`))).toMatchObject({ id: longId, status: 'completed' });
  });

  it('POST /tasks/:id/cancel stops a running task (FAILED, CANCELLED); unknown is 404, finished is 409, a bad reason 400', async () => {
    const handle = await f.orchestrator.submit(probe('slow', 0, { ms: 30_000 }));
    await waitForStatus(base, 'slow', 'running');
    const cancelled = await fetch(`${base}/tasks/slow/cancel`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ reason: 'changed my mind' }) });
    expect(cancelled.status).toBe(200);
    expect(await json(cancelled)).toMatchObject({ id: 'slow', status: 'failed', error: { code: 'CANCELLED' } });
    expect((await handle.result).error?.code).toBe('CANCELLED');
    expect(f.journal.signals.get('slow')?.aborted).toBe(true);
    const unknown = await fetch(`${base}/tasks/ghost/cancel`, { method: 'POST', headers: { 'content-type': 'application/json' } });
    expect(unknown.status).toBe(404);
    expect(await json(unknown)).toMatchObject({ error: { code: 'NOT_FOUND', message: "no task with id 'ghost' is known to this orchestrator" } });
    const again = await fetch(`${base}/tasks/slow/cancel`, { method: 'POST', headers: { 'content-type': 'application/json' } });
    expect(again.status).toBe(409);
    expect(await json(again)).toMatchObject({ error: { code: 'INVALID_STATE', message: "task 'slow' cannot be cancelled: it is already failed (CANCELLED)" } });
    const badReason = await fetch(`${base}/tasks/slow/cancel`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ reason: 42 }) });
    expect(badReason.status).toBe(400);
    expect(await json(badReason)).toMatchObject({ error: { code: 'VALIDATION_ERROR', fields: [{ field: 'reason' }] } });
  });

  it('GET /events streams every lifecycle event live, with the task row after it', async () => {
    const controller = new AbortController();
    const response = await fetch(`${base}/events`, { signal: controller.signal });
    expect(response.status).toBe(200);
    expect(response.headers.get('content-type')).toBe('text/event-stream; charset=utf-8');
    const reader = (response.body ?? new ReadableStream()).pipeThrough(new TextDecoderStream()).getReader();
    await fetch(`${base}/tasks`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ id: 'seen', type: 'storage', metadata: { operation: 'write', path: '/seen.txt', data: 'hello' } }) });
    let text = '';
    while (!text.includes('event: complete')) {
      const { value, done } = await reader.read();
      if (done) break;
      text += value;
    }
    controller.abort();
    const events = text
      .split('\n\n')
      .filter((block) => block.startsWith('event: '))
      .map((block) => {
        const [eventLine = '', dataLine = ''] = block.split('\n');
        return { event: eventLine.slice('event: '.length), data: JSON.parse(dataLine.slice('data: '.length)) as { task: Record<string, unknown> } };
      });
    expect(events.map((event) => event.event)).toEqual(expect.arrayContaining(['submit', 'start', 'complete']));
    expect(events.map((event) => event.event).indexOf('submit')).toBeLessThan(events.map((event) => event.event).indexOf('start'));
    expect(events.at(-1)?.data.task).toMatchObject({ id: 'seen', status: 'completed', operation: 'write', path: '/seen.txt' });
  });

  it('GET /metrics is Prometheus text; GET /healthz says ok; GET /openapi.json is built from the validation schemas; an unknown route is 404', async () => {
    await (await f.orchestrator.submit(probe('m1'))).result;
    const metrics = await fetch(`${base}/metrics`);
    expect(metrics.status).toBe(200);
    expect(metrics.headers.get('content-type')).toContain('text/plain');
    expect(await metrics.text()).toMatch(/taskforge_tasks_finished_total\{type="probe",status="completed",code=""\} 1/);
    expect(await json(await fetch(`${base}/healthz`))).toEqual({ status: 'ok' });
    const document = (await (await fetch(`${base}/openapi.json`)).json()) as { openapi: string; paths: Record<string, unknown>; components: { schemas: Record<string, { properties?: Record<string, unknown> }> } };
    expect(document.openapi).toBe('3.1.0');
    expect(Object.keys(document.paths)).toEqual(expect.arrayContaining(['/tasks', '/tasks/{id}', '/tasks/{id}/cancel', '/tasks/{id}/events', '/tasks/{id}/retry', '/stats/ends', '/events', '/metrics', '/healthz', '/objects/{*}']));
    expect(Object.keys(document.components.schemas['StorageTaskConfig']?.properties ?? {})).toEqual(expect.arrayContaining(['type', 'metadata']));
    const missing = await fetch(`${base}/nowhere?x=1`);
    expect(missing.status).toBe(404);
    expect(await json(missing)).toEqual({ error: { code: 'NOT_FOUND', message: 'no route GET /nowhere' } });
    // Refused by Node before any route: still in the shape of every error.
    const hugeHeader = await rawHeaderRequest(base, 'x'.repeat(10_000));
    expect(hugeHeader.status).toBe(431);
    expect(JSON.parse(hugeHeader.body)).toEqual({ error: { code: 'LIMIT_EXCEEDED', message: 'request: its headers are over 8192 bytes' } });
  });

  it('stores, reads, lists and deletes objects through streaming routes, compressed and encrypted on request', async () => {
    const payload = randomBytes(300_000);
    const put = await fetch(`${base}/objects/docs/blob.bin?compress=gzip&level=6&encrypt=true`, { method: 'PUT', headers: { 'content-type': 'application/octet-stream' }, body: payload });
    expect(put.status).toBe(201);
    expect(await json(put)).toMatchObject({ path: '/docs/blob.bin' });
    // Stored in the container (encrypted), not as the plain bytes.
    expect((await readFile(join(f.root, 'docs', 'blob.bin'))).includes(payload.subarray(0, 64))).toBe(false);
    const read = await fetch(`${base}/objects/docs/blob.bin?encrypted=true`);
    expect(read.status).toBe(200);
    expect(read.headers.get('content-type')).toBe('application/octet-stream');
    expect(Buffer.from(await read.arrayBuffer()).equals(payload)).toBe(true);
    await fetch(`${base}/objects/docs/note.txt`, { method: 'PUT', body: 'plain text' });
    const listed = (await (await fetch(`${base}/objects/docs?list&limit=10`)).json()) as { entries: { path: string; type: string }[] };
    expect(listed.entries.map((entry) => entry.path).sort()).toEqual(['/docs/blob.bin', '/docs/note.txt']);
    const rootListing = (await (await fetch(`${base}/objects/?list`)).json()) as { entries: { path: string; type: string }[] };
    expect(rootListing.entries).toEqual([expect.objectContaining({ path: '/docs', type: 'directory' })]);
    const rootRead = await fetch(`${base}/objects/`);
    expect(rootRead.status).toBe(400);
    expect(await json(rootRead)).toMatchObject({ error: { code: 'VALIDATION_ERROR', message: "query parameter 'path': expected an object path after /objects/" } });
    const deleted = await fetch(`${base}/objects/docs/note.txt`, { method: 'DELETE' });
    expect(deleted.status).toBe(200);
    expect(await json(deleted)).toMatchObject({ path: '/docs/note.txt', deleted: true });
    expect(await json(await fetch(`${base}/objects/docs/note.txt`, { method: 'DELETE' }))).toMatchObject({ deleted: false });
    // Each object route ran as a task the listing shows.
    const rows = (await (await fetch(`${base}/tasks?type=storage`)).json()) as { tasks: { operation: string; path: string; status: string }[] };
    expect(rows.tasks.map((row) => `${row.operation} ${row.path} ${row.status}`)).toEqual(expect.arrayContaining(['write /docs/blob.bin completed', 'read /docs/blob.bin completed', 'delete /docs/note.txt completed']));
  });

  it('object routes refuse bad input with the code and status it maps to, and touch nothing outside the root', async () => {
    const escape = await rawRequest(base, 'PUT', '/objects/../outside.txt', 'overwritten?');
    expect(escape.status).toBe(400);
    expect(JSON.parse(escape.body)).toMatchObject({ error: { code: 'PATH_OUTSIDE_ROOT' } });
    const encoded = await rawRequest(base, 'PUT', '/objects/%2e%2e/outside.txt', 'overwritten?');
    expect(encoded.status).toBe(400);
    expect(JSON.parse(encoded.body)).toMatchObject({ error: { code: 'PATH_OUTSIDE_ROOT' } });
    const readOut = await rawRequest(base, 'GET', '/objects/%2e%2e/outside.txt');
    expect(readOut.status).toBe(400);
    const deleteOut = await rawRequest(base, 'DELETE', '/objects/%2e%2e/outside.txt');
    expect(deleteOut.status).toBe(400);
    expect(JSON.parse(deleteOut.body)).toMatchObject({ error: { code: 'PATH_OUTSIDE_ROOT' } });
    const badList = await fetch(`${base}/objects/?list&limit=0`);
    expect(badList.status).toBe(400);
    expect(await json(badList)).toMatchObject({ error: { code: 'VALIDATION_ERROR', message: "query parameter 'limit': expected a whole number from 1 to 100000 (got \"0\")" } });
    const listFile = await fetch(`${base}/objects/outside.txt?list`);
    expect(listFile.status).toBe(404);
    expect(await readFile(f.outside, 'utf8')).toBe('not yours');
    const missing = await fetch(`${base}/objects/none.txt`);
    expect(missing.status).toBe(404);
    expect(await json(missing)).toMatchObject({ error: { code: 'NOT_FOUND' } });
    await fetch(`${base}/objects/once.txt`, { method: 'PUT', body: 'first' });
    const again = await fetch(`${base}/objects/once.txt?overwrite=false`, { method: 'PUT', body: 'second' });
    expect(again.status).toBe(409);
    expect(await json(again)).toMatchObject({ error: { code: 'ALREADY_EXISTS' } });
    for (const [query, field] of [
      ['compress=lzma', 'compress'],
      ['level=3', 'level'],
      ['encrypt=maybe', 'encrypt'],
      ['timeout=-1', 'timeout'],
    ] as const) {
      const response = await fetch(`${base}/objects/q.txt?${query}`, { method: 'PUT', body: 'q' });
      expect(response.status).toBe(400);
      expect(await json(response)).toMatchObject({ error: { code: 'VALIDATION_ERROR', fields: [{ field }] } });
    }
    const plainRead = await fetch(`${base}/objects/once.txt?encrypted=true`);
    expect(plainRead.status).toBe(422);
    expect(await json(plainRead)).toMatchObject({ error: { code: 'ENCRYPTION_REQUIRED' } });
    const noPath = await fetch(`${base}/objects/`, { method: 'PUT', body: 'x' });
    expect(noPath.status).toBe(400);
    // A misspelt option is refused, naming it and the one meant, before anything is stored: not a secret stored in the clear.
    const misspelt = await fetch(`${base}/objects/sec/a.txt?encypt=true&compress=zstd`, { method: 'PUT', body: 'top secret' });
    expect(misspelt.status).toBe(400);
    expect(await json(misspelt)).toMatchObject({
      error: { code: 'VALIDATION_ERROR', message: "query parameter 'encypt': this route takes no such parameter (did you mean 'encrypt'?); it takes compress, level, encrypt, overwrite, timeout, retries", fields: [{ field: 'encypt' }] },
    });
    for (const [method, query] of [
      ['GET', 'encryptd=true'],
      ['GET', 'list&recursiv=true'],
      ['GET', 'list&limt=1'],
      ['DELETE', 'recursve=true'],
      ['PUT', 'bogus=1'],
    ] as const) {
      const response = await fetch(`${base}/objects/once.txt?${query}`, { method, ...(method === 'PUT' ? { body: 'changed' } : {}) });
      expect(response.status, `${method} ?${query}`).toBe(400);
      expect(await json(response)).toMatchObject({ error: { code: 'VALIDATION_ERROR' } });
    }
    expect(await readFile(join(f.root, 'once.txt'), 'utf8')).toBe('first');
    expect(await readdir(f.root)).toEqual(['once.txt']);
  });

  it('a PUT whose client goes away mid-body stores nothing, and its task ends failed', async () => {
    const { hostname, port } = new URL(base);
    const outgoing = httpRequest({ host: hostname, port, method: 'PUT', path: '/objects/half.bin', headers: { 'content-length': 1_000_000 } });
    outgoing.on('error', () => undefined);
    outgoing.write(randomBytes(100_000));
    await waitForRow(base, (row) => row['path'] === '/half.bin' && row['status'] === 'running');
    outgoing.destroy();
    const row = await waitForRow(base, (candidate) => candidate['path'] === '/half.bin' && candidate['status'] === 'failed');
    expect(row['error']).toMatchObject({ code: expect.stringMatching(/^(CANCELLED|IO_ERROR)$/) as unknown });
    expect(await readdir(f.root).catch(() => [])).not.toContain('half.bin');
    // No temporary file is left beside it either.
    expect((await readdir(f.root).catch(() => [] as string[])).filter((name) => name.includes('half'))).toEqual([]);
  });

  it('a PUT larger than the server accepts is 413 and stores nothing', async () => {
    await f.remove();
    f = await fixture({ maxObjectBytes: 100_000 });
    base = f.server.url;
    const declared = await fetch(`${base}/objects/big.bin`, { method: 'PUT', body: randomBytes(200_000) });
    expect(declared.status).toBe(413);
    expect(await json(declared)).toMatchObject({ error: { code: 'LIMIT_EXCEEDED', message: 'the object is larger than this server accepts (100000 bytes)' } });
    // Without a length up front: cut off as it streams, and the write stores nothing.
    const chunks = [randomBytes(60_000), randomBytes(60_000)];
    const streamed = await fetch(`${base}/objects/big.bin`, {
      method: 'PUT',
      body: new ReadableStream({
        pull(controller) {
          const chunk = chunks.shift();
          if (chunk === undefined) controller.close();
          else controller.enqueue(chunk);
        },
      }),
      duplex: 'half',
    });
    expect(streamed.status).toBe(413);
    expect(await readdir(f.root).catch(() => [])).not.toContain('big.bin');
    // A client that waits for 100 Continue (curl, for a large body) is refused before it sends a byte, by its length or a bad option; else asked for the body.
    const over = await headFirst(base, 'PUT /objects/big.bin', { expect: '100-continue', 'content-type': 'application/octet-stream', 'content-length': '200000' }, '');
    expect(over).toMatch(/^HTTP\/1\.1 413 [^]*"code":"LIMIT_EXCEEDED"/);
    const badOption = await headFirst(base, 'PUT /objects/small.bin?compress=zip', { expect: '100-continue', 'content-type': 'application/octet-stream' }, 'hello');
    expect(badOption).toMatch(/^HTTP\/1\.1 400 /);
    const fine = await headFirst(base, 'PUT /objects/small.bin', { expect: '100-continue', 'content-type': 'application/octet-stream' }, 'hello');
    expect(fine).toMatch(/^HTTP\/1\.1 100 Continue\r\n\r\nHTTP\/1\.1 201 /);
    expect(await readFile(join(f.root, 'small.bin'), 'utf8')).toBe('hello');
  });
});

describe('the token rule', () => {
  const token = 'a-long-enough-test-token-0123456789';

  it('on loopback without a token every route is open; with a token every route but /healthz needs it', async () => {
    const open = await fixture();
    try {
      expect((await fetch(`${open.server.url}/tasks`)).status).toBe(200);
    } finally {
      await open.remove();
    }
    const guarded = await fixture({ token });
    try {
      const base = guarded.server.url;
      for (const [method, path] of [
        ['GET', '/tasks'],
        ['POST', '/tasks'],
        ['GET', '/tasks/x'],
        ['POST', '/tasks/x/cancel'],
        ['GET', '/events'],
        ['GET', '/metrics'],
        ['GET', '/openapi.json'],
        ['PUT', '/objects/a'],
        ['GET', '/objects/a'],
        ['DELETE', '/objects/a'],
        ['GET', '/nowhere'],
      ] as const) {
        const response = await fetch(`${base}${path}`, { method, ...(method === 'PUT' || method === 'POST' ? { body: '{}' } : {}) });
        expect(response.status, `${method} ${path}`).toBe(401);
        expect(response.headers.get('www-authenticate')).toBe('Bearer realm="taskforge"');
        expect(await json(response)).toEqual({ error: { code: 'UNAUTHORIZED', message: 'this server needs "Authorization: Bearer <TASKFORGE_TOKEN>"' } });
      }
      expect((await fetch(`${base}/tasks`, { headers: { authorization: 'Bearer wrong-token-wrong-token' } })).status).toBe(401);
      expect((await fetch(`${base}/tasks`, { headers: { authorization: `Bearer ${token}` } })).status).toBe(200);
      expect((await fetch(`${base}/healthz`)).status).toBe(200);
      // The dashboard's code holds no data: it loads without the token, then asks for it.
      const page = await fetch(`${base}/`);
      expect(page.status).toBe(200);
      expect(page.headers.get('content-security-policy')).toContain("default-src 'self'");
      expect(await page.text()).toContain('<script type="module" src="/dashboard/app.js">');
      expect((await fetch(`${base}/dashboard/app.js`)).headers.get('content-type')).toBe('text/javascript; charset=utf-8');
    } finally {
      await guarded.remove();
    }
  });

  it('beyond loopback it refuses to start without a token (or with a short one), and with one it requires it', async () => {
    await expect(fixture({ host: '0.0.0.0' })).rejects.toMatchObject({ code: 'VALIDATION_ERROR', message: '--host 0.0.0.0: listening beyond loopback needs a bearer token in TASKFORGE_TOKEN; refusing to start without one' });
    await expect(fixture({ host: '127.0.0.1', token: 'short' })).rejects.toMatchObject({ code: 'VALIDATION_ERROR', message: "TASKFORGE_TOKEN: expected at least 16 characters (got 5); 'openssl rand -hex 32' makes one" });
    const wide = await fixture({ host: '0.0.0.0', token });
    try {
      const port = new URL(wide.server.url).port;
      expect((await fetch(`http://127.0.0.1:${port}/tasks`)).status).toBe(401);
      expect((await fetch(`http://127.0.0.1:${port}/tasks`, { headers: { authorization: `Bearer ${token}` } })).status).toBe(200);
      expect((await fetch(`http://127.0.0.1:${port}/healthz`)).status).toBe(200);
    } finally {
      await wide.remove();
    }
  });
});

/** Sends a request with one oversized header; returns the status. */
function rawHeaderRequest(url: string, value: string): Promise<{ status: number; body: string }> {
  const { hostname, port } = new URL(url);
  return new Promise((resolve, reject) => {
    const request = httpRequest({ host: hostname, port, method: 'GET', path: '/healthz', headers: { 'x-big': value } }, (response) => {
      let body = '';
      response.on('data', (chunk: Buffer) => (body += chunk.toString()));
      response.on('end', () => {
        resolve({ status: response.statusCode ?? 0, body });
      });
    });
    request.on('error', reject);
    request.end();
  });
}

