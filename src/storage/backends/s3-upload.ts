import { createHash, type Hash } from 'node:crypto';
import { setImmediate as nextTurn } from 'node:timers/promises';
import { crc32 } from 'node:zlib';
import type * as S3Sdk from '@aws-sdk/client-s3';
import { abortError, graceAfter } from '../../core/abort.js';
import { TaskforgeError } from '../../core/errors.js';

// Why not @aws-sdk/lib-storage's Upload: it joins each part and then, when
// the part is sent, the SDK hashes it whole (SHA-256 for the signature over
// plain HTTP, CRC32 for S3's checksum): 10-20 ms of the event loop per 8 MiB
// part, measured as an event-loop p99 of 16-19 ms during 64 MiB writes.
// Here both hashes are taken chunk by chunk as the body arrives, and the
// part goes out with them in its headers (the SDK then hashes nothing).

/** S3's most parts in one upload. */
const MAX_PARTS = 10_000;
/** Bytes hashed in one turn of the event loop before others get theirs. */
const TURN_BYTES = 256 * 1024;
/** The SHA-256 request header the signer takes as the payload's hash instead of hashing the body. */
const PAYLOAD_HASH_HEADER = 'x-amz-content-sha256';

/** What is uploaded and where. */
export interface UploadTarget {
  readonly client: S3Sdk.S3Client;
  readonly sdk: typeof S3Sdk;
  readonly bucket: string;
  readonly key: string;
  readonly metadata: Record<string, string>;
  /** Refuse the commit when the key exists (S3's If-None-Match: *). */
  readonly ifNoneMatch: boolean;
  readonly partSize: number;
  /** Parts sent at once. */
  readonly queueSize: number;
  /** How long a commit sent before the write's signal fired may go on after it (see uploadObject). */
  readonly commitGraceMs: number;
}

/** A part, read whole: its bytes and both hashes. */
interface Part {
  readonly number: number;
  readonly bytes: Buffer;
  readonly sha256: string;
  readonly crc32: string;
  /** No byte follows it. */
  readonly last: boolean;
}

/** An upload aborted (the write's signal) whose multipart upload could not be removed: the write's error says both. */
export class UploadNotStopped extends Error {
  constructor(readonly coded: TaskforgeError) {
    super(coded.message);
  }
}

/**
 * An upload that failed (not aborted) whose multipart upload could not be
 * removed either (the server went away, or refuses the removal): the
 * write's error, as the backend codes it, is to say that its parts stay.
 */
export class UploadLeft extends Error {
  constructor(
    readonly error: unknown,
    readonly stopMessage: string,
  ) {
    super(error instanceof Error ? error.message : String(error));
  }

  /** `coded` (the write's error) saying that the parts sent stay on the server. */
  told(coded: TaskforgeError, path: string): TaskforgeError {
    return new TaskforgeError(coded.code, `${coded.message}; removing its multipart upload failed too (${this.stopMessage}): the parts sent stay on the server until a lifecycle rule for incomplete uploads removes them`, {
      cause: coded,
      retryable: coded.retryable,
      details: { ...coded.details, path, partsLeft: true },
    });
  }
}

/** A commit that had no answer within its grace after the write's signal fired: whether it was applied is not known; the write's error says so. */
export class CommitUnanswered extends Error {
  constructor(readonly coded: TaskforgeError) {
    super(coded.message);
  }
}

/**
 * Uploads `body` as one PUT when it fits in a part, else as a multipart
 * upload, `queueSize` parts in flight. A multipart upload that fails or is
 * aborted is removed (its parts are not left to be billed); if removing it
 * fails after an abort, UploadNotStopped says so. Nothing is visible at the
 * key until the PUT or the completion succeeds.
 *
 * `signal` stops the body and the parts, not the commit (the PUT of a body
 * of one part, or the completion): once that is sent the server may apply
 * it whatever the client does, so an abort then would say "nothing stored"
 * of a write that took place. The commit runs to its answer, and the write
 * ends as it did (a cancelled task that had committed ends COMPLETED); but
 * no longer than `commitGraceMs` after the signal: a server that stopped
 * answering would hold the write, and its task, for ever. Cut then, the
 * write fails with CommitUnanswered: stored or not, nobody can say.
 */
export async function uploadObject(target: UploadTarget, body: AsyncIterable<Uint8Array>, signal: AbortSignal, path: string): Promise<void> {
  const parts = partsOf(body, target.partSize);
  const commit = graceAfter(signal, target.commitGraceMs);
  try {
    await upload(target, parts, signal, path, commit.signal);
  } finally {
    commit.dispose();
    // However it ended (a refused or failed request before the body was read to its end): the body's source is let go.
    await parts.return(undefined).catch(() => undefined);
  }
}

/** How long removing an upload that failed or was stopped may take before it is given up on (its parts left, and said so). */
const STOP_UPLOAD_MS = 10_000;

async function upload(target: UploadTarget, parts: AsyncGenerator<Part>, signal: AbortSignal, path: string, commitSignal: AbortSignal): Promise<void> {
  // A commit is sent once the body has ended and passed its checks, and cut off only a grace after an abort (see uploadObject).
  const committed = async (sending: Promise<unknown>): Promise<void> => {
    try {
      await sending;
    } catch (error) {
      if (!commitSignal.aborted) throw error;
      const reason = abortError(signal);
      const after = reason.code === 'TIMEOUT' ? 'the timeout' : 'its cancel';
      throw new CommitUnanswered(
        new TaskforgeError(reason.code, `write of '${path}' failed: ${reason.message}; its commit was sent and had no answer within ${String(target.commitGraceMs)} ms of ${after}: whether '${path}' was stored is not known (read or stat it to find out)`, {
          cause: error,
          retryable: reason.retryable,
          details: { path, outcome: 'unknown' },
        }),
      );
    }
  };
  const first = await parts.next();
  if (first.done === true) throw new Error('a body gave no part');
  if (first.value.last) {
    await committed(send<S3Sdk.PutObjectCommandOutput>(target, new target.sdk.PutObjectCommand({ ...common(target), Body: first.value.bytes, ContentLength: first.value.bytes.byteLength, ChecksumCRC32: first.value.crc32, ...commitCondition(target) }), first.value.sha256, commitSignal));
    return;
  }
  const { UploadId } = await target.client.send(new target.sdk.CreateMultipartUploadCommand({ ...common(target), ChecksumAlgorithm: 'CRC32' }), { abortSignal: signal });
  if (UploadId === undefined) throw new Error('the server gave no upload id');
  // Stops the parts in flight when one fails, so that none lands after the upload is removed.
  const stop = new AbortController();
  const partSignal = AbortSignal.any([signal, stop.signal]);
  try {
    const done: S3Sdk.CompletedPart[] = [];
    let pending: Part | undefined = first.value;
    // The next part for a sender that is free (the generator itself takes one request at a time, in order).
    const nextPart = async (): Promise<Part | undefined> => {
      if (pending !== undefined) {
        const part = pending;
        pending = undefined;
        return part;
      }
      const next = await parts.next();
      return next.done === true ? undefined : next.value;
    };
    const sender = async (): Promise<void> => {
      for (let part = await nextPart(); part !== undefined; part = await nextPart()) {
        if (part.number > MAX_PARTS) throw new Error(`an object of more than ${String(MAX_PARTS)} parts of ${String(target.partSize)} bytes (S3's most per upload): give a larger partSize`);
        const sent = await send<S3Sdk.UploadPartCommandOutput>(target, new target.sdk.UploadPartCommand({ Bucket: target.bucket, Key: target.key, UploadId, PartNumber: part.number, Body: part.bytes, ContentLength: part.bytes.byteLength, ChecksumCRC32: part.crc32 }), part.sha256, partSignal);
        if (sent.ETag === undefined) throw new Error(`the server gave no ETag for part ${String(part.number)}`);
        done.push({ PartNumber: part.number, ETag: sent.ETag, ChecksumCRC32: part.crc32 });
      }
    };
    const senders = Array.from({ length: target.queueSize }, sender);
    await Promise.all(senders).catch(async (error: unknown) => {
      stop.abort();
      await Promise.allSettled(senders);
      throw error;
    });
    done.sort((a, b) => (a.PartNumber ?? 0) - (b.PartNumber ?? 0));
    await committed(target.client.send(new target.sdk.CompleteMultipartUploadCommand({ Bucket: target.bucket, Key: target.key, UploadId, MultipartUpload: { Parts: done }, ...commitCondition(target) }), { abortSignal: commitSignal }));
  } catch (error) {
    // Applied or not, nobody can say: removing the upload could race its completion, and the server is not answering anyway.
    if (error instanceof CommitUnanswered) throw error;
    // Bounded: a server that stopped answering (the very reason a timeout stopped the parts) must not hold the write for ever.
    const stopUpload = new target.sdk.AbortMultipartUploadCommand({ Bucket: target.bucket, Key: target.key, UploadId });
    await target.client.send(stopUpload, { abortSignal: AbortSignal.timeout(STOP_UPLOAD_MS) }).catch((stopError: unknown) => {
      const message = stopError instanceof Error ? stopError.message : String(stopError);
      if (!signal.aborted) throw new UploadLeft(error, message);
      const reason = abortError(signal);
      // partsLeft: what was sent stays on the server (billed) until a lifecycle rule for incomplete uploads removes it.
      throw new UploadNotStopped(new TaskforgeError(reason.code, `write of '${path}' failed: ${reason.message}, and stopping its upload failed (${message})`, { cause: stopError, retryable: reason.retryable, details: { path, partsLeft: true } }));
    });
    throw error;
  }
}

function common(target: UploadTarget): { Bucket: string; Key: string; Metadata: Record<string, string> } {
  return { Bucket: target.bucket, Key: target.key, Metadata: target.metadata };
}

function commitCondition(target: UploadTarget): { IfNoneMatch?: string } {
  return target.ifNoneMatch ? { IfNoneMatch: '*' } : {};
}

/** Sends a command whose body's SHA-256 is known: the signer takes it from the header instead of hashing the body again. */
function send<Output>(target: UploadTarget, command: S3Sdk.PutObjectCommand | S3Sdk.UploadPartCommand, sha256: string, signal: AbortSignal | undefined): Promise<Output> {
  (command.middlewareStack as { add: (middleware: unknown, options: object) => void }).add(
    (next: (args: { request: unknown }) => Promise<unknown>) => async (args: { request: unknown }) => {
      const request = args.request as { headers?: Record<string, string> };
      if (request.headers !== undefined) request.headers[PAYLOAD_HASH_HEADER] = sha256;
      return next(args);
    },
    { step: 'build', name: 'taskforgePayloadHash' },
  );
  return target.client.send(command as never, signal === undefined ? {} : { abortSignal: signal }) as Promise<Output>;
}

/**
 * The body cut into parts of `partSize` bytes, each hashed as its chunks
 * arrive. A full part is held until a byte beyond it shows that it is not
 * the last: a body of exactly one part is one PUT. An empty body is one
 * empty part.
 */
async function* partsOf(body: AsyncIterable<Uint8Array>, partSize: number): AsyncGenerator<Part> {
  let number = 1;
  let part = new PartHasher(partSize);
  let full: PartHasher | undefined;
  let sinceTurn = 0;
  for await (const chunk of body) {
    let rest = chunk;
    while (rest.byteLength > 0) {
      if (full !== undefined) {
        yield full.seal(number, false);
        number += 1;
        full = undefined;
      }
      const piece = rest.subarray(0, Math.min(rest.byteLength, partSize - part.size, TURN_BYTES - sinceTurn));
      part.add(piece);
      rest = rest.subarray(piece.byteLength);
      sinceTurn += piece.byteLength;
      if (part.size === partSize) {
        full = part;
        part = new PartHasher(partSize);
      }
      // A body read from memory never waits: hashing all of it at once would hold the event loop as long.
      if (sinceTurn >= TURN_BYTES) {
        await nextTurn();
        sinceTurn = 0;
      }
    }
  }
  yield (full ?? part).seal(number, true);
}

/**
 * One part's bytes, with their SHA-256 and CRC32 taken as they come. Past a
 * MiB they are copied into a buffer of the part's size as they arrive, so
 * that no turn of the event loop joins a whole part at once.
 */
class PartHasher {
  readonly #capacity: number;
  #chunks: Uint8Array[] = [];
  #buffer: Buffer | undefined;
  readonly #sha256: Hash = createHash('sha256');
  #crc32 = 0;
  size = 0;

  constructor(capacity: number) {
    this.#capacity = capacity;
  }

  add(piece: Uint8Array): void {
    this.#sha256.update(piece);
    this.#crc32 = crc32(piece, this.#crc32);
    if (this.#buffer === undefined && this.size + piece.byteLength > TURN_BYTES) {
      this.#buffer = Buffer.allocUnsafe(this.#capacity);
      let offset = 0;
      for (const chunk of this.#chunks) {
        this.#buffer.set(chunk, offset);
        offset += chunk.byteLength;
      }
      this.#chunks = [];
    }
    if (this.#buffer === undefined) this.#chunks.push(piece);
    else this.#buffer.set(piece, this.size);
    this.size += piece.byteLength;
  }

  seal(number: number, last: boolean): Part {
    const checksum = Buffer.alloc(4);
    checksum.writeUInt32BE(this.#crc32 >>> 0);
    return { number, bytes: this.#bytes(), sha256: this.#sha256.digest('hex'), crc32: checksum.toString('base64'), last };
  }

  #bytes(): Buffer {
    if (this.#buffer !== undefined) return this.#buffer.subarray(0, this.size);
    const [only] = this.#chunks;
    return this.#chunks.length === 1 && only !== undefined ? Buffer.from(only.buffer, only.byteOffset, only.byteLength) : Buffer.concat(this.#chunks, this.size);
  }
}
