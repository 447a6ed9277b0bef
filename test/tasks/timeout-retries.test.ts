import { describe, expect, it } from 'vitest';
import { backoffDelay, DEFAULT_RETRY_POLICY } from '../../src/core/backoff.js';
import { TaskforgeError } from '../../src/core/errors.js';
import { GIVE_UP_AFTER_ABORT_MS, workStillGoing } from '../../src/tasks/base-task.js';
import { StorageTask } from '../../src/tasks/storage-task.js';
import { ScriptedTask, scriptedConfig, NO_WAIT, systemError, workFor } from '../helpers/scripted-task.js';

describe('timeout', () => {
  it('aborts the attempt signal and fails with TIMEOUT after the work stopped', async () => {
    let aborted = false;
    let stoppedAt = 0;
    const task = new ScriptedTask(scriptedConfig({ timeout: 30 }), async (signal) => {
      signal.addEventListener('abort', () => {
        aborted = true;
      });
      try {
        await workFor(10_000, signal);
      } finally {
        await new Promise((resolve) => setTimeout(resolve, 20));
        stoppedAt = Date.now();
      }
    });
    const result = await task.execute();
    expect(aborted).toBe(true);
    expect(result.error).toMatchObject({ code: 'TIMEOUT', retryable: true, details: { timeoutMs: 30, attempt: 1 } });
    expect(Date.parse(result.finishedAt)).toBeGreaterThanOrEqual(stoppedAt - 1);
  });

  it('is per attempt: each retry gets the full timeout again', async () => {
    const durations: number[] = [];
    const task = new ScriptedTask(
      scriptedConfig({ timeout: 40, retries: 2 }),
      async (signal) => {
        const started = Date.now();
        try {
          await workFor(10_000, signal);
        } finally {
          durations.push(Date.now() - started);
        }
      },
      NO_WAIT,
    );
    const result = await task.execute();
    expect(result).toMatchObject({ attempts: 3, error: { code: 'TIMEOUT' } });
    expect(durations).toHaveLength(3);
    for (const duration of durations) expect(duration).toBeGreaterThanOrEqual(35);
  });

  it('timeout 0 means no limit', async () => {
    const task = new ScriptedTask(scriptedConfig({ timeout: 0 }), (signal) => workFor(30, signal));
    expect((await task.execute()).success).toBe(true);
  });

  it('a timed-out attempt has stopped before the next one starts', async () => {
    let running = 0;
    let overlapped = false;
    const task = new ScriptedTask(
      scriptedConfig({ timeout: 20, retries: 2 }),
      async (signal) => {
        running += 1;
        if (running > 1) overlapped = true;
        try {
          await workFor(10_000, signal).catch(async (error: unknown) => {
            // Slow to stop: the lifecycle must wait for it.
            await new Promise((resolve) => setTimeout(resolve, 30));
            throw error;
          });
        } finally {
          running -= 1;
        }
      },
      NO_WAIT,
    );
    await task.execute();
    expect(overlapped).toBe(false);
    expect(running).toBe(0);
  });
});

describe('work that ignores its abort', () => {
  const never = (): Promise<unknown> => new Promise(() => undefined);

  it(`is given up ${String(GIVE_UP_AFTER_ABORT_MS)} ms after its timeout: the task ends TIMEOUT, saying its work may still run, and is not retried`, async () => {
    let attempts = 0;
    const task = new ScriptedTask(
      scriptedConfig({ timeout: 50, retries: 2 }),
      () => {
        attempts += 1;
        return never();
      },
      NO_WAIT,
    );
    const result = await task.execute();
    expect(result).toMatchObject({ status: 'failed', attempts: 1, error: { code: 'TIMEOUT', retryable: false, details: { timeoutMs: 50, abandoned: true, outcome: 'unknown' } } });
    expect(result.error?.message).toMatch(/timed out after 50 ms; its work did not stop within 2500 ms of that and was given up \(it may still be running: what it did is not known\)$/);
    // A retry would overlap the work given up.
    expect(attempts).toBe(1);
    expect(workStillGoing(task)).toBeInstanceOf(Promise);
  });

  it('is given up after a cancel too: cancel() resolves, and the task ends CANCELLED', async () => {
    let started!: () => void;
    const running = new Promise<void>((resolve) => (started = resolve));
    const task = new ScriptedTask(scriptedConfig(), () => {
      started();
      return never();
    });
    const execution = task.execute();
    await running;
    await task.cancel('enough');
    expect(await execution).toMatchObject({ status: 'failed', error: { code: 'CANCELLED', details: { abandoned: true } } });
    expect((await execution).error?.message).toMatch(/^task 'scripted-1' was cancelled: enough; its work did not stop within/);
  });

  it("waits its type's abortGraceMs: a type whose own stop takes longer sets more, one that wants less sets less", async () => {
    class Impatient extends ScriptedTask {
      static override readonly abortGraceMs: number = 100;
    }
    const task = new Impatient(scriptedConfig({ timeout: 20 }), () => never());
    expect((await task.execute()).error?.message).toMatch(/its work did not stop within 100 ms of that and was given up/);
    expect(StorageTask.abortGraceMs).toBeGreaterThan(60_000);
  });

  it('that stops after all, late, leaves nothing going; work that stops within the grace is not given up', async () => {
    let finish!: () => void;
    const late = new ScriptedTask(scriptedConfig({ timeout: 20 }), () => new Promise<void>((resolve) => (finish = resolve)));
    expect((await late.execute()).error?.details).toMatchObject({ abandoned: true });
    const going = workStillGoing(late);
    finish();
    await going;
    expect(workStillGoing(late)).toBeUndefined();
    const slow = new ScriptedTask(scriptedConfig({ timeout: 20 }), async (signal) => {
      await workFor(10_000, signal).catch(() => new Promise((resolve) => setTimeout(resolve, 100)));
      throw new Error('stopped');
    });
    const result = await slow.execute();
    expect(result.error).toMatchObject({ code: 'TIMEOUT' });
    expect(result.error?.details?.['abandoned']).toBeUndefined();
    expect(workStillGoing(slow)).toBeUndefined();
  });
});

describe('retries', () => {
  it('retries transient errors up to `retries` extra attempts, then fails with the last error', async () => {
    let calls = 0;
    const task = new ScriptedTask(
      scriptedConfig({ retries: 3 }),
      () => {
        calls += 1;
        return Promise.reject(systemError('EMFILE'));
      },
      NO_WAIT,
    );
    const result = await task.execute();
    expect(calls).toBe(4);
    expect(result).toMatchObject({ attempts: 4, error: { code: 'BACKEND_UNAVAILABLE', retryable: true } });
  });

  it('succeeds on a later attempt and reports how many it took', async () => {
    const task = new ScriptedTask(
      scriptedConfig({ retries: 5 }),
      (_signal, attempt) => (attempt === 1 ? Promise.reject(systemError('ECONNRESET')) : Promise.resolve('second')),
      NO_WAIT,
    );
    expect(await task.execute()).toMatchObject({ success: true, attempts: 2, data: 'second' });
  });

  for (const [what, error] of [
    ['a validation error', new TaskforgeError('VALIDATION_ERROR', 'bad')],
    ['not found', systemError('ENOENT')],
    ['permission denied', systemError('EACCES')],
    ['an integrity error', new TaskforgeError('INTEGRITY_ERROR', 'tampered')],
    ['a plain Error', new Error('bug')],
  ] as const) {
    it(`does not retry ${what}`, async () => {
      let calls = 0;
      const task = new ScriptedTask(
        scriptedConfig({ retries: 5 }),
        () => {
          calls += 1;
          return Promise.reject(error);
        },
        NO_WAIT,
      );
      const result = await task.execute();
      expect(calls).toBe(1);
      expect(result.attempts).toBe(1);
    });
  }

  it('a task error marked retryable is retried', async () => {
    const task = new ScriptedTask(
      scriptedConfig({ retries: 1 }),
      (_s, attempt) => (attempt === 1 ? Promise.reject(new TaskforgeError('TASK_FAILED', 'flaky', { retryable: true })) : Promise.resolve('ok')),
      NO_WAIT,
    );
    expect(await task.execute()).toMatchObject({ success: true, attempts: 2 });
  });

  it('cancel() during the wait between attempts ends the task with CANCELLED at once', async () => {
    const task = new ScriptedTask(
      scriptedConfig({ retries: 3 }),
      () => Promise.reject(systemError('EBUSY')),
      { retryPolicy: { baseDelayMs: 60_000, maxDelayMs: 60_000, random: () => 0.99 } },
    );
    let retried!: () => void;
    const retryEvent = new Promise<void>((resolve) => {
      retried = resolve;
    });
    task.on('retry', () => {
      retried();
    });
    const running = task.execute();
    await retryEvent;
    const before = Date.now();
    await task.cancel();
    const result = await running;
    expect(Date.now() - before).toBeLessThan(5_000);
    expect(result).toMatchObject({ attempts: 1, error: { code: 'CANCELLED' } });
  });

  it('waits the backoff delay between attempts', async () => {
    const starts: number[] = [];
    const task = new ScriptedTask(
      scriptedConfig({ retries: 1 }),
      (_s, attempt) => {
        starts.push(Date.now());
        return attempt === 1 ? Promise.reject(systemError('EAGAIN')) : Promise.resolve();
      },
      { retryPolicy: { baseDelayMs: 50, maxDelayMs: 50, random: () => 0.999 } },
    );
    await task.execute();
    expect((starts[1] ?? 0) - (starts[0] ?? 0)).toBeGreaterThanOrEqual(45);
  });
});

describe('backoff delay', () => {
  const fixed = (random: number) => ({ ...DEFAULT_RETRY_POLICY, baseDelayMs: 100, maxDelayMs: 1_000, random: () => random });

  it('grows exponentially: the ceiling doubles with each retry', () => {
    expect([1, 2, 3, 4].map((retry) => backoffDelay(retry, fixed(0.999_999)))).toEqual([99, 199, 399, 799]);
  });

  it('is capped at maxDelayMs', () => {
    expect(backoffDelay(20, fixed(0.999_999))).toBe(999);
  });

  it('has full jitter: anywhere from 0 to the ceiling', () => {
    expect(backoffDelay(3, fixed(0))).toBe(0);
    expect(backoffDelay(3, fixed(0.5))).toBe(200);
  });
});
