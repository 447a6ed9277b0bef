import { describe, expect, it } from 'vitest';
import type { ListPage, ObjectInfo, OpenedObject, StorageBackend } from '../../src/storage/backend.js';
import { MemoryBackend } from '../../src/storage/backends/memory.js';
import { ReadCache } from '../../src/storage/read-cache.js';
import { StorageTask } from '../../src/tasks/storage-task.js';
import type { StorageTaskConfig } from '../../src/tasks/storage-task-config.js';

/**
 * A backend whose calls wait until their signal fires, once `hang` is set:
 * what a dead mount or a stalled network looks like. Every signal it was
 * handed is kept.
 */
class HangingBackend implements StorageBackend {
  readonly name = 'hanging';
  readonly inner = new MemoryBackend();
  readonly signals: AbortSignal[] = [];
  hang = false;

  stat(path: string, options: { readonly signal: AbortSignal }): Promise<ObjectInfo | undefined> {
    return this.#maybeHang(options.signal, () => this.inner.stat(path));
  }

  read(path: string, options: { readonly signal: AbortSignal }): Promise<OpenedObject> {
    return this.#maybeHang(options.signal, () => this.inner.read(path));
  }

  write(...args: Parameters<StorageBackend['write']>): Promise<ObjectInfo> {
    return this.#maybeHang(args[2].signal, () => this.inner.write(...args));
  }

  delete(path: string, options: { readonly signal: AbortSignal; readonly recursive: boolean }): Promise<{ deleted: boolean }> {
    return this.#maybeHang(options.signal, () => this.inner.delete(path, options));
  }

  list(...args: Parameters<StorageBackend['list']>): Promise<ListPage> {
    return this.#maybeHang(args[1].signal, () => this.inner.list(...args));
  }

  #maybeHang<T>(signal: AbortSignal, run: () => Promise<T>): Promise<T> {
    this.signals.push(signal);
    if (!this.hang) return run();
    return new Promise((_resolve, reject) => {
      signal.addEventListener('abort', () => {
        reject(signal.reason as Error);
      });
    });
  }
}

const OPERATIONS: StorageTaskConfig[] = [
  { type: 'storage', metadata: { operation: 'read', path: '/a.txt', options: { timeout: 50 } } },
  { type: 'storage', metadata: { operation: 'read', path: '/a.txt', options: { timeout: 50, cache: true } } },
  { type: 'storage', metadata: { operation: 'write', path: '/b.txt', data: 'b', options: { timeout: 50 } } },
  { type: 'storage', metadata: { operation: 'delete', path: '/a.txt', options: { timeout: 50 } } },
  { type: 'storage', metadata: { operation: 'list', path: '/', options: { timeout: 50 } } },
];

describe('a storage task hands its backend the attempt\'s own signal', () => {
  it('every operation whose backend call hangs ends TIMEOUT, the signal the backend was handed fired (a cached read\'s version check included)', async () => {
    for (const config of OPERATIONS) {
      const backend = new HangingBackend();
      const cache = new ReadCache();
      await new StorageTask({ type: 'storage', metadata: { operation: 'write', path: '/a.txt', data: 'a' } }, { backend }).execute();
      // Filled while the backend answers: the cached read's second run then checks the version, and that check hangs.
      await new StorageTask({ type: 'storage', metadata: { operation: 'read', path: '/a.txt', options: { cache: true } } }, { backend, cache }).execute();
      backend.signals.length = 0;
      backend.hang = true;
      const result = await new StorageTask(config, { backend, cache }).execute();
      const what = JSON.stringify(config.metadata);
      expect(result.error?.code, what).toBe('TIMEOUT');
      expect(backend.signals.length, what).toBeGreaterThan(0);
      expect(backend.signals.every((signal) => signal.aborted), what).toBe(true);
    }
  });

  it('cancel() of a read whose backend hangs ends CANCELLED and fires the signal the backend was handed', async () => {
    const backend = new HangingBackend();
    await new StorageTask({ type: 'storage', metadata: { operation: 'write', path: '/a.txt', data: 'a' } }, { backend }).execute();
    backend.signals.length = 0;
    backend.hang = true;
    const task = new StorageTask({ type: 'storage', metadata: { operation: 'read', path: '/a.txt' } }, { backend });
    const running = task.execute();
    while (backend.signals.length === 0) await new Promise((resolve) => setImmediate(resolve));
    await task.cancel('enough');
    expect((await running).error?.code).toBe('CANCELLED');
    expect(backend.signals[0]?.aborted).toBe(true);
  });
});
