import { access } from 'node:fs/promises';
import { describe, expect, it } from 'vitest';
import { runScript } from './helpers/child.js';

// `npm test` builds dist/ before the tests run; this checks what a user installs.
describe('the published package', () => {
  it('resolves "taskforge" through its exports map to the built ESM entry, with type declarations', async () => {
    await access('dist/src/index.js');
    await access('dist/src/index.d.ts');
    const child = runScript(`
      import * as taskforge from 'taskforge';
      console.log(JSON.stringify(Object.keys(taskforge).sort()));
    `);
    expect(child.stderr).toBe('');
    const names = JSON.parse(child.stdout) as string[];
    for (const name of ['BaseTask', 'StorageTask', 'TaskType', 'TaskStatus', 'ErrorCode', 'TaskforgeError', 'FileSystemBackend', 'MemoryBackend', 'validateStorageTaskConfig', 'storageTaskConfigSchema', 'parseOrThrow']) {
      expect(names).toContain(name);
    }
  });

  it('does not expose internals by deep import', () => {
    const child = runScript(`import('taskforge/dist/src/core/abort.js').then(() => console.log('reachable'), (error) => console.log(error.code));`);
    expect(child.stdout.trim()).toBe('ERR_PACKAGE_PATH_NOT_EXPORTED');
  });

  it('startServer, which the README documents, is exported, and fastify loads only when it is called', () => {
    const child = runScript(`
      import { Orchestrator, startServer } from 'taskforge';
      import { createRequire } from 'node:module';
      const loaded = () => Object.keys(createRequire(import.meta.url).cache).some((file) => file.includes('/node_modules/fastify/'));
      const before = loaded();
      const orchestrator = new Orchestrator();
      const server = await startServer({ orchestrator, port: 0 });
      const health = await (await fetch(server.url + '/healthz')).json();
      await server.close();
      await orchestrator.shutdown();
      console.log(JSON.stringify({ before, after: loaded(), health }));
    `);
    expect(child.stderr).toBe('');
    expect(JSON.parse(child.stdout)).toEqual({ before: false, after: true, health: { status: 'ok' } });
  });
});
