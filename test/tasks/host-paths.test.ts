import { mkdir, symlink, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { Orchestrator } from '../../src/orchestrator/orchestrator.js';
import { startServer } from '../../src/server/create-server.js';
import { FileSystemBackend } from '../../src/storage/backends/filesystem.js';
import type { StorageMetadata } from '../../src/tasks/storage-task-config.js';
import type { TaskResult } from '../../src/tasks/task-result.js';
import { runStorage } from '../helpers/storage.js';
import { useFileSystemFixture } from '../helpers/fs-fixture.js';

/** Failures of every kind the filesystem can report, each naming a storage path. */
const failing: readonly StorageMetadata[] = [
  { operation: 'read', path: '/none' },
  { operation: 'read', path: '/api/none' },
  { operation: 'read', path: '/dir' },
  { operation: 'read', path: '/file.txt/below' },
  { operation: 'read', path: '/escape/x' },
  { operation: 'list', path: '/none' },
  { operation: 'list', path: '/file.txt' },
  { operation: 'write', path: '/file.txt/below', data: 'x' },
  { operation: 'write', path: '/dir', data: 'x' },
  { operation: 'write', path: '/file.txt', data: 'x', options: { overwrite: false } },
  { operation: 'write', path: `/${'x'.repeat(300)}`, data: 'x' },
  { operation: 'delete', path: '/dir' },
];

describe('errors speak in storage paths, never host paths', () => {
  const fixture = useFileSystemFixture();

  async function prepareTree(): Promise<void> {
    await mkdir(join(fixture.root, 'dir', 'inner'), { recursive: true });
    await writeFile(join(fixture.root, 'file.txt'), 'x');
    await mkdir(join(fixture.dir, 'outside'));
    await symlink(join(fixture.dir, 'outside'), join(fixture.root, 'escape'));
  }

  it('no failed result, nor its error, cause or details, carries the root\'s host path', async () => {
    await prepareTree();
    const results: TaskResult[] = [];
    for (const metadata of failing) results.push(await runStorage(fixture.backend, metadata));
    // A backend whose root is missing fails too, and must not say where it looked.
    results.push(await runStorage(new FileSystemBackend({ root: join(fixture.dir, 'no-root') }), { operation: 'read', path: '/x' }));
    for (const result of results) {
      expect(result.success).toBe(false);
      const serialised = JSON.stringify(result);
      expect(serialised).not.toContain(fixture.dir);
    }
    expect(results.map((result) => result.error?.code)).toContain('NOT_FOUND');
  });

  it('GET /tasks/:id and the orchestrator\'s error events carry no host path either', async () => {
    await prepareTree();
    const orchestrator = new Orchestrator({ context: { backend: fixture.backend } });
    const events: unknown[] = [];
    orchestrator.on('error', (event) => events.push(event));
    const server = await startServer({ orchestrator, storage: { backend: fixture.backend }, port: 0 });
    try {
      const response = await fetch(`${server.url}/tasks`, {
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body: JSON.stringify({ type: 'storage', metadata: { operation: 'read', path: '/api/none' } }),
      });
      const { ids } = (await response.json()) as { ids: string[] };
      await orchestrator.onIdle();
      const body = await (await fetch(`${server.url}/tasks/${ids[0] ?? ''}`)).text();
      expect(body).toContain('NOT_FOUND');
      expect(body).toContain('/api/none');
      expect(body).not.toContain(fixture.dir);
      expect(events).toHaveLength(1);
      expect(JSON.stringify(events)).not.toContain(fixture.dir);
    } finally {
      await server.close();
      await orchestrator.shutdown();
    }
  });
});
