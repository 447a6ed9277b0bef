import type { Redis } from 'ioredis';
import { LRUCache } from 'lru-cache';
import { ErrorCode, TaskforgeError } from '../core/errors.js';
import { RecentSet } from '../core/recent-set.js';
import type { Logger } from '../core/logger.js';
import { failedWithoutRunning, UNKNOWN_TASK_TYPE } from '../orchestrator/task-ends.js';
import { isoTime } from '../core/clock.js';
import { ListenerSet } from '../orchestrator/queues/listener-set.js';
import type { QueueListener, QueueTaskEvents } from '../orchestrator/task-queue.js';
import type { TaskResult } from '../tasks/task-result.js';
import { compareStreamIds } from './redis-event-stream.js';
import { endConnection } from './redis-connections.js';
import type { RedisStore } from './redis-store.js';

/** How long one blocking read of the event stream waits. */
const READ_BLOCK_MS = 1000;
/** Entries one read of the event stream takes at most. */
const READ_COUNT = 1000;
/**
 * After a read that found events, the next waits this long, so that events
 * arriving meanwhile come in one read: under load a read per event costs
 * the client and Redis more than the events themselves.
 */
const READ_GATHER_MS = 5;
/**
 * How often the feed asks whether the event stream dropped entries it had
 * not read, or the queue's data was lost (a new epoch, or a reconnection):
 * then it looks the awaited tasks up directly, and ends those the queue no
 * longer holds with LOST. This bounds how long a lost task is waited for,
 * once Redis answers again.
 */
const RESULT_CHECK_MS = 5000;
/** How long an everyTask listener's announcement lasts; it is renewed at a third of that. */
const LISTENER_TTL_MS = 15_000;
/**
 * While nothing here wants the stream's entries, how often the feed moves
 * its position to the stream's end instead of reading them; a submit or a
 * lookup here ends the wait at once.
 */
const FOLLOW_TAIL_MS = 250;
/** Ends told, remembered so that a second copy (a reply and the stream) is not told again. */
const ENDS_REMEMBERED = 10_000;
const STARTS_REMEMBERED = 100_000;

/**
 * What this process hears of a Redis queue: every task's end and the
 * events workers publish, read from the queue's event stream and told to
 * the listeners here, each end once. When ends may have been lost (the
 * stream trimmed entries this reader had not read, or Redis came back
 * without its data), the tasks the listeners await are looked up directly;
 * those the queue no longer holds end FAILED with LOST.
 */
export class RedisEventFeed {
  readonly #store: RedisStore;
  readonly #logger: Logger;
  readonly #listeners = new ListenerSet();
  readonly #reader: Redis;
  readonly #told = new RecentSet<string>(ENDS_REMEMBERED);
  /** When each task heard of starting last started (ms, from its stream entry's id: Redis's clock), until its end: a LOST end says how long it had run. */
  readonly #started = new LRUCache<string, number>({ max: STARTS_REMEMBERED });
  #lastEventId: string;
  #reading: Promise<void>;
  /** The reader reconnected since the last check (Redis may have restarted, or failed over, without its data). */
  #reconnected = false;
  #checking = false;
  readonly #resultCheck: NodeJS.Timeout;
  #announcer: NodeJS.Timeout | undefined;
  #closed = false;
  /** Ends the wait of a feed that follows the stream's end (see #followTail). */
  #wake: (() => void) | undefined;

  readonly #inFlight: (id: string) => boolean;

  /** `inFlight`: ids whose submit is under way, awaited but not yet stored (never taken for lost). */
  constructor(store: RedisStore, lastEventId: string, logger: Logger, inFlight: (id: string) => boolean) {
    this.#store = store;
    this.#inFlight = inFlight;
    this.#logger = logger;
    this.#lastEventId = lastEventId;
    this.#reader = store.connections.open();
    let connections = 0;
    this.#reader.on('ready', () => {
      connections += 1;
      if (connections > 1) this.#reconnected = true;
    });
    this.#reading = this.#read();
    this.#resultCheck = setInterval(() => {
      // One check at a time: while Redis is away a check waits for it, and the next ones would pile up behind.
      if (this.#checking) return;
      this.#checking = true;
      this.#checkEnds()
        .catch((error: unknown) => {
          this.#logger.error({ queue: store.name, err: errorText(error) }, 'looking up task results failed');
        })
        .finally(() => {
          this.#checking = false;
        });
    }, RESULT_CHECK_MS);
    this.#resultCheck.unref();
  }

  subscribe(listener: QueueListener): () => void {
    const remove = this.#listeners.add(listener);
    if (listener.everyTask === true) this.#announce();
    return remove;
  }

  wants(kind: keyof QueueTaskEvents): boolean {
    return this.#listeners.wants(kind);
  }

  /** Something here may come to wait for an end (a submit, a lookup): a feed that follows the stream's end reads from it now. */
  nudge(): void {
    this.#wake?.();
  }

  /**
   * An end this process learnt of without the stream (a reply): told now,
   * and not again when the stream brings it. Known by its id and its time:
   * a task submitted again under the id (the queue lost the first, or let
   * it go past its retention) ends another time, and that end is told too.
   */
  ended(result: TaskResult): void {
    this.#started.delete(result.id);
    const end = `${result.id}\u0000${result.finishedAt}`;
    if (this.#told.has(end)) return;
    this.#told.add(end);
    this.#listeners.ended(result);
  }

  /** An event this process caused: told here at once (the stream's copy is for the others). */
  event<K extends keyof QueueTaskEvents>(kind: K, payload: QueueTaskEvents[K]): void {
    this.#listeners.event(kind, payload);
  }

  async close(): Promise<void> {
    if (this.#closed) return;
    this.#closed = true;
    this.#wake?.();
    clearInterval(this.#resultCheck);
    clearInterval(this.#announcer);
    // A read left waiting for a Redis that is gone would never end: not waited for (it is dropped with the connection).
    if (endConnection(this.#reader).settlesPending) await this.#reading;
  }

  /** Says, for as long as this feed lives, that a client here wants every task's events (workers then publish them all). */
  #announce(): void {
    if (this.#announcer !== undefined) return;
    const announce = (): void => void this.#store.events.announceListener(LISTENER_TTL_MS).catch(() => undefined);
    announce();
    this.#announcer = setInterval(announce, LISTENER_TTL_MS / 3);
    this.#announcer.unref();
  }

  /** Reads the event stream until closed. */
  async #read(): Promise<void> {
    while (this.#isOpen()) {
      if (!this.#interested()) {
        await this.#followTail();
        continue;
      }
      let reply: [string, [string, string[]][]][] | null;
      try {
        reply = await this.#reader.xread('COUNT', READ_COUNT, 'BLOCK', READ_BLOCK_MS, 'STREAMS', this.#store.events.key, this.#lastEventId);
      } catch (error) {
        // (close() may have come while the read waited.)
        if (!this.#isOpen()) return;
        this.#logger.warn({ queue: this.#store.name, err: errorText(error) }, 'reading task events failed; retrying');
        await new Promise((resolve) => setTimeout(resolve, 200));
        continue;
      }
      let read = 0;
      for (const [, entries] of reply ?? []) {
        read += entries.length;
        for (const [entryId, fields] of entries) {
          this.#lastEventId = entryId;
          this.#dispatch(entryId, fields);
        }
      }
      if (read > 0 && read < READ_COUNT) await new Promise((resolve) => setTimeout(resolve, READ_GATHER_MS));
    }
  }

  /**
   * Nothing here wants the stream's entries (a worker that submitted
   * nothing and has no event listeners): rather than read every other
   * worker's events to drop them, the feed keeps its position at the
   * stream's end, and reads from there once something here wants entries.
   * A position learnt while something came to want entries is not taken:
   * it could pass over what they want. One learnt before they did is safe:
   * what they want comes after it.
   */
  async #followTail(): Promise<void> {
    try {
      const tail = await this.#store.events.lastId(this.#reader);
      if (!this.#interested() && compareStreamIds(tail, this.#lastEventId) > 0) this.#lastEventId = tail;
    } catch (error) {
      if (!this.#isOpen()) return;
      this.#logger.warn({ queue: this.#store.name, err: errorText(error) }, 'reading task events failed; retrying');
    }
    if (!this.#isOpen() || this.#interested()) return;
    await new Promise<void>((resolve) => {
      const timer = setTimeout(resolve, FOLLOW_TAIL_MS);
      this.#wake = () => {
        clearTimeout(timer);
        resolve();
      };
    });
    this.#wake = undefined;
  }

  /** Whether a listener here wants entries of the stream: ends it awaits, every end, or events. */
  #interested(): boolean {
    const listeners = this.#listeners;
    return listeners.awaitsAny() || listeners.wants('start') || listeners.wants('retry') || listeners.wants('progress') || listeners.wants('cancel');
  }

  #dispatch(entryId: string, fields: readonly string[]): void {
    const kind = fields[1] ?? '';
    const body = fields[5] ?? '{}';
    // (The entry's id is the time Redis added it: no body need be parsed for it.)
    if (kind === 'start' && this.#listeners.awaitsAny()) this.#started.set(fields[3] ?? '', Number.parseInt(entryId, 10));
    if (kind === 'ends') {
      // A worker that submitted nothing hears every other worker's ends: unread, they cost it nothing.
      if (!this.#listeners.awaitsAny()) return;
      for (const result of JSON.parse(body) as TaskResult[]) this.ended(result);
      return;
    }
    if (kind === 'start' || kind === 'retry' || kind === 'progress' || kind === 'cancel') {
      if (!this.#listeners.wants(kind)) return;
      const payload = JSON.parse(body) as QueueTaskEvents[typeof kind];
      // A cancel this process asked for was told when it asked.
      if (kind === 'cancel' && this.#told.has(`cancel:${payload.id}`)) return;
      this.#listeners.event(kind, payload);
    }
  }

  /** A lost task's end: it ran, at least once, from its last start heard of, when one was; else it never started as far as this process knows. */
  #lostEnd(id: string, error: TaskforgeError): TaskResult {
    const now = Date.now();
    const never = failedWithoutRunning({ id, type: UNKNOWN_TASK_TYPE }, 0, error, now);
    const startedMs = this.#started.get(id);
    if (startedMs === undefined) return never;
    // (Redis's clock and this one may disagree by a little: never a negative run.)
    const from = Math.min(startedMs, now);
    return { ...never, attempts: 1, startedAt: isoTime(from), durationMs: now - from };
  }

  #isOpen(): boolean {
    return !this.#closed;
  }

  /** Remembers that a cancel event was told here (it was this process's own): the stream's copy is not told again. */
  toldCancel(id: string): void {
    this.#told.add(`cancel:${id}`);
  }

  /**
   * Looks the awaited tasks up directly when their end events may have been
   * trimmed from the stream unread (this process fell further behind than
   * the stream keeps), or when the queue may have lost its data (its epoch
   * changed, or the reader reconnected): a task found finished ends here;
   * one the queue no longer holds at all ends FAILED with LOST, since its
   * end would never come. Only then: a lookup costs Redis two fields per
   * task awaited, and a busy submitter awaits many. (A read that failed
   * resumes from the last entry read, so it misses nothing the stream still holds.)
   */
  async #checkEnds(): Promise<void> {
    const awaited = [...this.#listeners.waitingFor()].filter((id) => !this.#inFlight(id));
    if (awaited.length === 0) return;
    const reconnected = this.#reconnected;
    this.#reconnected = false;
    let dataLost: boolean;
    try {
      dataLost = reconnected || (await this.#store.epoch.changed());
      if (!dataLost && !(await this.#store.events.lostAfter(this.#lastEventId))) return;
    } catch {
      // Redis away: asked again at the next check (after the reconnection this failure may hide).
      this.#reconnected ||= reconnected;
      return;
    }
    let lost = 0;
    for (let start = 0; start < awaited.length && !this.#closed; start += 1000) {
      const chunk = awaited.slice(start, start + 1000);
      let places;
      try {
        places = await this.#store.finished.whereAre(chunk);
      } catch {
        this.#reconnected ||= dataLost;
        return;
      }
      places.forEach((place, index) => {
        if (place === 'unfinished') return;
        if (place !== 'missing') {
          this.ended(place.result);
          return;
        }
        const id = chunk[index] ?? '';
        // (Submitted again meanwhile: a later check looks again.)
        if (this.#inFlight(id)) return;
        lost += 1;
        const error = new TaskforgeError(ErrorCode.LOST, `task '${id}' was lost: the queue ${this.#store.name} no longer holds it (Redis restarted or failed over without its data, or the task fell out of retention unread); it will not run or end by itself`, {
          details: { taskId: id },
        });
        // (The queue lost the task's type with it: its submitter's handle knows it, and the end is told under it.)
        this.ended(this.#lostEnd(id, error));
      });
    }
    if (lost > 0) this.#logger.error({ queue: this.#store.name, tasks: lost }, 'tasks lost: the queue no longer holds them');
    // The epoch this process now trusts: a later loss shows as another change.
    if (dataLost) {
      await this.#store.epoch.mark().catch(() => {
        this.#reconnected = true;
      });
    }
  }
}

function errorText(error: unknown): string {
  return error instanceof Error ? error.message : String(error);
}
