import type { Redis } from 'ioredis';
import { TaskType } from '../tasks/task-type.js';

/** What a worker says of itself on its queue: where its tasks' objects land, and what it can run. */
export interface WorkerFacts {
  readonly id: string;
  readonly host: string;
  readonly pid: number;
  /** Its storage backend's identity (`fs:/srv/data`, `s3:…|bucket/prefix`). */
  readonly storage: string;
  /** The id of the key it encrypts with, or undefined when it has none. */
  readonly key: string | undefined;
  /** The custom task types it runs (beside storage). */
  readonly types: readonly string[];
}

interface Entry extends WorkerFacts {
  /** When it last said so (ms since the epoch, its clock). */
  readonly seenAt: number;
}

/** A worker not heard from for this long is gone (it says so every ROSTER_REFRESH_MS). */
const GONE_AFTER_MS = 30_000;
/** How often a worker says it is there. */
export const ROSTER_REFRESH_MS = 5000;

/**
 * The workers that take from one Redis queue, each as it describes itself,
 * in one hash (a field per worker, rewritten every few seconds, removed as
 * it stops; one not heard from for 30 s is dropped by the next worker that
 * looks). Workers of one queue are interchangeable: a task lands with
 * whichever takes it. Two that store to different places or encrypt with
 * different keys are a mistake a worker can see here and say (two teams on
 * one queue name); a submitter sees here a task type no worker runs.
 */
export class RedisWorkerRoster {
  readonly #redis: Redis;
  readonly #key: string;

  constructor(redis: Redis, key: string) {
    this.#redis = redis;
    this.#key = key;
  }

  /** Says `facts` of this worker, and returns the other workers heard from lately. */
  async announce(facts: WorkerFacts, now = Date.now()): Promise<WorkerFacts[]> {
    const entry: Entry = { ...facts, seenAt: now };
    const [, all] = (await this.#redis.multi().hset(this.#key, facts.id, JSON.stringify(entry)).hgetall(this.#key).exec()) ?? [];
    const fields = (all?.[1] ?? {}) as Record<string, string>;
    const others: WorkerFacts[] = [];
    const gone: string[] = [];
    for (const [id, text] of Object.entries(fields)) {
      if (id === facts.id) continue;
      const other = parsed(text);
      if (other === undefined || now - other.seenAt > GONE_AFTER_MS) gone.push(id);
      else others.push(other);
    }
    if (gone.length > 0) await this.#redis.hdel(this.#key, ...gone);
    return others;
  }

  /** The workers heard from lately, as a process that is none of them sees them (it says nothing of itself). */
  async list(now = Date.now()): Promise<WorkerFacts[]> {
    const fields = await this.#redis.hgetall(this.#key);
    return Object.values(fields)
      .map(parsed)
      .filter((entry): entry is Entry => entry !== undefined && now - entry.seenAt <= GONE_AFTER_MS);
  }

  /** Removes this worker from the roster (it stops). */
  async leave(id: string): Promise<void> {
    await this.#redis.hdel(this.#key, id);
  }
}

function parsed(text: string): Entry | undefined {
  try {
    const value = JSON.parse(text) as Partial<Entry>;
    if (typeof value.id !== 'string' || typeof value.storage !== 'string' || typeof value.seenAt !== 'number') return undefined;
    return { id: value.id, host: typeof value.host === 'string' ? value.host : '?', pid: typeof value.pid === 'number' ? value.pid : 0, storage: value.storage, key: typeof value.key === 'string' ? value.key : undefined, types: Array.isArray(value.types) ? value.types.filter((type) => typeof type === 'string') : [], seenAt: value.seenAt };
  } catch {
    return undefined;
  }
}

/**
 * How `other` differs from `self` in what decides where a task's objects
 * land: the differences in words, or none. Task types may differ: a worker
 * takes only tasks of the types it registers (a specialised fleet).
 */
export function differences(self: WorkerFacts, other: WorkerFacts): string[] {
  const found: string[] = [];
  if (other.storage !== self.storage) found.push(`stores to ${other.storage} (this one: ${self.storage})`);
  if (other.key !== self.key) found.push(`encrypts with ${other.key === undefined ? 'no key' : `key ${other.key}`} (this one: ${self.key === undefined ? 'no key' : `key ${self.key}`})`);
  return found;
}

/** Of `types` (custom ones: every worker runs storage), those no worker in `workers` registers. */
export function typesNoneRuns(types: Iterable<string>, workers: readonly WorkerFacts[]): string[] {
  const run = new Set(workers.flatMap((worker) => worker.types));
  return [...new Set(types)].filter((type) => type !== TaskType.STORAGE && !run.has(type)).sort();
}
