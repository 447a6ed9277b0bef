import { randomBytes } from 'node:crypto';
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { chromium, type Browser, type Page } from 'playwright-core';
import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { Orchestrator } from '../../src/orchestrator/orchestrator.js';
import { OrchestratorMetrics } from '../../src/orchestrator/metrics.js';
import { FileSystemBackend } from '../../src/storage/backends/filesystem.js';
import { Keyring } from '../../src/storage/codec/keyring.js';
import { startServer, type TaskforgeServer } from '../../src/server/create-server.js';
import { CHROMIUM, CHROMIUM_ARGS } from '../helpers/chromium.js';
import { ProbeTask } from '../helpers/probe-task.js';
import { serviceAvailable } from '../helpers/services.js';
import { makeTempDir } from '../helpers/temp-dir.js';

/**
 * Runs in the page before its own script: keeps every status a task's row
 * shows, in order (the row is redrawn per event, so each status cell drawn
 * is one state the user saw). A string: this project's TypeScript has no DOM.
 */
const STATUS_WATCHER = `
  window.statusesSeen = {};
  new MutationObserver((records) => {
    for (const record of records) {
      for (const node of record.addedNodes) {
        if (!(node instanceof HTMLTableCellElement) || node.dataset.status === undefined) continue;
        // The row the cell was added to (a cell drawn and replaced in one task has no parent any more).
        const id = record.target.dataset.id;
        const list = (window.statusesSeen[id] ??= []);
        if (list.at(-1) !== node.dataset.status) list.push(node.dataset.status);
      }
    }
  }).observe(document, { childList: true, subtree: true });
`;

const haveChromium = serviceAvailable('Browser', 'chromium', 'apt-get install -y chromium');

describe.runIf(haveChromium)('the dashboard in Chromium', () => {
  let browser: Browser;
  let server: TaskforgeServer;
  let orchestrator: Orchestrator;
  let page: Page;
  let root = '';
  let remove: () => Promise<void> = () => Promise.resolve();

  beforeAll(async () => {
    if (!existsSync(join('dist', 'src', 'dashboard', 'app.js'))) throw new Error('the dashboard is not built: run npm run build first (npm test does)');
    browser = await chromium.launch({ executablePath: CHROMIUM, headless: true, args: CHROMIUM_ARGS });
  }, 60_000);
  afterAll(async () => {
    await browser.close();
  });
  beforeEach(async () => {
    const dir = await makeTempDir('taskforge-dashboard-');
    remove = dir.remove;
    root = join(dir.path, 'root');
    const storage = { backend: new FileSystemBackend({ root }), keyring: Keyring.fromKey(randomBytes(32)) };
    const metrics = new OrchestratorMetrics();
    orchestrator = new Orchestrator({ concurrency: 2, metrics, context: storage, taskTypes: { probe: ProbeTask } });
    server = await startServer({ orchestrator, storage, metrics, port: 0 });
    page = await browser.newPage({ viewport: { width: 1280, height: 900 } });
    // Every status a task's row shows, in order: the row is redrawn per event, so each drawn status cell is kept.
    await page.addInitScript({ content: STATUS_WATCHER });
    await page.goto(server.url);
    await expect.poll(() => page.locator('#connection').textContent()).toBe('live');
  });
  afterEach(async () => {
    await page.close();
    await server.close();
    await orchestrator.shutdown({ timeoutMs: 1000 });
    await remove();
  });

  async function statusesOf(id: string): Promise<string[]> {
    return page.evaluate<string[]>(`window.statusesSeen[${JSON.stringify(id)}] ?? []`);
  }

  it('a write submitted from the form goes pending, running, completed in the table without a reload', async () => {
    await page.getByLabel('Operation').selectOption('write');
    await page.getByLabel('Path').first().fill('/from-the-form.txt');
    await page.getByLabel('Data (write)').fill('written in a browser');
    await page.getByLabel('Compression').selectOption('gzip');
    await page.getByRole('button', { name: 'Submit' }).click();
    await expect.poll(() => page.locator('#submit-result').textContent()).toMatch(/^submitted /);
    const id = ((await page.locator('#submit-result').textContent()) ?? '').replace('submitted ', '');
    const row = page.locator(`#tasks tr[data-id="${id}"]`);
    await expect.poll(() => row.getAttribute('data-status'), { timeout: 10_000 }).toBe('completed');
    await expect.poll(() => statusesOf(id)).toEqual(['pending', 'running', 'completed']);
    expect(await row.locator('td').nth(2).textContent()).toBe('write');
    expect(await row.locator('td').nth(3).textContent()).toBe('/from-the-form.txt');
    expect(await page.locator('[data-count="completed"]').textContent()).toBe('1');
    // The object listing shows what was written.
    await page.getByLabel('Directory').fill('/');
    await page.getByRole('button', { name: 'List' }).click();
    await expect.poll(() => page.locator('#objects tbody').textContent()).toContain('/from-the-form.txt');
  });

  it('the Cancel button stops a running task, which ends failed (CANCELLED)', async () => {
    const handle = await orchestrator.submit({ id: 'slow-one', type: 'probe', metadata: { ms: 60_000 } });
    const row = page.locator('#tasks tr[data-id="slow-one"]');
    await expect.poll(() => row.getAttribute('data-status'), { timeout: 10_000 }).toBe('running');
    await page.getByRole('button', { name: 'cancel slow-one' }).click();
    await expect.poll(() => row.getAttribute('data-status'), { timeout: 10_000 }).toBe('failed');
    expect(await row.locator('td[data-status]').textContent()).toBe('failed (CANCELLED)');
    expect((await handle.result).error?.code).toBe('CANCELLED');
    // A finished task has no Cancel button (its id stays a button: it opens the detail).
    expect(await row.getByRole('button', { name: /^cancel / }).count()).toBe(0);
  });

  it('a path outside the root is refused, and the page says why', async () => {
    await page.getByLabel('Path').first().fill('/a/../../etc/passwd');
    await page.getByLabel('Data (write)').fill('nope');
    await page.getByRole('button', { name: 'Submit' }).click();
    await expect.poll(() => page.locator('#submit-result').textContent()).toContain('PATH_OUTSIDE_ROOT');
    expect(await page.locator('#submit-result').getAttribute('class')).toBe('error');
    expect(await page.locator('#tasks tbody tr').count()).toBe(0);
  });

  it('filters the table by status, and works on a phone-sized screen with the keyboard', async () => {
    const handles = await orchestrator.submitAll([
      { id: 'good', type: 'probe', metadata: {} },
      { id: 'bad', type: 'probe', metadata: { fail: 'IO_ERROR' } },
    ]);
    await Promise.all(handles.map((handle) => handle.result));
    await expect.poll(() => page.locator('#tasks tbody tr').count()).toBe(2);
    await page.getByLabel('completed').uncheck();
    expect(await page.locator('#tasks tr[data-id="good"]').isHidden()).toBe(true);
    expect(await page.locator('#tasks tr[data-id="bad"]').isVisible()).toBe(true);
    await page.setViewportSize({ width: 390, height: 844 });
    // The page does not scroll sideways; the table scrolls inside its own box.
    expect(await page.evaluate('document.documentElement.scrollWidth <= window.innerWidth')).toBe(true);
    // Keyboard: Tab reaches the form's fields in order, and Enter submits.
    await page.getByLabel('Path').first().focus();
    await page.keyboard.type('/typed.txt');
    await page.keyboard.press('Tab');
    await page.keyboard.type('by keyboard');
    await page.keyboard.press('Enter');
    await page.getByRole('button', { name: 'Submit' }).focus();
    await page.keyboard.press('Enter');
    await expect.poll(() => page.locator('#submit-result').textContent()).toMatch(/^submitted /);
  });
});
