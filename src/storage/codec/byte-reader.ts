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

  /** Exactly `count` bytes, or fewer only when the stream ends first. */
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
    const [first] = this.#buffered;
    const all = this.#buffered.length === 1 && first !== undefined ? first : Buffer.concat(this.#buffered, this.#bufferedBytes);
    const taken = all.subarray(0, Math.min(count, all.byteLength));
    const rest = all.subarray(taken.byteLength);
    this.#buffered = rest.byteLength > 0 ? [rest] : [];
    this.#bufferedBytes = rest.byteLength;
    return taken;
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
