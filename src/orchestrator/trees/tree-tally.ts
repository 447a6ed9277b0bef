import type { FailedTaskResult } from '../../tasks/task-result.js';

type TaskError = FailedTaskResult['error'];

/** What became of one entry of a tree. */
export interface FileOutcome {
  /** The entry's path relative to the tree. */
  readonly path: string;
  /** Its storage path. */
  readonly storagePath: string;
  readonly action: 'stored' | 'unchanged' | 'restored' | 'linked' | 'skipped' | 'failed' | 'deleted';
  /** Bytes of the file (stored, unchanged, restored). */
  readonly bytes?: number;
  /** Bytes of its object (stored). */
  readonly storedBytes?: number;
  /** A link's target (linked). */
  readonly target?: string;
  /** Why it was skipped. */
  readonly reason?: string;
  /** Why it failed. */
  readonly error?: Pick<TaskError, 'code' | 'message'>;
}

/** Counts so far, for a progress display. */
export interface TreeProgress {
  /** Regular files found so far, and their bytes. */
  readonly files: number;
  readonly bytes: number;
  /** Files done (stored, unchanged, restored, failed), and their bytes. */
  readonly filesDone: number;
  readonly bytesDone: number;
  readonly elapsedMs: number;
}

/** What a run over a tree did. */
export interface TreeSummary {
  /** Regular files found in the tree. */
  readonly files: number;
  /** Files stored (or restored) by this run. */
  readonly stored: number;
  /** Files left alone: unchanged since they were last stored (or, restoring, already in place). */
  readonly unchanged: number;
  readonly links: number;
  readonly skipped: number;
  readonly failed: number;
  readonly deleted: number;
  /** Bytes of file content read (stored) or written (restored). */
  readonly bytesRead: number;
  /** Bytes of the objects stored (or read, restoring). */
  readonly bytesStored: number;
  readonly elapsedMs: number;
  /** Stopped by its signal before the end: what it did is done, the rest is left for the same run again. */
  readonly interrupted: boolean;
  /**
   * Storage paths of files cut off mid-upload whose parts already sent the
   * store would not remove (an S3 multipart upload left open: its parts are
   * kept, and billed, until a lifecycle rule for incomplete uploads removes
   * them). Nothing was stored at these paths. Empty almost always.
   */
  readonly uploadsLeft: readonly string[];
}

/** Counts a run's outcomes and tells them on. */
export class TreeTally {
  readonly #onFile: ((outcome: FileOutcome) => void) | undefined;
  readonly #onProgress: ((progress: TreeProgress) => void) | undefined;
  readonly #started = performance.now();
  #files = 0;
  #bytes = 0;
  #filesDone = 0;
  #bytesDone = 0;
  #stored = 0;
  #unchanged = 0;
  #links = 0;
  #skipped = 0;
  #failed = 0;
  #deleted = 0;
  #bytesStored = 0;
  readonly #uploadsLeft: string[] = [];

  constructor(onFile: ((outcome: FileOutcome) => void) | undefined, onProgress: ((progress: TreeProgress) => void) | undefined) {
    this.#onFile = onFile;
    this.#onProgress = onProgress;
  }

  /** A regular file found, to be stored or found unchanged. */
  seen(bytes: number): void {
    this.#files += 1;
    this.#bytes += bytes;
  }

  stored(path: string, storagePath: string, bytes: number, storedBytes: number, action: 'stored' | 'restored' = 'stored'): void {
    this.#stored += 1;
    this.#bytesStored += storedBytes;
    this.#done(bytes, { path, storagePath, action, bytes, storedBytes });
  }

  unchanged(path: string, storagePath: string, bytes: number): void {
    this.#unchanged += 1;
    this.#done(bytes, { path, storagePath, action: 'unchanged', bytes });
  }

  failed(path: string, storagePath: string, error: Pick<TaskError, 'code' | 'message'>): void {
    this.#failed += 1;
    this.#done(0, { path, storagePath, action: 'failed', error: { code: error.code, message: error.message } });
  }

  linked(path: string, storagePath: string, target: string): void {
    this.#links += 1;
    this.#onFile?.({ path, storagePath, action: 'linked', target });
  }

  skipped(path: string, storagePath: string, reason: string): void {
    this.#skipped += 1;
    this.#onFile?.({ path, storagePath, action: 'skipped', reason });
  }

  /** A file cut off by the interruption: not stored, and not a failure; told when its upload's parts were left in the store. */
  cutOff(storagePath: string, error: { readonly details?: Readonly<Record<string, unknown>> | undefined }): void {
    if (error.details?.['partsLeft'] === true) this.#uploadsLeft.push(storagePath);
  }

  deleted(path: string, storagePath: string): void {
    this.#deleted += 1;
    this.#onFile?.({ path, storagePath, action: 'deleted' });
  }

  summary(interrupted: boolean): TreeSummary {
    return {
      files: this.#files,
      stored: this.#stored,
      unchanged: this.#unchanged,
      links: this.#links,
      skipped: this.#skipped,
      failed: this.#failed,
      deleted: this.#deleted,
      bytesRead: this.#bytesDone,
      bytesStored: this.#bytesStored,
      elapsedMs: performance.now() - this.#started,
      interrupted,
      uploadsLeft: [...this.#uploadsLeft].sort(),
    };
  }

  #done(bytes: number, outcome: FileOutcome): void {
    this.#filesDone += 1;
    if (outcome.action !== 'unchanged') this.#bytesDone += bytes;
    this.#onFile?.(outcome);
    this.#onProgress?.({ files: this.#files, bytes: this.#bytes, filesDone: this.#filesDone, bytesDone: this.#bytesDone, elapsedMs: performance.now() - this.#started });
  }
}
