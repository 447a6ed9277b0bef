import { parentPort } from 'node:worker_threads';

/**
 * Inside a worker thread of {@link WorkerThreads} (worker-threads.ts): answers each job posted
 * to it with `handle`'s reply (its `transfer` buffers handed over, not
 * copied). A job that throws is thrown out of the thread, which fails
 * every job of it on the other side: a handler tells each item's own
 * failure in its reply.
 */
// eslint-disable-next-line @typescript-eslint/no-unnecessary-type-parameters -- the job's type is the caller's to name: a message arrives untyped
export function serveJobs<J>(handle: (job: J) => Promise<{ readonly reply: unknown; readonly transfer?: ArrayBuffer[] }>): void {
  parentPort?.on('message', (job: J) => {
    handle(job).then(
      ({ reply, transfer }) => {
        parentPort?.postMessage(reply, transfer ?? []);
      },
      (error: unknown) => {
        setImmediate(() => {
          throw error;
        });
      },
    );
  });
}
