import { RedisQueue } from '../../src/distributed/redis-queue.js';
import type { RedisQueueOptions } from '../../src/distributed/redis-options.js';
import { Orchestrator, type OrchestratorOptions } from '../../src/orchestrator/orchestrator.js';

/**
 * An Orchestrator on a Redis queue, as a program would make one: with
 * `concurrency: 0` a submitter (the workers run the tasks), above 0 a
 * worker too. Its queue is opened first, so that queue options a URL cannot
 * carry (lock durations for fault tests) can be given.
 */
export async function redisOrchestrator(queueOptions: RedisQueueOptions, options: Omit<OrchestratorOptions, 'queue'> = {}): Promise<{ orchestrator: Orchestrator<RedisQueue>; queue: RedisQueue }> {
  const queue = await RedisQueue.open(queueOptions);
  return { orchestrator: new Orchestrator({ concurrency: 0, ...options, queue }), queue };
}
