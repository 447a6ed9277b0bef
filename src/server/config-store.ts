import type { OrchestratorEvents } from '../orchestrator/orchestrator-events.js';
import type { TaskConfig } from '../tasks/task-config.js';
import { configView, type ConfigView } from './config-view.js';
import type { FeedObserver } from './task-feed.js';

/** Options of {@link ConfigStore}. */
export interface ConfigStoreOptions {
  /** Tasks whose config view (and retry lineage) is kept; the oldest go first. Default 10,000. */
  readonly maxTasks?: number;
  /** Bytes (as JSON) of whole configs kept so that a failed task can be retried; the oldest go first. Default 64 MiB. */
  readonly maxBytes?: number;
}

/** A config this server took: with an id (the server gives one to every config it submits). */
export type KeptConfig = TaskConfig & { readonly id: string };

/** What the server knows of a task's config: its view, and the retry lineage. */
export interface ConfigFacts {
  readonly config: ConfigView;
  readonly retryOf?: string;
  readonly retriedAs?: string;
}

/** Why a task's config cannot be submitted again. */
export type RetryRefusal =
  | { readonly reason: 'not-taken' | 'streamed' | 'let-go'; readonly maxBytes: number }
  | { readonly reason: 'retried'; readonly retriedAs: string };

interface Entry {
  readonly view: ConfigView;
  readonly retryOf: string | undefined;
  /** The whole config, while it may be needed for a retry (the task has not completed). */
  whole: KeptConfig | undefined;
  bytes: number;
  /** Its bytes went through an object route's request: there is nothing to submit again. */
  readonly streamed: boolean;
  retriedAs: string | undefined;
}

/**
 * The configs of the tasks this server submitted (POST /tasks, retries)
 * or ran (the object routes): a view of each without its data, for a task's
 * detail, and the whole config of each task that has not completed, so that
 * a failed one can be retried. Whole configs are let go once their task
 * completes, and past a byte budget (the oldest first); views past a count.
 */
export class ConfigStore implements FeedObserver {
  readonly #entries = new Map<string, Entry>();
  readonly #maxTasks: number;
  readonly #maxBytes: number;
  /** Ids holding a whole config, oldest first. */
  readonly #whole = new Set<string>();
  #bytes = 0;

  constructor(options: ConfigStoreOptions = {}) {
    this.#maxTasks = options.maxTasks ?? 10_000;
    this.#maxBytes = options.maxBytes ?? 64 * 1024 * 1024;
  }

  /** Bytes of whole configs held now. */
  get bytes(): number {
    return this.#bytes;
  }

  /** Keeps a config this server is about to submit; `retryOf` names the task it retries. */
  keep(config: KeptConfig, retryOf?: string): void {
    this.#add(config.id, { view: configView(config), retryOf, whole: config, bytes: sizeOf(config), streamed: false, retriedAs: undefined });
  }

  /** Keeps the view of an object route's task: its bytes went through a request, so it cannot be retried. */
  keepStreamed(config: KeptConfig): void {
    this.#add(config.id, { view: configView(config), retryOf: undefined, whole: undefined, bytes: 0, streamed: true, retriedAs: undefined });
  }

  /** Forgets a config whose submit was refused. */
  forget(id: string): void {
    const entry = this.#entries.get(id);
    if (entry === undefined) return;
    this.#dropWhole(id, entry);
    this.#entries.delete(id);
  }

  facts(id: string): ConfigFacts | undefined {
    const entry = this.#entries.get(id);
    if (entry === undefined) return undefined;
    return { config: entry.view, ...(entry.retryOf === undefined ? {} : { retryOf: entry.retryOf }), ...(entry.retriedAs === undefined ? {} : { retriedAs: entry.retriedAs }) };
  }

  /**
   * Reserves a task's config for its retry as `retryId`: the config, or
   * why there is none. Once claimed, the task is retried (a second claim
   * is refused) unless {@link release} undoes it.
   */
  claim(id: string, retryId: string): { readonly config: KeptConfig } | RetryRefusal {
    const entry = this.#entries.get(id);
    if (entry === undefined) return { reason: 'not-taken', maxBytes: this.#maxBytes };
    if (entry.retriedAs !== undefined) return { reason: 'retried', retriedAs: entry.retriedAs };
    if (entry.streamed) return { reason: 'streamed', maxBytes: this.#maxBytes };
    if (entry.whole === undefined) return { reason: 'let-go', maxBytes: this.#maxBytes };
    entry.retriedAs = retryId;
    return { config: entry.whole };
  }

  /** Undoes a claim whose retry could not be submitted. */
  release(id: string, retryId: string): void {
    const entry = this.#entries.get(id);
    if (entry?.retriedAs === retryId) entry.retriedAs = undefined;
  }

  /** A retry was submitted: the original's whole config now lives on as the retry's. */
  retried(id: string): void {
    const entry = this.#entries.get(id);
    if (entry !== undefined) this.#dropWhole(id, entry);
  }

  observe(name: keyof OrchestratorEvents, payload: OrchestratorEvents[keyof OrchestratorEvents]): void {
    if (name !== 'complete') return;
    // A completed task is never retried: its config need not be held whole.
    const { id } = payload as OrchestratorEvents['complete'];
    const entry = this.#entries.get(id);
    if (entry !== undefined) this.#dropWhole(id, entry);
  }

  #add(id: string, entry: Entry): void {
    this.forget(id);
    this.#entries.set(id, entry);
    if (entry.whole !== undefined) {
      this.#whole.add(id);
      this.#bytes += entry.bytes;
    }
    while (this.#bytes > this.#maxBytes) {
      const oldest = this.#whole.values().next();
      if (oldest.done === true) break;
      const held = this.#entries.get(oldest.value);
      if (held === undefined) this.#whole.delete(oldest.value);
      else this.#dropWhole(oldest.value, held);
    }
    while (this.#entries.size > this.#maxTasks) {
      const oldest = this.#entries.keys().next();
      if (oldest.done === true) break;
      this.forget(oldest.value);
    }
  }

  #dropWhole(id: string, entry: Entry): void {
    if (entry.whole === undefined) return;
    entry.whole = undefined;
    this.#bytes -= entry.bytes;
    entry.bytes = 0;
    this.#whole.delete(id);
  }
}

/** A config's size as JSON (what POST /tasks carried); one that is not JSON counts as nothing beyond its view. */
function sizeOf(config: KeptConfig): number {
  try {
    return Buffer.byteLength(JSON.stringify(config));
  } catch {
    return 0;
  }
}
