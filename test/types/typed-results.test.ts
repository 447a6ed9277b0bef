import { spawnSync } from 'node:child_process';
import { mkdir, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { basename, join } from 'node:path';
import { Readable } from 'node:stream';
import { afterAll, assert, beforeAll, describe, expect, it } from 'vitest';
import { BaseTask, MemoryBackend, Orchestrator, RedisQueue, StorageTask } from '../../src/index.js';
import { startRedisServer, type RedisServer } from '../helpers/redis-server.js';
import { serviceAvailable } from '../helpers/services.js';

const CONSUMER = 'test/types/typed-results.test-d.ts';
/** `// @ts-expect-error TS2339 -- why`: the line after it must fail with that code. */
const DIRECTIVE = /^\s*\/\/ @ts-expect-error (TS\d+) -- /;

/** A custom task type: its result's data is what executeTask returns. */
class CounterTask extends BaseTask<{ readonly n: number }> {
  protected executeTask(): Promise<{ readonly n: number }> {
    return Promise.resolve({ n: 1 });
  }
}

async function text(stream: Readable): Promise<string> {
  const chunks: Buffer[] = [];
  for await (const chunk of stream) chunks.push(chunk as Buffer);
  return Buffer.concat(chunks).toString('utf8');
}

// `npm test` builds dist/ before the tests run; this compiles what a user installs.
describe('typed results, as a user of the built package compiles them', () => {
  it('the type test compiles against "taskforge", and each @ts-expect-error line fails with the code it names, no other line failing', async () => {
    const source = await readFile(CONSUMER, 'utf8');
    expect(source).toContain("from '../../src/index.js'");
    const lines = source.replace("from '../../src/index.js'", "from 'taskforge'").split('\n');
    const expected: string[] = [];
    lines.forEach((line, index) => {
      const code = DIRECTIVE.exec(line)?.[1];
      if (code === undefined) return;
      // Blanked, not removed: the case keeps its line number (index + 2, counting from 1).
      lines[index] = '//';
      expected.push(`consumer.ts:${String(index + 2)} ${code}`);
    });
    expect(expected).toHaveLength(source.split('\n').filter((line) => line.trimStart().startsWith('// @ts-expect-error')).length);
    expect(expected.length).toBeGreaterThan(0);

    // Inside the package, so that "taskforge" resolves through its own exports map to dist/.
    await mkdir('.test-results', { recursive: true });
    const dir = await mkdtemp(join('.test-results', 'types-'));
    try {
      await writeFile(join(dir, 'consumer.ts'), lines.join('\n'));
      const config = { extends: '../../tsconfig.json', compilerOptions: { noEmit: true, rootDir: '.' }, include: [], files: ['consumer.ts'] };
      await writeFile(join(dir, 'tsconfig.json'), JSON.stringify(config));
      const tsc = spawnSync(process.execPath, ['node_modules/typescript/bin/tsc', '-p', join(dir, 'tsconfig.json'), '--pretty', 'false'], { encoding: 'utf8', timeout: 60_000 });
      const reported = tsc.stdout
        .split('\n')
        .filter((line) => line.includes('error TS'))
        .map((line) => {
          const located = /^(.+)\((\d+),\d+\): error (TS\d+)/.exec(line);
          return located === null ? line : `${basename(located[1] ?? '')}:${located[2] ?? ''} ${located[3] ?? ''}`;
        });
      expect(tsc.stderr).toBe('');
      expect(reported.sort()).toEqual(expected.sort());
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });
});

describe('typed results at run time: the data is what its type says', () => {
  const backend = new MemoryBackend();

  it('each storage operation, and a read in each form, gives data of its type, used without a cast', async () => {
    const written = await new StorageTask({ type: 'storage', metadata: { operation: 'write', path: '/t/a.json', data: { n: 1 } } }, { backend }).execute();
    assert(written.success, 'the write completed');
    expect(written.data.size).toBe('{"n":1}'.length);
    expect(written.data.path).toBe('/t/a.json');
    expect(written.error).toBeUndefined();

    const path = '/t/a.json';
    const asWritten = await new StorageTask({ type: 'storage', metadata: { operation: 'read', path } }, { backend }).execute();
    assert(asWritten.success);
    expect(asWritten.data).toEqual({ n: 1 });
    const buffer = await new StorageTask({ type: 'storage', metadata: { operation: 'read', path, options: { as: 'buffer' } } }, { backend }).execute();
    assert(buffer.success);
    expect(buffer.data.toString('utf8')).toBe('{"n":1}');
    const asText = await new StorageTask({ type: 'storage', metadata: { operation: 'read', path, options: { as: 'text' } } }, { backend }).execute();
    assert(asText.success);
    expect(asText.data.toUpperCase()).toBe('{"N":1}');
    const json = await new StorageTask({ type: 'storage', metadata: { operation: 'read', path, options: { as: 'json' } } }, { backend }).execute();
    assert(json.success);
    expect(json.data).toEqual({ n: 1 });
    const stream = await new StorageTask({ type: 'storage', metadata: { operation: 'read', path, options: { as: 'stream' } } }, { backend }).execute();
    assert(stream.success);
    expect(stream.data).toBeInstanceOf(Readable);
    expect(await text(stream.data)).toBe('{"n":1}');

    const listed = await new StorageTask({ type: 'storage', metadata: { operation: 'list', path: '/t' } }, { backend }).execute();
    assert(listed.success);
    expect(listed.data.entries.map((entry) => entry.path)).toEqual(['/t/a.json']);
    const removed = await new StorageTask({ type: 'storage', metadata: { operation: 'delete', path: '/t/a.json' } }, { backend }).execute();
    assert(removed.success);
    expect(removed.data).toEqual({ path: '/t/a.json', deleted: true });
  });

  it('a failed result holds its error, and no data', async () => {
    const missing = await new StorageTask({ type: 'storage', metadata: { operation: 'read', path: '/t/none', options: { as: 'text' } } }, { backend }).execute();
    assert(!missing.success, 'the read failed');
    expect(missing.error.code).toBe('NOT_FOUND');
    expect('data' in missing).toBe(false);
  });

  it("an orchestrator's handles give each task's data: a task object's own, a storage config's by its operation, in a batch too", async () => {
    const orchestrator = new Orchestrator({ context: { backend } });
    try {
      const write = await orchestrator.submit({ id: 'w', type: 'storage', metadata: { operation: 'write', path: '/o/a.txt', data: 'hello' } });
      const read = await orchestrator.submit({ type: 'storage', dependsOn: ['w'], metadata: { operation: 'read', path: '/o/a.txt', options: { as: 'text' } } });
      const counted = await orchestrator.submit(new CounterTask({ type: 'counter' }));
      const [listed, streamed] = await orchestrator.submitAll([
        { type: 'storage', dependsOn: ['w'], metadata: { operation: 'list', path: '/o' } },
        { type: 'storage', dependsOn: ['w'], metadata: { operation: 'read', path: '/o/a.txt', options: { as: 'stream' } } },
      ]);
      const writeResult = await write.result;
      assert(writeResult.success);
      expect(writeResult.data.size).toBe(5);
      const readResult = await read.result;
      assert(readResult.success);
      expect(readResult.data.toUpperCase()).toBe('HELLO');
      const countResult = await counted.result;
      assert(countResult.success);
      expect(countResult.data.n).toBe(1);
      const listResult = await listed.result;
      assert(listResult.success);
      expect(listResult.data.entries.map((entry) => entry.name)).toEqual(['a.txt']);
      const streamResult = await streamed.result;
      assert(streamResult.success);
      expect(await text(streamResult.data)).toBe('hello');
    } finally {
      await orchestrator.shutdown();
    }
  });

  const haveRedis = serviceAvailable('Redis', 'redis-server', 'apt-get install -y redis-server');

  describe.runIf(haveRedis)('on Redis', () => {
    let server: RedisServer | undefined;
    beforeAll(async () => {
      server = await startRedisServer();
    }, 20_000);
    afterAll(async () => {
      await server?.stop();
    });

    it("a Redis handle's data is what the queue keeps: a write's and a small text read's, not a buffer read's (details.dataRetained: false)", async () => {
      const url = server?.url ?? '';
      const worker = new Orchestrator({ queue: await RedisQueue.open({ url, name: 'typed' }), concurrency: 2, context: { backend } });
      const client = new Orchestrator({ queue: `${url}?name=typed`, concurrency: 0 });
      try {
        const write = await client.submit({ id: 'rw', type: 'storage', metadata: { operation: 'write', path: '/r/a.txt', data: 'hello' } });
        const [asText, asBuffer] = await client.submitAll([
          { type: 'storage', dependsOn: ['rw'], metadata: { operation: 'read', path: '/r/a.txt', options: { as: 'text' } } },
          { type: 'storage', dependsOn: ['rw'], metadata: { operation: 'read', path: '/r/a.txt', options: { as: 'buffer' } } },
        ]);
        const writeResult = await write.result;
        assert(writeResult.success);
        expect(writeResult.data?.size).toBe(5);
        const textResult = await asText.result;
        assert(textResult.success);
        expect(textResult.data?.toUpperCase()).toBe('HELLO');
        const bufferResult = await asBuffer.result;
        assert(bufferResult.success);
        expect(bufferResult.data).toBeUndefined();
        expect(bufferResult.details).toMatchObject({ dataRetained: false });
      } finally {
        await client.shutdown();
        await worker.shutdown({ timeoutMs: 1000 });
      }
    });
  });
});
