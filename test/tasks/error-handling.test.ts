import { describe, expect, it } from 'vitest';
import type { Logger } from '../../src/core/logger.js';
import { TaskforgeError } from '../../src/core/errors.js';
import { freePort } from '../helpers/free-port.js';
import { NO_WAIT, ScriptedTask, scriptedConfig, systemError } from '../helpers/scripted-task.js';

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

  it('a network failure wrapped by its library (fetch: "fetch failed", its cause ECONNREFUSED) is BACKEND_UNAVAILABLE, and retried', async () => {
    let attempts = 0;
    const task = new ScriptedTask(
      scriptedConfig({ retries: 2 }),
      async () => {
        attempts += 1;
        await fetch(`http://127.0.0.1:${String(await freePort())}/`);
      },
      NO_WAIT,
    );
    const result = await task.execute();
    expect(attempts).toBe(3);
    expect(result).toMatchObject({ attempts: 3, error: { code: 'BACKEND_UNAVAILABLE', retryable: true, message: expect.stringContaining('the connection was refused') as unknown } });
  });

  it("an error of the task's own with a code taskforge does not know is TASK_FAILED with its message, not INTERNAL; a thrown object's message is told", async () => {
    const own = Object.assign(new Error('quota of the remote API used up'), { code: 'E_QUOTA' });
    expect((await new ScriptedTask(scriptedConfig(), () => Promise.reject(own)).execute()).error).toMatchObject({ code: 'TASK_FAILED', message: "task 'scripted-1' failed: quota of the remote API used up" });
    // eslint-disable-next-line @typescript-eslint/prefer-promise-reject-errors -- the point of the test
    const thrownObject = new ScriptedTask(scriptedConfig(), () => Promise.reject({ code: 'EBUSY', message: 'object with code' }));
    expect((await thrownObject.execute()).error).toMatchObject({ code: 'TASK_FAILED', message: "task 'scripted-1' failed: object with code" });
    // eslint-disable-next-line @typescript-eslint/prefer-promise-reject-errors -- the point of the test
    const plainObject = new ScriptedTask(scriptedConfig(), () => Promise.reject({ reason: 'no message' }));
    expect((await plainObject.execute()).error?.message).toBe("task 'scripted-1' failed: { reason: 'no message' }");
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
