import { closeSync, constants, openSync } from 'node:fs';
import { fsyncFd } from './fd-calls.js';

/**
 * Makes a directory's entries durable (its renames, creations and removals).
 * Opened and closed synchronously: the directory was just written to, so
 * both are lookups in memory; only the fsync waits on the disk.
 */
export async function syncDirectory(directory: string): Promise<void> {
  const fd = openSync(directory, constants.O_RDONLY | constants.O_DIRECTORY);
  try {
    await fsyncFd(fd);
  } finally {
    closeSync(fd);
  }
}

/**
 * Directory syncs shared by the writes that need them at the same time
 * (group commit). A rename is durable once a sync of its directory that
 * began after the rename has finished: so a write that asks while a sync of
 * its directory is running does not join that one (it may have begun before
 * the rename), but the next, which begins when the running one ends and
 * serves every write that asked meanwhile. Many writes in one directory at
 * once cost two syncs, not one each; a lone write costs one, as before.
 */
export class DirectorySyncs {
  readonly #syncOne: (directory: string) => Promise<void>;
  /** Directories with a sync running, and who waits for the next one. */
  readonly #running = new Map<string, Waiter[]>();

  constructor(syncOne: (directory: string) => Promise<void> = syncDirectory) {
    this.#syncOne = syncOne;
  }

  /** Resolves once a sync of `directory` that began after this call has finished; rejects with that sync's error. */
  sync(directory: string): Promise<void> {
    return new Promise((resolve, reject) => {
      const waiting = this.#running.get(directory);
      if (waiting === undefined) {
        this.#running.set(directory, []);
        this.#run(directory, [{ resolve, reject }]);
      } else {
        waiting.push({ resolve, reject });
      }
    });
  }

  #run(directory: string, batch: readonly Waiter[]): void {
    this.#syncOne(directory).then(
      () => {
        for (const waiter of batch) waiter.resolve();
        this.#next(directory);
      },
      (error: unknown) => {
        for (const waiter of batch) waiter.reject(error);
        this.#next(directory);
      },
    );
  }

  /** The running sync ended: those who asked meanwhile get one of their own, begun now. */
  #next(directory: string): void {
    const waiting = this.#running.get(directory) ?? [];
    if (waiting.length === 0) {
      this.#running.delete(directory);
      return;
    }
    this.#running.set(directory, []);
    this.#run(directory, waiting);
  }
}

interface Waiter {
  readonly resolve: () => void;
  readonly reject: (error: unknown) => void;
}
