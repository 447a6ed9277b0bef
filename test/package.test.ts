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
});
