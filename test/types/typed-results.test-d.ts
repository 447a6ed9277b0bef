// What a user's code may assume about result types, checked by the compiler
// and never run: `npm run typecheck` compiles it against the sources, and
// typed-results.test.ts against the built package. Each `@ts-expect-error`
// names the error code it stands for; that test checks each line fails with
// that code, so no negative case passes for some other reason.
import type { Readable } from 'node:stream';
import { expectTypeOf } from 'vitest';
import {
  BaseTask,
  StorageTask,
  TaskType,
  type DeleteResultData,
  type ListResultData,
  Orchestrator,
  type AnyOrchestrator,
  type RedisQueue,
  type StorageResultData,
  type StorageTaskConfig,
  type TaskErrorInfo,
  type TaskHandle,
  type TaskResult,
  type WriteResultData,
} from '../../src/index.js';

/** What a user's code reads back from a JSON object it wrote. */
interface Greeting {
  readonly content: string;
}

/** A custom task type: its result's data is what executeTask returns. */
class CounterTask extends BaseTask<{ readonly n: number }> {
  protected executeTask(): Promise<{ readonly n: number }> {
    return Promise.resolve({ n: 1 });
  }
}

export async function theSpecExample(): Promise<void> {
  const task = new StorageTask({
    id: 'storage-1',
    type: TaskType.STORAGE,
    priority: 1,
    metadata: { operation: 'write', path: '/data/file.txt', data: { content: 'Hello World' }, options: { compression: true, encryption: true } },
  });
  const result = await task.execute();
  expectTypeOf(result).toEqualTypeOf<TaskResult<WriteResultData>>();
  if (result.success) {
    expectTypeOf(result.data.size).toEqualTypeOf<number>();
    expectTypeOf(result.data).toEqualTypeOf<WriteResultData>();
    expectTypeOf(result.error).toEqualTypeOf<undefined>();
  } else {
    expectTypeOf(result.error).toEqualTypeOf<TaskErrorInfo>();
    expectTypeOf(result.data).toEqualTypeOf<undefined>();
  }
  expectTypeOf(result.data?.size).toEqualTypeOf<number | undefined>();
  // @ts-expect-error TS18048 -- until `success` is checked, data may be absent
  expectTypeOf(result.data.size).toEqualTypeOf<number>();
  // @ts-expect-error TS18048 -- until `success` is checked, error may be absent
  expectTypeOf(result.error.message).toEqualTypeOf<string>();
}

export async function aReadByItsForm(): Promise<void> {
  const asWritten = await new StorageTask({ type: 'storage', metadata: { operation: 'read', path: '/a' } }).execute();
  // The form written (bytes, text or a JSON value) is not known to the compiler.
  if (asWritten.success) expectTypeOf(asWritten.data).toEqualTypeOf<unknown>();
  const stream = await new StorageTask({ type: 'storage', metadata: { operation: 'read', path: '/a', options: { as: 'stream' } } }).execute();
  if (stream.success) expectTypeOf(stream.data).toEqualTypeOf<Readable>();
  const buffer = await new StorageTask({ type: 'storage', metadata: { operation: 'read', path: '/a', options: { as: 'buffer', cache: true } } }).execute();
  if (buffer.success) expectTypeOf(buffer.data).toEqualTypeOf<Buffer>();
  const text = await new StorageTask({ type: 'storage', metadata: { operation: 'read', path: '/a', options: { as: 'text' } } }).execute();
  if (text.success) expectTypeOf(text.data).toEqualTypeOf<string>();
  const json = await new StorageTask({ type: 'storage', metadata: { operation: 'read', path: '/a', options: { as: 'json' } } }).execute();
  if (json.success) expectTypeOf(json.data).toEqualTypeOf<unknown>();
  // A JSON value's shape is the writer's: the reader casts it (or checks it) to its own type.
  if (json.success) expectTypeOf((json.data as Greeting).content).toEqualTypeOf<string>();
  // @ts-expect-error TS2339 -- a read's data is the object's value, which has no size
  if (text.success) expectTypeOf(text.data.size).toEqualTypeOf<number>();
}

export async function deleteAndList(): Promise<void> {
  const removed = await new StorageTask({ type: 'storage', metadata: { operation: 'delete', path: '/a', options: { recursive: true } } }).execute();
  if (removed.success) expectTypeOf(removed.data).toEqualTypeOf<DeleteResultData>();
  const page = await new StorageTask({ type: 'storage', metadata: { operation: 'list', path: '/', options: { limit: 10 } } }).execute();
  if (page.success) {
    expectTypeOf(page.data).toEqualTypeOf<ListResultData>();
    expectTypeOf(page.data.entries[0]?.path).toEqualTypeOf<string | undefined>();
  }
  // @ts-expect-error TS2339 -- a delete says whether something was deleted, not its size
  if (removed.success) expectTypeOf(removed.data.size).toEqualTypeOf<number>();
}

export async function aConfigOfAnyOperation(config: StorageTaskConfig): Promise<void> {
  const result = await new StorageTask(config).execute();
  if (result.success) expectTypeOf(result.data).toEqualTypeOf<StorageResultData>();
  // @ts-expect-error TS18046 -- which operation ran is not known, so neither is the data's shape
  if (result.success) expectTypeOf(result.data.size).toEqualTypeOf<number>();
}

export async function aCustomTask(): Promise<void> {
  const result = await new CounterTask({ type: 'counter' }).execute();
  if (result.success) expectTypeOf(result.data.n).toEqualTypeOf<number>();
  // @ts-expect-error TS2339 -- the custom task's data has n only
  if (result.success) expectTypeOf(result.data.m).toEqualTypeOf<number>();
}

export async function inProcessHandles(orchestrator: Orchestrator): Promise<void> {
  const counted = await orchestrator.submit(new CounterTask({ type: 'counter' }));
  expectTypeOf(counted).toEqualTypeOf<TaskHandle<{ readonly n: number }>>();
  const counter = await counted.result;
  if (counter.success) expectTypeOf(counter.data.n).toEqualTypeOf<number>();

  const listing = await orchestrator.submit(new StorageTask({ type: 'storage', metadata: { operation: 'list', path: '/' } }));
  expectTypeOf(listing).toEqualTypeOf<TaskHandle<ListResultData>>();

  const write = await orchestrator.submit({ id: 'w', type: 'storage', metadata: { operation: 'write', path: '/a.json', data: { n: 1 } } });
  expectTypeOf(write).toEqualTypeOf<TaskHandle<WriteResultData>>();
  const written = await write.result;
  if (written.success) expectTypeOf(written.data.version).toEqualTypeOf<string>();
  const read = await orchestrator.submit({ type: 'storage', dependsOn: ['w'], metadata: { operation: 'read', path: '/a.json', options: { as: 'text' } } });
  expectTypeOf(read).toEqualTypeOf<TaskHandle<string>>();

  // A registered type submitted by its config: the orchestrator cannot know its data...
  const byConfig = await (await orchestrator.submit({ type: 'counter' })).result;
  if (byConfig.success) expectTypeOf(byConfig.data).toEqualTypeOf<unknown>();
  // @ts-expect-error TS18046 -- data of a type known only by name is unknown
  if (byConfig.success) expectTypeOf(byConfig.data.n).toEqualTypeOf<number>();
  // ...unless the caller says what it is.
  expectTypeOf(await orchestrator.submit<{ readonly n: number }>({ type: 'counter' })).toEqualTypeOf<TaskHandle<{ readonly n: number }>>();

  const [first, second, third] = await orchestrator.submitAll([
    { id: 'w2', type: 'storage', metadata: { operation: 'write', path: '/b', data: 'b' } },
    { type: 'storage', dependsOn: ['w2'], metadata: { operation: 'read', path: '/b', options: { as: 'stream' } } },
    new CounterTask({ type: 'counter' }),
  ]);
  expectTypeOf(first).toEqualTypeOf<TaskHandle<WriteResultData>>();
  expectTypeOf(second).toEqualTypeOf<TaskHandle<Readable>>();
  expectTypeOf(third).toEqualTypeOf<TaskHandle<{ readonly n: number }>>();
  // A batch is still checked field by field, as one config is.
  // @ts-expect-error TS2322 -- 'priorty' is no field of a task config
  await orchestrator.submitAll([{ type: 'storage', priorty: 1, metadata: { operation: 'list', path: '/' } }]);
  // Configs of any operation: each handle's data is StorageResultData, which is unknown.
  const some: TaskConfigList = [];
  expectTypeOf(await orchestrator.submitAll(some)).toEqualTypeOf<TaskHandle[]>();
}

type TaskConfigList = StorageTaskConfig[];

export async function sharedQueueHandles(redis: Orchestrator<RedisQueue>, byUrl: Orchestrator<'redis://queue.example:6379'>, unknown: AnyOrchestrator): Promise<void> {
  const write = await redis.submit({ type: 'storage', metadata: { operation: 'write', path: '/a', data: 'x' } });
  expectTypeOf(write).toEqualTypeOf<TaskHandle<WriteResultData, 'kept'>>();
  const result = await write.result;
  // The queue keeps data only when it is small JSON: present or not, it is typed.
  if (result.success) expectTypeOf(result.data).toEqualTypeOf<WriteResultData | undefined>();
  // @ts-expect-error TS18048 -- a queue may have dropped the data (details.dataRetained: false)
  if (result.success) expectTypeOf(result.data.size).toEqualTypeOf<number>();
  if (!result.success) expectTypeOf(result.error).toEqualTypeOf<TaskErrorInfo>();
  expectTypeOf(await redis.submit({ type: 'counter' })).toEqualTypeOf<TaskHandle<unknown, 'kept'>>();
  expectTypeOf(await redis.submit<{ readonly n: number }>({ type: 'counter' })).toEqualTypeOf<TaskHandle<{ readonly n: number }, 'kept'>>();
  const [listed] = await redis.submitAll([{ type: 'storage', metadata: { operation: 'list', path: '/' } }]);
  expectTypeOf(listed).toEqualTypeOf<TaskHandle<ListResultData, 'kept'>>();
  // Named by URL, or taken from elsewhere without knowing the queue: results as a queue keeps them.
  expectTypeOf(await byUrl.submit({ type: 'storage', metadata: { operation: 'list', path: '/' } })).toEqualTypeOf<TaskHandle<ListResultData, 'kept'>>();
  expectTypeOf(await unknown.submit({ type: 'storage', metadata: { operation: 'list', path: '/' } })).toEqualTypeOf<TaskHandle<ListResultData, 'kept'>>();
}

export function queuesOfThisProcess(): void {
  // The memory queue (the default, or by URL) and a SQLite queue give results whole.
  expectTypeOf(new Orchestrator()).toEqualTypeOf<Orchestrator>();
  expectTypeOf(new Orchestrator({ queue: 'sqlite:./q.db' }).submit({ type: 'storage', metadata: { operation: 'list', path: '/' } })).toEqualTypeOf<Promise<TaskHandle<ListResultData>>>();
  // One of this process is an orchestrator of any queue.
  expectTypeOf<Orchestrator>().toExtend<AnyOrchestrator>();
}
