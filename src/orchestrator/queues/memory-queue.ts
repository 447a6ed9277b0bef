import { LocalQueue } from './local-queue.js';
import { MemoryStore, type MemoryStoreOptions } from './memory-store.js';

export { DEFAULT_MEMORY_RETENTION } from './memory-store.js';

/** Options of {@link MemoryQueue}: aging against starvation, and how many finished tasks stay queryable. */
export type MemoryQueueOptions = MemoryStoreOptions;

/**
 * The default queue: tasks wait in this process's memory, in taskforge's
 * priority order, and end with it. Cancelling one of a million waiting
 * tasks is O(1) (see memory-store.ts).
 */
export class MemoryQueue extends LocalQueue {
  constructor(options: MemoryQueueOptions = {}) {
    super(new MemoryStore(options));
  }
}
