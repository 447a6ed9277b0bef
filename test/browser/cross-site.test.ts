import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { join } from 'node:path';
import { chromium, type Browser, type Page } from 'playwright-core';
import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { Orchestrator } from '../../src/orchestrator/orchestrator.js';
import { FileSystemBackend } from '../../src/storage/backends/filesystem.js';
import { startServer, type TaskforgeServer } from '../../src/server/create-server.js';
import { Journal, probe, ProbeTask } from '../helpers/probe-task.js';
import { serviceAvailable } from '../helpers/services.js';
import { makeTempDir } from '../helpers/temp-dir.js';

// What a page elsewhere can make a real browser do to a taskforge server
// on 127.0.0.1 with no token. "attacker.example" is resolved to 127.0.0.1
// by Chromium itself (--host-resolver-rules): the end state of a DNS
// rebinding attack, with no DNS server involved.

const CHROMIUM = '/usr/bin/chromium';
const CHROMIUM_ARGS = ['--no-sandbox', '--disable-gpu', '--disable-background-networking', '--disable-component-update', '--disable-sync', '--no-first-run'];
const REBOUND = 'attacker.example';

const haveChromium = serviceAvailable('Browser', 'chromium', 'apt-get install -y chromium');

/** A page of another site (another loopback port): a form that posts text/plain to the server, sent as the page loads. */
function attackerPage(target: string): string {
  return `<!doctype html><title>cute cats</title>
<form id="f" method="POST" enctype="text/plain" action="${target}/tasks/slow/cancel"><input name='{"reason":"gotcha","x":"' value='"}'></form>
<script>document.getElementById('f').submit();</script>`;
}

describe.runIf(haveChromium)('cross-site requests from Chromium', () => {
  let browser: Browser;
  let page: Page;
  let server: TaskforgeServer;
  let orchestrator: Orchestrator;
  let journal: Journal;
  let attacker: Server;
  let attackerUrl = '';
  let remove: () => Promise<void> = () => Promise.resolve();

  beforeAll(async () => {
    browser = await chromium.launch({ executablePath: CHROMIUM, headless: true, args: [...CHROMIUM_ARGS, `--host-resolver-rules=MAP ${REBOUND} 127.0.0.1`] });
  }, 60_000);
  afterAll(async () => {
    await browser.close();
  });
  beforeEach(async () => {
    const dir = await makeTempDir('taskforge-cross-site-browser-');
    remove = dir.remove;
    journal = new Journal();
    const storage = { backend: new FileSystemBackend({ root: join(dir.path, 'root') }) };
    orchestrator = new Orchestrator({ concurrency: 2, context: { ...storage, journal }, taskTypes: { probe: ProbeTask } });
    server = await startServer({ orchestrator, storage, port: 0 });
    attacker = createServer((request, response) => {
      response.writeHead(200, { 'content-type': 'text/html; charset=utf-8' }).end(request.url === '/form' ? attackerPage(server.url) : '<!doctype html><title>more cats</title>');
    });
    await new Promise<void>((resolve) => attacker.listen(0, '127.0.0.1', resolve));
    attackerUrl = `http://127.0.0.1:${String((attacker.address() as AddressInfo).port)}/`;
    await orchestrator.submit(probe('slow', 0, { ms: 60_000 }));
    await expect.poll(() => journal.startOrder).toContain('slow');
    page = await browser.newPage();
  });
  afterEach(async () => {
    await page.close();
    await new Promise((resolve) => attacker.close(resolve));
    await server.close();
    await orchestrator.shutdown({ timeoutMs: 1000 });
    await remove();
  });

  it('a form on another site that posts to the server is refused, and the task it targets runs on', async () => {
    const posted = page.waitForResponse((response) => response.url().endsWith('/tasks/slow/cancel'));
    await page.goto(`${attackerUrl}form`);
    const answer = await posted;
    expect(answer.status()).toBe(403);
    expect(await answer.json()).toMatchObject({ error: { code: 'ORIGIN_NOT_ALLOWED' } });
    expect((await orchestrator.get('slow'))?.status).toBe('running');
    // A no-cors fetch from a page there (no preflight, so it is sent) gets no further.
    await page.goto(attackerUrl);
    await page.evaluate(`fetch(${JSON.stringify(`${server.url}/tasks`)}, { method: 'POST', mode: 'no-cors', headers: { 'content-type': 'text/plain' }, body: ${JSON.stringify(JSON.stringify(probe('sneaky')))} })`);
    expect(await orchestrator.get('sneaky')).toBeUndefined();
  });

  it('a page whose name was re-pointed at 127.0.0.1 (DNS rebinding) reaches nothing; the same server by a loopback name serves the dashboard', async () => {
    const port = new URL(server.url).port;
    const rebound = await page.goto(`http://${REBOUND}:${port}/`);
    expect(rebound?.status()).toBe(403);
    // From the browser's side this is a same-origin call, with the JSON type: only the Host gives it away.
    const submitted = await page.evaluate<[number, { error: { code: string } }]>(
      `fetch('/tasks', { method: 'POST', headers: { 'content-type': 'application/json' }, body: ${JSON.stringify(JSON.stringify(probe('sneaky')))} }).then(async (r) => [r.status, await r.json()])`,
    );
    expect(submitted).toEqual([403, { error: expect.objectContaining({ code: 'HOST_NOT_ALLOWED' }) as unknown }]);
    const listed = await page.evaluate<number>(`fetch('/tasks').then((r) => r.status)`);
    expect(listed).toBe(403);
    expect(await orchestrator.get('sneaky')).toBeUndefined();
    const local = await page.goto(`http://localhost:${port}/`);
    expect(local?.status()).not.toBe(403);
  });
});
