import type { StorageBackend } from '../../storage/backend.js';
import type { Keyring } from '../../storage/codec/keyring.js';
import { decodePiece, packPiece } from '../../tasks/pack-piece.js';
import { readPack } from '../../tasks/tree-lookup.js';
import type { PackRef } from '../../tasks/tree-index.js';

interface LoadedPack {
  readonly bytes: Promise<Buffer>;
  /** Entries of this run still to be read from it: at none, its bytes are let go. */
  remaining: number;
}

/**
 * Reads the files of a restore out of their packs: each pack read once,
 * whole, and held only while entries of it are still to be restored
 * (restored in pack order, a run holds a pack or two at a time). Each
 * entry is its own container, checked as an object is (decrypted and
 * authenticated against its storage path, so an entry moved to another
 * path in a tampered index does not open) and its size against the index.
 */
export class PackReader {
  readonly #backend: StorageBackend;
  readonly #prefix: string;
  readonly #keyring: Keyring | undefined;
  readonly #signal: AbortSignal;
  readonly #uses = new Map<string, number>();
  readonly #loaded = new Map<string, LoadedPack>();

  /** `prefix`: the folder pack names are relative to (a tree's own, or one above the trees of a restore). */
  constructor(options: { backend: StorageBackend; prefix: string; keyring: Keyring | undefined; signal: AbortSignal; refs: Iterable<PackRef> }) {
    this.#backend = options.backend;
    this.#prefix = options.prefix;
    this.#keyring = options.keyring;
    this.#signal = options.signal;
    for (const ref of options.refs) this.#uses.set(ref.name, (this.#uses.get(ref.name) ?? 0) + 1);
  }

  /**
   * The bytes of the file stored at `path` as `ref`, of `size` bytes,
   * refused unless encrypted with `requireEncryption`; a coded error when
   * its pack is missing or the entry does not check out.
   */
  async read(ref: PackRef, path: string, size: number, requireEncryption: boolean): Promise<Buffer> {
    const pack = this.#pack(ref.name);
    try {
      return await decodePiece(packPiece(await pack.bytes, ref, path), ref, path, size, { keyring: this.#keyring, requireEncryption });
    } finally {
      pack.remaining -= 1;
      if (pack.remaining <= 0) this.#loaded.delete(ref.name);
    }
  }

  /** Starts reading the pack `name`, whose files come next. */
  prefetch(name: string): void {
    this.#pack(name);
  }

  /** An entry that will not be read (its file is already in place): its pack is let go as if it had been. */
  skip(ref: PackRef): void {
    const pack = this.#loaded.get(ref.name);
    const remaining = (pack?.remaining ?? this.#uses.get(ref.name) ?? 1) - 1;
    if (pack !== undefined) pack.remaining = remaining;
    this.#uses.set(ref.name, remaining);
    if (pack !== undefined && remaining <= 0) this.#loaded.delete(ref.name);
  }

  #pack(name: string): LoadedPack {
    let pack = this.#loaded.get(name);
    if (pack === undefined) {
      pack = { bytes: readPack(this.#backend, this.#prefix, name, this.#signal).then((read) => read.bytes), remaining: this.#uses.get(name) ?? 1 };
      // (A failed read is told to every entry that asks; none is left unhandled.)
      pack.bytes.catch(() => undefined);
      this.#loaded.set(name, pack);
    }
    return pack;
  }
}
