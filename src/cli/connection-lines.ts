import type { RedisConnectionChange } from '../distributed/redis-connection-watch.js';
import type { TaskQueue } from '../orchestrator/task-queue.js';
import type { CliStreams } from './cli-context.js';

/**
 * Says on stderr, once each, when a Redis queue's connection is lost and
 * when it is back: a command that waits on Redis (a worker, `run`, `serve`)
 * would otherwise go quiet while its server is away, its logging being off
 * by default. A queue of another kind says nothing. Returns how to stop.
 */
export function tellConnectionChanges(queue: TaskQueue, streams: CliStreams, who: string): () => void {
  const { watchConnection } = queue as { watchConnection?: (listener: (change: RedisConnectionChange) => void) => () => void };
  if (typeof watchConnection !== 'function') return () => undefined;
  return watchConnection.call(queue, (change) => {
    streams.stderr.write(change.connected ? `${who}: connected to ${queue.name} again\n` : `${who}: lost the connection to ${queue.name} (${change.reason}); trying again until it is back\n`);
  });
}
