import { hostname } from 'node:os';
import { settledWithin } from '../core/abort.js';
import { differences, ROSTER_REFRESH_MS, type RedisWorkerRoster, type WorkerFacts } from '../distributed/redis-worker-roster.js';
import type { TaskQueue } from '../orchestrator/task-queue.js';
import type { StorageBackend } from '../storage/backend.js';
import { defaultKeyring } from '../storage/codec/default-keyring.js';
import type { CliStreams } from './cli-context.js';

/** What a worker of this process is, as its fellows on the queue see it. */
export interface WorkerSelf {
  readonly id: string;
  readonly backend: StorageBackend;
  readonly types: readonly string[];
}

/**
 * Puts this worker on its Redis queue's roster, every few seconds, and says
 * once on stderr of each other worker there that would make a task end
 * differently (another storage, another key):
 * workers of one queue are interchangeable, so such a pair is two teams
 * sharing a queue name by mistake, whose tasks land with either. A queue
 * of another kind has no roster. Returns how to stop (it leaves the roster).
 */
export function watchFellowWorkers(queue: TaskQueue, self: WorkerSelf, streams: CliStreams, who: string): () => Promise<void> {
  const roster = rosterOf(queue);
  if (roster === undefined) return () => Promise.resolve();
  const told = new Set<string>();
  const look = async (): Promise<void> => {
    const facts = factsOf(self);
    // (Redis away: the next look tries again; the connection lines say so.)
    const others = await roster.announce(facts).catch(() => [] as WorkerFacts[]);
    for (const other of others) {
      const found = differences(facts, other);
      const said = `${other.id}\0${found.join('\0')}`;
      if (found.length === 0 || told.has(said)) continue;
      told.add(said);
      streams.stderr.write(
        `${who}: warning: worker ${other.id} (${other.host}, pid ${String(other.pid)}) takes from this queue too, but ${found.join('; ')}: each task lands with whichever worker takes it; give each team, or each storage, its own queue (?name=)\n`,
      );
    }
  };
  const { first, stop } = lookEveryRefresh(look);
  return async () => {
    stop();
    // Bounded, the first look included: its announce may be queued for a Redis that went before it answered,
    // and a Redis that is gone must not hold the stop (the entry then lapses by itself).
    await settledWithin(first.then(() => roster.leave(self.id)), 1000);
  };
}

function factsOf(self: WorkerSelf): WorkerFacts {
  let key: string | undefined;
  try {
    key = defaultKeyring()?.activeKeyId;
  } catch {
    // An unusable keyring (said at start): no key to encrypt with.
    key = undefined;
  }
  return { id: self.id, host: hostname(), pid: process.pid, storage: self.backend.identity ?? self.backend.name, key, types: [...self.types].sort() };
}

/**
 * For a process that submits to a Redis queue and reads objects itself
 * (`serve`: its /objects routes): says once on stderr of each of the
 * queue's workers that stores elsewhere than `storage`, every few seconds
 * (workers start in any order), since a task's objects are where its worker
 * stored them. Returns how to stop.
 */
export function watchQueueWorkers(queue: TaskQueue, storage: StorageBackend, streams: CliStreams, who: string): () => void {
  const roster = rosterOf(queue);
  if (roster === undefined) return () => undefined;
  const own = storage.identity ?? storage.name;
  const told = new Set<string>();
  const look = async (): Promise<void> => {
    const workers = await roster.list().catch(() => [] as WorkerFacts[]);
    for (const worker of workers) {
      const said = `${worker.id}\0${worker.storage}`;
      if (worker.storage === own || told.has(said)) continue;
      told.add(said);
      streams.stderr.write(
        `${who}: warning: worker ${worker.id} (${worker.host}, pid ${String(worker.pid)}) of this queue stores to ${worker.storage}, but this server's /objects routes read and write ${own}: a task's objects are where its worker stored them (give this server the workers' storage)\n`,
      );
    }
  };
  return lookEveryRefresh(look).stop;
}

/**
 * The workers on the queue's roster now: undefined for a queue without
 * one (not Redis), or when Redis does not answer.
 */
export async function queueWorkers(queue: TaskQueue): Promise<WorkerFacts[] | undefined> {
  return rosterOf(queue)?.list().catch(() => undefined);
}

/** The queue's roster of workers: a Redis queue has one, a queue of another kind none. */
function rosterOf(queue: TaskQueue): RedisWorkerRoster | undefined {
  return (queue as { workers?: RedisWorkerRoster }).workers;
}

/** Looks now and then again every roster refresh (not holding the process); a failed look waits for the next. */
function lookEveryRefresh(look: () => Promise<void>): { readonly first: Promise<void>; readonly stop: () => void } {
  const first = look().catch(() => undefined);
  const timer = setInterval(() => {
    look().catch(() => undefined);
  }, ROSTER_REFRESH_MS);
  timer.unref();
  const stop = (): void => {
    clearInterval(timer);
  };
  return { first, stop };
}
