import type { FastifyReply } from 'fastify';
import { ErrorCode } from '../core/errors.js';
import type { OrchestratorEvents } from '../orchestrator/orchestrator-events.js';
import { errorBody, ServerErrorCode } from './http-errors.js';
import type { FeedObserver } from './task-feed.js';

/** Options of {@link Backlog}. */
export interface BacklogOptions {
  /** Tasks this server took that have not ended, at most. Default 100,000. */
  readonly maxTasks?: number;
  /** Bytes of the request bodies those tasks came in, at most. Default 256 MiB. */
  readonly maxBytes?: number;
}

/** Why a request was refused by the backlog bound: the backlog was full (503), or the request alone passes a bound (413). */
export type BacklogRefusal = 'full' | 'too_big';

/** A refusal: `never` when the request is bigger than a bound by itself (413), `now` when the backlog is too full for it (503). */
export interface BacklogAnswer {
  readonly when: 'never' | 'now';
  readonly message: string;
}

/** How long a client is told to wait before it sends a refused request again. */
export const BACKLOG_RETRY_AFTER_S = 1;

/**
 * The tasks this server took (POST /tasks, retries) and that have not
 * ended, with the bytes of the bodies they came in: a client that submits
 * faster than the tasks run would otherwise grow the server's memory (a
 * memory queue holds every waiting task's config and data) until it dies.
 * Past either bound a request is refused whole, 503 BACKLOG_FULL with
 * Retry-After, and nothing of it is queued; room comes back as tasks end.
 * Checked before a submit and counted after it: requests in flight at the
 * same moment may pass the bound by what they carry (each at most 1,000
 * tasks and the body limit).
 */
export class Backlog implements FeedObserver {
  readonly maxTasks: number;
  readonly maxBytes: number;
  /** Told of each request refused (the /metrics counter). */
  onRefused: (reason: BacklogRefusal) => void = () => undefined;
  /** Tasks taken and not ended, by id → the bytes counted for it. */
  readonly #held = new Map<string, number>();
  #bytes = 0;

  constructor(options: BacklogOptions = {}) {
    this.maxTasks = options.maxTasks ?? 100_000;
    this.maxBytes = options.maxBytes ?? 256 * 1024 * 1024;
  }

  /** Tasks held now. */
  get tasks(): number {
    return this.#held.size;
  }

  /** Bytes held now. */
  get bytes(): number {
    return this.#bytes;
  }

  /**
   * Why a request of `count` tasks in `bytes` cannot be taken, or undefined:
   * `never` when it is bigger than a bound by itself (413: sent again, it
   * would be refused again, for ever), `now` when the backlog is too full
   * for it (503 with Retry-After: room comes back as tasks end).
   */
  refusal(count: number, bytes: number): BacklogAnswer | undefined {
    return this.#refusal(count, bytes, `this request's ${String(count)} tasks in ${String(bytes)} bytes`);
  }

  /**
   * {@link refusal} of a request whose body has not been read: by the
   * Content-Length it announces, and as if it carried one task (it carries
   * at least one). A request refused here is refused before its body is
   * read, or, with Expect: 100-continue, sent.
   */
  refusalBeforeBody(contentLength: number): BacklogAnswer | undefined {
    return this.#refusal(1, contentLength, `this request's ${String(contentLength)} bytes`);
  }

  #refusal(count: number, bytes: number, request: string): BacklogAnswer | undefined {
    const bounds = `at most ${String(this.maxTasks)} tasks and ${String(this.maxBytes)} bytes (--max-backlog, --max-backlog-bytes)`;
    if (count > this.maxTasks || bytes > this.maxBytes) {
      this.onRefused('too_big');
      return { when: 'never', message: `${request} can never fit this server's backlog, ${bounds}: send fewer or smaller tasks per request` };
    }
    if (this.#held.size + count <= this.maxTasks && this.#bytes + bytes <= this.maxBytes) return undefined;
    const held = `this server holds ${String(this.#held.size)} tasks that have not ended (${String(this.#bytes)} bytes of their requests)`;
    this.onRefused('full');
    return { when: 'now', message: `${held}, ${bounds}: nothing of this request was queued; send it again in a moment` };
  }

  /** The reply to a request refused (see refusal): 413 LIMIT_EXCEEDED, or 503 BACKLOG_FULL with Retry-After. */
  static reply(reply: FastifyReply, refused: BacklogAnswer): FastifyReply {
    if (refused.when === 'never') return reply.code(413).send(errorBody(ErrorCode.LIMIT_EXCEEDED, refused.message));
    return reply.code(503).header('retry-after', String(BACKLOG_RETRY_AFTER_S)).send(errorBody(ServerErrorCode.BACKLOG_FULL, refused.message));
  }

  /**
   * Counts the tasks of a request about to be queued (before: one may end
   * while its submit is under way), its body's bytes shared among them;
   * returns the ids it counted, for {@link release} should the submit be
   * refused. An id held already (a duplicate the submit will refuse) is
   * not counted again.
   */
  take(ids: readonly string[], bytes: number): string[] {
    const each = ids.length === 0 ? 0 : Math.ceil(bytes / ids.length);
    const counted: string[] = [];
    for (const id of ids) {
      if (this.#held.has(id)) continue;
      this.#held.set(id, each);
      this.#bytes += each;
      counted.push(id);
    }
    return counted;
  }

  /** Uncounts tasks whose submit was refused. */
  release(ids: readonly string[]): void {
    for (const id of ids) this.#forget(id);
  }

  observe(name: keyof OrchestratorEvents, payload: OrchestratorEvents[keyof OrchestratorEvents]): void {
    if (name !== 'complete' && name !== 'error') return;
    this.#forget((payload as { id: string }).id);
  }

  #forget(id: string): void {
    const bytes = this.#held.get(id);
    if (bytes === undefined) return;
    this.#held.delete(id);
    this.#bytes -= bytes;
  }
}
