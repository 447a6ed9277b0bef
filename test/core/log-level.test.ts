import { describe, expect, it } from 'vitest';
import { repoModule, runScript } from '../helpers/child.js';

describe('TASKFORGE_LOG_LEVEL', () => {
  it('a value that is no level never makes a task constructor throw: logging stays off and the process is warned once', () => {
    const script = `
      import { StorageTask } from '${repoModule('src/index.ts')}';
      const tasks = [1, 2].map(() => new StorageTask({ type: 'storage', metadata: { operation: 'list', path: '/' } }));
      console.log(tasks.length);`;
    const ran = runScript(script, { env: { PATH: process.env['PATH'], TASKFORGE_LOG_LEVEL: 'loud' } });
    expect(ran.status).toBe(0);
    expect(ran.stdout).toBe('2\n');
    expect(ran.stderr.match(/TaskforgeWarning: TASKFORGE_LOG_LEVEL: expected one of trace, debug, info, warn, error, fatal, silent \(got "loud"\); logging stays off/g)).toHaveLength(1);
  });
});
