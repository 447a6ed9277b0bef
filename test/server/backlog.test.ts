import { afterEach, describe, expect, it } from 'vitest';
import { Backlog } from '../../src/server/backlog.js';
import { apiFixture, ended, postJson, type ApiFixture } from '../helpers/api-fixture.js';
import { headFirst, rawExchange } from '../helpers/head-first.js';

/** A probe that works until it is cancelled (or for a minute). */
function slow(id: string): Record<string, unknown> {
  return { id, type: 'probe', metadata: { ms: 60_000 } };
}

describe('the backlog bound of POST /tasks', () => {
  let fixture: ApiFixture | undefined;
  afterEach(async () => {
    await fixture?.close();
    fixture = undefined;
  });

  it('refuses a request whose tasks would pass the bound: 503 BACKLOG_FULL with Retry-After, nothing of it queued; room comes back as tasks end', async () => {
    fixture = await apiFixture({ maxBacklog: 3 });
    const { base, orchestrator } = fixture;
    expect((await postJson(base, '/tasks', [slow('a'), slow('b')])).status).toBe(202);
    // Two more would make four: the whole request is refused, neither queued.
    const response = await fetch(`${base}/tasks`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify([slow('c'), slow('d')]) });
    expect(response.status).toBe(503);
    expect(response.headers.get('retry-after')).toBe('1');
    expect(await response.json()).toEqual({
      error: {
        code: 'BACKLOG_FULL',
        message: expect.stringMatching(/^this server holds 2 tasks that have not ended \(\d+ bytes of their requests\), at most 3 tasks and 268435456 bytes \(--max-backlog, --max-backlog-bytes\): nothing of this request was queued; send it again in a moment$/) as string,
      },
    });
    expect(await orchestrator.get('c')).toBeUndefined();
    expect(await orchestrator.get('d')).toBeUndefined();
    // One fits.
    expect((await postJson(base, '/tasks', slow('c'))).status).toBe(202);
    expect((await postJson(base, '/tasks', slow('d'))).status).toBe(503);
    // A task that ends (here cancelled) makes room; a refused submit (a duplicate id) takes none and gives none back.
    expect((await postJson(base, '/tasks/a/cancel')).status).toBe(200);
    expect(await ended(base, 'a')).toMatchObject({ status: 'failed' });
    expect((await postJson(base, '/tasks', slow('b'))).status).toBe(409);
    expect((await postJson(base, '/tasks', slow('d'))).status).toBe(202);
    expect((await postJson(base, '/tasks', slow('e'))).status).toBe(503);
    // An operator sees it too: what is held, and the refusals by reason.
    const metrics = await (await fetch(`${base}/metrics`)).text();
    expect(metrics).toMatch(/^taskforge_http_backlog_tasks 3$/m);
    expect(metrics).toMatch(/^taskforge_http_backlog_bytes \d+$/m);
    expect(metrics).toMatch(/^taskforge_http_backlog_refusals_total\{reason="full"\} 3$/m);
    expect(metrics).toMatch(/^taskforge_http_backlog_refusals_total\{reason="too_big"\} 0$/m);
  });

  it('a request bigger than a bound by itself is 413 LIMIT_EXCEEDED (sent again it would be refused for ever), not 503', async () => {
    fixture = await apiFixture({ maxBacklog: 3, maxBacklogBytes: 5000 });
    const { base } = fixture;
    const many = await fetch(`${base}/tasks`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify([slow('m1'), slow('m2'), slow('m3'), slow('m4')]) });
    expect(many.status).toBe(413);
    expect(many.headers.get('retry-after')).toBeNull();
    expect(await many.json()).toEqual({ error: { code: 'LIMIT_EXCEEDED', message: expect.stringMatching(/^this request's 4 tasks in \d+ bytes can never fit this server's backlog, at most 3 tasks and 5000 bytes/) as string } });
    const big = await postJson(base, '/tasks', { ...slow('big'), metadata: { ms: 60_000, padding: 'x'.repeat(6000) } });
    expect(big).toMatchObject({ status: 413, body: { error: { code: 'LIMIT_EXCEEDED' } } });
  });

  it('a retry is counted by its config: one that would pass the byte bound is refused 503 and may be retried later', async () => {
    fixture = await apiFixture({ maxBacklogBytes: 2500 });
    const { base } = fixture;
    const failing = { id: 'failing', type: 'probe', metadata: { fail: 'NOT_FOUND', padding: 'x'.repeat(1500) } };
    expect((await postJson(base, '/tasks', failing)).status).toBe(202);
    expect(await ended(base, 'failing')).toMatchObject({ status: 'failed' });
    expect((await postJson(base, '/tasks', { ...slow('filler'), metadata: { ms: 60_000, padding: 'x'.repeat(1000) } })).status).toBe(202);
    const refused = await fetch(`${base}/tasks/failing/retry`, { method: 'POST', headers: { 'content-type': 'application/json' } });
    expect(refused.status).toBe(503);
    expect(refused.headers.get('retry-after')).toBe('1');
    expect((await postJson(base, '/tasks/filler/cancel')).status).toBe(200);
    expect(await postJson(base, '/tasks/failing/retry')).toMatchObject({ status: 202, body: { retryOf: 'failing' } });
  });

  it('counts the bytes of the requests too: a body that would pass the byte bound is refused', async () => {
    fixture = await apiFixture({ maxBacklogBytes: 1000 });
    const { base } = fixture;
    expect((await postJson(base, '/tasks', slow('small'))).status).toBe(202);
    // (Alone it would fit: beside the first, it does not.)
    const big = { ...slow('big'), metadata: { ms: 60_000, padding: 'x'.repeat(900) } };
    const refused = await postJson(base, '/tasks', big);
    expect(refused).toMatchObject({ status: 503, body: { error: { code: 'BACKLOG_FULL' } } });
  });

  it('a task that ends while its submit is under way is not held for ever (counted before the submit, uncounted at its end)', () => {
    const backlog = new Backlog({ maxTasks: 2, maxBytes: 100 });
    expect(backlog.take(['x', 'y'], 10)).toEqual(['x', 'y']);
    backlog.observe('error', { id: 'x' } as never);
    expect(backlog.tasks).toBe(1);
    expect(backlog.bytes).toBe(5);
    // Held already (a duplicate): not counted twice, and its release is not this request's to make.
    expect(backlog.take(['y', 'z'], 10)).toEqual(['z']);
    backlog.release(['z']);
    expect(backlog.tasks).toBe(1);
    expect(backlog.refusal(1, 95)).toBeUndefined();
    expect(backlog.refusal(2, 0)).toEqual({ when: 'now', message: expect.stringContaining('at most 2 tasks') as string });
    expect(backlog.refusal(1, 96)).toEqual({ when: 'now', message: expect.stringContaining('100 bytes') as string });
    // Bigger than a bound by itself: never, however long it waits.
    expect(backlog.refusal(3, 0)?.when).toBe('never');
    expect(backlog.refusal(1, 101)?.when).toBe('never');
    backlog.observe('complete', { id: 'y' } as never);
    expect([backlog.tasks, backlog.bytes]).toEqual([0, 0]);
  });

  it('refuses before the body is sent: with Expect: 100-continue a refused client is never asked for its body; an accepted one is', async () => {
    fixture = await apiFixture({ maxBacklog: 1, maxBacklogBytes: 4000, token: 'sesame-sesame-sesame' });
    const { base } = fixture;
    const auth = { authorization: 'Bearer sesame-sesame-sesame', expect: '100-continue' };
    // Room: 100 Continue, then the body, then 202.
    const taken = await headFirst(base, 'POST /tasks', auth, JSON.stringify(slow('first')));
    expect(taken).toMatch(/^HTTP\/1\.1 100 Continue\r\n\r\nHTTP\/1\.1 202 /);
    // Full: 503 at once, no 100, and the connection is not kept (the body it announced never comes).
    const full = await headFirst(base, 'POST /tasks', auth, JSON.stringify(slow('second')));
    expect(full).toMatch(/^HTTP\/1\.1 503 /);
    expect(full).toMatch(/^retry-after: 1\r$/im);
    expect(full).toMatch(/^connection: close\r$/im);
    expect(full).toContain('"code":"BACKLOG_FULL"');
    // Bigger than the byte bound by its Content-Length alone: 413, before a byte of it.
    const huge = await headFirst(base, 'POST /tasks', { ...auth, 'content-length': '5000' }, '');
    expect(huge).toMatch(/^HTTP\/1\.1 413 /);
    expect(huge).toContain('"code":"LIMIT_EXCEEDED"');
    // Who may not submit learns nothing of the backlog: the token is checked first.
    const stranger = await headFirst(base, 'POST /tasks', { expect: '100-continue' }, JSON.stringify(slow('third')));
    expect(stranger).toMatch(/^HTTP\/1\.1 401 /);
    expect(await fixture.orchestrator.get('second')).toBeUndefined();
  });

  it('refuses a full backlog before reading the body without Expect too, and the same connection serves the next request', async () => {
    fixture = await apiFixture({ maxBacklog: 1 });
    const { base } = fixture;
    expect((await postJson(base, '/tasks', slow('first'))).status).toBe(202);
    // The head alone is answered: the body (announced, never sent) is not waited for.
    const early = await headFirst(base, 'POST /tasks', {}, JSON.stringify(slow('second')));
    expect(early).toMatch(/^HTTP\/1\.1 503 /);
    // One over the body limit could never be taken, full backlog or not: 413, not a 503 to retry for ever.
    const overLimit = await headFirst(base, 'POST /tasks', { expect: '100-continue', 'content-length': String(2 * 1024 * 1024) }, '');
    expect(overLimit).toMatch(/^HTTP\/1\.1 413 [^]*over 1 MiB/);
    // A client that sends its body whole is answered alike, and its keep-alive connection goes on.
    const { hostname, port } = new URL(base);
    const body = JSON.stringify(slow('third'));
    const request = `POST /tasks HTTP/1.1\r\nhost: ${hostname}:${port}\r\ncontent-type: application/json\r\ncontent-length: ${String(Buffer.byteLength(body))}\r\n\r\n${body}`;
    const second = request.replace('third', 'fourth').replace(/content-length: \d+/, `content-length: ${String(Buffer.byteLength(body.replace('third', 'fourth')))}`);
    const answers = await rawExchange(base, request + second, (text) => (text.match(/HTTP\/1\.1 \d{3} /g) ?? []).length === 2 && text.trimEnd().endsWith('}'));
    // (Each answer's body runs straight into the next answer's status line.)
    expect(answers.match(/HTTP\/1\.1 \d{3}/g)).toEqual(['HTTP/1.1 503', 'HTTP/1.1 503']);
  });
});
