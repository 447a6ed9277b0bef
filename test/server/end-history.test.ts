import { afterEach, describe, expect, it } from 'vitest';
import { EndHistory } from '../../src/server/end-history.js';
import { apiFixture, getJson, type ApiFixture } from '../helpers/api-fixture.js';
import { probe } from '../helpers/probe-task.js';

/** A clock the test moves by hand (ms since the epoch). */
function handClock(start: number): { now: () => number; advance: (ms: number) => void } {
  let at = start;
  return {
    now: () => at,
    advance: (ms) => {
      at += ms;
    },
  };
}

const T0 = Date.UTC(2026, 0, 1, 12, 0, 0);

describe('EndHistory: task ends counted per second, read back in steps', () => {
  it('sums ends into steps aligned to the clock, oldest first, the last step the current one', () => {
    const clock = handClock(T0 + 5_000);
    const history = new EndHistory({ now: clock.now });
    history.record('storage', 'completed');
    history.record('probe', 'failed');
    clock.advance(10_000); // 12:00:15
    history.record('storage', 'completed');
    clock.advance(3_000); // 12:00:18
    const window = history.window({ windowSeconds: 30, stepSeconds: 10 });
    expect(window).toEqual({
      now: new Date(T0 + 18_000).toISOString(),
      since: new Date(T0 + 5_000).toISOString(),
      windowSeconds: 30,
      stepSeconds: 10,
      buckets: [
        { start: new Date(T0 - 10_000).toISOString(), completed: 0, failed: 0 },
        { start: new Date(T0).toISOString(), completed: 1, failed: 1 },
        { start: new Date(T0 + 10_000).toISOString(), completed: 1, failed: 0 },
      ],
    });
    expect(history.window({ windowSeconds: 30, stepSeconds: 10, type: 'probe' }).buckets.map((bucket) => bucket.failed)).toEqual([0, 1, 0]);
    expect(history.window({ windowSeconds: 30, stepSeconds: 10, type: 'other' }).buckets.every((bucket) => bucket.completed + bucket.failed === 0)).toBe(true);
  });

  it('forgets ends older than it keeps, and a second slot reused later starts from zero', () => {
    const clock = handClock(T0);
    const history = new EndHistory({ keepSeconds: 60, now: clock.now });
    history.record('storage', 'completed');
    clock.advance(60_000);
    // The same slot of the ring, a minute later.
    history.record('storage', 'failed');
    const window = history.window({ windowSeconds: 60, stepSeconds: 60 });
    expect(window.buckets).toEqual([{ start: new Date(T0 + 60_000).toISOString(), completed: 0, failed: 1 }]);
    expect(() => history.window({ windowSeconds: 120, stepSeconds: 60 })).toThrow(/windowSeconds.*1 to 60/);
  });
});

describe('GET /stats/ends', () => {
  let f: ApiFixture;
  afterEach(async () => {
    await f.close();
  });

  it("counts every end the server heard, also of tasks the listing no longer keeps", async () => {
    // The listing keeps 5 finished tasks; the history counts all 27.
    f = await apiFixture({ keepFinished: 5 });
    const configs = [...Array.from({ length: 25 }, (_, index) => probe(`ok-${String(index)}`)), probe('bad-1', 0, { fail: 'IO_ERROR' }), probe('bad-2', 0, { fail: 'IO_ERROR' })];
    await Promise.all((await f.orchestrator.submitAll(configs)).map((handle) => handle.result));
    await (await f.orchestrator.submit({ type: 'storage', metadata: { operation: 'write', path: '/s.txt', data: 's' } })).result;
    expect(((await getJson(f.base, '/tasks')).body['tasks'] as unknown[]).length).toBe(5);
    const total = (query: string) => async (): Promise<{ completed: number; failed: number }> => {
      const { status, body } = await getJson(f.base, `/stats/ends${query}`);
      expect(status).toBe(200);
      const buckets = body['buckets'] as { completed: number; failed: number }[];
      return { completed: buckets.reduce((sum, bucket) => sum + bucket.completed, 0), failed: buckets.reduce((sum, bucket) => sum + bucket.failed, 0) };
    };
    expect(await total('')()).toEqual({ completed: 26, failed: 2 });
    expect(await total('?type=probe')()).toEqual({ completed: 25, failed: 2 });
    expect(await total('?type=storage&window=60&step=1')()).toEqual({ completed: 1, failed: 0 });
    const { body } = await getJson(f.base, '/stats/ends');
    expect(body).toMatchObject({ windowSeconds: 300, stepSeconds: 10 });
    expect((body['buckets'] as unknown[]).length).toBe(30);
  });

  it('refuses a bad window, step or type with 400 VALIDATION_ERROR naming the parameter', async () => {
    f = await apiFixture();
    for (const [query, field] of [
      ['window=0', 'window'],
      ['window=3601', 'window'],
      ['window=ten', 'window'],
      ['step=0', 'step'],
      ['window=60&step=120', 'step'],
      ['window=300&step=7', 'step'],
      ['type=NO', 'type'],
      ['windw=60', 'windw'],
    ] as const) {
      const { status, body } = await getJson(f.base, `/stats/ends?${query}`);
      expect(status, query).toBe(400);
      expect(body, query).toMatchObject({ error: { code: 'VALIDATION_ERROR', fields: [{ field }] } });
    }
    expect((await getJson(f.base, '/stats/ends?window=300&step=7')).body).toMatchObject({ error: { message: "query parameter 'step': expected a step that divides the window of 300 s (got 7)" } });
  });
});
