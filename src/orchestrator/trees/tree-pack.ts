import { randomBytes } from 'node:crypto';
import { setImmediate as yieldToEventLoop } from 'node:timers/promises';
import { ErrorCode, TaskforgeError } from '../../core/errors.js';
import { fromSystemError } from '../../core/system-errors.js';
import type { StorageBackend } from '../../storage/backend.js';
import type { EncodeOptions } from '../../storage/codec/encoder.js';
import { encodeWhole } from '../../storage/codec/whole-encoder.js';
import { readSmallFileSync, type SourceFileFacts } from '../../storage/file-source.js';
import { childPath } from '../../storage/storage-path.js';
import { PACK_PREFIX, type PackRef } from '../../tasks/tree-index.js';

/**
 * Files up to this size go into packs; larger ones are objects of their
 * own, streamed. A pack entry is read and encoded whole, in memory.
 */
export const PACKED_FILE_BYTES = 1024 * 1024;

/** A pack is sealed and written once its entries reach this many bytes. */
export const PACK_BYTES = 4 * 1024 * 1024;

/** Packs written at once while the next fills. */
const PACK_WRITES_AT_ONCE = 2;

/** How long the event loop is held reading and encoding files before it is given a turn. */
const SLICE_MS = 5;

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

/**
 * Stores a tree's small files into packs: each file is read and encoded
 * whole (a container of its own, bound to its storage path, as its own
 * object would be), appended to the pack being filled, and that pack,
 * once it holds PACK_BYTES, is written as one durable object of the
 * tree's prefix. A file's outcome is told once its pack is durable: one
 * create, one fsync and one rename for hundreds of files, where an object
 * per file made each of them once per file.
 */
export class PackWriter {
  readonly #backend: StorageBackend;
  readonly #prefix: string;
  readonly #encoding: Omit<EncodeOptions, 'path' | 'kind'>;
  readonly #signal: AbortSignal;
  #parts: Buffer[] = [];
  #bytes = 0;
  #members: Member[] = [];
  readonly #writing = new Set<Promise<void>>();
  #sliceStarted = performance.now();

  constructor(options: { backend: StorageBackend; prefix: string; encoding: Omit<EncodeOptions, 'path' | 'kind'>; signal: AbortSignal }) {
    this.#backend = options.backend;
    this.#prefix = options.prefix;
    this.#encoding = options.encoding;
    this.#signal = options.signal;
  }

  /**
   * Reads and encodes the file at `host` for the storage path `path`, and
   * adds it to the pack being filled; `then` hears its outcome. A file
   * that cannot be read, or changes while read, fails at once; the rest
   * of the pack goes on.
   */
  async add(host: string, path: string, then: (outcome: PackOutcome) => void): Promise<void> {
    let read;
    try {
      read = readSmallFileSync(host, path);
    } catch (error) {
      then({ stored: false, error: error instanceof TaskforgeError ? error : fromSystemError(error, { operation: 'write', path }) });
      return;
    }
    const parts = await encodeWhole(read.bytes, { ...this.#encoding, kind: 'bytes', path });
    let length = 0;
    for (const part of parts) length += part.byteLength;
    this.#members.push({ offset: this.#bytes, length, source: read.facts, then });
    this.#parts.push(...parts);
    this.#bytes += length;
    if (this.#bytes >= PACK_BYTES) await this.#seal();
    if (performance.now() - this.#sliceStarted >= SLICE_MS) {
      await yieldToEventLoop();
      this.#sliceStarted = performance.now();
    }
  }

  /** Writes the last pack and waits for every pack: all outcomes are told when it resolves. */
  async finish(): Promise<void> {
    if (this.#members.length > 0 && !this.#signal.aborted) await this.#seal();
    await this.settle();
  }

  /** Waits for the packs being written, and writes no other: the files of the one being filled are not stored. */
  async settle(): Promise<void> {
    while (this.#writing.size > 0) await Promise.race(this.#writing);
  }

  async #seal(): Promise<void> {
    while (this.#writing.size >= PACK_WRITES_AT_ONCE) await Promise.race(this.#writing);
    const name = newPackName();
    const parts = this.#parts;
    const members = this.#members;
    this.#parts = [];
    this.#members = [];
    this.#bytes = 0;
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
