import { mkdir, writeFile } from 'node:fs/promises';
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { chromium, type Browser, type Page } from 'playwright-core';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { apiFixture, ended, submit, type ApiFixture } from '../helpers/api-fixture.js';
import { CHROMIUM, CHROMIUM_ARGS } from '../helpers/chromium.js';
import { probe } from '../helpers/probe-task.js';
import { serviceAvailable } from '../helpers/services.js';

// What an operator does on the dashboard beyond watching: reads the chart of
// ends (also those before the page opened), opens a task's detail, retries
// a failed task, narrows the table by type and id.

/** How long a poll waits: a round trip to the server on a busy 2-core machine. */
const SOON = { timeout: 5000 } as const;

const haveChromium = serviceAvailable('Browser', 'chromium', 'apt-get install -y chromium');

/** Pixels of the chart drawn in the given colour (exact: the inside of a bar, not its blended edge). */
const PAINTED = (rgb: readonly [number, number, number]): string => `(() => {
  const canvas = document.querySelector('#throughput');
  const data = canvas.getContext('2d').getImageData(0, 0, canvas.width, canvas.height).data;
  let count = 0;
  for (let index = 0; index < data.length; index += 4) {
    if (data[index] === ${String(rgb[0])} && data[index + 1] === ${String(rgb[1])} && data[index + 2] === ${String(rgb[2])} && data[index + 3] === 255) count += 1;
  }
  return count;
})()`;
/** An attribute of every element a selector finds, in document order (a string: this project's TypeScript has no DOM). */
const ATTRIBUTES = (selector: string, attribute: string): string => `[...document.querySelectorAll(${JSON.stringify(selector)})].map((node) => node.getAttribute(${JSON.stringify(attribute)}))`;
const ACCENT = [0x25, 0x63, 0xeb] as const;
const BAD = [0xb9, 0x1c, 0x1c] as const;

describe.runIf(haveChromium)('the dashboard, as an operator uses it, in Chromium', () => {
  let browser: Browser;
  let f: ApiFixture | undefined;
  let page: Page | undefined;

  beforeAll(async () => {
    if (!existsSync(join('dist', 'src', 'dashboard', 'app.js'))) throw new Error('the dashboard is not built: run npm run build first (npm test does)');
    browser = await chromium.launch({ executablePath: CHROMIUM, headless: true, args: CHROMIUM_ARGS });
  }, 60_000);
  afterAll(async () => {
    await browser.close();
  });
  afterEach(async () => {
    await page?.close();
    await f?.close();
  });

  async function open(fixture: ApiFixture): Promise<Page> {
    const opened = await browser.newPage({ viewport: { width: 1280, height: 900 } });
    page = opened;
    // A missing element fails the test in seconds, not at playwright's 30 s.
    opened.setDefaultTimeout(10_000);
    await opened.goto(fixture.base);
    await expect.poll(() => opened.locator('#connection').textContent(), SOON).toBe('live');
    return opened;
  }

  it('the chart shows the tasks that ended before the page opened, also those the table no longer lists, and keeps up live', async () => {
    f = await apiFixture({ keepFinished: 5 });
    const configs = [...Array.from({ length: 25 }, (_, index) => probe(`ok-${String(index)}`)), probe('bad-1', 0, { fail: 'IO_ERROR' }), probe('bad-2', 0, { fail: 'IO_ERROR' })];
    await Promise.all((await f.orchestrator.submitAll(configs)).map((handle) => handle.result));
    const p = await open(f);
    // The table lists the 5 finished tasks the server keeps; the chart counts all 27 ends.
    await expect.poll(() => p.locator('#tasks tbody tr').count(), SOON).toBe(5);
    await expect.poll(() => p.locator('#chart-summary').textContent(), SOON).toBe('27 tasks ended in the last 5 minutes: 25 completed, 2 failed');
    expect(await p.evaluate<number>(PAINTED(ACCENT))).toBeGreaterThan(0);
    expect(await p.evaluate<number>(PAINTED(BAD))).toBeGreaterThan(0);
    await (await f.orchestrator.submit(probe('one-more'))).result;
    await expect.poll(() => p.locator('#chart-summary').textContent(), SOON).toBe('28 tasks ended in the last 5 minutes: 26 completed, 2 failed');
  });

  it("clicking a task opens its detail: config without its data, result, error, attempts, timings and events", async () => {
    f = await apiFixture();
    const write = await submit(f.base, { type: 'storage', metadata: { operation: 'write', path: '/vault/plan.txt', data: 'a secret the page must not show', options: { compression: { algorithm: 'gzip' } } } });
    await ended(f.base, write);
    await ended(f.base, await submit(f.base, { id: 'flaky', type: 'probe', metadata: { flaky: 1, options: { retries: 2 } } }));
    await ended(f.base, await submit(f.base, probe('broken', 0, { fail: 'IO_ERROR' })));
    const p = await open(f);
    await p.locator(`#tasks tr[data-id="${write}"]`).getByRole('button', { name: write, exact: true }).click();
    const dialog = p.getByRole('dialog');
    await expect.poll(() => dialog.getByRole('heading', { level: 2 }).textContent(), SOON).toBe(`Task ${write}`);
    const field = (name: string): Promise<string | null> => dialog.locator(`[data-field="${name}"]`).textContent();
    await expect.poll(() => field('status'), SOON).toBe('completed');
    expect(await field('type')).toBe('storage');
    expect(await field('attempts')).toBe('1');
    expect(await field('operation')).toBe('write');
    expect(await field('path')).toBe('/vault/plan.txt');
    expect(await field('options')).toBe('{"compression":{"algorithm":"gzip"}}');
    expect(await field('omitted')).toBe('metadata.data: text, 31 bytes (not shown)');
    expect(await field('result-data')).toMatch(/^\{"path":"\/vault\/plan\.txt"/);
    expect(await field('startedAt')).toMatch(/^\d{4}-\d\d-\d\dT/);
    expect(await field('finishedAt')).toMatch(/^\d{4}-\d\d-\d\dT/);
    expect(await field('durationMs')).toMatch(/^\d+ ms$/);
    expect(await p.evaluate<string[]>(ATTRIBUTES('#detail-events li', 'data-event'))).toEqual(expect.arrayContaining(['submit', 'start', 'complete']));
    expect(await dialog.textContent()).not.toContain('a secret the page must not show');
    expect(await dialog.getByRole('button', { name: 'Retry' }).count()).toBe(0);
    await p.keyboard.press('Escape');
    await expect.poll(() => dialog.isVisible(), SOON).toBe(false);

    await p.getByRole('button', { name: 'flaky', exact: true }).click();
    await expect.poll(() => field('attempts'), SOON).toBe('2');
    const events = dialog.locator('#detail-events li');
    expect(await p.evaluate<string[]>(ATTRIBUTES('#detail-events li', 'data-event'))).toEqual(['submit', 'start', 'retry', 'complete']);
    expect(await events.nth(2).textContent()).toContain('attempt 1 failed: BACKEND_UNAVAILABLE');
    expect(await field('omitted')).toBe('metadata.flaky: json, 1 byte (not shown)');
    await dialog.getByRole('button', { name: 'Close' }).click();

    await p.getByRole('button', { name: 'broken', exact: true }).click();
    await expect.poll(() => field('error'), SOON).toBe("IO_ERROR: probe 'broken' failed on purpose");
    expect(await field('status')).toBe('failed');
  });

  it('Retry on a failed task submits a new task that names the original, and the page follows it to its end', async () => {
    f = await apiFixture();
    const original = await submit(f.base, { type: 'storage', metadata: { operation: 'read', path: '/late.txt', options: { as: 'text' } } });
    await ended(f.base, original);
    await mkdir(f.root, { recursive: true });
    await writeFile(join(f.root, 'late.txt'), 'here now');
    // Submitted in code: the server does not hold its config, and the page says so.
    await (await f.orchestrator.submit(probe('in-code', 0, { fail: 'IO_ERROR' }))).result;
    const p = await open(f);
    const dialog = p.getByRole('dialog');
    const field = (name: string): Promise<string | null> => dialog.locator(`[data-field="${name}"]`).textContent();
    await p.getByRole('button', { name: original, exact: true }).click();
    await expect.poll(() => field('error'), SOON).toMatch(/^NOT_FOUND: /);
    await dialog.getByRole('button', { name: 'Retry' }).click();
    await expect.poll(() => dialog.locator('#detail-message').textContent(), SOON).toMatch(/^retried as /);
    const retry = ((await dialog.locator('#detail-message').textContent()) ?? '').replace('retried as ', '');
    expect(retry).not.toBe(original);
    await expect.poll(() => dialog.getByRole('heading', { level: 2 }).textContent(), SOON).toBe(`Task ${retry}`);
    expect(await field('retryOf')).toBe(original);
    await expect.poll(() => field('status'), { timeout: 10_000 }).toBe('completed');
    await expect.poll(() => p.locator(`#tasks tr[data-id="${retry}"]`).getAttribute('data-status'), SOON).toBe('completed');
    // The original now names its retry, and cannot be retried twice.
    await dialog.locator('[data-field="retryOf"]').getByRole('button', { name: original }).click();
    await expect.poll(() => dialog.getByRole('heading', { level: 2 }).textContent(), SOON).toBe(`Task ${original}`);
    await expect.poll(() => field('retriedAs'), SOON).toBe(retry);
    expect(await dialog.getByRole('button', { name: 'Retry' }).count()).toBe(0);
    await dialog.getByRole('button', { name: 'Close' }).click();

    await p.getByRole('button', { name: 'in-code', exact: true }).click();
    await expect.poll(() => field('error'), SOON).toMatch(/^IO_ERROR: /);
    await dialog.getByRole('button', { name: 'Retry' }).click();
    await expect.poll(() => dialog.locator('#detail-message').textContent(), SOON).toMatch(/^CONFIG_NOT_KEPT: task 'in-code' cannot be retried here/);
    expect(await dialog.locator('#detail-message').getAttribute('class')).toBe('error');
  });

  it('filter by type and search by id narrow the table, also to tasks the page had not loaded', async () => {
    f = await apiFixture();
    // More tasks than the page loads at first (1000): the oldest come only from the server's search.
    const bulk = Array.from({ length: 1050 }, (_, index) => probe(`bulk-${String(index).padStart(4, '0')}`));
    await Promise.all((await f.orchestrator.submitAll(bulk)).map((handle) => handle.result));
    await Promise.all((await f.orchestrator.submitAll([1, 2, 3].map((n) => ({ id: `store-${String(n)}`, type: 'storage', metadata: { operation: 'write', path: `/s${String(n)}.txt`, data: 's' } })))).map((handle) => handle.result));
    const p = await open(f);
    const visible = (): Promise<string[]> => p.evaluate<string[]>(ATTRIBUTES('#tasks tbody tr:not([hidden])', 'data-id'));
    await expect.poll(() => p.locator('#tasks tbody tr').count(), SOON).toBe(1000);
    expect(await p.locator('#tasks tr[data-id="bulk-0003"]').count()).toBe(0);

    await p.getByLabel('Type').selectOption('storage');
    await expect.poll(visible, SOON).toEqual(['store-3', 'store-2', 'store-1']);
    await p.getByLabel('Type').selectOption('');
    await p.getByLabel('Search id').fill('bulk-0003');
    await expect.poll(visible, SOON).toEqual(['bulk-0003']);
    await p.getByLabel('Search id').fill('BULK-104');
    await expect.poll(async () => (await visible()).sort(), SOON).toEqual(Array.from({ length: 10 }, (_, index) => `bulk-104${String(index)}`));
    // Both at once, and a task that arrives live is judged by the same filters.
    await p.getByLabel('Type').selectOption('storage');
    await expect.poll(visible, SOON).toEqual([]);
    await p.getByLabel('Search id').fill('store');
    await expect.poll(visible, SOON).toEqual(['store-3', 'store-2', 'store-1']);
    await (await f.orchestrator.submitAll([probe('store-probe'), { id: 'store-4', type: 'storage', metadata: { operation: 'write', path: '/s4.txt', data: 's' } }]))[1].result;
    await expect.poll(visible, SOON).toEqual(['store-4', 'store-3', 'store-2', 'store-1']);
    expect(await p.locator('#tasks tr[data-id="store-probe"]').isHidden()).toBe(true);
  });
});
