import { availableParallelism } from 'node:os';
import { Worker } from 'node:worker_threads';
import type { FrameRequest, FrameResponse } from './frame-messages.js';

type Job = FrameRequest extends infer R ? (R extends FrameRequest ? Omit<R, 'id'> : never) : never;

interface PoolWorker {
  readonly worker: Worker;
  pending: number;
}

/**
 * A few worker threads (one per core, at most 4) that encode and decode
 * frames. Idle workers do not keep the process alive; a worker that fails
 * to start or dies sends its pending jobs back as failures, and the pool
 * then reports itself broken so callers fall back to the calling thread.
 */
export class FrameWorkerPool {
  static #shared: FrameWorkerPool | null | undefined;
  readonly #workers: PoolWorker[] = [];
  readonly #waiting = new Map<number, { resolve: (response: FrameResponse) => void; reject: (error: Error) => void; worker: PoolWorker }>();
  #nextId = 1;
  #broken = false;
  #completed = 0;

  private constructor(size: number) {
    for (let index = 0; index < size; index += 1) {
      const worker = startWorker();
      const entry: PoolWorker = { worker, pending: 0 };
      worker.unref();
      worker.on('message', (response: FrameResponse) => {
        this.#settle(response);
      });
      worker.on('error', (error) => {
        this.#fail(entry, error);
      });
      worker.on('exit', () => {
        this.#fail(entry, new Error('a frame worker exited'));
      });
      this.#workers.push(entry);
    }
  }

  /**
   * The process-wide pool, made on first use. `TASKFORGE_CODEC_WORKERS`
   * sets its size; 0 turns workers off (undefined is returned).
   */
  static shared(): FrameWorkerPool | undefined {
    if (FrameWorkerPool.#shared === undefined) {
      const configured = Number(process.env['TASKFORGE_CODEC_WORKERS'] ?? Number.NaN);
      const size = Number.isInteger(configured) && configured >= 0 ? Math.min(configured, 16) : Math.min(4, availableParallelism());
      FrameWorkerPool.#shared = size === 0 ? null : new FrameWorkerPool(size);
    }
    const pool = FrameWorkerPool.#shared;
    return pool === null || pool.#broken ? undefined : pool;
  }

  /** Workers in the pool, and jobs they have answered. */
  get stats(): { readonly workers: number; readonly completed: number } {
    return { workers: this.#workers.length, completed: this.#completed };
  }

  /** Runs one job on the least busy worker; `transfer` lists buffers handed over rather than copied. */
  run(job: Job, transfer: ArrayBuffer[] = []): Promise<FrameResponse> {
    const target = this.#workers.reduce((best, candidate) => (candidate.pending < best.pending ? candidate : best));
    const id = this.#nextId++;
    return new Promise<FrameResponse>((resolve, reject) => {
      this.#waiting.set(id, { resolve, reject, worker: target });
      // A worker with work keeps the process alive until its answer arrives.
      if (target.pending === 0) target.worker.ref();
      target.pending += 1;
      target.worker.postMessage({ ...job, id }, transfer);
    });
  }

  #settle(response: FrameResponse): void {
    const waiting = this.#waiting.get(response.id);
    if (waiting === undefined) return;
    this.#waiting.delete(response.id);
    this.#release(waiting.worker);
    this.#completed += 1;
    waiting.resolve(response);
  }

  #fail(entry: PoolWorker, error: Error): void {
    this.#broken = true;
    for (const [id, waiting] of this.#waiting) {
      if (waiting.worker !== entry) continue;
      this.#waiting.delete(id);
      this.#release(entry);
      waiting.reject(error);
    }
  }

  #release(entry: PoolWorker): void {
    entry.pending -= 1;
    if (entry.pending === 0) entry.worker.unref();
  }
}

/**
 * Starts one worker on the compiled frame-worker.js beside this file; when
 * this file runs as TypeScript source (tests, tsx), on frame-worker.ts with
 * tsx registered inside the worker first.
 */
function startWorker(): Worker {
  if (!import.meta.url.endsWith('.ts')) return new Worker(new URL('./frame-worker.js', import.meta.url), { resourceLimits: WORKER_LIMITS });
  const entry = new URL('./frame-worker.ts', import.meta.url).href;
  const bootstrap = `import('tsx/esm/api').then((api) => { api.register(); return import(${JSON.stringify(entry)}); });`;
  return new Worker(bootstrap, { eval: true, resourceLimits: WORKER_LIMITS });
}

/**
 * A worker holds a frame or two at a time: a small young generation makes
 * it collect often instead of growing, which keeps the process's memory
 * bounded (each worker otherwise settles at tens of MiB).
 */
const WORKER_LIMITS = { maxYoungGenerationSizeMb: 4, maxOldGenerationSizeMb: 64 };
