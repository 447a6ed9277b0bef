import { constants } from 'node:buffer';
import { Readable } from 'node:stream';
import { abortable } from '../core/abort.js';
import { ErrorCode, TaskforgeError, withoutHostPaths } from '../core/errors.js';
import { dataStreamError } from './data-stream.js';
import type { ObjectMetadata } from './backend.js';
import type { SourceFileFacts } from './file-source.js';

/** What was written, so a read can give back the same form. */
export type ContentKind = 'bytes' | 'text' | 'json';

/** The metadata key that records the content kind of a plain object. */
export const CONTENT_KIND_KEY = 'content-kind';

/** The forms a read can return. */
export type ReadForm = 'buffer' | 'text' | 'json' | 'stream';

/**
 * What a read gives back in each form. A JSON value is `unknown`, as
 * `JSON.parse` would give it: its shape is the writer's, for the reader to
 * check or cast to its own type.
 */
export interface ReadFormValues {
  buffer: Buffer;
  text: string;
  json: unknown;
  stream: Readable;
}

/** Any value a read gives back. */
export type ReadValue = ReadFormValues[ReadForm];

/** Data to write, turned into bytes once and replayable when it came from memory. */
export interface ByteSource {
  readonly kind: ContentKind;
  readonly body: AsyncIterable<Uint8Array>;
  /** Total bytes, when known before writing. */
  readonly size?: number;
  /** A local file's size as found when it was opened, once its reading began (undefined before, and for other sources). */
  readonly openedSize?: () => number | undefined;
  /** True for a stream, which a retry cannot replay once reading began. */
  readonly oneShot: boolean;
  /** Whether a one-shot source has been read from. */
  readonly started: () => boolean;
  /** Destroys an underlying Readable after a failed write, so it does not hang on, stalled, for ever. */
  readonly discard: (reason: Error) => void;
  /** A local file's: its size, mtime and mode as read, once the body has been read whole. */
  readonly facts?: () => SourceFileFacts | undefined;
}

/** In-memory data is written in slices of this size, so progress moves and syscalls stay bounded. */
const SLICE_BYTES = 1024 * 1024;

/**
 * Turns write data into bytes: a string (UTF-8, kind text), bytes, a JSON
 * value (its JSON text, kind json), or a Readable / async iterable of bytes
 * or strings (kind bytes). The config schema has already refused anything else.
 */
export function toByteSource(data: unknown, path: string): ByteSource {
  if (typeof data === 'string') return fromBuffer(Buffer.from(data, 'utf8'), 'text');
  if (data instanceof Uint8Array) return fromBuffer(Buffer.from(data.buffer, data.byteOffset, data.byteLength), 'bytes');
  if (isAsyncIterable(data)) return fromStream(data, path);
  return fromBuffer(Buffer.from(JSON.stringify(data), 'utf8'), 'json');
}

/** The metadata a plain object of `kind` is stored with. */
export function metadataFor(kind: ContentKind): ObjectMetadata {
  return kind === 'bytes' ? {} : { [CONTENT_KIND_KEY]: kind };
}

/** The kind recorded for a stored object; bytes when none is. */
export function kindOf(metadata: ObjectMetadata): ContentKind {
  const kind = metadata[CONTENT_KIND_KEY];
  return kind === 'text' || kind === 'json' ? kind : 'bytes';
}

/**
 * Gives back an object's bytes in the asked form, or, by default, in the
 * form they were written: JSON as the value, text as a string, bytes as a
 * Buffer. `stream` hands over a Readable; the caller must consume or destroy it.
 */
export async function decodeObject(
  object: { readonly kind: ContentKind; readonly body: AsyncIterable<Buffer> },
  path: string,
  form: ReadForm | undefined,
  signal: AbortSignal,
): Promise<ReadValue> {
  if (chosenForm(object.kind, form) === 'stream') return Readable.from(object.body, { objectMode: false });
  return bytesToForm(await collectBytes(object.body, signal), object.kind, path, form);
}

/** The form a read returns: the one asked for, else the one written. */
export function chosenForm(kind: ContentKind, form: ReadForm | undefined): ReadForm {
  return form ?? (kind === 'json' ? 'json' : kind === 'text' ? 'text' : 'buffer');
}

/** All of a body's bytes, stopping at once when `signal` aborts. */
export async function collectBytes(body: AsyncIterable<Buffer>, signal: AbortSignal): Promise<Buffer> {
  const chunks: Buffer[] = [];
  let bytesDone = 0;
  for await (const chunk of abortable(body, signal)) {
    chunks.push(chunk);
    bytesDone += chunk.byteLength;
  }
  // A body of one chunk (a small object's, decoded) is handed over as it is: nothing else holds it, and a copy per read was a fifth of a restore's allocations.
  const [only] = chunks;
  return chunks.length === 1 && only !== undefined ? only : Buffer.concat(chunks, bytesDone);
}

/** Bytes in the asked (or written) form; `bytes` may be handed over as they are for the buffer form. */
export function bytesToForm(bytes: Buffer, kind: ContentKind, path: string, form: ReadForm | undefined): ReadValue {
  const chosen = chosenForm(kind, form);
  if (chosen === 'buffer') return bytes;
  if (chosen === 'stream') return Readable.from([bytes], { objectMode: false });
  const text = decodeUtf8(bytes, path, chosen);
  if (chosen === 'text') return text;
  try {
    return JSON.parse(text) as unknown;
  } catch (error) {
    throw new TaskforgeError(ErrorCode.INVALID_CONTENT, `read of '${path}' as json failed: the object is not valid JSON`, { cause: error, details: { path } });
  }
}

function decodeUtf8(bytes: Buffer, path: string, form: 'text' | 'json'): string {
  try {
    return new TextDecoder('utf-8', { fatal: true, ignoreBOM: true }).decode(bytes);
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'ERR_STRING_TOO_LONG') {
      const limit = constants.MAX_STRING_LENGTH;
      throw new TaskforgeError(
        ErrorCode.LIMIT_EXCEEDED,
        `read of '${path}' as ${form} failed: its ${String(bytes.byteLength)} bytes make a longer string than Node allows (${String(limit)} characters); read it as a buffer or a stream`,
        { cause: error, details: { path, size: bytes.byteLength, limit } },
      );
    }
    throw new TaskforgeError(ErrorCode.INVALID_CONTENT, `read of '${path}' as ${form} failed: the object is not valid UTF-8`, { cause: error, details: { path } });
  }
}

function fromBuffer(bytes: Buffer, kind: ContentKind): ByteSource {
  const slices: Uint8Array[] = [];
  for (let offset = 0; offset < bytes.byteLength; offset += SLICE_BYTES) slices.push(bytes.subarray(offset, offset + SLICE_BYTES));
  // Replayable: every iteration starts again from the first slice, so a retry writes it all.
  const body: AsyncIterable<Uint8Array> = { [Symbol.asyncIterator]: () => replay(slices) };
  return { kind, body, size: bytes.byteLength, oneShot: false, started: () => false, discard: () => undefined };
}

function replay(slices: readonly Uint8Array[]): AsyncIterator<Uint8Array> {
  let index = 0;
  return {
    next: () => {
      const value = slices[index];
      index += 1;
      return Promise.resolve(value === undefined ? { done: true, value: undefined } : { done: false, value });
    },
  };
}

function fromStream(stream: AsyncIterable<unknown>, path: string): ByteSource {
  let started = false;
  const body: AsyncIterable<Uint8Array> = {
    async *[Symbol.asyncIterator]() {
      started = true;
      const early = stream instanceof Readable ? dataStreamError(stream) : undefined;
      if (early !== undefined) throw sourceError(early, path);
      // Ended before this read began: its bytes went elsewhere, and storing none would replace the object with nothing.
      if (stream instanceof Readable && stream.readableEnded) {
        throw new TaskforgeError(ErrorCode.SOURCE_ERROR, `write of '${path}' failed: its data stream had already ended before the write read it (was it read elsewhere?); nothing was stored`, {
          retryable: false,
          details: { path },
        });
      }
      const chunks = stream instanceof Readable ? inLargeReads(stream) : stream[Symbol.asyncIterator]();
      for (;;) {
        let next: IteratorResult<unknown>;
        try {
          next = await chunks.next();
        } catch (error) {
          throw sourceError(error, path);
        }
        if (next.done === true) return;
        const chunk = next.value;
        if (chunk instanceof Uint8Array) yield chunk;
        else if (typeof chunk === 'string') yield Buffer.from(chunk, 'utf8');
        else {
          await chunks.return?.();
          const problem = `the stream yielded ${withArticle(chunk === null ? 'null' : typeof chunk)}, expected bytes or strings`;
          throw new TaskforgeError(ErrorCode.VALIDATION_ERROR, `invalid storage task: metadata.data: ${problem}`, {
            retryable: false,
            details: { fields: [{ field: 'metadata.data', message: problem }] },
          });
        }
      }
    },
  };
  const discard = (reason: Error): void => {
    if (stream instanceof Readable) stream.destroy(reason);
  };
  return { kind: 'bytes', body, oneShot: true, started: () => started, discard };
}

/**
 * The most a stream handed to a write is asked to read at once: a default
 * `fs.createReadStream` reads 64 KiB a call, one call at a time through the
 * thread pool, and its 4,096 trips a 256 MiB file measured at half the rate
 * of 1 MiB reads (230 against 400 MB/s encrypted), in twice the CPU.
 */
const STREAM_READ_BYTES = 1024 * 1024;

/**
 * A Readable's chunks, read STREAM_READ_BYTES at a time where it reads in
 * smaller pieces: asking `read(size)` for more than its highWaterMark raises
 * that mark (Node's streams do so since streams2), so a file stream's reads
 * become 1 MiB each; a stream pushing smaller pieces still gives them as
 * they come. Bytes the stream held before are given first. Object-mode
 * streams are left as they are (their chunks are not bytes).
 */
function inLargeReads(stream: Readable): AsyncIterator<unknown> {
  const chunks = stream[Symbol.asyncIterator]();
  if (stream.readableObjectMode || stream.readableHighWaterMark >= STREAM_READ_BYTES || stream.destroyed) return chunks;
  // (Returns null unless the stream already held that much: a fresh stream holds nothing.)
  const held: unknown = stream.read(STREAM_READ_BYTES);
  if (held === null) return chunks;
  let given = false;
  return {
    next: () => {
      if (given) return chunks.next();
      given = true;
      return Promise.resolve({ done: false, value: held });
    },
    return: (value?: unknown) => chunks.return?.(value) ?? Promise.resolve({ done: true, value: undefined }),
  };
}

/** 'a number', 'an object'; 'null' as it is. */
function withArticle(what: string): string {
  if (what === 'null') return what;
  return `${/^[aeiou]/.test(what) ? 'an' : 'a'} ${what}`;
}

/** The data stream's own failure, named as such: the object was not the problem, and nothing was stored. */
function sourceError(error: unknown, path: string): TaskforgeError {
  if (error instanceof TaskforgeError) return error;
  const reason = error instanceof Error ? withoutHostPaths(error) : String(error);
  return new TaskforgeError(ErrorCode.SOURCE_ERROR, `write of '${path}' failed: its data stream failed: ${reason}`, { cause: error, retryable: false, details: { path } });
}

/** True for async iterables (streams, async generators): data that is streamed, not JSON. */
export function isAsyncIterable(value: unknown): value is AsyncIterable<unknown> {
  return value !== null && typeof value === 'object' && Symbol.asyncIterator in value;
}

/** A body already read whole, as a source of one chunk (lighter than a stream made of it; none for no bytes). */
export function onlyChunk(bytes: Buffer): AsyncIterable<Buffer> {
  return {
    [Symbol.asyncIterator]: () => {
      let given = bytes.byteLength === 0;
      return {
        next: (): Promise<IteratorResult<Buffer, undefined>> => {
          const step: IteratorResult<Buffer, undefined> = given ? { done: true, value: undefined } : { done: false, value: bytes };
          given = true;
          return Promise.resolve(step);
        },
      };
    },
  };
}
