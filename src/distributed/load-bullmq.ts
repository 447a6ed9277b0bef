import type { Queue, Worker } from 'bullmq';
import type { Redis } from 'ioredis';
import { importOptional } from '../core/optional-package.js';

/** The parts of bullmq and ioredis the Redis queue uses. */
export interface BullMqModules {
  readonly Queue: typeof Queue;
  readonly Worker: typeof Worker;
  readonly Redis: typeof Redis;
}

let loading: Promise<BullMqModules> | undefined;

/**
 * Loads bullmq and ioredis on first use, so that a program that never
 * opens a Redis queue does not pay for them (they take ~150 ms to load).
 */
export function loadBullMq(): Promise<BullMqModules> {
  loading ??= (async () => {
    try {
      const { bullmq, ioredis } = await importOptional('the Redis queue', { bullmq: () => import('bullmq'), ioredis: () => import('ioredis') });
      return { Queue: bullmq.Queue, Worker: bullmq.Worker, Redis: ioredis.Redis };
    } catch (error) {
      loading = undefined;
      throw error;
    }
  })();
  return loading;
}
