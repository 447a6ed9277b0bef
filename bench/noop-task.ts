import { BaseTask } from '../src/tasks/base-task.js';

/** A task that does nothing: what is measured is the queue around it. */
export class NoopTask extends BaseTask<undefined> {
  // It never reads its signal: no signal is made per attempt (see BaseTask.ignoresSignal).
  static override readonly ignoresSignal = true;

  protected override executeTask(): Promise<undefined> {
    return Promise.resolve(undefined);
  }
}
