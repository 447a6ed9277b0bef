import { randomBytes } from 'node:crypto';
import { ErrorCode, TaskforgeError } from '../../core/errors.js';
import { fromSystemError } from '../../core/system-errors.js';
import type { StorageBackend } from '../../storage/backend.js';
import type { SourceFileFacts } from '../../storage/file-source.js';
import { childPath } from '../../storage/storage-path.js';
import { PACK_PREFIX, type PackRef } from '../../tasks/tree-index.js';
import { LARGE_FILE_BYTES } from './tree-limits.js';
import { FileEncoders, type EncodeReply, type WorkerEncoding } from './file-encoders.js';

/**
 * Files up to this size go into packs: those a tree reads whole; larger
 * ones are objects of their own, streamed.
 */
export const PACKED_FILE_BYTES = LARGE_FILE_BYTES;

/** A pack is sealed and written once its entries reach this many bytes. */
export const PACK_BYTES = 4 * 1024 * 1024;

/** Packs written at once while the next fills. */
const PACK_WRITES_AT_ONCE = 2;

/** A fresh pack name: 16 random hex digits, never reused. */
function newPackName(): string {
  return `${PACK_PREFIX}${randomBytes(8).toString('hex')}`;
}

/** What became of a file handed to the packs: stored in one (durable), or failed with why. */
export type PackOutcome = { readonly stored: true; readonly pack: PackRef; readonly modifiedAt: string; readonly source: SourceFileFacts } | { readonly stored: false; readonly error: TaskforgeError };

interface Member {
  readonly offset: number;
  readonly length: number;
  readonly source: SourceFileFacts;
  readonly then: (outcome: PackOutcome) => void;
}

interface Pending {
  readonly host: string;
  readonly path: string;
  readonly then: (outcome: PackOutcome) => void;
}

/** A batch goes to an encoder once it holds this many files, or this many bytes of them. */
const BATCH_FILES = 64;
const BATCH_BYTES = 1024 * 1024;

/** Batches at the encoders at once: enough to keep them busy while replies are taken in. */
const BATCHES_AT_ONCE = 4;

/**
 * Stores a tree's small files into packs: each file is read and encoded
 * whole (a container of its own, bound to its storage path, as its own
 * object would be) by the file encoders (worker threads), appended to the
 * pack being filled, and that pack, once it holds PACK_BYTES, is written
 * as one durable object of the tree's prefix. A file's outcome is told
 * once its pack is durable: one create, one fsync and one rename for
 * hundreds of files, where an object per file made each of them once per
 * file.
 */
export class PackWriter {
  readonly #backend: StorageBackend;
  readonly #prefix: string;
  readonly #signal: AbortSignal;
  readonly #encoders: FileEncoders;
  #batch: Pending[] = [];
  #batchBytes = 0;
  readonly #encoding = new Set<Promise<void>>();
  #parts: Buffer[] = [];
  #bytes = 0;
  #members: Member[] = [];
  readonly #writing = new Set<Promise<void>>();

  constructor(options: { backend: StorageBackend; prefix: string; encoding: WorkerEncoding; signal: AbortSignal }) {
    this.#backend = options.backend;
    this.#prefix = options.prefix;
    this.#signal = options.signal;
    this.#encoders = new FileEncoders(options.encoding);
  }

  /**
   * Hands the file at `host` (about `size` bytes) over to be read and
   * encoded for the storage path `path` and added to a pack; `then` hears
   * its outcome. A file that cannot be read, or changes while read, fails
   * alone. Resolves once there is room for more.
   */
  async add(host: string, path: string, size: number, then: (outcome: PackOutcome) => void): Promise<void> {
    this.#batch.push({ host, path, then });
    this.#batchBytes += size;
    if (this.#batch.length >= BATCH_FILES || this.#batchBytes >= BATCH_BYTES) await this.#send();
  }

  /** Writes the last pack and waits for every pack: all outcomes are told when it resolves. */
  async finish(): Promise<void> {
    if (this.#batch.length > 0 && !this.#signal.aborted) await this.#send();
    while (this.#encoding.size > 0) await Promise.race(this.#encoding);
    if (this.#members.length > 0 && !this.#signal.aborted) await this.#seal();
    await this.settle();
  }

  /** Waits for the packs being written, writes no other (the files of the one being filled are not stored), and ends the encoders. */
  async settle(): Promise<void> {
    while (this.#writing.size > 0) await Promise.race(this.#writing);
    await this.#encoders.close();
  }

  async #send(): Promise<void> {
    while (this.#encoding.size >= BATCHES_AT_ONCE) await Promise.race(this.#encoding);
    const batch = this.#batch;
    this.#batch = [];
    this.#batchBytes = 0;
    const encoded = this.#encoders.encode(batch.map(({ host, path }) => ({ host, path }))).then(
      async (reply) => this.#take(batch, reply),
      (error: unknown) => {
        const coded = error instanceof TaskforgeError ? error : new TaskforgeError(ErrorCode.IO_ERROR, String(error));
        for (const file of batch) file.then({ stored: false, error: coded });
      },
    );
    const tracked = encoded.finally(() => this.#encoding.delete(tracked));
    this.#encoding.add(tracked);
  }

  /** Adds a batch's files to the pack being filled (the failed ones are told at once), and seals the pack once full. */
  async #take(batch: readonly Pending[], reply: EncodeReply): Promise<void> {
    if (this.#signal.aborted) return;
    this.#parts.push(reply.bytes);
    for (const [index, file] of reply.files.entries()) {
      const pending = batch[index];
      if (pending === undefined) continue;
      if (!file.stored) {
        pending.then({ stored: false, error: new TaskforgeError(file.code, file.message, { retryable: file.retryable, details: { path: pending.path } }) });
        continue;
      }
      this.#members.push({ offset: this.#bytes + file.offset, length: file.length, source: file.facts, then: pending.then });
    }
    this.#bytes += reply.bytes.byteLength;
    if (this.#bytes >= PACK_BYTES) await this.#seal();
  }

  async #seal(): Promise<void> {
    // Taken before waiting for room: two batches coming back together must not seal the same pack twice (the second, empty).
    const parts = this.#parts;
    const members = this.#members;
    this.#parts = [];
    this.#members = [];
    this.#bytes = 0;
    if (members.length === 0) return;
    while (this.#writing.size >= PACK_WRITES_AT_ONCE) await Promise.race(this.#writing);
    const name = newPackName();
    const writing = this.#write(name, parts, members);
    const tracked = writing.finally(() => this.#writing.delete(tracked));
    this.#writing.add(tracked);
  }

  async #write(name: string, parts: Buffer[], members: Member[]): Promise<void> {
    const path = childPath(this.#prefix, name);
    let outcome: (member: Member) => PackOutcome;
    try {
      const info = await this.#backend.write(path, fromParts(parts), { signal: this.#signal, overwrite: false, metadata: {} });
      const modifiedAt = info.modifiedAt.toISOString();
      outcome = (member) => ({ stored: true, pack: { name, offset: member.offset, length: member.length }, modifiedAt, source: member.source });
    } catch (error) {
      const coded = this.#signal.aborted ? new TaskforgeError(ErrorCode.CANCELLED, `write of the pack '${path}' was cut off`) : fromSystemError(error, { operation: 'write', path });
      outcome = () => ({ stored: false, error: coded });
    }
    for (const member of members) member.then(outcome(member));
  }
}

/** The pack's parts, as they are: the file system backend gathers them into writes of 1 MiB (a copy of the whole pack cost 20 ms per pack here, faulting in its pages). */
// eslint-disable-next-line @typescript-eslint/require-await -- the backend takes an async source
async function* fromParts(parts: readonly Buffer[]): AsyncGenerator<Buffer, void, undefined> {
  yield* parts;
}
