import { LocalQueue } from '../../src/orchestrator/queues/local-queue.js';
import type { TaskStore } from '../../src/orchestrator/task-store.js';

/** A queue of this process over a store a test wraps (to make it fail as a full disk would). */
export class QueueOverStore extends LocalQueue {
  // Not useless: it makes LocalQueue's protected constructor public, for a store of the test's own.
  // eslint-disable-next-line @typescript-eslint/no-useless-constructor
  constructor(store: TaskStore) {
    super(store);
  }
}
