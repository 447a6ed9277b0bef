import { randomBytes } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { Keyring } from '../../src/storage/codec/keyring.js';
import { MemoryBackend } from '../../src/storage/backends/memory.js';
import { StorageTask } from '../../src/tasks/storage-task.js';
import { TaskType } from '../../src/tasks/task-type.js';
import { validateStorageTaskConfig, validateTaskConfig } from '../../src/tasks/validate.js';
import type { FieldProblem } from '../../src/core/validation.js';

/** Runs a raw (possibly wrong) config on an empty memory backend. */
async function runRaw(config: unknown): Promise<{ code?: string; message?: string; fields: FieldProblem[]; backend: MemoryBackend; attempts: number }> {
  const backend = new MemoryBackend();
  const task = new StorageTask(config as never, { backend });
  const result = await task.execute();
  const fields = (result.error?.details?.['fields'] ?? []) as FieldProblem[];
  return { ...(result.error === undefined ? {} : { code: result.error.code, message: result.error.message }), fields, backend, attempts: result.attempts };
}

const valid = { id: 'v-1', type: TaskType.STORAGE, metadata: { operation: 'write', path: '/a.txt', data: 'x' } };

describe('validation before anything runs', () => {
  const cases: [string, unknown, string, string][] = [
    ['an unknown operation', { ...valid, metadata: { operation: 'move', path: '/a' } }, 'metadata.operation', 'string "move"'],
    ['a missing path', { ...valid, metadata: { operation: 'read' } }, 'metadata.path', 'nothing'],
    ['a non-string path', { ...valid, metadata: { operation: 'read', path: 42 } }, 'metadata.path', 'number 42'],
    ['an empty path', { ...valid, metadata: { operation: 'read', path: '' } }, 'metadata.path', 'string ""'],
    ['a write without data', { ...valid, metadata: { operation: 'write', path: '/a' } }, 'metadata.data', 'nothing'],
    ['a negative timeout', { ...valid, metadata: { ...valid.metadata, options: { timeout: -5 } } }, 'metadata.options.timeout', 'number -5'],
    ['a non-integer timeout', { ...valid, metadata: { ...valid.metadata, options: { timeout: 1.5 } } }, 'metadata.options.timeout', 'number 1.5'],
    ['a negative retries', { ...valid, metadata: { ...valid.metadata, options: { retries: -1 } } }, 'metadata.options.retries', 'number -1'],
    ['a non-integer retries', { ...valid, metadata: { ...valid.metadata, options: { retries: 2.5 } } }, 'metadata.options.retries', 'number 2.5'],
    ['a string retries', { ...valid, metadata: { ...valid.metadata, options: { retries: '3' } } }, 'metadata.options.retries', 'string "3"'],
    ['an unknown option', { ...valid, metadata: { ...valid.metadata, options: { compresion: true } } }, 'metadata.options.compresion', 'boolean true'],
    ['a non-boolean compression', { ...valid, metadata: { ...valid.metadata, options: { compression: 'yes' } } }, 'metadata.options.compression', 'string "yes"'],
    ['an unknown top-level field', { ...valid, priorty: 3 }, 'priorty', 'number 3'],
    ['an unknown metadata field', { ...valid, metadata: { ...valid.metadata, extra: 1 } }, 'metadata.extra', 'number 1'],
    ['a wrong type', { ...valid, type: 'Storage' }, 'type', 'string "Storage"'],
    ['a non-number priority', { ...valid, priority: 'high' }, 'priority', 'string "high"'],
    ['an infinite priority', { ...valid, priority: Infinity }, 'priority', 'number Infinity'],
    ['a non-string id', { ...valid, id: 7 }, 'id', 'number 7'],
    ['data that is a function', { ...valid, metadata: { ...valid.metadata, data: () => 1 } }, 'metadata.data', 'function'],
    ['data with a bigint inside', { ...valid, metadata: { ...valid.metadata, data: { n: 1n } } }, 'metadata.data.n', 'bigint 1'],
    ['data with a Date inside', { ...valid, metadata: { ...valid.metadata, data: { when: new Date(0) } } }, 'metadata.data.when', 'Date object'],
    ['data with NaN inside', { ...valid, metadata: { ...valid.metadata, data: [1, Number.NaN] } }, 'metadata.data[1]', 'number NaN'],
    ['data on a read', { ...valid, metadata: { operation: 'read', path: '/a', data: 'x' } }, 'metadata.data', 'string "x"'],
    ['a list limit of 0', { ...valid, metadata: { operation: 'list', path: '/', options: { limit: 0 } } }, 'metadata.options.limit', 'number 0'],
    ['`as` on a write', { ...valid, metadata: { ...valid.metadata, options: { as: 'text' } } }, 'metadata.options.as', 'string "text"'],
    ['an unknown read form', { ...valid, metadata: { operation: 'read', path: '/a', options: { as: 'xml' } } }, 'metadata.options.as', 'string "xml"'],
    ['`overwrite` on a delete', { ...valid, metadata: { operation: 'delete', path: '/a', options: { overwrite: false } } }, 'metadata.options.overwrite', 'boolean false'],
  ];

  for (const [what, config, field, received] of cases) {
    it(`${what} fails with VALIDATION_ERROR naming ${field} and what was given`, async () => {
      const outcome = await runRaw(config);
      expect(outcome.code).toBe('VALIDATION_ERROR');
      expect(outcome.attempts).toBe(0);
      const problem = outcome.fields.find((entry) => entry.field === field);
      expect(problem, `fields were ${JSON.stringify(outcome.fields)}`).toBeDefined();
      expect(problem?.received).toBe(received);
      expect(outcome.message).toContain(field);
    });
  }

  it('names every bad field at once, each with what was expected', async () => {
    const outcome = await runRaw({ type: 'storage', metadata: { operation: 'copy', path: 1, options: { timeout: -1, retries: 'x', bogus: true } } });
    expect(outcome.fields.map((problem) => problem.field).sort()).toEqual(
      ['metadata.operation', 'metadata.options.bogus', 'metadata.options.retries', 'metadata.options.timeout', 'metadata.path'].sort(),
    );
    expect(outcome.fields.find((problem) => problem.field === 'metadata.options.timeout')?.message).toMatch(/>=\s*0/);
    expect(outcome.fields.find((problem) => problem.field === 'metadata.operation')?.message).toContain('read');
  });

  it('a config that is not even an object becomes a FAILED result, not a throw', async () => {
    for (const config of [null, undefined, 'storage', 42, []]) {
      const outcome = await runRaw(config);
      expect(outcome.code).toBe('VALIDATION_ERROR');
    }
  });

  it('an invalid config touches nothing in storage', async () => {
    const outcome = await runRaw({ ...valid, metadata: { ...valid.metadata, options: { retries: -1 } } });
    expect(outcome.code).toBe('VALIDATION_ERROR');
    const listing = await new StorageTask({ type: 'storage', metadata: { operation: 'list', path: '/', options: { recursive: true } } }, { backend: outcome.backend }).execute();
    expect(listing.data).toEqual({ entries: [] });
  });

  it('cache on a write, or a negative ttlMs, is a VALIDATION_ERROR', async () => {
    expect((await runRaw({ ...valid, metadata: { ...valid.metadata, options: { cache: true } } })).fields[0]).toMatchObject({ field: 'metadata.options.cache' });
    const negative = await runRaw({ ...valid, metadata: { operation: 'read', path: '/a.txt', options: { cache: { ttlMs: -1 } } } });
    expect(negative.fields[0]).toMatchObject({ field: 'metadata.options.cache.ttlMs', received: 'number -1' });
  });

  it('a zstd level outside 1 to 19 is refused before anything is stored', async () => {
    const outcome = await runRaw({ ...valid, metadata: { ...valid.metadata, options: { compression: { algorithm: 'zstd', level: 22 } } } });
    expect(outcome.code).toBe('VALIDATION_ERROR');
    expect(outcome.fields[0]?.message).toBe('zstd levels run from 1 to 19');
    const listing = await new StorageTask({ type: 'storage', metadata: { operation: 'list', path: '/' } }, { backend: outcome.backend }).execute();
    expect(listing.data).toEqual({ entries: [] });
  });

  it("a write to a path ending in '/' (a folder) is refused, naming the path to give; a read or list of one is that folder's", async () => {
    const outcome = await runRaw({ ...valid, metadata: { ...valid.metadata, path: '/reports/' } });
    expect(outcome.code).toBe('VALIDATION_ERROR');
    expect(outcome.fields[0]).toMatchObject({ field: 'metadata.path', message: "a write needs the object's own name, and a path ending in '/' names a folder (give '/reports', or '/reports/NAME' to write into it)" });
    const listing = await new StorageTask({ type: 'storage', metadata: { operation: 'list', path: '/' } }, { backend: outcome.backend }).execute();
    expect(listing.data).toEqual({ entries: [] });
    await new StorageTask({ type: 'storage', metadata: { operation: 'write', path: '/reports/a.txt', data: 'a' } }, { backend: outcome.backend }).execute();
    const folder = await new StorageTask({ type: 'storage', metadata: { operation: 'list', path: '/reports/' } }, { backend: outcome.backend }).execute();
    expect(folder.data).toEqual({ entries: [expect.objectContaining({ path: '/reports/a.txt' })] });
  });

  it('a compression level outside the algorithm range names the range', async () => {
    const outcome = await runRaw({ ...valid, metadata: { ...valid.metadata, options: { compression: { algorithm: 'gzip', level: 12 } } } });
    expect(outcome.code).toBe('VALIDATION_ERROR');
    expect(outcome.fields[0]).toMatchObject({ field: 'metadata.options.compression.level', message: 'gzip levels run from 1 to 9', received: 'number 12' });
  });

  it('an unknown compression algorithm is a VALIDATION_ERROR', async () => {
    const outcome = await runRaw({ ...valid, metadata: { ...valid.metadata, options: { compression: { algorithm: 'lz4' } } } });
    expect(outcome.code).toBe('VALIDATION_ERROR');
    expect(outcome.message).toContain('metadata.options.compression');
  });
});

describe('validating a config without running it', () => {
  it('validateStorageTaskConfig accepts a valid config', () => {
    const outcome = validateStorageTaskConfig(valid);
    expect(outcome.ok).toBe(true);
  });

  it('validateStorageTaskConfig reports the code and every field of an invalid one', () => {
    const outcome = validateStorageTaskConfig({ type: 'storage', metadata: { operation: 'read', path: 1, options: { retries: -2 } } });
    expect(outcome.ok).toBe(false);
    if (outcome.ok) return;
    expect(outcome.error.code).toBe('VALIDATION_ERROR');
    expect((outcome.error.details?.['fields'] as FieldProblem[]).map((problem) => problem.field)).toEqual(['metadata.path', 'metadata.options.retries']);
  });

  it('validateStorageTaskConfig reports path attacks with PATH_OUTSIDE_ROOT', () => {
    const outcome = validateStorageTaskConfig({ type: 'storage', metadata: { operation: 'read', path: '/a/../../etc/passwd' } });
    expect(outcome).toMatchObject({ ok: false, error: { code: 'PATH_OUTSIDE_ROOT' } });
  });

  it('an encrypted write validates with the key a task would use: the environment\'s, or a keyring given; KEY_NOT_FOUND with none', () => {
    const encrypted = { type: 'storage', metadata: { operation: 'write', path: '/s', data: 'x', options: { encryption: true } } };
    const saved = process.env['TASKFORGE_ENCRYPTION_KEY'];
    try {
      delete process.env['TASKFORGE_ENCRYPTION_KEY'];
      expect(validateStorageTaskConfig(encrypted)).toMatchObject({ ok: false, error: { code: 'KEY_NOT_FOUND' } });
      expect(validateStorageTaskConfig(encrypted, { keyring: Keyring.fromKey(randomBytes(32)) }).ok).toBe(true);
      process.env['TASKFORGE_ENCRYPTION_KEY'] = randomBytes(32).toString('base64');
      expect(validateStorageTaskConfig(encrypted).ok).toBe(true);
      expect(validateTaskConfig(encrypted).ok).toBe(true);
    } finally {
      if (saved === undefined) delete process.env['TASKFORGE_ENCRYPTION_KEY'];
      else process.env['TASKFORGE_ENCRYPTION_KEY'] = saved;
    }
  });

  it('validateTaskConfig checks the common fields of a custom type', () => {
    expect(validateTaskConfig({ type: 'email', priority: 2, metadata: { to: 'x' } }).ok).toBe(true);
    expect(validateTaskConfig({ type: 'Email!', priority: 'x' })).toMatchObject({ ok: false, error: { code: 'VALIDATION_ERROR' } });
  });

  it('validateTaskConfig routes storage configs to the storage checks', () => {
    expect(validateTaskConfig({ type: 'storage', metadata: { operation: 'write', path: '/a' } })).toMatchObject({ ok: false, error: { code: 'VALIDATION_ERROR' } });
  });
});
