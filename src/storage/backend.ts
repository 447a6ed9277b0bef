import type { Readable } from 'node:stream';

/** What kind of thing a path names. */
export type EntryType = 'file' | 'directory';

/**
 * Small facts stored beside an object (the content kind, later the codec),
 * as string pairs so that every backend can keep them (S3 user metadata).
 */
export type ObjectMetadata = Readonly<Record<string, string>>;

/** What a backend knows of a stored object. */
export interface ObjectInfo {
  readonly size: number;
  readonly modifiedAt: Date;
  /** Changes whenever the object's bytes may have changed (size+mtime+inode, or an ETag). */
  readonly version: string;
  readonly metadata: ObjectMetadata;
}

/** One entry of a listing. */
export interface ListEntry {
  /** The last segment of the path. */
  readonly name: string;
  /** The full storage path, e.g. `/data/file.txt`. */
  readonly path: string;
  readonly type: EntryType;
  /** Bytes for a file; 0 for a directory. */
  readonly size: number;
  /** ISO time of the last change. */
  readonly modifiedAt: string;
}

/** One page of a listing. */
export interface ListPage {
  readonly entries: readonly ListEntry[];
  /** Pass it back as `cursor` for the next page; absent on the last page. */
  readonly cursor?: string;
}

/** Options of {@link StorageBackend.write}. */
export interface WriteOptions {
  readonly signal: AbortSignal;
  /** Replace an existing object (true) or fail with ALREADY_EXISTS (false). */
  readonly overwrite: boolean;
  /** Stored with the object; empty for a plain object. */
  readonly metadata: ObjectMetadata;
  /**
   * Called right before the write becomes visible (the rename, the PUT or
   * the multipart completion, the swap in memory); when it rejects, nothing
   * is committed and the write rejects with its error. A worker that may
   * have lost its claim on the task checks it here (fencing).
   */
  readonly beforeCommit?: () => Promise<void>;
}

/** Options of {@link StorageBackend.list}. */
export interface ListOptions {
  readonly signal: AbortSignal;
  readonly recursive: boolean;
  readonly limit: number;
  /** The last path of the previous page (already decoded from the cursor). */
  readonly after?: string;
  /**
   * In a recursive listing, also list each stored tree's index
   * (`.taskforge-tree`, hidden otherwise) as a file entry, in its place in
   * path order: how a listing above trees finds them (and their packed
   * files) without a look into every folder. Ignored when not recursive.
   */
  readonly treeIndexes?: boolean;
}

/** An opened object: its facts, and its bytes as a stream the caller must consume or destroy. */
export interface OpenedObject {
  readonly info: ObjectInfo;
  readonly body: Readable;
  /**
   * The whole body, when the backend read it whole (a small object): a
   * caller that takes these bytes need not consume or destroy `body`, which
   * gives the same bytes.
   */
  readonly bytes?: Buffer;
  /** Its container must be encrypted whatever the read asks (a file of an encrypted tree): a plain one is refused. */
  readonly mustBeEncrypted?: boolean;
}

/**
 * The contract a storage backend fulfils. Paths are already normalised
 * storage paths (`/a/b`, see `parseStoragePath`); the core maps thrown
 * system errors to coded ones, so a backend may let them through. Every
 * backend passes the same conformance suite.
 */
export interface StorageBackend {
  /** Names the backend and its location (`fs:/srv/data`, `memory:1`), for messages and logs. */
  readonly name: string;
  /**
   * The store this backend reaches, for the read cache's keys: equal for
   * two backend objects exactly when they see the same objects (an S3
   * backend's endpoint, region, bucket and prefix). Default: the backend
   * object itself, which is always safe.
   */
  readonly identity?: string;
  /** Facts about a file, or undefined when nothing is there. A directory: IS_A_DIRECTORY. */
  stat(path: string, options: { readonly signal: AbortSignal }): Promise<ObjectInfo | undefined>;
  /**
   * Whether `path` still leads to the very object a read returned with
   * `version`, unchanged: a cache's check that its entry may be served
   * again, for a backend that can answer it for less than `stat`. It
   * answers only that (a guess at an unknown version learns nothing), and
   * false whenever in doubt, sending the caller to `read`, which gives the
   * error owed. Optional; `stat` serves where it is missing. `options.signal`
   * is made when first read (a check that waits on nothing abortable need
   * not make one): read it, do not copy `options`.
   */
  isCurrent?(path: string, version: string, options: { readonly signal: AbortSignal }): Promise<boolean>;
  /**
   * Opens a file for reading. NOT_FOUND when missing, IS_A_DIRECTORY for a
   * directory. `options.whole`: the caller takes the whole object into
   * memory (a tree's pack), so a backend that can read it in one piece gives
   * `bytes` whatever its size.
   */
  read(path: string, options: { readonly signal: AbortSignal; readonly whole?: boolean }): Promise<OpenedObject>;
  /**
   * Stores `body` at `path`, creating parent directories. Atomic: readers see
   * the old object or the new one, and a failed or aborted write leaves the
   * old one in place and nothing half-written.
   */
  write(path: string, body: AsyncIterable<Uint8Array>, options: WriteOptions): Promise<ObjectInfo>;
  /** Removes a file, or a directory with `recursive`. Idempotent: false when nothing was there. */
  delete(path: string, options: { readonly signal: AbortSignal; readonly recursive: boolean }): Promise<{ deleted: boolean }>;
  /** Lists a directory, sorted by path, one page at a time. */
  list(path: string, options: ListOptions): Promise<ListPage>;
}
