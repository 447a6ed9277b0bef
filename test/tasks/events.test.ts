import { repoModule, runScript } from '../helpers/child.js';
import { describe, expect, it } from 'vitest';
import type { TaskEvents } from '../../src/tasks/task-events.js';
import { ScriptedTask, scriptedConfig, NO_WAIT, systemError, workFor } from '../helpers/scripted-task.js';
import type { Logger } from '../../src/core/logger.js';

/** Records every event of a task, in order, as [name, payload]. */
function recordEvents(task: ScriptedTask): [keyof TaskEvents, unknown][] {
  const events: [keyof TaskEvents, unknown][] = [];
  for (const name of ['start', 'complete', 'error', 'cancel', 'cleanup', 'retry', 'progress'] as const) {
    task.on(name, (payload) => events.push([name, payload]));
  }
  return events;
}

describe('task events', () => {
  it('a successful task emits start, then complete with the result, then cleanup', async () => {
    const task = new ScriptedTask(scriptedConfig(), () => Promise.resolve(7));
    const events = recordEvents(task);
    const result = await task.execute();
    await task.cleanup();
    expect(events.map(([name]) => name)).toEqual(['start', 'complete', 'cleanup']);
    expect(events[0]?.[1]).toMatchObject({ id: 'scripted-1', type: 'scripted', startedAt: result.startedAt });
    expect(events[1]?.[1]).toBe(result);
    expect(events[2]?.[1]).toEqual({ id: 'scripted-1', type: 'scripted' });
  });

  it('a failed task emits start, then error with the code and the result', async () => {
    const task = new ScriptedTask(scriptedConfig(), () => Promise.reject(new Error('nope')));
    const events = recordEvents(task);
    const result = await task.execute();
    expect(events.map(([name]) => name)).toEqual(['start', 'error']);
    expect(events[1]?.[1]).toEqual({ id: 'scripted-1', type: 'scripted', error: result.error, result });
  });

  it('a cancelled running task emits start, cancel, then error with CANCELLED', async () => {
    const task = new ScriptedTask(scriptedConfig(), (signal) => workFor(10_000, signal));
    const events = recordEvents(task);
    const running = task.execute();
    await task.cancel('shutdown');
    await running;
    expect(events.map(([name]) => name)).toEqual(['start', 'cancel', 'error']);
    expect(events[1]?.[1]).toEqual({ id: 'scripted-1', type: 'scripted', previousStatus: 'running', reason: 'shutdown' });
    expect(events[2]?.[1]).toMatchObject({ error: { code: 'CANCELLED' } });
  });

  it('a task cancelled while pending emits cancel then error, and never start', async () => {
    const task = new ScriptedTask(scriptedConfig(), () => Promise.resolve());
    const events = recordEvents(task);
    await task.cancel();
    expect(events.map(([name]) => name)).toEqual(['cancel', 'error']);
    expect(events[0]?.[1]).toMatchObject({ previousStatus: 'pending' });
  });

  it('each retry emits retry with the attempt, the delay and the error', async () => {
    const task = new ScriptedTask(
      scriptedConfig({ retries: 2 }),
      (_signal, attempt) => (attempt < 3 ? Promise.reject(systemError('EBUSY')) : Promise.resolve('third time')),
      NO_WAIT,
    );
    const events = recordEvents(task);
    const result = await task.execute();
    expect(result).toMatchObject({ success: true, attempts: 3, data: 'third time' });
    expect(events.map(([name]) => name)).toEqual(['start', 'retry', 'retry', 'complete']);
    expect(events[1]?.[1]).toMatchObject({ attempt: 1, nextAttempt: 2, delayMs: 0, error: { code: 'BACKEND_UNAVAILABLE', retryable: true } });
    expect(events[2]?.[1]).toMatchObject({ attempt: 2, nextAttempt: 3 });
  });

  it('a listener that throws does not break the task, and is logged', async () => {
    const logged: string[] = [];
    const logger: Logger = {
      debug: () => undefined,
      info: () => undefined,
      warn: () => undefined,
      error: (_fields, message) => logged.push(message),
    };
    const task = new ScriptedTask(scriptedConfig(), () => Promise.resolve('fine'), { logger });
    task.on('start', () => {
      throw new Error('listener bug');
    });
    let completed = false;
    task.on('complete', () => {
      completed = true;
    });
    const result = await task.execute();
    expect(result.success).toBe(true);
    expect(completed).toBe(true);
    expect(logged).toContain('a task event listener threw');
  });

  it('once() listeners run once; off() removes a listener', async () => {
    const task = new ScriptedTask(scriptedConfig({ retries: 3 }), (_s, attempt) => (attempt < 4 ? Promise.reject(systemError('EAGAIN')) : Promise.resolve()), NO_WAIT);
    let onceCalls = 0;
    let offCalls = 0;
    const removed = (): void => {
      offCalls += 1;
    };
    task.once('retry', () => {
      onceCalls += 1;
    });
    task.on('retry', removed);
    task.off('retry', removed);
    await task.execute();
    expect(onceCalls).toBe(1);
    expect(offCalls).toBe(0);
  });

  it('a failing task with no error listener does not crash the process', () => {
    // In a child process, so an uncaught throw would show as its exit code.
    const script = `
      import { ScriptedTask, scriptedConfig } from '${repoModule('test/helpers/scripted-task.ts')}';
      const task = new ScriptedTask(scriptedConfig(), () => Promise.reject(new Error('unheard')));
      const result = await task.execute();
      console.log(JSON.stringify({ status: result.status, code: result.error.code }));
    `;
    const child = runScript(script);
    expect(child.stderr).toBe('');
    expect(child.status).toBe(0);
    expect(JSON.parse(child.stdout.trim())).toEqual({ status: 'failed', code: 'TASK_FAILED' });
  });
});
