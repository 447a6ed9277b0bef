import { describe, expect, it } from 'vitest';
import { TaskStatus } from '../../src/tasks/task-status.js';
import { isTaskforgeError } from '../../src/core/errors.js';
import { ScriptedTask, scriptedConfig, workFor } from '../helpers/scripted-task.js';

describe('task lifecycle (the spec state diagram)', () => {
  it('a created task is PENDING', () => {
    const task = new ScriptedTask(scriptedConfig(), () => Promise.resolve('done'));
    expect(task.status).toBe(TaskStatus.PENDING);
    expect(task.result).toBeUndefined();
  });

  it('execute() moves PENDING -> RUNNING at once, then RUNNING -> COMPLETED on success', async () => {
    const seen: string[] = [];
    const task = new ScriptedTask(scriptedConfig(), () => {
      seen.push(task.status);
      return Promise.resolve('value');
    });
    const running = task.execute();
    expect(task.status).toBe(TaskStatus.RUNNING);
    const result = await running;
    expect(seen).toEqual(['running']);
    expect(task.status).toBe(TaskStatus.COMPLETED);
    expect(result).toMatchObject({ id: 'scripted-1', type: 'scripted', status: 'completed', success: true, data: 'value', attempts: 1 });
    expect(result.error).toBeUndefined();
    expect(task.result).toBe(result);
  });

  it('RUNNING -> FAILED on an error: execute() resolves with the error, never rejects', async () => {
    const task = new ScriptedTask(scriptedConfig(), () => Promise.reject(new Error('boom')));
    const result = await task.execute();
    expect(task.status).toBe(TaskStatus.FAILED);
    expect(result).toMatchObject({ status: 'failed', success: false, attempts: 1, error: { code: 'TASK_FAILED', retryable: false } });
    expect(result.error?.message).toContain('boom');
    expect(result.data).toBeUndefined();
  });

  it('RUNNING -> FAILED when cancelled: CANCELLED, after the work really stopped', async () => {
    let stopped = false;
    const task = new ScriptedTask(scriptedConfig(), async (signal) => {
      try {
        await workFor(10_000, signal);
      } finally {
        // Simulates a slow release of what the attempt held.
        await new Promise((resolve) => setTimeout(resolve, 30));
        stopped = true;
      }
    });
    const running = task.execute();
    await new Promise((resolve) => setTimeout(resolve, 10));
    await task.cancel('user asked');
    expect(stopped).toBe(true);
    expect(task.status).toBe(TaskStatus.FAILED);
    const result = await running;
    expect(result.error).toMatchObject({ code: 'CANCELLED', retryable: false });
    expect(result.error?.message).toContain('user asked');
    expect(task.hookCalls).toContain('cancelTask');
  });

  it('PENDING -> FAILED when cancelled before it ran; execute() then returns that result without running', async () => {
    let ran = false;
    const task = new ScriptedTask(scriptedConfig(), () => {
      ran = true;
      return Promise.resolve();
    });
    await task.cancel();
    expect(task.status).toBe(TaskStatus.FAILED);
    const result = await task.execute();
    expect(ran).toBe(false);
    expect(result).toMatchObject({ status: 'failed', attempts: 0, error: { code: 'CANCELLED' } });
  });

  it('execute() called twice returns the same promise and runs the work once', async () => {
    let runs = 0;
    const task = new ScriptedTask(scriptedConfig(), () => {
      runs += 1;
      return Promise.resolve(runs);
    });
    const first = task.execute();
    const second = task.execute();
    expect(second).toBe(first);
    await first;
    expect(await task.execute()).toBe(await first);
    expect(runs).toBe(1);
  });

  it('the result carries timing: startedAt <= finishedAt and durationMs', async () => {
    const task = new ScriptedTask(scriptedConfig(), (signal) => workFor(20, signal));
    const result = await task.execute();
    expect(Date.parse(result.finishedAt)).toBeGreaterThanOrEqual(Date.parse(result.startedAt));
    expect(result.durationMs).toBe(Date.parse(result.finishedAt) - Date.parse(result.startedAt));
    expect(result.durationMs).toBeGreaterThanOrEqual(15);
  });

  it('COMPLETED -> cleanup(): runs the cleanup hook once, however often it is called', async () => {
    const task = new ScriptedTask(scriptedConfig(), () => Promise.resolve());
    await task.execute();
    await Promise.all([task.cleanup(), task.cleanup()]);
    await task.cleanup();
    expect(task.hookCalls).toEqual(['cleanupTask']);
    expect(task.status).toBe(TaskStatus.COMPLETED);
  });

  it('FAILED -> cleanup() is allowed too', async () => {
    const task = new ScriptedTask(scriptedConfig(), () => Promise.reject(new Error('x')));
    await task.execute();
    await task.cleanup();
    expect(task.hookCalls).toEqual(['cleanupTask']);
  });

  it('cleanup() while PENDING or RUNNING is refused with INVALID_STATE', async () => {
    const task = new ScriptedTask(scriptedConfig(), (signal) => workFor(50, signal));
    await expect(task.cleanup()).rejects.toSatisfy((error: unknown) => isTaskforgeError(error, 'INVALID_STATE'));
    const running = task.execute();
    await expect(task.cleanup()).rejects.toSatisfy((error: unknown) => isTaskforgeError(error, 'INVALID_STATE'));
    await running;
    expect(task.hookCalls).toEqual([]);
  });

  it('cancel() of a finished task is refused with INVALID_STATE and changes nothing', async () => {
    const task = new ScriptedTask(scriptedConfig(), () => Promise.resolve('ok'));
    const result = await task.execute();
    await expect(task.cancel()).rejects.toSatisfy((error: unknown) => isTaskforgeError(error, 'INVALID_STATE'));
    expect(task.status).toBe(TaskStatus.COMPLETED);
    expect(task.result).toBe(result);
  });

  it('work that finishes before noticing a cancel keeps its real outcome: COMPLETED', async () => {
    const task = new ScriptedTask(scriptedConfig(), async () => {
      await new Promise((resolve) => setTimeout(resolve, 30));
      return 'committed';
    });
    const running = task.execute();
    await task.cancel();
    expect((await running).status).toBe('completed');
  });

  it('a config without an id gets a generated one; priority defaults to 0', async () => {
    const task = new ScriptedTask({ type: 'scripted' }, () => Promise.resolve());
    expect(task.id).toMatch(/^t[0-9a-f]{16}-[0-9a-z]+$/);
    expect(new ScriptedTask({ type: 'scripted' }, () => Promise.resolve()).id).not.toBe(task.id);
    expect(task.priority).toBe(0);
    expect((await task.execute()).id).toBe(task.id);
  });
});
