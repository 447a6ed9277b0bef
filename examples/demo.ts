// The main job on the embedded default: a StorageTask on the filesystem under
// TASKFORGE_STORAGE_ROOT (default ./taskforge-data) writes, reads, lists and
// deletes, and prints what each task reported. Run it with `npm run demo`.
import { randomBytes } from 'node:crypto';
import { Keyring, Orchestrator, StorageTask, TaskType, type StorageMetadata, type TaskResult } from '../src/index.js';

// A throwaway key for the demo; in real use, TASKFORGE_ENCRYPTION_KEY or TASKFORGE_KEYRING.
const keyring = Keyring.fromKey(randomBytes(32));

async function run(metadata: StorageMetadata, id: string): Promise<TaskResult> {
  const task = new StorageTask({ id, type: TaskType.STORAGE, priority: 1, metadata }, { keyring });
  task.on('start', ({ id: taskId }) => {
    console.log(`> ${taskId}: ${metadata.operation} ${metadata.path}`);
  });
  task.on('error', ({ error }) => {
    console.log(`  failed: ${error.code}: ${error.message}`);
  });
  const result = await task.execute();
  await task.cleanup();
  if (result.success) console.log(`  ${result.status} in ${result.durationMs} ms:`, result.data);
  return result;
}

await run({ operation: 'write', path: '/demo/hello.json', data: { content: 'Hello World' } }, 'demo-write-json');
await run({ operation: 'write', path: '/demo/notes.txt', data: 'plain text, stored as its bytes' }, 'demo-write-text');
await run({ operation: 'read', path: '/demo/hello.json' }, 'demo-read');
await run({ operation: 'write', path: '/demo/secret.json', data: { content: 'Hello World' }, options: { compression: true, encryption: true } }, 'demo-write-encrypted');
await run({ operation: 'read', path: '/demo/secret.json', options: { encryption: true } }, 'demo-read-encrypted');
await run({ operation: 'list', path: '/demo' }, 'demo-list');
await run({ operation: 'read', path: '/../etc/passwd' }, 'demo-refused-path');
await run({ operation: 'delete', path: '/demo', options: { recursive: true } }, 'demo-delete');
await run({ operation: 'list', path: '/' }, 'demo-list-after');

// The same configs through the orchestrator: by priority, with a dependency.
const orchestrator = new Orchestrator({ concurrency: 2, context: { keyring } });
orchestrator.on('complete', (result) => {
  console.log(`> orchestrator: ${result.id} completed in ${result.durationMs} ms (priority order, dependencies honoured)`);
});
orchestrator.on('error', ({ id, error }) => {
  console.log(`> orchestrator: ${id} failed: ${error.code}`);
});
await orchestrator.submitAll([
  { id: 'batch-read', type: 'storage', priority: 9, dependsOn: ['batch-write'], metadata: { operation: 'read', path: '/demo/batch.json' } },
  { id: 'batch-write', type: 'storage', priority: 1, metadata: { operation: 'write', path: '/demo/batch.json', data: { from: 'the orchestrator' } } },
  { id: 'batch-cleanup', type: 'storage', priority: 0, dependsOn: ['batch-read'], metadata: { operation: 'delete', path: '/demo', options: { recursive: true } } },
]);
await orchestrator.onIdle();
console.log('  batch-read got:', (await orchestrator.get('batch-read'))?.result?.data);
await orchestrator.shutdown();
