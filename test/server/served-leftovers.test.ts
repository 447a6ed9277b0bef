import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { Orchestrator } from '../../src/orchestrator/orchestrator.js';
import { SqliteQueue } from '../../src/orchestrator/queues/sqlite-queue.js';
import { startServer } from '../../src/server/create-server.js';
import { FileSystemBackend } from '../../src/storage/backends/filesystem.js';
import { BaseTask } from '../../src/tasks/base-task.js';
import { getJson } from '../helpers/api-fixture.js';
import { makeTempDir } from '../helpers/temp-dir.js';

/** Runs until cancelled. */
class HoldTask extends BaseTask<undefined> {
  protected override executeTask(signal: AbortSignal): Promise<undefined> {
    return new Promise((_resolve, reject) => {
      signal.addEventListener('abort', () => {
        reject(signal.reason as Error);
      });
    });
  }
}

describe('a server over a SQLite queue an earlier process left tasks in', () => {
  const cleanups: (() => Promise<void>)[] = [];
  afterEach(async () => {
    for (const cleanup of cleanups.splice(0).reverse()) await cleanup();
  });

  it('lists them with their operation and path, as it lists the tasks submitted to it (GET /tasks, the dashboard)', async () => {
    const dir = await makeTempDir('served-leftovers-');
    cleanups.push(() => dir.remove());
    const file = join(dir.path, 'queue.db');
    const backend = new FileSystemBackend({ root: join(dir.path, 'root') });
    // The earlier process: it stopped while a task the others wait on ran.
    const earlier = new Orchestrator({ concurrency: 1, queue: new SqliteQueue(file), context: { backend }, taskTypes: { hold: HoldTask } });
    await earlier.submitAll([
      { id: 'blocker', type: 'hold' },
      { id: 'left-write', type: 'storage', dependsOn: ['blocker'], metadata: { operation: 'write', path: 'docs/a.txt', data: 'a' } },
      { id: 'left-list', type: 'storage', priority: 3, dependsOn: ['blocker'], metadata: { operation: 'list', path: '/docs' } },
    ]);
    while ((await earlier.get('blocker'))?.status !== 'running') await new Promise((resolve) => setTimeout(resolve, 10));
    await earlier.shutdown({ timeoutMs: 50 });
    // This one serves the queue without the blocker's type: the tasks stay as they were left.
    const orchestrator = new Orchestrator({ concurrency: 1, queue: new SqliteQueue(file), context: { backend } });
    const server = await startServer({ orchestrator, storage: { backend }, port: 0 });
    cleanups.push(async () => {
      await server.close();
      await orchestrator.shutdown();
    });
    const { status, body } = await getJson(server.url, '/tasks');
    expect(status).toBe(200);
    const rows = (body['tasks'] as { id: string; operation?: string; path?: string; status: string }[]).map(({ id, operation, path, status: state }) => ({ id, operation, path, status: state }));
    expect(rows.sort((a, b) => a.id.localeCompare(b.id))).toEqual([
      { id: 'blocker', operation: undefined, path: undefined, status: 'pending' },
      { id: 'left-list', operation: 'list', path: '/docs', status: 'pending' },
      // The path as the task will use it, as for a task submitted to this server.
      { id: 'left-write', operation: 'write', path: '/docs/a.txt', status: 'pending' },
    ]);
    // A task's view says the same while it waits.
    expect(await orchestrator.get('left-write')).toMatchObject({ operation: 'write', path: 'docs/a.txt' });
  });
});
