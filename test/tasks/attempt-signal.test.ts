import { describe, expect, it } from 'vitest';
import { BaseTask, type AttemptContext } from '../../src/tasks/base-task.js';
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

type WaitingTaskClass = new (config: ReturnType<typeof scriptedConfig>) => BaseTask & { readonly signals: AbortSignal[] };

/**
 * Task classes as tools print them, loaded from their text so that what
 * runs is exactly that text: each executeTask reads its signal, and its
 * source shows an empty first pair of parentheses and no `arguments`, which
 * a check of the source text took for "reads no parameter".
 */
const PRINTED_TASK_CLASSES: Readonly<Record<string, string>> = {
  // A computed method name whose expression calls a function, with a rest parameter.
  'a computed name and a rest parameter': 'export default (B,u)=>class extends B{signals=[];[String()+"executeTask"](...a){this.signals.push(a[0]);return u(a[0])}}',
  // `arguments` spelled with an escape, as an obfuscator may print it.
  'an escaped `arguments`': 'export default (B,u)=>class extends B{signals=[];executeTask(){const s=argum\\u0065nts[0];this.signals.push(s);return u(s)}}',
  // A comment holding `()` before the parameters, kept by a compiler that keeps comments.
  'a comment before a default parameter': 'export default (B,u)=>class extends B{signals=[];executeTask/* run() */(s=void 0){this.signals.push(s);return u(s)}}',
};

async function loadPrinted(source: string): Promise<WaitingTaskClass> {
  const module = (await import(`data:text/javascript,${encodeURIComponent(source)}`)) as { default: (base: typeof BaseTask, wait: typeof untilAborted) => WaitingTaskClass };
  return module.default(BaseTask, untilAborted);
}

/** Resolves once the task's attempt has been handed its signal. */
async function started(task: { readonly signals: AbortSignal[] }): Promise<void> {
  while (task.signals.length === 0) await new Promise((resolve) => setImmediate(resolve));
}

class TakesNoParameter extends BaseTask {
  // Typed boolean, not the literal true, so that a subclass may set it back to false.
  static override readonly ignoresSignal: boolean = true;
  readonly signals: AbortSignal[] = [];

  protected override executeTask(signal: AbortSignal): Promise<never> {
    this.signals.push(signal);
    return failsAfter(60);
  }
}

class DefaultParameter extends BaseTask {
  readonly signals: AbortSignal[] = [];

  protected override executeTask(signal = new AbortController().signal): Promise<never> {
    this.signals.push(signal);
    return untilAborted(signal);
  }
}

class RestParameter extends BaseTask {
  readonly signals: AbortSignal[] = [];

  protected override executeTask(...args: [AbortSignal]): Promise<never> {
    this.signals.push(args[0]);
    return untilAborted(args[0]);
  }
}

/** Declares ignoresSignal and reads the attempt's own signal from its context, as StorageTask does for work that needs one. */
class ReadsContextSignal extends BaseTask {
  static override readonly ignoresSignal = true;
  readonly signals: AbortSignal[] = [];
  readonly handed: AbortSignal[] = [];

  protected override executeTask(handed: AbortSignal, context: AttemptContext<unknown>): Promise<never> {
    this.handed.push(handed);
    this.signals.push(context.signal);
    return untilAborted(context.signal);
  }
}

/** Cancel and timeout each fire the signal the attempt was given. */
async function expectSignalFires(TaskClass: WaitingTaskClass): Promise<void> {
  const cancelled = new TaskClass(scriptedConfig());
  const running = cancelled.execute();
  await started(cancelled);
  await cancelled.cancel('enough');
  expect((await running).error?.code).toBe('CANCELLED');
  expect(cancelled.signals[0]?.aborted).toBe(true);
  const timedOut = new TaskClass(scriptedConfig({ timeout: 20 }));
  expect((await timedOut.execute()).error?.code).toBe('TIMEOUT');
  expect(timedOut.signals[0]?.aborted).toBe(true);
}

describe('the attempt signal', () => {
  it('reaches an executeTask that declares it with a default value or a rest parameter: cancel and timeout fire it', async () => {
    for (const TaskClass of [DefaultParameter, RestParameter]) await expectSignalFires(TaskClass);
  });

  for (const [printedWith, source] of Object.entries(PRINTED_TASK_CLASSES)) {
    it(`reaches an executeTask printed with ${printedWith}: cancel and timeout fire it`, async () => {
      await expectSignalFires(await loadPrinted(source));
    });
  }

  it('each attempt has its own signal: a retry after a timeout is not handed the fired one', async () => {
    const task = new RestParameter(scriptedConfig({ timeout: 20, retries: 1 }));
    const result = await task.execute();
    expect(result).toMatchObject({ attempts: 2, error: { code: 'TIMEOUT' } });
    expect(task.signals).toHaveLength(2);
    expect(task.signals[0]).not.toBe(task.signals[1]);
  });

  it('a task type that declares ignoresSignal is handed a shared signal that never fires, and still ends TIMEOUT or CANCELLED by its attempt', async () => {
    const timedOut = new TakesNoParameter(scriptedConfig({ timeout: 20 }));
    expect((await timedOut.execute()).error).toMatchObject({ code: 'TIMEOUT', details: { timeoutMs: 20, attempt: 1 } });
    const cancelled = new TakesNoParameter(scriptedConfig());
    const running = cancelled.execute();
    await started(cancelled);
    await cancelled.cancel('enough');
    expect((await running).error?.code).toBe('CANCELLED');
    expect(timedOut.signals[0]?.aborted).toBe(false);
    expect(cancelled.signals[0]).toBe(timedOut.signals[0]);
  });

  it('a task whose work goes on past its timeout or cancel and then returns a value ends COMPLETED (its work is done; a TIMEOUT would run it again)', async () => {
    class ReturnsLate extends BaseTask<string> {
      static override readonly ignoresSignal = true;
      protected override async executeTask(): Promise<string> {
        await new Promise((resolve) => setTimeout(resolve, 80));
        return 'done anyway';
      }
    }
    const timedOut = await new ReturnsLate({ type: 'late', metadata: { options: { timeout: 10, retries: 2 } } }).execute();
    expect(timedOut).toMatchObject({ status: 'completed', attempts: 1, data: 'done anyway' });
    const task = new ReturnsLate({ type: 'late' });
    const running = task.execute();
    await new Promise((resolve) => setTimeout(resolve, 10));
    await task.cancel('too late');
    expect(await running).toMatchObject({ status: 'completed', data: 'done anyway' });
  });

  it('a task type that declares ignoresSignal finds the attempt\'s own signal in its context: cancel and timeout fire it, each attempt has its own', async () => {
    await expectSignalFires(ReadsContextSignal);
    const retried = new ReadsContextSignal(scriptedConfig({ timeout: 20, retries: 1 }));
    expect((await retried.execute()).error?.code).toBe('TIMEOUT');
    expect(retried.signals).toHaveLength(2);
    expect(retried.signals[0]).not.toBe(retried.signals[1]);
    expect(retried.signals.every((signal) => signal.aborted)).toBe(true);
    // The argument is the shared signal that never fires.
    expect(retried.handed[0]?.aborted).toBe(false);
    expect(retried.handed[0]).toBe(retried.handed[1]);
  });

  it('a subclass of a task type that ignores its signal reads it again by setting ignoresSignal back to false', async () => {
    class ReadsItAgain extends TakesNoParameter {
      static override readonly ignoresSignal = false;

      protected override executeTask(signal: AbortSignal): Promise<never> {
        this.signals.push(signal);
        return untilAborted(signal);
      }
    }
    await expectSignalFires(ReadsItAgain);
  });
});
