import { BaseTask } from '../src/tasks/base-task.js';

/** A task that does nothing: what is measured is the queue around it. */
export class NoopTask extends BaseTask<undefined> {
  protected override executeTask(): Promise<undefined> {
    return Promise.resolve(undefined);
  }
}
