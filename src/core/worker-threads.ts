import { availableParallelism } from 'node:os';
import { Worker } from 'node:worker_threads';
import { ErrorCode, TaskforgeError } from './errors.js';

/**
 * A worker's module (`./name` beside the caller, given as a URL without its
 * extension), and how a worker starts it: built, it is plain JavaScript;
 * from source (tests, tsx), through tsx's loader.
 */
function startWorker(module: URL, workerData: unknown): Worker {
  const fromSource = import.meta.url.endsWith('.ts');
  const script = new URL(`${module.href}${fromSource ? '.ts' : '.js'}`);
  if (!fromSource) return new Worker(script, { workerData });
  const bootstrap = `import('tsx/esm/api').then((api) => { api.register(); return import(${JSON.stringify(script.href)}); })`;
  return new Worker(bootstrap, { eval: true, workerData });
}

interface Waiting<R> {
  readonly resolve: (reply: R) => void;
  readonly reject: (error: Error) => void;
}

interface Slot<R> {
  readonly worker: Worker;
  readonly waiting: Map<number, Waiting<R>>;
}

/**
 * A few worker threads running one module (see worker-jobs.ts): each job
 * posted to the next in turn, each reply (`{ id, … }`) handed to its job's
 * promise. Started at the first job; a worker with no job holds the process
 * no more than a timer that is unref'd would; `close` ends them. A worker
 * that fails or ends on its own fails its jobs and every job after it
 * (`broken` says why).
 */
export class WorkerThreads<J extends object, R extends { readonly id: number }> {
  readonly #module: URL;
  readonly #workerData: unknown;
  readonly #count: number;
  readonly #workers: Slot<R>[] = [];
  #next = 0;
  #ids = 0;
  #closed = false;
  /** Why a worker stopped on its own: every job from then on fails with it. */
  #broken: TaskforgeError | undefined;

  constructor(module: URL, workerData: unknown, count = Math.min(2, availableParallelism())) {
    this.#module = module;
    this.#workerData = workerData;
    this.#count = Math.max(1, count);
  }

  get broken(): TaskforgeError | undefined {
    return this.#broken;
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
      // A job under way keeps the process alive, as any pending I/O would.
      if (slot.waiting.size === 0) slot.worker.ref();
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

  #start(): Slot<R> {
    const worker = startWorker(this.#module, this.#workerData);
    const waiting = new Map<number, Waiting<R>>();
    const name = this.#module.pathname.split('/').at(-1) ?? '';
    worker.on('message', (reply: R) => {
      const waiter = waiting.get(reply.id);
      waiting.delete(reply.id);
      if (waiting.size === 0) worker.unref();
      waiter?.resolve(reply);
    });
    worker.on('error', (error) => {
      this.#broken ??= new TaskforgeError(ErrorCode.IO_ERROR, `a worker thread (${name}) failed: ${error.message}`, { cause: error });
      failAll(waiting, this.#broken);
    });
    worker.on('exit', (code) => {
      if (this.#closed) return;
      this.#broken ??= new TaskforgeError(ErrorCode.IO_ERROR, `a worker thread (${name}) ended (exit code ${String(code)})`);
      failAll(waiting, this.#broken);
    });
    return { worker, waiting };
  }
}

function failAll<R>(waiting: Map<number, Waiting<R>>, error: Error): void {
  for (const waiter of waiting.values()) waiter.reject(error);
  waiting.clear();
}
