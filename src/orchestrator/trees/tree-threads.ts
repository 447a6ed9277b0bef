import { availableParallelism } from 'node:os';
import { Worker } from 'node:worker_threads';
import { ErrorCode, TaskforgeError } from '../../core/errors.js';
import type { CompressionChoice } from '../../storage/codec/chunk-compression.js';
import type { SourceFileFacts } from '../../storage/file-source.js';

/** How the workers encode: the tree's compression and key (the key is copied into each worker). */
export interface WorkerEncoding {
  readonly compression?: CompressionChoice;
  readonly encryption?: { readonly keyId: string; readonly key: Uint8Array };
}

/** A batch of files to read and encode: each file's local path and the storage path it is encoded for. */
export interface EncodeJob {
  readonly id: number;
  readonly files: readonly { readonly host: string; readonly path: string }[];
}

/** One file of a batch: where its container is in the batch's bytes, and what was read; or why it failed. */
export type EncodedFile =
  | { readonly stored: true; readonly offset: number; readonly length: number; readonly facts: SourceFileFacts }
  | { readonly stored: false; readonly code: ErrorCode; readonly message: string; readonly retryable: boolean };

/** A batch done: its files in the order asked, and their containers one after another. */
export interface EncodeReply {
  readonly id: number;
  readonly files: readonly EncodedFile[];
  readonly bytes: Buffer;
}

/** A worker's module, and how a worker starts it: built, it is plain JavaScript; from source (tests, tsx), through tsx's loader. */
function startWorker(name: string, workerData: unknown): Worker {
  const fromSource = import.meta.url.endsWith('.ts');
  const script = new URL(`./${name}${fromSource ? '.ts' : '.js'}`, import.meta.url);
  if (!fromSource) return new Worker(script, { workerData });
  const bootstrap = `import('tsx/esm/api').then((api) => { api.register(); return import(${JSON.stringify(script.href)}); })`;
  return new Worker(bootstrap, { eval: true, workerData });
}

interface Waiting<R> {
  readonly resolve: (reply: R) => void;
  readonly reject: (error: Error) => void;
}

/**
 * A few worker threads running one of the tree's worker modules: each job
 * posted to the next in turn, each reply (`{ id, … }`) handed to its job's
 * promise. Started at the first job; `close` ends them. A worker that
 * fails or ends on its own fails its jobs and every job after it.
 */
export class TreeThreads<J extends object, R extends { readonly id: number }> {
  readonly #module: string;
  readonly #workerData: unknown;
  readonly #count: number;
  readonly #workers: { readonly worker: Worker; readonly waiting: Map<number, Waiting<R>> }[] = [];
  #next = 0;
  #ids = 0;
  #closed = false;
  /** Why a worker stopped on its own: every job from then on fails with it. */
  #broken: Error | undefined;

  constructor(module: string, workerData: unknown, count = Math.min(2, availableParallelism())) {
    this.#module = module;
    this.#workerData = workerData;
    this.#count = Math.max(1, count);
  }

  /** Runs `job` on a worker; `transfer` lists buffers handed over with it, not copied. */
  run(job: J, transfer: ArrayBuffer[] = []): Promise<R> {
    if (this.#closed) return Promise.reject(new TaskforgeError(ErrorCode.CANCELLED, 'the worker threads were closed'));
    if (this.#broken !== undefined) return Promise.reject(this.#broken);
    if (this.#workers.length < this.#count) this.#workers.push(this.#start());
    const slot = this.#workers[this.#next % this.#workers.length];
    this.#next += 1;
    if (slot === undefined) return Promise.reject(new Error('no worker thread'));
    const id = (this.#ids += 1);
    return new Promise<R>((resolve, reject) => {
      slot.waiting.set(id, { resolve, reject });
      slot.worker.postMessage({ ...job, id }, transfer);
    });
  }

  /** Ends the workers; jobs not yet back fail with CANCELLED. */
  async close(): Promise<void> {
    this.#closed = true;
    const workers = this.#workers.splice(0);
    for (const { waiting } of workers) failAll(waiting, new TaskforgeError(ErrorCode.CANCELLED, 'the worker threads were closed'));
    await Promise.all(workers.map(async ({ worker }) => worker.terminate()));
  }

  #start(): { worker: Worker; waiting: Map<number, Waiting<R>> } {
    const worker = startWorker(this.#module, this.#workerData);
    const waiting = new Map<number, Waiting<R>>();
    worker.on('message', (reply: R) => {
      const waiter = waiting.get(reply.id);
      waiting.delete(reply.id);
      waiter?.resolve(reply);
    });
    worker.on('error', (error) => {
      this.#broken ??= new TaskforgeError(ErrorCode.IO_ERROR, `a worker thread (${this.#module}) failed: ${error.message}`, { cause: error });
      failAll(waiting, this.#broken);
    });
    worker.on('exit', (code) => {
      if (this.#closed) return;
      this.#broken ??= new TaskforgeError(ErrorCode.IO_ERROR, `a worker thread (${this.#module}) ended (exit code ${String(code)})`);
      failAll(waiting, this.#broken);
    });
    return { worker, waiting };
  }
}

/**
 * Worker threads that read and encode a tree's small files, so that the
 * thread walking the tree (and writing its packs) has the other core's
 * help: reading, compressing and encrypting 5,000 small files took one
 * thread 1.3 s of its own here, where restic spreads the same work over
 * both cores. Files go in batches (a message per file would cost more
 * than a small file's work); each batch comes back as one buffer, handed
 * over, not copied.
 */
export class FileEncoders {
  readonly #threads: TreeThreads<Omit<EncodeJob, 'id'>, EncodeReply>;

  constructor(encoding: WorkerEncoding) {
    this.#threads = new TreeThreads('file-encoder-worker', encoding);
  }

  /** Reads and encodes the batch's files on a worker. */
  async encode(files: EncodeJob['files']): Promise<EncodeReply> {
    const reply = await this.#threads.run({ files });
    // (Sent as a Uint8Array over the channel: made a Buffer again, over the same memory.)
    return { ...reply, bytes: Buffer.from(reply.bytes.buffer, reply.bytes.byteOffset, reply.bytes.byteLength) };
  }

  close(): Promise<void> {
    return this.#threads.close();
  }
}

function failAll<R>(waiting: Map<number, Waiting<R>>, error: Error): void {
  for (const waiter of waiting.values()) waiter.reject(error);
  waiting.clear();
}
