import type { Redis } from 'ioredis';
import type { BullMqModules } from './load-bullmq.js';
import { CANCEL_SCRIPT, FINISH_SCRIPT, SCRIPT_KEYS, STRANDED_SCRIPT, SUBMIT_SCRIPT } from './redis-scripts.js';
import { BULL_KEYS, EXTEND_SCRIPT, HAND_BACK_SCRIPT, REMOVE_WAITING_SCRIPT, TAKE_SCRIPT } from './redis-take-scripts.js';

/** The queue's scripts (redis-scripts.ts), by the command name every connection runs them under. */
export const SCRIPTS = { tfSubmit: SUBMIT_SCRIPT, tfFinish: FINISH_SCRIPT, tfCancel: CANCEL_SCRIPT, tfStranded: STRANDED_SCRIPT } as const;

/** The name a connection runs one of the queue's scripts under. */
export type ScriptCommand = keyof typeof SCRIPTS;

/** The scripts on BullMQ's keys by which a worker takes and keeps jobs (redis-take-scripts.ts). */
export const BULL_SCRIPTS = { tfTake: TAKE_SCRIPT, tfExtend: EXTEND_SCRIPT, tfHandBack: HAND_BACK_SCRIPT, tfRemoveWaiting: REMOVE_WAITING_SCRIPT } as const;

/** The name a connection runs one of the scripts on BullMQ's keys under. */
export type BullScriptCommand = keyof typeof BULL_SCRIPTS;

/** Runs one of the queue's scripts on a connection open() made, with one array of keys and arguments (ioredis flattens it). */
export function runScript(via: Redis, command: ScriptCommand | BullScriptCommand, keysAndArgs: readonly string[]): Promise<unknown> {
  const call = (via as unknown as Record<string, ((values: readonly string[]) => Promise<unknown>) | undefined>)[command];
  if (call === undefined) return Promise.reject(new Error(`script ${command} is not defined on this connection`));
  return call.call(via, keysAndArgs);
}

/**
 * Ends `connection`, and says whether that settles the commands awaiting
 * its replies (they reject). It does only when the connection was up:
 * ioredis (5.9) leaves a command queued for a reconnection pending for
 * ever once the connection is ended while it waits to reconnect to a
 * server that is gone (redis/ioredis#2169, #2197), so whoever ends one
 * must not then wait for what it was reading.
 */
export function endConnection(connection: Redis): { readonly settlesPending: boolean } {
  const settlesPending = connection.status === 'ready';
  connection.disconnect();
  return { settlesPending };
}

/**
 * The ioredis connections a queue and its users (workers, clients) make to
 * its server, each able to run the queue's scripts, and ended together
 * when the queue closes.
 */
export class RedisConnections {
  /** bullmq and ioredis, as loaded for this queue. */
  readonly modules: BullMqModules;
  readonly #url: string;
  readonly #opened: Redis[] = [];

  constructor(modules: BullMqModules, url: string) {
    this.modules = modules;
    this.#url = url;
  }

  /** A new ioredis connection to the queue's server (BullMQ's settings: commands wait for reconnects). */
  open(options: { readonly autoPipelining?: boolean } = {}): Redis {
    const connection = new this.modules.Redis(this.#url, {
      maxRetriesPerRequest: null,
      lazyConnect: false,
      disconnectTimeout: 100,
      // Commands issued in one tick go out in one write: a syscall each costs more than Redis's work on it.
      enableAutoPipelining: options.autoPipelining ?? false,
    });
    // Every connection can run the scripts: a worker records an end on the connection BullMQ then completes the job on, so the two stay in order.
    for (const [command, lua] of Object.entries(SCRIPTS)) connection.defineCommand(command, { numberOfKeys: SCRIPT_KEYS.length, lua });
    for (const [command, lua] of Object.entries(BULL_SCRIPTS)) connection.defineCommand(command, { numberOfKeys: BULL_KEYS.length, lua });
    // ioredis retries on its own; the error event only needs a listener so that it is not thrown.
    connection.on('error', () => undefined);
    // BullMQ leaves a connection it was given open: disconnectAll() ends them all.
    // (disconnectTimeout: ioredis otherwise holds the process for 2 s after a disconnect.)
    this.#opened.push(connection);
    return connection;
  }

  /** Ends every connection open() made. */
  disconnectAll(): void {
    for (const connection of this.#opened) connection.disconnect();
  }
}
