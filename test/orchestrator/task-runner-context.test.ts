import { describe, expect, it } from 'vitest';
import { getDefaultLogger } from '../../src/core/logger.js';
import { MemoryQueue } from '../../src/orchestrator/queues/memory-queue.js';
import type { TakenTask } from '../../src/orchestrator/task-queue.js';
import { TaskRegistry } from '../../src/orchestrator/task-registry.js';
import { TaskRunner } from '../../src/orchestrator/task-runner.js';
import { BaseTask, type TaskContext } from '../../src/tasks/base-task.js';
import type { TaskResult } from '../../src/tasks/task-result.js';

/** Keeps the context it was made with. */
class ContextProbe extends BaseTask<undefined> {
  static readonly made: Record<string, unknown>[] = [];

  constructor(config: never, context: TaskContext) {
    super(config, context);
    ContextProbe.made.push(context as Record<string, unknown>);
  }

  protected override executeTask(): Promise<undefined> {
    return Promise.resolve(undefined);
  }
}

function taken(id: string, assertHeld?: () => Promise<void>): TakenTask {
  return { id, type: 'probe', priority: 0, config: { type: 'probe' }, dependsOn: undefined, attempts: 0, submittedAt: Date.now(), interruptions: 0, ...(assertHeld === undefined ? {} : { assertHeld }) };
}

describe('the task runner makes each task with the context', () => {
  it("of its owner, and with a shared queue's fence as beforeCommit in place of any the context has", async () => {
    const registry = new TaskRegistry();
    registry.register('probe', ContextProbe);
    const ownCheck = (): Promise<void> => Promise.resolve();
    const fence = (): Promise<void> => Promise.resolve();
    const context = { backend: 'the backend', beforeCommit: ownCheck };
    const runner = new TaskRunner({ concurrency: 2, queue: new MemoryQueue(), registry, context, logger: getDefaultLogger(), metrics: undefined, maxInterruptions: 3 });
    const ends: TaskResult[] = [];
    await new Promise<void>((resolve) => {
      const done = (_task: TakenTask, result: TaskResult): void => {
        ends.push(result);
        if (ends.length === 2) resolve();
      };
      runner.run(taken('local'), done);
      runner.run(taken('shared', fence), done);
    });
    expect(ends.map((end) => end.status)).toEqual(['completed', 'completed']);
    const [local, shared] = ContextProbe.made;
    expect(local).toMatchObject({ backend: 'the backend' });
    expect(local?.['beforeCommit']).toBe(ownCheck);
    expect(shared).toMatchObject({ backend: 'the backend' });
    expect(shared?.['beforeCommit']).toBe(fence);
  });
});
