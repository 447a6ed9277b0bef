import { describe, expect, it } from 'vitest';
import { BaseTask } from '../../src/tasks/base-task.js';
import { scriptedConfig } from '../helpers/scripted-task.js';

/** Rejects with the signal's reason once it fires (a signal that never fires keeps it waiting). */
function untilAborted(signal: AbortSignal): Promise<never> {
  return new Promise((_resolve, reject) => {
    signal.addEventListener('abort', () => {
      reject(signal.reason as Error);
    });
  });
}

/** Work that takes `ms` and then fails: what a task that never looks at its signal does. */
function failsAfter(ms: number): Promise<never> {
  return new Promise((_resolve, reject) =>
    setTimeout(() => {
      reject(new Error('late failure'));
    }, ms),
  );
}

class TakesNoParameter extends BaseTask {
  protected override executeTask(): Promise<never> {
    return failsAfter(60);
  }
}

class DefaultParameter extends BaseTask {
  protected override executeTask(signal = new AbortController().signal): Promise<never> {
    return untilAborted(signal);
  }
}

class RestParameter extends BaseTask {
  protected override executeTask(...args: [AbortSignal]): Promise<never> {
    return untilAborted(args[0]);
  }
}

describe('the attempt signal', () => {
  it('reaches an executeTask that declares it with a default value or a rest parameter: cancel and timeout fire it', async () => {
    for (const TaskClass of [DefaultParameter, RestParameter]) {
      const cancelled = new TaskClass(scriptedConfig());
      const running = cancelled.execute();
      await new Promise((resolve) => setTimeout(resolve, 10));
      await cancelled.cancel('enough');
      expect((await running).error?.code).toBe('CANCELLED');
      const timedOut = await new TaskClass(scriptedConfig({ timeout: 20 })).execute();
      expect(timedOut.error?.code).toBe('TIMEOUT');
    }
  });

  it('an executeTask that declares no parameter (given a shared signal that never fires) still ends TIMEOUT or CANCELLED by its attempt', async () => {
    const timedOut = await new TakesNoParameter(scriptedConfig({ timeout: 20 })).execute();
    expect(timedOut.error).toMatchObject({ code: 'TIMEOUT', details: { timeoutMs: 20, attempt: 1 } });
    const cancelled = new TakesNoParameter(scriptedConfig());
    const running = cancelled.execute();
    await new Promise((resolve) => setTimeout(resolve, 10));
    await cancelled.cancel('enough');
    expect((await running).error?.code).toBe('CANCELLED');
  });
});
