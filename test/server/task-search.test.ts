import { afterEach, describe, expect, it } from 'vitest';
import { apiFixture, getJson, type ApiFixture } from '../helpers/api-fixture.js';
import { probe } from '../helpers/probe-task.js';

describe('GET /tasks?id=&type=: search by id, filter by type', () => {
  let f: ApiFixture;
  afterEach(async () => {
    await f.close();
  });

  async function ids(query: string): Promise<string[]> {
    const { status, body } = await getJson(f.base, `/tasks?${query}`);
    expect(status, query).toBe(200);
    return (body['tasks'] as { id: string }[]).map((task) => task.id);
  }

  it('finds the tasks whose id holds the text, in any case, with the other filters and paging', async () => {
    f = await apiFixture();
    const handles = await f.orchestrator.submitAll([
      probe('alpha-1'),
      probe('Alpha-2', 0, { fail: 'IO_ERROR' }),
      probe('beta-1'),
      { id: 'alpha-store', type: 'storage', metadata: { operation: 'write', path: '/a.txt', data: 'a' } },
      probe('gamma-alpha'),
    ]);
    await Promise.all(handles.map((handle) => handle.result));
    expect(await ids('id=alpha')).toEqual(['gamma-alpha', 'alpha-store', 'Alpha-2', 'alpha-1']);
    expect(await ids('id=ALPHA-')).toEqual(['alpha-store', 'Alpha-2', 'alpha-1']);
    expect(await ids('id=alpha&type=probe')).toEqual(['gamma-alpha', 'Alpha-2', 'alpha-1']);
    expect(await ids('id=alpha&type=storage')).toEqual(['alpha-store']);
    expect(await ids('id=alpha&status=failed')).toEqual(['Alpha-2']);
    expect(await ids('id=nothing-like-it')).toEqual([]);
    // An empty search (a cleared search box) is no search.
    expect(await ids('id=')).toHaveLength(5);
    const first = await getJson(f.base, '/tasks?id=alpha&limit=2');
    expect((first.body['tasks'] as { id: string }[]).map((task) => task.id)).toEqual(['gamma-alpha', 'alpha-store']);
    expect(await ids(`id=alpha&limit=2&cursor=${String(first.body['cursor'])}`)).toEqual(['Alpha-2', 'alpha-1']);
  });

  it('refuses a bad id or type with 400 VALIDATION_ERROR naming the parameter', async () => {
    f = await apiFixture();
    for (const [query, field, message] of [
      [`id=${'x'.repeat(257)}`, 'id', 'expected at most 256 characters (got 257)'],
      ['id=a&id=b', 'id', 'expected one value'],
      ['type=Not%20A%20Type', 'type', 'expected a lowercase type name such as "storage" (got "Not A Type")'],
      ['type=a&type=b', 'type', 'expected one value'],
    ] as const) {
      const { status, body } = await getJson(f.base, `/tasks?${query}`);
      expect(status, query).toBe(400);
      expect(body, query).toEqual({ error: { code: 'VALIDATION_ERROR', message: `query parameter '${field}': ${message}`, fields: [{ field, message }] } });
    }
  });
});
