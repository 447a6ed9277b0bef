/**
 * Reads exact byte counts from a stream of chunks, holding no more than the
 * bytes asked for plus one incoming chunk.
 */
export class ByteReader {
  readonly #iterator: AsyncIterator<Uint8Array>;
  #buffered: Buffer[] = [];
  #bufferedBytes = 0;
  #ended = false;

  constructor(source: AsyncIterable<Uint8Array>) {
    this.#iterator = source[Symbol.asyncIterator]();
  }

  /**
   * Exactly `count` bytes, or fewer only when the stream ends first: a view
   * of the chunk that holds them, or, when they span chunks, a copy of just
   * those bytes. (Joining whole chunks copied a small object entire to read
   * its 16-byte header.)
   */
  async read(count: number): Promise<Buffer> {
    while (this.#bufferedBytes < count && !this.#ended) {
      const step = await this.#iterator.next();
      if (step.done === true) {
        this.#ended = true;
        break;
      }
      const chunk = Buffer.isBuffer(step.value) ? step.value : Buffer.from(step.value.buffer, step.value.byteOffset, step.value.byteLength);
      if (chunk.byteLength > 0) {
        this.#buffered.push(chunk);
        this.#bufferedBytes += chunk.byteLength;
      }
    }
    const wanted = Math.min(count, this.#bufferedBytes);
    const first = this.#buffered[0];
    if (first !== undefined && first.byteLength >= wanted) return this.#take(first, wanted);
    const taken = Buffer.allocUnsafe(wanted);
    let filled = 0;
    while (filled < wanted) {
      const chunk = this.#buffered[0];
      if (chunk === undefined) break;
      const part = this.#take(chunk, Math.min(chunk.byteLength, wanted - filled));
      taken.set(part, filled);
      filled += part.byteLength;
    }
    return taken;
  }

  /** The first `count` bytes of `chunk`, the front buffered chunk, which keeps the rest. */
  #take(chunk: Buffer, count: number): Buffer {
    if (count === chunk.byteLength) this.#buffered.shift();
    else this.#buffered[0] = chunk.subarray(count);
    this.#bufferedBytes -= count;
    return chunk.subarray(0, count);
  }

  /** Up to `count` bytes from the front, left in place for the next read. */
  async peek(count: number): Promise<Buffer> {
    const bytes = await this.read(count);
    if (bytes.byteLength > 0) {
      this.#buffered.unshift(bytes);
      this.#bufferedBytes += bytes.byteLength;
    }
    return bytes;
  }

  /** Everything not read yet, as it arrives. */
  async *remaining(): AsyncGenerator<Buffer, void, undefined> {
    try {
      const buffered = this.#buffered;
      this.#buffered = [];
      this.#bufferedBytes = 0;
      yield* buffered;
      for (;;) {
        const step = await this.#iterator.next();
        if (step.done === true) return;
        yield Buffer.isBuffer(step.value) ? step.value : Buffer.from(step.value.buffer, step.value.byteOffset, step.value.byteLength);
      }
    } finally {
      await this.close();
    }
  }

  /** True when no byte is left. */
  async atEnd(): Promise<boolean> {
    if (this.#bufferedBytes > 0) return false;
    return (await this.peek(1)).byteLength === 0;
  }

  /** Stops the underlying stream (destroys a Readable). */
  async close(): Promise<void> {
    await this.#iterator.return?.();
  }
}
