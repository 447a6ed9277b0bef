import { request as httpRequest, type ClientRequest } from 'node:http';
import { readdir, readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { Orchestrator } from '../../src/orchestrator/orchestrator.js';
import { startServer, type TaskforgeServer } from '../../src/server/create-server.js';
import { FileSystemBackend } from '../../src/storage/backends/filesystem.js';
import { makeTempDir } from '../helpers/temp-dir.js';

/** A PUT whose body is sent by the caller, a chunk at a time; `answer` settles with the status, or the error when the connection is cut. */
function slowPut(url: string, path: string): { request: ClientRequest; answer: Promise<{ status: number; body: string } | Error> } {
  const { hostname, port } = new URL(url);
  const request = httpRequest({ host: hostname, port, method: 'PUT', path, headers: { 'content-type': 'application/octet-stream', 'transfer-encoding': 'chunked' } });
  const answer = new Promise<{ status: number; body: string } | Error>((resolve) => {
    request.on('response', (response) => {
      let text = '';
      response.on('data', (chunk: Buffer) => (text += chunk.toString()));
      response.on('end', () => {
        resolve({ status: response.statusCode ?? 0, body: text });
      });
    });
    request.on('error', resolve);
  });
  return { request, answer };
}

describe('server close', () => {
  const cleanups: (() => Promise<void>)[] = [];
  afterEach(async () => {
    for (const cleanup of cleanups.splice(0).reverse()) await cleanup();
  });

  async function serve(): Promise<{ server: TaskforgeServer; root: string }> {
    const dir = await makeTempDir('server-close-');
    cleanups.push(dir.remove);
    const root = join(dir.path, 'root');
    const backend = new FileSystemBackend({ root });
    const orchestrator = new Orchestrator({ context: { backend } });
    cleanups.push(() => orchestrator.shutdown({ timeoutMs: 0 }));
    const server = await startServer({ orchestrator, storage: { backend }, port: 0 });
    cleanups.push(() => server.close({ timeoutMs: 0 }));
    return { server, root };
  }

  it('lets an upload in flight finish within its timeout: the object is stored whole and the client gets its 201', async () => {
    const { server, root } = await serve();
    const upload = slowPut(server.url, '/objects/late.bin');
    upload.request.write(Buffer.alloc(64 * 1024, 1));
    // The server has the request (its task started) before close begins.
    while ((await readdir(root).catch(() => [])).length === 0) await new Promise((resolve) => setTimeout(resolve, 10));
    const closing = server.close({ timeoutMs: 10_000 });
    await new Promise((resolve) => setTimeout(resolve, 100));
    upload.request.end(Buffer.alloc(64 * 1024, 2));
    const answer = await upload.answer;
    expect(answer).toMatchObject({ status: 201 });
    await closing;
    const stored = await readFile(join(root, 'late.bin'));
    expect(stored.length).toBe(128 * 1024);
    expect(stored[0]).toBe(1);
    expect(stored[stored.length - 1]).toBe(2);
  });

  it('cuts an upload still in flight at the timeout: nothing is stored, and close resolves', async () => {
    const { server, root } = await serve();
    const upload = slowPut(server.url, '/objects/cut.bin');
    upload.request.write(Buffer.alloc(64 * 1024, 1));
    while ((await readdir(root).catch(() => [])).length === 0) await new Promise((resolve) => setTimeout(resolve, 10));
    const cut: number[] = [];
    await server.close({ timeoutMs: 100, onCut: (connections) => cut.push(connections) });
    expect(cut).toEqual([1]);
    expect(await upload.answer).toBeInstanceOf(Error);
    upload.request.destroy();
    // The write was cancelled: no object, and no temporary file left behind once its cleanup ran.
    let left = await readdir(root);
    for (let wait = 0; wait < 50 && left.length > 0; wait += 1) {
      await new Promise((resolve) => setTimeout(resolve, 20));
      left = await readdir(root);
    }
    expect(left).toEqual([]);
  });

  it('ends an open /events stream at once rather than waiting for its client to leave', async () => {
    const { server } = await serve();
    const events = await fetch(`${server.url}/events`);
    const reader = events.body?.getReader();
    expect((await reader?.read())?.done).toBe(false);
    await server.close({ timeoutMs: 30_000 });
    // The stream ended from the server's side: the reader sees its end.
    let done = false;
    while (!done) done = (await reader?.read())?.done ?? true;
    expect(done).toBe(true);
  });
});
