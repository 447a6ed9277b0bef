import { join } from 'node:path';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { redisOrchestrator } from '../helpers/redis-orchestrator.js';
import { OrchestratorMetrics } from '../../src/orchestrator/metrics.js';
import { startServer, type TaskforgeServer } from '../../src/server/create-server.js';
import { FileSystemBackend } from '../../src/storage/backends/filesystem.js';
import { Journal, probe, ProbeTask } from '../helpers/probe-task.js';
import { startRedisServer, type RedisServer } from '../helpers/redis-server.js';
import { serviceAvailable } from '../helpers/services.js';
import { makeTempDir } from '../helpers/temp-dir.js';

const haveRedis = serviceAvailable('Redis', 'redis-server', 'apt-get install -y redis-server');

describe.runIf(haveRedis)('the HTTP API over a Redis queue (tasks run in a worker elsewhere)', () => {
  let redis: RedisServer | undefined;
  const cleanups: (() => Promise<void>)[] = [];

  beforeAll(async () => {
    redis = await startRedisServer();
  }, 20_000);
  afterAll(async () => {
    await redis?.stop();
  });
  afterEach(async () => {
    for (const cleanup of cleanups.splice(0).reverse()) await cleanup();
  });

  /** A worker of queue `name` that stores into a root of its own; the backend of that root. */
  const startWorker = async (name: string, concurrency: number): Promise<FileSystemBackend> => {
    const dir = await makeTempDir('taskforge-server-redis-');
    cleanups.push(dir.remove);
    const backend = new FileSystemBackend({ root: join(dir.path, 'root') });
    const { orchestrator: worker } = await redisOrchestrator({ url: redis?.url ?? '', name }, { concurrency, taskTypes: { probe: ProbeTask }, context: { backend, journal: new Journal() } });
    cleanups.push(() => worker.shutdown({ timeoutMs: 1000 }));
    return backend;
  };

  it("while the queue's Redis is away, what needs it answers 503 BACKEND_UNAVAILABLE at once (nothing submitted: a client may safely try again), /healthz says so, and what the server holds itself still answers; all as before once Redis is back", async () => {
    let own = await startRedisServer();
    const { orchestrator } = await redisOrchestrator({ url: own.url, name: 'away' }, { allEvents: true, taskTypes: { probe: ProbeTask } });
    cleanups.push(() => orchestrator.shutdown({ timeoutMs: 0 }));
    const server = await startServer({ orchestrator, metricsFromEvents: true, port: 0 });
    cleanups.push(() => server.close({ timeoutMs: 0 }));
    const post = (id: string): Promise<Response> => fetch(`${server.url}/tasks`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify(probe(id)) });
    expect((await post('before')).status).toBe(202);
    await own.kill();
    await expect.poll(async () => (await fetch(`${server.url}/healthz`)).status).toBe(503);
    expect(await (await fetch(`${server.url}/healthz`)).json()).toEqual({ status: 'unavailable', queue: expect.stringMatching(/^cannot reach redis:\/\/127\.0\.0\.1:\d+\?name=away: .+/) as string });
    for (const [method, path] of [['POST', '/tasks'], ['GET', '/tasks/before'], ['POST', '/tasks/before/cancel'], ['POST', '/tasks/before/retry']] as const) {
      const refused = await fetch(`${server.url}${path}`, { method, headers: { 'content-type': 'application/json' }, ...(path === '/tasks' ? { body: JSON.stringify(probe('during')) } : {}) });
      expect([path, refused.status]).toEqual([path, 503]);
      expect(await refused.json()).toEqual({ error: { code: 'BACKEND_UNAVAILABLE', message: expect.stringMatching(/^cannot reach redis:\/\/127\.0\.0\.1:\d+\?name=away: .+; nothing was done: try again once it is back$/) as string } });
    }
    // The server's own records still answer, and so does /metrics (the queue's gauges have no sample while it cannot say).
    expect((await fetch(`${server.url}/tasks`)).status).toBe(200);
    const scrape = await fetch(`${server.url}/metrics`);
    expect(scrape.status).toBe(200);
    expect(await scrape.text()).not.toMatch(/taskforge_queue_depth\{/);
    own = await startRedisServer({ port: own.port });
    cleanups.push(() => own.stop());
    await expect.poll(async () => (await fetch(`${server.url}/healthz`)).status, { timeout: 10_000 }).toBe(200);
    expect((await post('after')).status).toBe(202);
    // The refused submission was not queued behind the outage.
    expect(await orchestrator.get('during')).toBeUndefined();
  }, 30_000);

  it('a task submitted again under the id of one Redis lost (ended LOST) is a new task: its own row, its end told on /events, its backlog room given back', async () => {
    const own = await startRedisServer();
    cleanups.push(() => own.stop());
    const journal = new Journal();
    const { orchestrator: worker } = await redisOrchestrator({ url: own.url, name: 'again' }, { concurrency: 1, taskTypes: { probe: ProbeTask }, context: { journal } });
    cleanups.push(() => worker.shutdown({ timeoutMs: 1000 }));
    const { orchestrator } = await redisOrchestrator({ url: own.url, name: 'again' }, { allEvents: true, taskTypes: { probe: ProbeTask } });
    cleanups.push(() => orchestrator.shutdown({ timeoutMs: 0 }));
    const server = await startServer({ orchestrator, metricsFromEvents: true, port: 0 });
    cleanups.push(() => server.close({ timeoutMs: 0 }));
    const controller = new AbortController();
    cleanups.push(() => {
      controller.abort();
      return Promise.resolve();
    });
    const stream = (await fetch(`${server.url}/events`, { signal: controller.signal })).body ?? new ReadableStream();
    const reader = stream.pipeThrough(new TextDecoderStream()).getReader();
    let told = '';
    const readUntil = async (text: string): Promise<void> => {
      while (!told.includes(text)) {
        const { value, done } = await reader.read();
        if (done) return;
        told += value;
      }
    };
    const post = (ms: number): Promise<Response> => fetch(`${server.url}/tasks`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify(probe('again', 0, { ms })) });
    expect((await post(3000)).status).toBe(202);
    await expect.poll(() => journal.signals.has('again')).toBe(true);
    // Redis dies with everything it held and comes back empty: the task is lost, and its end says so.
    await own.kill();
    const back = await startRedisServer({ port: own.port });
    cleanups.push(() => back.stop());
    await readUntil('"code":"LOST"');
    const row = async (): Promise<Record<string, unknown>> => (await (await fetch(`${server.url}/tasks?id=again`)).json() as { tasks: Record<string, unknown>[] }).tasks[0] ?? {};
    expect(await row()).toMatchObject({ status: 'failed', error: { code: 'LOST' } });
    told = '';
    expect((await post(50)).status).toBe(202);
    await readUntil('event: complete');
    expect(told).toMatch(/event: complete\ndata: .*"id":"again"/);
    expect(await row()).toEqual(expect.objectContaining({ status: 'completed', attempts: 1 }));
    const ended = await row();
    expect(ended, `the events told since the task was submitted again:\n${told}`).not.toHaveProperty('error');
    // Its event log is its own, oldest first: the lost task's events are gone with it.
    const logged = (await (await fetch(`${server.url}/tasks/again/events`)).json()) as { events: { event: string }[] };
    expect(logged.events.map((event) => event.event)).toEqual(['submit', 'start', 'complete']);
    const metrics = await (await fetch(`${server.url}/metrics`)).text();
    expect(metrics).toMatch(/taskforge_http_backlog_tasks 0\n/);
    expect(metrics).toMatch(/taskforge_tasks_finished_total\{type="probe",status="completed",code=""\} 1\n/);
  }, 30_000);

  it('a server started (or restarted) over a queue that holds tasks lists them from the start: running on a worker, and waiting', async () => {
    const dir = await makeTempDir('taskforge-server-redis-');
    cleanups.push(dir.remove);
    const backend = new FileSystemBackend({ root: join(dir.path, 'root') });
    const journal = new Journal();
    const { orchestrator: worker } = await redisOrchestrator({ url: redis?.url ?? '', name: 'listed' }, { concurrency: 1, taskTypes: { probe: ProbeTask }, context: { backend, journal } });
    cleanups.push(() => worker.shutdown({ timeoutMs: 0 }));
    const { orchestrator: submitter } = await redisOrchestrator({ url: redis?.url ?? '', name: 'listed' }, { taskTypes: { probe: ProbeTask } });
    cleanups.push(() => submitter.shutdown());
    const submittedAt = new Date().toISOString();
    await submitter.submitAll([probe('first', 1, { ms: 30_000 }), probe('second', 0, { ms: 30_000 })]);
    await expect.poll(() => journal.signals.has('first')).toBe(true);
    const { orchestrator } = await redisOrchestrator({ url: redis?.url ?? '', name: 'listed' }, { allEvents: true, taskTypes: { probe: ProbeTask } });
    cleanups.push(() => orchestrator.shutdown());
    const server = await startServer({ orchestrator, storage: { backend }, metricsFromEvents: true, port: 0 });
    cleanups.push(() => server.close({ timeoutMs: 0 }));
    const { tasks } = (await (await fetch(`${server.url}/tasks`)).json()) as { tasks: { id: string; status: string; submittedAt: string }[] };
    expect(tasks.map((task) => [task.id, task.status]).sort()).toEqual([['first', 'running'], ['second', 'pending']]);
    for (const task of tasks) expect(task.submittedAt >= submittedAt.slice(0, 19)).toBe(true);
    // A task another client submits now is first seen at its events: its row takes the queue's submission time.
    await submitter.submit(probe('third', 5));
    await worker.cancel('first');
    const detail = async (): Promise<string> => ((await (await fetch(`${server.url}/tasks/third`)).json()) as { submittedAt: string }).submittedAt;
    const listed = async (): Promise<{ submittedAt?: string; priority?: number }> => ((await (await fetch(`${server.url}/tasks?id=third`)).json()) as { tasks: { submittedAt: string; priority: number }[] }).tasks[0] ?? {};
    await expect.poll(listed, { timeout: 10_000 }).toMatchObject({ submittedAt: await detail(), priority: 5 });
  });

  it('submits over HTTP, shows every task of the queue live, counts them in /metrics, and cancels on the worker', async () => {
    const dir = await makeTempDir('taskforge-server-redis-');
    cleanups.push(dir.remove);
    const backend = new FileSystemBackend({ root: join(dir.path, 'root') });
    const journal = new Journal();
    const { orchestrator: worker } = await redisOrchestrator({ url: redis?.url ?? '', name: 'served' }, { concurrency: 2, taskTypes: { probe: ProbeTask }, context: { backend, journal } });
    cleanups.push(() => worker.shutdown({ timeoutMs: 1000 }));
    const { orchestrator } = await redisOrchestrator({ url: redis?.url ?? '', name: 'served' }, { allEvents: true, taskTypes: { probe: ProbeTask } });
    cleanups.push(() => orchestrator.shutdown());
    const metrics = new OrchestratorMetrics();
    const server: TaskforgeServer = await startServer({ orchestrator, storage: { backend }, metrics, metricsFromEvents: true, port: 0 });
    cleanups.push(() => server.close());
    const base = server.url;

    const posted = await fetch(`${base}/tasks`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify([{ id: 'w1', type: 'storage', metadata: { operation: 'write', path: '/redis/w1.txt', data: 'via redis' } }, probe('slow', 0, { ms: 30_000 })]),
    });
    expect(posted.status).toBe(202);
    expect(await posted.json()).toEqual({ ids: ['w1', 'slow'] });
    let w1: Record<string, unknown> = {};
    for (let attempt = 0; attempt < 200 && w1['status'] !== 'completed'; attempt += 1) {
      w1 = (await (await fetch(`${base}/tasks/w1`)).json()) as Record<string, unknown>;
      await new Promise((resolve) => setTimeout(resolve, 25));
    }
    expect(w1).toMatchObject({ id: 'w1', status: 'completed', operation: 'write', path: '/redis/w1.txt', result: { data: { path: '/redis/w1.txt', size: 9 } } });
    // A task another client submitted shows up too (allEvents).
    const { orchestrator: other } = await redisOrchestrator({ url: redis?.url ?? '', name: 'served' }, { taskTypes: { probe: ProbeTask } });
    cleanups.push(() => other.shutdown());
    await (await other.submit(probe('elsewhere'))).result;
    await expect.poll(async () => ((await (await fetch(`${base}/tasks?status=completed`)).json()) as { tasks: { id: string }[] }).tasks.map((task) => task.id)).toEqual(expect.arrayContaining(['w1', 'elsewhere']));
    await expect.poll(() => journal.signals.has('slow')).toBe(true);
    // The queue's gauges are read from the queue: the task runs on the worker, not in the server's process.
    const gauges = await (await fetch(`${base}/metrics`)).text();
    expect(gauges).toMatch(/taskforge_tasks_running\{queue="redis:\/\/127\.0\.0\.1:\d+\?name=served"\} 1\n/);
    expect(gauges).toMatch(/taskforge_queue_depth\{queue="redis:\/\/127\.0\.0\.1:\d+\?name=served"\} 0\n/);
    // Cancel over HTTP reaches the worker running the task.
    const cancelled = await fetch(`${base}/tasks/slow/cancel`, { method: 'POST', headers: { 'content-type': 'application/json' } });
    expect(cancelled.status).toBe(200);
    expect(await cancelled.json()).toMatchObject({ id: 'slow', status: 'failed', error: { code: 'CANCELLED' } });
    expect(journal.signals.get('slow')?.aborted).toBe(true);
    const text = await (await fetch(`${base}/metrics`)).text();
    expect(text).toMatch(/taskforge_tasks_finished_total\{type="storage",status="completed",code=""\} 1/);
    expect(text).toMatch(/taskforge_tasks_finished_total\{type="probe",status="failed",code="CANCELLED"\} 1/);
    const unknown = await fetch(`${base}/tasks/ghost`);
    expect(unknown.status).toBe(404);
  });

  it("shows the end of a task that ended before this server heard of it (its row empty) as the queue recorded it, error and times included", async () => {
    const backend = await startWorker('earlier', 1);
    const { orchestrator: submitter } = await redisOrchestrator({ url: redis?.url ?? '', name: 'earlier' }, { taskTypes: { probe: ProbeTask } });
    cleanups.push(() => submitter.shutdown());
    const ended = await (await submitter.submit(probe('ended-before', 0, { fail: 'IO_ERROR' }))).result;
    expect(ended.status).toBe('failed');
    const { orchestrator } = await redisOrchestrator({ url: redis?.url ?? '', name: 'earlier' }, { allEvents: true, taskTypes: { probe: ProbeTask } });
    cleanups.push(() => orchestrator.shutdown());
    const server = await startServer({ orchestrator, storage: { backend }, port: 0 });
    cleanups.push(() => server.close());
    const detail = (await (await fetch(`${server.url}/tasks/ended-before`)).json()) as Record<string, unknown>;
    expect(detail).toMatchObject({ id: 'ended-before', status: 'failed', error: { code: 'IO_ERROR' }, startedAt: ended.startedAt, finishedAt: ended.finishedAt, durationMs: ended.durationMs, attempts: 1 });
  });

  it("serves a task's detail, its events, the history of ends, search and retry over the queue (the task runs on the worker)", async () => {
    const backend = await startWorker('operated', 2);
    const { orchestrator } = await redisOrchestrator({ url: redis?.url ?? '', name: 'operated' }, { allEvents: true, taskTypes: { probe: ProbeTask } });
    cleanups.push(() => orchestrator.shutdown());
    const server = await startServer({ orchestrator, storage: { backend }, port: 0 });
    cleanups.push(() => server.close());
    const base = server.url;
    const post = async (path: string, body?: unknown): Promise<{ status: number; body: Record<string, unknown> }> => {
      const response = await fetch(`${base}${path}`, { method: 'POST', headers: { 'content-type': 'application/json' }, ...(body === undefined ? {} : { body: JSON.stringify(body) }) });
      return { status: response.status, body: (await response.json()) as Record<string, unknown> };
    };
    const get = async (path: string): Promise<Record<string, unknown>> => (await (await fetch(`${base}${path}`)).json()) as Record<string, unknown>;

    expect((await post('/tasks', [probe('queued-ok'), probe('queued-bad', 0, { fail: 'IO_ERROR' }, { metadata: { fail: 'IO_ERROR', token: 'never-shown' } })])).status).toBe(202);
    await expect.poll(async () => (await get('/tasks/queued-bad'))['status'], { timeout: 10_000 }).toBe('failed');
    await expect.poll(async () => (await get('/tasks/queued-ok'))['status'], { timeout: 10_000 }).toBe('completed');
    const bad = await get('/tasks/queued-bad');
    expect(bad).toMatchObject({ error: { code: 'IO_ERROR' }, config: { type: 'probe', omitted: [{ field: 'metadata.fail' }, { field: 'metadata.token' }] } });
    expect(JSON.stringify(bad)).not.toContain('never-shown');
    // The events came from the worker, through the queue's event stream.
    await expect.poll(async () => ((await get('/tasks/queued-bad/events'))['events'] as { event: string }[]).map((event) => event.event)).toEqual(['submit', 'start', 'error']);
    // (Counted from the ends this server hears through the queue's events, which may come after the queue answers "failed".)
    const endsHeard = async (): Promise<number> => ((await get('/stats/ends?type=probe'))['buckets'] as { completed: number; failed: number }[]).reduce((sum, bucket) => sum + bucket.completed + bucket.failed, 0);
    await expect.poll(endsHeard).toBe(2);
    expect(((await get('/tasks?id=QUEUED-b'))['tasks'] as { id: string }[]).map((task) => task.id)).toEqual(['queued-bad']);
    const retried = await post('/tasks/queued-bad/retry');
    expect(retried.status).toBe(202);
    const retryId = retried.body['id'] as string;
    expect(retried.body).toEqual({ id: retryId, retryOf: 'queued-bad' });
    await expect.poll(async () => (await get(`/tasks/${retryId}`))['status'], { timeout: 10_000 }).toBe('failed');
    expect(await get(`/tasks/${retryId}`)).toMatchObject({ retryOf: 'queued-bad', result: { error: { code: 'IO_ERROR' } } });
    expect((await post('/tasks/queued-bad/retry')).body).toMatchObject({ error: { code: 'ALREADY_RETRIED' } });
    expect((await post('/tasks/queued-ok/retry')).body).toMatchObject({ error: { code: 'INVALID_STATE' } });
  });
});
