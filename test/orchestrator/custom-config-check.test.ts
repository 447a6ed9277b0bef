import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { ErrorCode, TaskforgeError } from '../../src/core/errors.js';
import type { AnyOrchestrator } from '../../src/orchestrator/orchestrator.js';
import { Orchestrator } from '../../src/orchestrator/orchestrator.js';
import { MemoryBackend } from '../../src/storage/backends/memory.js';
import { BaseTask } from '../../src/tasks/base-task.js';
import type { TaskConfig, ValidTaskConfig } from '../../src/tasks/task-config.js';
import { startRedisServer, type RedisServer } from '../helpers/redis-server.js';
import { serviceAvailable } from '../helpers/services.js';

const haveRedis = serviceAvailable('Redis', 'redis-server', 'apt-get install -y redis-server');

/** How many tasks of each class were made (to check configs or to run). */
const made = { resize: 0, shout: 0 };

/** Checks its metadata with an instance validateConfig, as execute() will. */
class ResizeTask extends BaseTask<number> {
  constructor(config: TaskConfig, context: object) {
    super(config, context);
    made.resize += 1;
  }

  protected override validateConfig(raw: unknown): ValidTaskConfig {
    const config = super.validateConfig(raw);
    const width = config.metadata?.['width'];
    if (typeof width !== 'number' || width < 1) {
      throw new TaskforgeError(ErrorCode.VALIDATION_ERROR, `invalid resize task '${this.id}': metadata.width: expected 1 or more (got ${JSON.stringify(width)})`, {
        details: { fields: [{ field: 'metadata.width', message: 'expected 1 or more', received: JSON.stringify(width) }] },
      });
    }
    return config;
  }

  protected override executeTask(): Promise<number> {
    return Promise.resolve(1);
  }
}

/** Checks its configs with a static validateConfig, which throws a plain Error: no task is made to check one. */
class ShoutTask extends BaseTask<string> {
  static validateConfig(config: TaskConfig): void {
    if (typeof config.metadata?.['text'] !== 'string') throw new Error('metadata.text: expected text');
  }

  constructor(config: TaskConfig, context: object) {
    super(config, context);
    made.shout += 1;
  }

  protected override executeTask(): Promise<string> {
    return Promise.resolve('HI');
  }
}

/** Keeps BaseTask's check: the fields every task has. */
class PlainTask extends BaseTask<string> {
  protected override executeTask(): Promise<string> {
    return Promise.resolve('plain');
  }
}

const taskTypes = { resize: ResizeTask, shout: ShoutTask, plain: PlainTask };

describe('Orchestrator: a custom config is checked by its class at submit', () => {
  const opened: Orchestrator[] = [];
  afterEach(async () => {
    await Promise.all(opened.splice(0).map((orchestrator) => orchestrator.shutdown({ timeoutMs: 0 })));
  });

  function orchestrator(): Orchestrator {
    const made_ = new Orchestrator({ concurrency: 1, taskTypes, context: { backend: new MemoryBackend() } });
    opened.push(made_);
    return made_;
  }

  it("refuses a config its class's instance validateConfig refuses, with that VALIDATION_ERROR, and queues nothing", async () => {
    const run = orchestrator();
    await expect(run.submit({ id: 'r0', type: 'resize', metadata: { width: 0 } })).rejects.toThrow(
      expect.objectContaining({ code: 'VALIDATION_ERROR', message: "invalid resize task 'r0': metadata.width: expected 1 or more (got 0)", details: { fields: [expect.objectContaining({ field: 'metadata.width' })] } }),
    );
    expect(await run.get('r0')).toBeUndefined();
  });

  it('uses a static validateConfig without making a task; what it throws is a VALIDATION_ERROR saying so', async () => {
    const run = orchestrator();
    const before = made.shout;
    await expect(run.submit({ id: 's0', type: 'shout', metadata: {} })).rejects.toThrow(
      expect.objectContaining({ code: 'VALIDATION_ERROR', message: "invalid shout task 's0': metadata.text: expected text", details: { fields: [expect.objectContaining({ field: '(config)' })] } }),
    );
    expect(made.shout).toBe(before);
  });

  it('a task run on its own whose instance check throws a plain Error ends FAILED with the same VALIDATION_ERROR a submit refuses with', async () => {
    class Picky extends BaseTask<string> {
      protected override validateConfig(raw: unknown): ValidTaskConfig {
        const config = super.validateConfig(raw);
        if (config.metadata?.['text'] === undefined) throw new Error('metadata.text: expected text');
        return config;
      }

      protected override executeTask(): Promise<string> {
        return Promise.resolve('ran');
      }
    }
    const result = await new Picky({ id: 'p1', type: 'picky', metadata: {} }).execute();
    expect(result).toMatchObject({ status: 'failed', attempts: 0, error: { code: 'VALIDATION_ERROR', message: "invalid picky task 'p1': metadata.text: expected text", details: { fields: [{ field: '(config)' }] } } });
    const refused = orchestrator();
    refused.register('picky', Picky);
    await expect(refused.submit({ id: 'p2', type: 'picky', metadata: {} })).rejects.toMatchObject({ code: 'VALIDATION_ERROR', message: "invalid picky task 'p2': metadata.text: expected text" });
  });

  it("checks a class without a check of its own against BaseTask's: an unknown field is refused at submit", async () => {
    const run = orchestrator();
    await expect(run.submit({ id: 'p0', type: 'plain', priorty: 3 } as TaskConfig)).rejects.toThrow(
      expect.objectContaining({ code: 'VALIDATION_ERROR', details: { fields: [expect.objectContaining({ field: 'priorty', message: 'unknown field' })] } }),
    );
  });

  it('names the fields of a batch from its root, and queues none of the batch', async () => {
    const run = orchestrator();
    await expect(run.submitAll([{ id: 'ok', type: 'resize', metadata: { width: 3 } }, { id: 'bad', type: 'resize', metadata: { width: -1 } }])).rejects.toThrow(
      expect.objectContaining({ code: 'VALIDATION_ERROR', message: expect.stringMatching(/^\[1\]: invalid resize task 'bad'/) as string, details: { fields: [expect.objectContaining({ field: '[1].metadata.width' })] } }),
    );
    expect(await run.get('ok')).toBeUndefined();
  });

  it('runs the configs it accepts; a bad storage config is refused at submit too', async () => {
    const run = orchestrator();
    const [resize, shout, plain] = await run.submitAll([
      { type: 'resize', metadata: { width: 3 } },
      { type: 'shout', metadata: { text: 'hi' } },
      { type: 'plain' },
    ]);
    expect(await Promise.all([resize.result, shout.result, plain.result])).toMatchObject([{ success: true, data: 1 }, { success: true, data: 'HI' }, { success: true, data: 'plain' }]);
    await expect(run.submit({ type: 'storage', metadata: { operation: 'copy', path: '/x' } } as never)).rejects.toThrow(expect.objectContaining({ code: 'VALIDATION_ERROR' }));
  });
});

describe.runIf(haveRedis)('a submitter on Redis: a custom config is checked by its class before it is queued', () => {
  let server: RedisServer | undefined;
  let client: AnyOrchestrator | undefined;
  beforeAll(async () => {
    server = await startRedisServer();
    client = new Orchestrator({ queue: `${server.url}?name=checked`, concurrency: 0, taskTypes });
  }, 20_000);
  afterAll(async () => {
    await client?.shutdown();
    await server?.stop();
  });

  it('refuses a bad config with VALIDATION_ERROR, fields named from the batch root, and stores nothing', async () => {
    if (client === undefined) throw new Error('no client');
    await expect(client.submit({ id: 'r0', type: 'resize', metadata: { width: 0 } })).rejects.toMatchObject({ code: 'VALIDATION_ERROR', details: { fields: [{ field: 'metadata.width' }] } });
    await expect(client.submitAll([{ id: 'fine', type: 'shout', metadata: { text: 'a' } }, { id: 's1', type: 'shout', metadata: { text: 3 } }])).rejects.toMatchObject({
      code: 'VALIDATION_ERROR',
      details: { fields: [{ field: '[1].(config)' }] },
    });
    expect(await client.get('r0')).toBeUndefined();
    expect(await client.get('fine')).toBeUndefined();
  });
});
