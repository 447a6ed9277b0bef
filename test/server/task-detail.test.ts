import { afterEach, describe, expect, it } from 'vitest';
import { startServer } from '../../src/server/create-server.js';
import { apiFixture, ended, getJson, postJson, submit, type ApiFixture } from '../helpers/api-fixture.js';
import { probe } from '../helpers/probe-task.js';

describe("a task's detail: GET /tasks/:id (its config) and GET /tasks/:id/events", () => {
  let f: ApiFixture;
  afterEach(async () => {
    await f.close();
  });

  it("shows a storage task's config with its data named and sized, never shown", async () => {
    f = await apiFixture();
    const secret = 'the launch codes are 0000';
    const id = await submit(f.base, { type: 'storage', priority: 3, metadata: { operation: 'write', path: '/vault/codes.txt', data: secret, options: { compression: { algorithm: 'gzip' }, encryption: true, retries: 2 } } });
    const task = await ended(f.base, id);
    expect(task).toMatchObject({
      id,
      status: 'completed',
      attempts: 1,
      config: {
        type: 'storage',
        priority: 3,
        metadata: { operation: 'write', path: '/vault/codes.txt', options: { compression: { algorithm: 'gzip' }, encryption: true, retries: 2 } },
        omitted: [{ field: 'metadata.data', kind: 'text', bytes: secret.length }],
      },
      result: { status: 'completed', data: { path: '/vault/codes.txt' } },
    });
    expect(typeof task['startedAt']).toBe('string');
    expect(typeof task['finishedAt']).toBe('string');
    expect(typeof task['durationMs']).toBe('number');
    expect(JSON.stringify(task)).not.toContain('launch codes');
    const json = await ended(f.base, await submit(f.base, { type: 'storage', metadata: { operation: 'write', path: '/doc.json', data: { owner: 'lovelace', pin: 1234 } } }));
    expect(json['config']).toMatchObject({ omitted: [{ field: 'metadata.data', kind: 'json', bytes: JSON.stringify({ owner: 'lovelace', pin: 1234 }).length }] });
    expect(JSON.stringify(json['config'])).not.toContain('lovelace');
  });

  it("shows of a custom type's config only its lifecycle options, and names the other fields", async () => {
    f = await apiFixture();
    const id = await submit(f.base, { type: 'probe', metadata: { ms: 1, apiKey: 'sk-live-hunter2', options: { retries: 1, timeout: 5000, region: 'eu' } } });
    const task = await ended(f.base, id);
    expect(task['config']).toEqual({
      type: 'probe',
      metadata: { options: { retries: 1, timeout: 5000 } },
      omitted: [
        { field: 'metadata.ms', kind: 'json', bytes: 1 },
        { field: 'metadata.apiKey', kind: 'text', bytes: 15 },
        { field: 'metadata.options.region', kind: 'text', bytes: 2 },
      ],
    });
    expect(JSON.stringify(task)).not.toContain('hunter2');
  });

  it("has no config for a task the server did not submit, and says why a failed task's error is", async () => {
    f = await apiFixture();
    await (await f.orchestrator.submit(probe('in-code', 0, { fail: 'PERMISSION_DENIED' }))).result;
    const task = (await getJson(f.base, '/tasks/in-code')).body;
    expect(task['config']).toBeUndefined();
    expect(task).toMatchObject({ status: 'failed', error: { code: 'PERMISSION_DENIED', message: "probe 'in-code' failed on purpose" }, result: { error: { code: 'PERMISSION_DENIED', retryable: false } } });
  });

  it('lists the events of a task in order, with when each came: submit, start, retry, complete', async () => {
    f = await apiFixture();
    const id = await submit(f.base, { id: 'flaky', type: 'probe', metadata: { flaky: 1, options: { retries: 2 } } });
    await ended(f.base, id);
    const { status, body } = await getJson(f.base, '/tasks/flaky/events');
    expect(status).toBe(200);
    const events = body['events'] as { event: string; at: string }[];
    expect(events.map((event) => event.event)).toEqual(['submit', 'start', 'retry', 'complete']);
    expect(events[2]).toMatchObject({ attempt: 1, nextAttempt: 2, error: { code: 'BACKEND_UNAVAILABLE', retryable: true } });
    expect(events[3]).toMatchObject({ status: 'completed', attempts: 2 });
    for (const event of events) expect(Number.isNaN(Date.parse(event.at))).toBe(false);
    expect(body).toMatchObject({ id: 'flaky', kept: true, trimmed: 0 });
  });

  it("logs a failure's code and message and a cancel's reason", async () => {
    f = await apiFixture();
    await ended(f.base, await submit(f.base, probe('broken', 0, { fail: 'IO_ERROR' })));
    const broken = (await getJson(f.base, '/tasks/broken/events')).body['events'] as Record<string, unknown>[];
    expect(broken.at(-1)).toMatchObject({ event: 'error', error: { code: 'IO_ERROR', message: "probe 'broken' failed on purpose", retryable: false } });
    await submit(f.base, probe('sleepy', 0, { ms: 60_000 }));
    await expect.poll(() => f.journal.signals.has('sleepy')).toBe(true);
    await postJson(f.base, '/tasks/sleepy/cancel', { reason: 'operator said so' });
    const sleepy = (await getJson(f.base, '/tasks/sleepy/events')).body['events'] as { event: string }[];
    expect(sleepy.map((event) => event.event)).toEqual(['submit', 'start', 'cancel', 'error']);
    expect(sleepy[2]).toMatchObject({ previousStatus: 'running', reason: 'operator said so' });
  });

  it('answers 404 for an unknown task, and kept: false for one that ended before this server listened', async () => {
    f = await apiFixture();
    const unknown = await getJson(f.base, '/tasks/ghost/events');
    expect(unknown.status).toBe(404);
    expect(unknown.body).toEqual({ error: { code: 'NOT_FOUND', message: "no task with id 'ghost' is known" } });
    await (await f.orchestrator.submit(probe('early'))).result;
    // A second server over the same orchestrator, started after the task ended.
    const late = await startServer({ orchestrator: f.orchestrator, port: 0 });
    try {
      const early = await getJson(late.url, '/tasks/early/events');
      expect(early).toEqual({ status: 200, body: { id: 'early', events: [], kept: false, trimmed: 0 } });
    } finally {
      await late.close();
    }
  });
});
