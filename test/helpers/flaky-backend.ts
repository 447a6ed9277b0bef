import type { ListOptions, ListPage, ObjectInfo, OpenedObject, StorageBackend, WriteOptions } from '../../src/storage/backend.js';

/**
 * A real backend behind a decorator that fails the first `failures` writes
 * with a transient system error after reading some of the body, as a busy
 * disk or a dropped connection would. Everything else is the real backend's.
 */
export class FlakyWrites implements StorageBackend {
  readonly name: string;
  readonly #inner: StorageBackend;
  #failuresLeft: number;
  writeCalls = 0;

  constructor(inner: StorageBackend, failures: number, readonly errno = 'EBUSY') {
    this.#inner = inner;
    this.#failuresLeft = failures;
    this.name = `flaky:${inner.name}`;
  }

  stat(path: string, options: { readonly signal: AbortSignal }): Promise<ObjectInfo | undefined> {
    return this.#inner.stat(path, options);
  }

  read(path: string, options: { readonly signal: AbortSignal }): Promise<OpenedObject> {
    return this.#inner.read(path, options);
  }

  async write(path: string, body: AsyncIterable<Uint8Array>, options: WriteOptions): Promise<ObjectInfo> {
    this.writeCalls += 1;
    if (this.#failuresLeft > 0) {
      this.#failuresLeft -= 1;
      // Consume the first chunk, as a real write would before failing.
      const iterator = body[Symbol.asyncIterator]();
      await iterator.next();
      await iterator.return?.();
      throw Object.assign(new Error(`${this.errno}: simulated transient failure`), { code: this.errno });
    }
    return this.#inner.write(path, body, options);
  }

  delete(path: string, options: { readonly signal: AbortSignal; readonly recursive: boolean }): Promise<{ deleted: boolean }> {
    return this.#inner.delete(path, options);
  }

  list(path: string, options: ListOptions): Promise<ListPage> {
    return this.#inner.list(path, options);
  }
}
