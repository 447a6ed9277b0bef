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

/** The workers' module, and how a worker starts it: built, it is plain JavaScript; from source (tests, tsx), through tsx's loader. */
function startWorker(encoding: WorkerEncoding): Worker {
  const fromSource = import.meta.url.endsWith('.ts');
  const script = new URL(fromSource ? './file-encoder-worker.ts' : './file-encoder-worker.js', import.meta.url);
  if (!fromSource) return new Worker(script, { workerData: encoding });
  const bootstrap = `import('tsx/esm/api').then((api) => { api.register(); return import(${JSON.stringify(script.href)}); })`;
  return new Worker(bootstrap, { eval: true, workerData: encoding });
}

interface Waiting {
  readonly resolve: (reply: EncodeReply) => void;
  readonly reject: (error: Error) => void;
}

/**
 * Worker threads that read and encode a tree's small files, so that the
 * thread walking the tree (and writing its packs) has the other core's
 * help: reading, compressing and encrypting 5,000 small files took one
 * thread 1.3 s of its own here, where restic spreads the same work over
 * both cores. Files go in batches (a message per file would cost more
 * than a small file's work); each batch comes back as one buffer, handed
 * over, not copied. Started at the first batch; `close` ends them.
 */
export class FileEncoders {
  readonly #encoding: WorkerEncoding;
  readonly #count: number;
  readonly #workers: { readonly worker: Worker; readonly waiting: Map<number, Waiting> }[] = [];
  #next = 0;
  #ids = 0;
  #closed = false;
  /** Why a worker stopped on its own: every batch from then on fails with it. */
  #broken: Error | undefined;

  constructor(encoding: WorkerEncoding, count = Math.min(2, availableParallelism())) {
    this.#encoding = encoding;
    this.#count = Math.max(1, count);
  }

  /** Reads and encodes the batch's files on a worker, the batches spread over them in turn. */
  encode(files: EncodeJob['files']): Promise<EncodeReply> {
    if (this.#closed) return Promise.reject(new TaskforgeError(ErrorCode.CANCELLED, 'the file encoders were closed'));
    if (this.#broken !== undefined) return Promise.reject(this.#broken);
    if (this.#workers.length < this.#count) this.#workers.push(this.#start());
    const slot = this.#workers[this.#next % this.#workers.length];
    this.#next += 1;
    if (slot === undefined) return Promise.reject(new Error('no file encoder'));
    const id = (this.#ids += 1);
    return new Promise<EncodeReply>((resolve, reject) => {
      slot.waiting.set(id, { resolve, reject });
      slot.worker.postMessage({ id, files } satisfies EncodeJob);
    });
  }

  /** Ends the workers; batches not yet back fail with CANCELLED. */
  async close(): Promise<void> {
    this.#closed = true;
    const workers = this.#workers.splice(0);
    for (const { waiting } of workers) failAll(waiting, new TaskforgeError(ErrorCode.CANCELLED, 'the file encoders were closed'));
    await Promise.all(workers.map(async ({ worker }) => worker.terminate()));
  }

  #start(): { worker: Worker; waiting: Map<number, Waiting> } {
    const worker = startWorker(this.#encoding);
    const waiting = new Map<number, Waiting>();
    worker.on('message', (reply: EncodeReply) => {
      const waiter = waiting.get(reply.id);
      waiting.delete(reply.id);
      // (Sent as a Uint8Array over the channel: made a Buffer again, over the same memory.)
      waiter?.resolve({ ...reply, bytes: Buffer.from(reply.bytes.buffer, reply.bytes.byteOffset, reply.bytes.byteLength) });
    });
    worker.on('error', (error) => {
      this.#broken ??= new TaskforgeError(ErrorCode.IO_ERROR, `a file encoder thread failed: ${error.message}`, { cause: error });
      failAll(waiting, this.#broken);
    });
    worker.on('exit', (code) => {
      if (this.#closed) return;
      this.#broken ??= new TaskforgeError(ErrorCode.IO_ERROR, `a file encoder thread ended (exit code ${String(code)})`);
      failAll(waiting, this.#broken);
    });
    return { worker, waiting };
  }
}

function failAll(waiting: Map<number, Waiting>, error: Error): void {
  for (const waiter of waiting.values()) waiter.reject(error);
  waiting.clear();
}
