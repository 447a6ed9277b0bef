// Takes docs/dashboard.png: a server over a temporary root with a few
// finished, failed, waiting and running tasks (one a slow transfer, so its
// progress bar shows), the dashboard open in headless Chromium.
// Usage: npm run screenshot   (builds first; needs /usr/bin/chromium)
import { randomBytes } from 'node:crypto';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Readable } from 'node:stream';
import { setTimeout as delay } from 'node:timers/promises';
import { chromium } from 'playwright-core';
import { Orchestrator } from '../src/orchestrator/orchestrator.js';
import { OrchestratorMetrics } from '../src/orchestrator/metrics.js';
import { startServer } from '../src/server/create-server.js';
import { FileSystemBackend } from '../src/storage/backends/filesystem.js';

const dir = await mkdtemp(join(tmpdir(), 'taskforge-shot-'));
const backend = new FileSystemBackend({ root: join(dir, 'root') });
const metrics = new OrchestratorMetrics();
const orchestrator = new Orchestrator({ concurrency: 2, metrics, context: { backend } });
const server = await startServer({ orchestrator, storage: { backend }, metrics, port: 0 });
const browser = await chromium.launch({ executablePath: '/usr/bin/chromium', headless: true, args: ['--no-sandbox', '--disable-gpu', '--disable-background-networking', '--disable-component-update', '--disable-sync', '--no-first-run'] });
try {
  const page = await browser.newPage({ viewport: { width: 1280, height: 1000 }, deviceScaleFactor: 1 });
  await page.goto(server.url);
  for (let index = 0; index < 12; index += 1) {
    await orchestrator.submit({ type: 'storage', priority: index % 3, metadata: { operation: 'write', path: `/reports/2026-11-${String(index + 10)}.json`, data: { day: index + 10, rows: index * 17 }, options: { compression: index % 2 === 0 } } });
    await delay(150);
  }
  await orchestrator.submit({ type: 'storage', metadata: { operation: 'read', path: '/reports/missing.csv' } });
  // A slow upload of 64 MiB: its progress bar moves while the picture is taken.
  let sent = 0;
  const slow = new Readable({
    read() {
      if (sent >= 64) {
        this.push(null);
        return;
      }
      sent += 1;
      setTimeout(() => this.push(randomBytes(1024 * 1024)), 200);
    },
  });
  await orchestrator.submit({ id: 'backup-upload', type: 'storage', priority: 5, metadata: { operation: 'write', path: '/backups/db.sql.zst', data: slow, options: { compression: true } } });
  await orchestrator.submit({ type: 'storage', priority: -1, metadata: { operation: 'list', path: '/reports' } });
  await delay(4000);
  await page.getByLabel('Directory').fill('/reports');
  await page.getByRole('button', { name: 'List' }).click();
  await delay(500);
  await page.screenshot({ path: 'docs/dashboard.png', fullPage: true });
  process.stdout.write('wrote docs/dashboard.png\n');
} finally {
  await browser.close();
  await server.close();
  await orchestrator.shutdown({ timeoutMs: 1000 });
  await rm(dir, { recursive: true, force: true });
}
