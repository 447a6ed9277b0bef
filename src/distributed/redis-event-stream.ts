import type { Redis } from 'ioredis';

/** Events kept in the stream for readers that fall behind. */
export const EVENTS_MAX_LEN = 10_000;

/** A task event as it travels through the queue's event stream. */
export interface StreamEvent {
  readonly kind: string;
  readonly id: string;
  readonly body: string;
}

/**
 * The queue's event stream, where every process hears every task's end
 * and the events workers publish (read by redis-event-feed.ts; the scripts
 * add ends and cancellations themselves), and the mark by which a client
 * says it wants every task's events.
 */
export class RedisEventStream {
  /** The stream's key. */
  readonly key: string;
  readonly #listeningKey: string;
  readonly #redis: Redis;

  constructor(redis: Redis, keys: { readonly stream: string; readonly listening: string }) {
    this.#redis = redis;
    this.key = keys.stream;
    this.#listeningKey = keys.listening;
  }

  /**
   * Adds an event to the stream (not waited for: events are best effort,
   * ends go through settle). `via`: the connection a task's end will go on,
   * so that readers see its events before its end.
   */
  publish(kind: string, id: string, body: unknown, via: Redis = this.#redis): void {
    void via.xadd(this.key, 'MAXLEN', '~', String(EVENTS_MAX_LEN), '*', 'kind', kind, 'id', id, 'body', JSON.stringify(body)).catch(() => undefined);
  }

  /** The id of the stream's newest event ('0-0' when empty): read events after it. `via`: the connection to ask on. */
  async lastId(via: Redis = this.#redis): Promise<string> {
    const newest = await via.xrevrange(this.key, '+', '-', 'COUNT', 1);
    return newest[0]?.[0] ?? '0-0';
  }

  /**
   * Whether entries of the stream after `afterId` may have been trimmed
   * away unread: newer ones were made, and the stream now holds none of
   * them or only ones newer than `afterId` (a reader that fell further
   * behind than the stream's length). One O(1) call.
   */
  async lostAfter(afterId: string): Promise<boolean> {
    let info: unknown[];
    try {
      info = (await this.#redis.xinfo('STREAM', this.key)) as unknown[];
    } catch {
      // No stream yet: nothing was ever published.
      return false;
    }
    const field = (name: string): unknown => {
      const at = info.indexOf(name);
      return at < 0 ? undefined : info[at + 1];
    };
    if (compareStreamIds(String(field('last-generated-id')), afterId) <= 0) return false;
    const first = field('first-entry') as [string, unknown] | null | undefined;
    return first === null || first === undefined || compareStreamIds(first[0], afterId) > 0;
  }

  /** Says that a client wants every task's events (a dashboard), for the next `ms`; refresh before it lapses. */
  async announceListener(ms: number): Promise<void> {
    await this.#redis.set(this.#listeningKey, '1', 'PX', ms);
  }

  /** Whether a client wants every task's events. */
  async listenerAnnounced(): Promise<boolean> {
    return (await this.#redis.exists(this.#listeningKey)) === 1;
  }
}

/** Orders two stream entry ids (`MS-SEQ`, or `MS`). */
export function compareStreamIds(a: string, b: string): number {
  const [aMs = 0, aSeq = 0] = a.split('-').map(Number);
  const [bMs = 0, bSeq = 0] = b.split('-').map(Number);
  return aMs === bMs ? aSeq - bSeq : aMs - bMs;
}
