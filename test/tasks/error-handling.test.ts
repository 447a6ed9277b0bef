import { describe, expect, it } from 'vitest';
import type { Logger } from '../../src/core/logger.js';
import { TaskforgeError } from '../../src/core/errors.js';
import { ScriptedTask, scriptedConfig, systemError } from '../helpers/scripted-task.js';

/** A logger that records each call with the task status at that moment. */
function statusLogger(statusOf: () => string): { logger: Logger; lines: { level: string; message: string; status: string; fields: Record<string, unknown> }[] } {
  const lines: { level: string; message: string; status: string; fields: Record<string, unknown> }[] = [];
  const at =
    (level: string) =>
    (fields: Record<string, unknown>, message: string): void => {
      lines.push({ level, message, status: statusOf(), fields });
    };
  return { logger: { debug: at('debug'), info: at('info'), warn: at('warn'), error: at('error') }, lines };
}

describe('error handling (the spec error diagram)', () => {
  it('on error: logs it, then sets FAILED, then emits error, then returns the error result', async () => {
    const order: string[] = [];
    const holder: { task?: ScriptedTask } = {};
    const { logger, lines } = statusLogger(() => holder.task?.status ?? 'none');
    const task = new ScriptedTask(scriptedConfig(), () => Promise.reject(new Error('disk on fire')), { logger });
    holder.task = task;
    task.on('error', () => order.push(`error event while ${task.status}`));
    const result = await task.execute();
    order.push('result returned');
    const errorLine = lines.find((line) => line.level === 'error');
    expect(errorLine).toMatchObject({ message: 'task failed', status: 'running', fields: { taskId: 'scripted-1', code: 'TASK_FAILED' } });
    expect(order).toEqual(['error event while failed', 'result returned']);
    expect(result.status).toBe('failed');
  });

  it('on success: returns the success result and logs no error', async () => {
    const { logger, lines } = statusLogger(() => 'not tracked');
    const task = new ScriptedTask(scriptedConfig(), () => Promise.resolve('ok'), { logger });
    const result = await task.execute();
    expect(result).toMatchObject({ success: true, data: 'ok' });
    expect(lines.filter((line) => line.level === 'error')).toEqual([]);
  });

  it('a coded error thrown by a task keeps its code, retryable flag and details', async () => {
    const task = new ScriptedTask(scriptedConfig(), () =>
      Promise.reject(new TaskforgeError('DEPENDENCY_FAILED', 'upstream x failed', { details: { upstream: 'x' } })),
    );
    const result = await task.execute();
    expect(result.error).toEqual({ code: 'DEPENDENCY_FAILED', message: 'upstream x failed', retryable: false, details: { upstream: 'x' } });
  });

  it('a system error is mapped to a code, with the errno kept as the cause', async () => {
    const task = new ScriptedTask(scriptedConfig(), () => Promise.reject(systemError('EACCES')));
    const result = await task.execute();
    expect(result.error).toMatchObject({ code: 'PERMISSION_DENIED', retryable: false, cause: { code: 'EACCES' } });
  });

  it('a thrown non-Error value still gives a coded result', async () => {
    // eslint-disable-next-line @typescript-eslint/prefer-promise-reject-errors -- the point of the test
    const task = new ScriptedTask(scriptedConfig(), () => Promise.reject('a bare string'));
    const result = await task.execute();
    expect(result.error).toMatchObject({ code: 'TASK_FAILED' });
    expect(result.error?.message).toContain('a bare string');
  });

  it('a task whose work throws synchronously fails the same way', async () => {
    const task = new ScriptedTask(scriptedConfig(), () => {
      throw new Error('sync throw');
    });
    expect((await task.execute()).error).toMatchObject({ code: 'TASK_FAILED' });
  });

  it('a cleanup hook that throws rejects cleanup() with a coded error', async () => {
    class BadCleanup extends ScriptedTask {
      protected override cleanupTask(): void {
        throw new Error('cannot release');
      }
    }
    const task = new BadCleanup(scriptedConfig(), () => Promise.resolve());
    await task.execute();
    await expect(task.cleanup()).rejects.toMatchObject({ code: 'TASK_FAILED' });
  });
});
