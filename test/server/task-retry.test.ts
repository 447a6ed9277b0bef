import { mkdir, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { apiFixture, ended, getJson, postJson, submit, type ApiFixture } from '../helpers/api-fixture.js';
import { probe } from '../helpers/probe-task.js';

describe('POST /tasks/:id/retry', () => {
  let f: ApiFixture;
  afterEach(async () => {
    await f.close();
  });

  it('submits a failed task again as a new task with a new id that names the one it retries', async () => {
    f = await apiFixture();
    const id = await submit(f.base, { type: 'storage', metadata: { operation: 'read', path: '/late.txt', options: { as: 'text' } } });
    expect(await ended(f.base, id)).toMatchObject({ status: 'failed', result: { error: { code: 'NOT_FOUND' } } });
    // The world changes; the same config now succeeds.
    await mkdir(f.root, { recursive: true });
    await writeFile(join(f.root, 'late.txt'), 'arrived late');
    const retried = await postJson(f.base, `/tasks/${id}/retry`);
    expect(retried.status).toBe(202);
    const newId = retried.body['id'] as string;
    expect(retried.body).toEqual({ id: newId, retryOf: id });
    expect(newId).not.toBe(id);
    expect(await ended(f.base, newId)).toMatchObject({ id: newId, status: 'completed', retryOf: id, operation: 'read', path: '/late.txt', result: { data: 'arrived late' } });
    // The original says what became of it; the listing names the original on the retry's row.
    expect((await getJson(f.base, `/tasks/${id}`)).body).toMatchObject({ status: 'failed', retriedAs: newId });
    const { body } = await getJson(f.base, `/tasks?id=${encodeURIComponent(newId)}`);
    expect(body['tasks']).toEqual([expect.objectContaining({ id: newId, retryOf: id })]);
  });

  it('retries a cancelled task', async () => {
    f = await apiFixture();
    const id = await submit(f.base, probe('sleepy', 0, { ms: 60_000 }));
    await expect.poll(() => f.journal.signals.has('sleepy')).toBe(true);
    expect((await postJson(f.base, `/tasks/${id}/cancel`)).body).toMatchObject({ status: 'failed', error: { code: 'CANCELLED' } });
    const retried = await postJson(f.base, `/tasks/${id}/retry`);
    expect(retried.status).toBe(202);
    const newId = retried.body['id'] as string;
    await expect.poll(() => f.journal.signals.has(newId)).toBe(true);
    expect((await getJson(f.base, `/tasks/${newId}`)).body).toMatchObject({ status: 'running', retryOf: 'sleepy', type: 'probe' });
    await postJson(f.base, `/tasks/${newId}/cancel`);
  });

  it('refuses a task that is waiting, running or completed with 409 INVALID_STATE, and an unknown id with 404', async () => {
    f = await apiFixture();
    const done = await submit(f.base, probe('fine'));
    await ended(f.base, done);
    const completed = await postJson(f.base, '/tasks/fine/retry');
    expect(completed.status).toBe(409);
    expect(completed.body).toEqual({ error: { code: 'INVALID_STATE', message: "task 'fine' is completed: only a failed or cancelled task can be retried" } });
    await submit(f.base, probe('busy', 0, { ms: 60_000 }));
    await expect.poll(() => f.journal.signals.has('busy')).toBe(true);
    expect((await postJson(f.base, '/tasks/busy/retry')).body).toMatchObject({ error: { code: 'INVALID_STATE', message: "task 'busy' is running: only a failed or cancelled task can be retried" } });
    await postJson(f.base, '/tasks/busy/cancel');
    const unknown = await postJson(f.base, '/tasks/ghost/retry');
    expect(unknown.status).toBe(404);
    expect(unknown.body).toEqual({ error: { code: 'NOT_FOUND', message: "no task with id 'ghost' is known" } });
  });

  it('retries a task once: a second retry is 409 ALREADY_RETRIED and names the retry', async () => {
    f = await apiFixture();
    const id = await submit(f.base, probe('broken', 0, { fail: 'IO_ERROR' }));
    await ended(f.base, id);
    const first = await postJson(f.base, '/tasks/broken/retry');
    expect(first.status).toBe(202);
    const newId = first.body['id'] as string;
    const second = await postJson(f.base, '/tasks/broken/retry');
    expect(second.status).toBe(409);
    expect(second.body).toEqual({ error: { code: 'ALREADY_RETRIED', message: `task 'broken' was already retried as '${newId}': retry that one if it failed too` } });
    // The retry failed the same way: it can be retried in turn, and its own retry names it.
    await ended(f.base, newId);
    const third = await postJson(f.base, `/tasks/${newId}/retry`);
    expect(third.status).toBe(202);
    expect(third.body['retryOf']).toBe(newId);
  });

  it('refuses with 409 CONFIG_NOT_KEPT a task whose config this server does not hold', async () => {
    f = await apiFixture();
    // Submitted in code, not through this server: the server never saw its config.
    await (await f.orchestrator.submit(probe('in-code', 0, { fail: 'IO_ERROR' }))).result;
    const inCode = await postJson(f.base, '/tasks/in-code/retry');
    expect(inCode.status).toBe(409);
    expect(inCode.body).toEqual({
      error: { code: 'CONFIG_NOT_KEPT', message: "task 'in-code' cannot be retried here: this server did not take its config (it was submitted by another client, or before this server started); submit it again" },
    });
    // An object route's task: its bytes went through a request that is over.
    const missing = await fetch(`${f.base}/objects/nothing-here.txt`);
    expect(missing.status).toBe(404);
    const { body } = await getJson(f.base, '/tasks?status=failed&type=storage');
    const objectTask = (body['tasks'] as { id: string; path: string }[]).find((task) => task.path === '/nothing-here.txt');
    const streamed = await postJson(f.base, `/tasks/${objectTask?.id ?? ''}/retry`);
    expect(streamed.status).toBe(409);
    expect(streamed.body).toMatchObject({ error: { code: 'CONFIG_NOT_KEPT', message: expect.stringContaining('its bytes went through a request to /objects, which is over: send that request again') as unknown } });
  });

  it("lets the oldest configs go past the server's budget, and says so", async () => {
    f = await apiFixture({ keepConfigBytes: 4096 });
    await mkdir(f.root, { recursive: true });
    await writeFile(join(f.root, 'taken.txt'), 'already here');
    const write = (id: string): unknown => ({ id, type: 'storage', metadata: { operation: 'write', path: '/taken.txt', data: 'x'.repeat(3000), options: { overwrite: false } } });
    await ended(f.base, await submit(f.base, write('first')));
    await ended(f.base, await submit(f.base, write('second')));
    const first = await postJson(f.base, '/tasks/first/retry');
    expect(first.status).toBe(409);
    expect(first.body).toEqual({
      error: { code: 'CONFIG_NOT_KEPT', message: "task 'first' cannot be retried here: its config was let go to keep this server's configs within 4096 bytes (keepConfigBytes); submit it again" },
    });
    // The newer one is still held; its view never held the data.
    expect((await postJson(f.base, '/tasks/second/retry')).status).toBe(202);
    expect(JSON.stringify((await getJson(f.base, '/tasks/first')).body)).not.toContain('xxx');
  });

  it('takes no body but an empty object, and needs the JSON content type like every POST', async () => {
    f = await apiFixture();
    await ended(f.base, await submit(f.base, probe('broken', 0, { fail: 'IO_ERROR' })));
    const withBody = await postJson(f.base, '/tasks/broken/retry', { priority: 9 });
    expect(withBody.status).toBe(400);
    expect(withBody.body).toEqual({ error: { code: 'VALIDATION_ERROR', message: 'request body: a retry takes no fields (got priority)', fields: [{ field: 'body', message: 'a retry takes no fields (got priority)' }] } });
    const plain = await fetch(`${f.base}/tasks/broken/retry`, { method: 'POST', headers: { 'content-type': 'text/plain' }, body: '' });
    expect(plain.status).toBe(415);
    expect((await postJson(f.base, '/tasks/broken/retry', {})).status).toBe(202);
  });
});
