import { Readable } from 'node:stream';
import type * as S3Sdk from '@aws-sdk/client-s3';
import { abortable, abortError, graceAfter, throwIfAborted } from '../../core/abort.js';
import { ErrorCode, TaskforgeError } from '../../core/errors.js';
import { KeyedMutex } from '../../core/keyed-mutex.js';
import { requireOptional } from '../../core/optional-package.js';
import type { ListEntry, ListOptions, ListPage, ObjectInfo, OpenedObject, StorageBackend, WriteOptions } from '../backend.js';
import { encodeCursor, PageCollector } from '../list-pager.js';
import { baseName, childPath, ROOT_PATH, pathSegments } from '../storage-path.js';
import { s3Error, statusOf } from './s3-errors.js';
import { entriesOfKey } from './s3-keys.js';
import { alreadyExists, isDirectory, notADirectory, notFound } from './tree-errors.js';
import { s3Location } from './s3-location.js';
import { CommitUnanswered, UploadLeft, UploadNotStopped, uploadObject } from './s3-upload.js';

/** Options of {@link S3Backend}. */
export interface S3BackendOptions {
  readonly bucket: string;
  /** Keys start with this (`team-a/`); storage paths live below it. Default: none. */
  readonly prefix?: string;
  /** A client of your own; else one is made from `clientConfig`. */
  readonly client?: S3Sdk.S3Client;
  /** For the client made here: endpoint, region, credentials, forcePathStyle for local servers. */
  readonly clientConfig?: S3Sdk.S3ClientConfig;
  /** Multipart part size for large objects. Default 8 MiB (S3's minimum is 5). */
  readonly partSize?: number;
  /** Keys one ListObjectsV2 call asks for. Default 1,000 (S3's most). */
  readonly listBatch?: number;
  /**
   * How long a write's commit (its PUT, or its multipart completion), sent
   * before the write was stopped (a timeout, a cancel), may still take: the
   * server may apply it whatever the client does, so it is not cut at once.
   * Past this the write fails saying whether it was stored is not known.
   * Default 10,000 ms.
   */
  readonly commitGraceMs?: number;
  /**
   * For the client made here (not one of your own, nor one whose
   * `clientConfig.requestHandler` you set): a request, or a read's body
   * handed over as a stream, that receives nothing for this long fails
   * BACKEND_UNAVAILABLE (the SDK's default is to wait for ever). Default
   * 60,000 ms, the AWS CLI's.
   */
  readonly idleTimeoutMs?: number;
}

const DEFAULT_IDLE_TIMEOUT_MS = 60_000;

const DEFAULT_COMMIT_GRACE_MS = 10_000;

const DEFAULT_PART_SIZE = 8 * 1024 * 1024;

let sdk: { readonly s3: typeof S3Sdk } | undefined;

/** The AWS SDK, loaded when the first S3 backend is made: a program that never uses S3 never pays for it. */
function awsSdk(): { readonly s3: typeof S3Sdk } {
  if (sdk === undefined) {
    const loaded = requireOptional('the S3 backend', ['@aws-sdk/client-s3']);
    sdk = { s3: loaded['@aws-sdk/client-s3'] as typeof S3Sdk };
  }
  return sdk;
}
/** Keys one ListObjectsV2 call returns at most. */
const LIST_BATCH = 1000;

/**
 * Objects in an S3 bucket (any S3-compatible server), with the tree
 * semantics of the other backends: a directory exists while a key lies below
 * it, a file cannot have children, a write never lands under a file or onto
 * a directory. Writes are one PUT or one completed multipart upload, so a
 * reader sees the old object or the new one. Metadata (the content kind of a
 * plain object) is the object's own user metadata.
 */
export class S3Backend implements StorageBackend {
  readonly name: string;
  /** The endpoint, region, bucket and prefix: backends agreeing on all four see the same objects. */
  readonly identity: string;
  readonly #client: S3Sdk.S3Client;
  readonly #sdk = awsSdk();
  readonly #bucket: string;
  readonly #prefix: string;
  readonly #partSize: number;
  readonly #listBatch: number;
  readonly #commitGraceMs: number;
  /** overwrite: false is a check then a PUT: one at a time per path in this process. */
  readonly #pathLocks = new KeyedMutex();

  /** @throws UNSUPPORTED_OPTION when @aws-sdk/client-s3 is not installed. */
  constructor(options: S3BackendOptions) {
    this.#bucket = options.bucket;
    const prefix = options.prefix ?? '';
    this.#prefix = prefix === '' || prefix.endsWith('/') ? prefix : `${prefix}/`;
    this.#client = options.client ?? new this.#sdk.s3.S3Client(withIdleTimeout(options.clientConfig ?? {}, options.idleTimeoutMs ?? DEFAULT_IDLE_TIMEOUT_MS));
    this.#partSize = options.partSize ?? DEFAULT_PART_SIZE;
    this.#listBatch = options.listBatch ?? LIST_BATCH;
    this.#commitGraceMs = options.commitGraceMs ?? DEFAULT_COMMIT_GRACE_MS;
    this.name = `s3:${this.#bucket}/${this.#prefix}`;
    this.identity = `s3:${s3Location(options)}|${this.#bucket}/${this.#prefix}`;
  }

  async stat(path: string, options: { readonly signal: AbortSignal }): Promise<ObjectInfo | undefined> {
    if (path === ROOT_PATH) throw isDirectory('stat', path);
    const info = await this.#head(path, options.signal, 'stat');
    if (info !== undefined) return info;
    await this.#explainMissing(path, options.signal, 'stat');
    return undefined;
  }

  async read(path: string, options: { readonly signal: AbortSignal }): Promise<OpenedObject> {
    if (path === ROOT_PATH) throw isDirectory('read', path);
    try {
      const response = await this.#client.send(new this.#sdk.s3.GetObjectCommand({ Bucket: this.#bucket, Key: this.#key(path) }), { abortSignal: options.signal });
      const raw = response.Body;
      if (!(raw instanceof Readable)) throw new TaskforgeError(ErrorCode.INTERNAL, `read of '${path}' failed: the S3 client gave no stream`);
      // Its failures as they come (a reset, an idle timeout, long after the read's task ended for a stream), coded as the request's would be.
      const body = Readable.from(failingAs(raw, (error) => s3Error('read', path, error)), { objectMode: false });
      return {
        info: {
          size: response.ContentLength ?? 0,
          modifiedAt: response.LastModified ?? new Date(0),
          version: response.ETag ?? '',
          metadata: { ...response.Metadata },
        },
        body,
      };
    } catch (error) {
      throwIfAborted(options.signal);
      if (statusOf(error) !== 404) throw s3Error('read', path, error);
    }
    await this.#explainMissing(path, options.signal, 'read');
    throw notFound('read', path);
  }

  write(path: string, body: AsyncIterable<Uint8Array>, options: WriteOptions): Promise<ObjectInfo> {
    if (path === ROOT_PATH) return Promise.reject(isDirectory('write', path));
    return options.overwrite ? this.#write(path, body, options) : this.#pathLocks.run(path, () => this.#write(path, body, options));
  }

  async delete(path: string, options: { readonly signal: AbortSignal; readonly recursive: boolean }): Promise<{ deleted: boolean }> {
    throwIfAborted(options.signal);
    if (path !== ROOT_PATH && (await this.#head(path, options.signal, 'delete')) !== undefined) {
      await this.#call('delete', path, options.signal, (abortSignal) => this.#client.send(new this.#sdk.s3.DeleteObjectCommand({ Bucket: this.#bucket, Key: this.#key(path) }), { abortSignal }));
      return { deleted: true };
    }
    if (!(await this.#hasChildren(path, options.signal, 'delete'))) return { deleted: false };
    if (!options.recursive) throw isDirectory('delete', path, ' (use recursive to remove it)');
    await this.#deleteTree(path, options.signal);
    return { deleted: true };
  }

  async list(path: string, options: ListOptions): Promise<ListPage> {
    throwIfAborted(options.signal);
    if (path !== ROOT_PATH && !(await this.#hasChildren(path, options.signal, 'list'))) {
      if ((await this.#head(path, options.signal, 'list')) !== undefined) {
        throw new TaskforgeError(ErrorCode.NOT_A_DIRECTORY, `list of '${path}' failed: it is a file, not a directory`, { details: { path } });
      }
      throw notFound('list', path);
    }
    const collector = new PageCollector<ListEntry>(options.limit, options.after);
    const directoryKey = this.#directoryKey(path);
    // A recursive listing meets one directory in many keys; it is listed once.
    const emittedDirectories = new Set<string>();
    const addKey = (key: string, size: number, modifiedAt: Date): void => {
      const { names, endsInFile } = entriesOfKey(key.slice(directoryKey.length), options.recursive && options.treeIndexes === true);
      let entryPath = path;
      names.forEach((name, index) => {
        entryPath = childPath(entryPath, name);
        if (endsInFile && index === names.length - 1) {
          collector.add({ name, path: entryPath, type: 'file', size, modifiedAt: modifiedAt.toISOString() });
        } else if (!emittedDirectories.has(entryPath)) {
          if (options.recursive) emittedDirectories.add(entryPath);
          // S3 keeps no time for a prefix (a listing's common prefix has none), so every
          // directory has the same one whichever way it is listed.
          collector.add(directoryEntry(entryPath));
        }
      });
    };
    let token: string | undefined;
    // S3 lists in byte order of keys, where a directory `d/` sorts after `d-x` and `d.txt`;
    // taskforge's order puts `d` first. Keys are read past the page until no later key can
    // still bring in an entry that belongs on it (see lowestPathFrom).
    const startAfter = options.after === undefined ? undefined : this.#key(options.after);
    do {
      const continuation = token;
      const response: S3Sdk.ListObjectsV2CommandOutput = await this.#call('list', path, options.signal, (abortSignal) =>
        this.#client.send(new this.#sdk.s3.ListObjectsV2Command({
          Bucket: this.#bucket,
          Prefix: directoryKey,
          MaxKeys: this.#listBatch,
          ...(options.recursive ? {} : { Delimiter: '/' }),
          ...(continuation === undefined && startAfter !== undefined && startAfter > directoryKey ? { StartAfter: startAfter } : {}),
          ...(continuation === undefined ? {} : { ContinuationToken: continuation }),
        }), { abortSignal }),
      );
      let lastKey: string | undefined;
      for (const common of response.CommonPrefixes ?? []) {
        const key = common.Prefix;
        if (key === undefined) continue;
        addKey(key, 0, new Date(0));
        if (lastKey === undefined || key > lastKey) lastKey = key;
      }
      for (const object of response.Contents ?? []) {
        const key = object.Key;
        if (key === undefined) continue;
        addKey(key, object.Size ?? 0, object.LastModified ?? new Date(0));
        if (lastKey === undefined || key > lastKey) lastKey = key;
      }
      token = response.IsTruncated === true ? response.NextContinuationToken : undefined;
      if (token !== undefined && lastKey !== undefined && collector.settledBelow(this.#pathOf(directoryKey + lowestPathFrom(lastKey.slice(directoryKey.length))))) break;
    } while (token !== undefined);
    const { items, hasMore } = collector.finish();
    const last = items.at(-1);
    return hasMore && last !== undefined ? { entries: items, cursor: encodeCursor(last.path) } : { entries: items };
  }

  async #write(path: string, body: AsyncIterable<Uint8Array>, options: WriteOptions): Promise<ObjectInfo> {
    // A refusal (what is at the path, or beforeCommit) is the write's error as it is (the upload would wrap it).
    let refusal: Error | undefined;
    const refused = new AbortController();
    const refuse = (error: unknown): never => {
      refusal = error instanceof Error ? error : new Error(String(error));
      refused.abort(refusal);
      throw refusal;
    };
    // What is at the path is checked while the body uploads: those round trips
    // overlap the parts instead of coming before them. The body's end waits for
    // the check, so a refusal commits nothing, and it stops the upload at once.
    const writable = this.#assertWritable(path, options).catch(refuse);
    writable.catch(() => undefined);
    const { beforeCommit } = options;
    const check = async (): Promise<void> => {
      await writable;
      if (beforeCommit !== undefined) await beforeCommit().catch(refuse);
    };
    const signal = AbortSignal.any([options.signal, refused.signal]);
    const target = {
      client: this.#client,
      sdk: this.#sdk.s3,
      bucket: this.#bucket,
      key: this.#key(path),
      metadata: { ...options.metadata },
      // S3 refuses the PUT (or the multipart completion) when the key exists: the check
      // above is then not the only guard, and another process cannot slip in between.
      ifNoneMatch: !options.overwrite,
      partSize: this.#partSize,
      queueSize: 2,
      commitGraceMs: this.#commitGraceMs,
    };
    try {
      await uploadObject(target, abortable(endingWithCheck(body, check), signal), signal, path);
    } catch (caught) {
      if (caught instanceof UploadNotStopped || caught instanceof CommitUnanswered) throw caught.coded;
      throwIfAborted(options.signal);
      const error = caught instanceof UploadLeft ? caught.error : caught;
      const coded = refusal ?? (statusOf(error) === 412 ? alreadyExists(path) : s3Error('write', path, error));
      // (A refusal is not coded here when it is not a TaskforgeError: it is thrown as it is.)
      throw caught instanceof UploadLeft && coded instanceof TaskforgeError ? caught.told(coded, path) : coded;
    }
    // Committed: what was stored is asked for even if the write's signal has fired (the write took place, and says so), within the grace.
    const late = graceAfter(options.signal, this.#commitGraceMs);
    let info: ObjectInfo | undefined;
    try {
      info = await this.#head(path, late.signal, 'write');
    } catch (error) {
      if (!late.signal.aborted) throw error;
      const reason = abortError(options.signal);
      throw new TaskforgeError(reason.code, `write of '${path}' failed: ${reason.message}; '${path}' was stored, but asking for what was stored had no answer within ${String(this.#commitGraceMs)} ms`, { cause: error, retryable: reason.retryable, details: { path, outcome: 'stored' } });
    } finally {
      late.dispose();
    }
    if (info === undefined) throw new TaskforgeError(ErrorCode.BACKEND_UNAVAILABLE, `write of '${path}' failed: the object was not there after its upload`);
    return info;
  }

  /** Refuses a write under a file, onto a directory, or (overwrite: false) onto an object. */
  async #assertWritable(path: string, options: WriteOptions): Promise<void> {
    const [children, existing, ancestorFile] = await Promise.all([
      this.#hasChildren(path, options.signal, 'write'),
      options.overwrite ? Promise.resolve(undefined) : this.#head(path, options.signal, 'write'),
      this.#fileAncestor(path, options.signal, 'write'),
    ]);
    if (ancestorFile !== undefined) throw notADirectory('write', path);
    if (children) throw isDirectory('write', path);
    if (existing !== undefined) throw alreadyExists(path);
  }

  /** After a miss: IS_A_DIRECTORY or NOT_A_DIRECTORY when that is why; otherwise returns. */
  async #explainMissing(path: string, signal: AbortSignal, operation: string): Promise<void> {
    if (await this.#hasChildren(path, signal, operation)) throw isDirectory(operation, path);
    if ((await this.#fileAncestor(path, signal, operation)) !== undefined) throw notADirectory(operation, path);
  }

  /** The first ancestor of `path` that is an object (a file), if any. A failed look is the operation's on `path` (named so). */
  async #fileAncestor(path: string, signal: AbortSignal, operation: string): Promise<string | undefined> {
    const segments = pathSegments(path);
    const ancestors = segments.slice(0, -1).map((_, index) => `/${segments.slice(0, index + 1).join('/')}`);
    const found = await Promise.all(ancestors.map((ancestor) => this.#head(ancestor, signal, operation, path)));
    const index = found.findIndex((info) => info !== undefined);
    return index === -1 ? undefined : ancestors[index];
  }

  /** True when a key lies below `path`: it is a directory. */
  async #hasChildren(path: string, signal: AbortSignal, operation: string): Promise<boolean> {
    const response = await this.#call(operation, path, signal, (abortSignal) =>
      this.#client.send(new this.#sdk.s3.ListObjectsV2Command({ Bucket: this.#bucket, Prefix: this.#directoryKey(path), MaxKeys: 1 }), { abortSignal }),
    );
    return (response.KeyCount ?? response.Contents?.length ?? 0) > 0;
  }

  /** The object at `path`, or undefined; an error names `named` (the path the operation is on, when `path` is one of its ancestors). */
  async #head(path: string, signal: AbortSignal, operation: string, named = path): Promise<ObjectInfo | undefined> {
    try {
      const response = await this.#client.send(new this.#sdk.s3.HeadObjectCommand({ Bucket: this.#bucket, Key: this.#key(path) }), { abortSignal: signal });
      return { size: response.ContentLength ?? 0, modifiedAt: response.LastModified ?? new Date(0), version: response.ETag ?? '', metadata: { ...response.Metadata } };
    } catch (error) {
      throwIfAborted(signal);
      if (statusOf(error) === 404) return undefined;
      throw s3Error(operation, named, error);
    }
  }

  async #deleteTree(path: string, signal: AbortSignal): Promise<void> {
    for (;;) {
      const response = await this.#call('delete', path, signal, (abortSignal) =>
        this.#client.send(new this.#sdk.s3.ListObjectsV2Command({ Bucket: this.#bucket, Prefix: this.#directoryKey(path), MaxKeys: LIST_BATCH }), { abortSignal }),
      );
      const keys = (response.Contents ?? []).flatMap((object) => (object.Key === undefined ? [] : [{ Key: object.Key }]));
      if (keys.length === 0) return;
      await this.#call('delete', path, signal, (abortSignal) =>
        this.#client.send(new this.#sdk.s3.DeleteObjectsCommand({ Bucket: this.#bucket, Delete: { Objects: keys, Quiet: true } }), { abortSignal }),
      );
    }
  }

  async #call<T>(operation: string, path: string, signal: AbortSignal, run: (abortSignal: AbortSignal) => Promise<T>): Promise<T> {
    try {
      return await run(signal);
    } catch (error) {
      throwIfAborted(signal);
      throw s3Error(operation, path, error);
    }
  }

  #key(path: string): string {
    return `${this.#prefix}${path.slice(1)}`;
  }

  /** The key prefix of everything below `path`. */
  #directoryKey(path: string): string {
    return path === ROOT_PATH ? this.#prefix : `${this.#key(path)}/`;
  }

  #pathOf(key: string): string {
    return `/${key.slice(this.#prefix.length)}`;
  }
}

/**
 * The smallest key-derived path any key at or after `key` can still add: a
 * later key `P/...` adds directory `P`, which sorts before `key` only when
 * `key` starts with `P` followed by a character below '/' (`d-x`, `d.txt`).
 */
function lowestPathFrom(key: string): string {
  for (let index = 0; index < key.length; index += 1) {
    if (key.charCodeAt(index) < 0x2f) return key.slice(0, index);
  }
  return key;
}

const NO_TIME = new Date(0).toISOString();

function directoryEntry(path: string): ListEntry {
  return { name: baseName(path), path, type: 'directory', size: 0, modifiedAt: NO_TIME };
}

/**
 * The body, whose end waits for `beforeCommit`: the upload sends its PUT (or,
 * for a multipart upload, its last part and the completion) only once the
 * body has ended, so a refusal there commits nothing.
 */
async function* endingWithCheck(body: AsyncIterable<Uint8Array>, beforeCommit: () => Promise<void>): AsyncIterable<Uint8Array> {
  yield* body;
  await beforeCommit();
}

/** A client config with an idle (socket inactivity) timeout, unless it brings a request handler of its own. */
function withIdleTimeout(config: S3Sdk.S3ClientConfig, idleTimeoutMs: number): S3Sdk.S3ClientConfig {
  return config.requestHandler === undefined ? { ...config, requestHandler: { socketTimeout: idleTimeoutMs } } : config;
}

/** `source`'s chunks; its failure is thrown as `coded` makes it. */
async function* failingAs(source: AsyncIterable<Buffer>, coded: (error: unknown) => Error): AsyncGenerator<Buffer, void, undefined> {
  try {
    yield* source;
  } catch (error) {
    throw coded(error);
  }
}
