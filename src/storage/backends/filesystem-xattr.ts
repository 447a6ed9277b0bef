import { errnoOf } from '../../core/system-errors.js';
import type { ObjectMetadata } from '../backend.js';

/** The extended attribute that holds an object's metadata, as JSON, on its own file. */
export const METADATA_ATTRIBUTE = 'user.taskforge.metadata';

/** The part of fs-xattr taskforge uses. */
interface XattrModule {
  getAttribute(path: string, attribute: string): Promise<Buffer>;
  getAttributeSync(path: string, attribute: string): Buffer;
  setAttributeSync(path: string, attribute: string, value: Buffer | string): void;
}

/** Loads fs-xattr; undefined where the optional package is missing or did not build. */
export type XattrLoader = () => Promise<XattrModule | undefined>;

let loading: Promise<XattrModule | undefined> | undefined;

/** fs-xattr, loaded on the first write or read of a filesystem object, once per process. */
export const loadXattr: XattrLoader = () => {
  loading ??= import('fs-xattr').then(
    (module) => module as XattrModule,
    () => undefined,
  );
  return loading;
};

/** Errors that say this file system takes no user extended attributes at all. */
const UNSUPPORTED = new Set(['ENOTSUP', 'EOPNOTSUPP', 'ENOSYS']);
/** Errors that say this one attribute cannot be set (too large, no room in the inode's block, refused): its metadata goes elsewhere. */
const REFUSED = new Set(['E2BIG', 'ENOSPC', 'ERANGE', 'EPERM', 'EACCES']);

/**
 * Object metadata in an extended attribute of the object's own file: it is
 * bound to that file (a rename carries it, a replacement drops it), it is
 * made durable by the fsync the object takes anyway, and it costs no second
 * file. Where the package or the file system cannot hold it, the answer says
 * so and the caller uses a sidecar file instead.
 */
export class MetadataAttributes {
  readonly #load: XattrLoader;
  /** Learnt from the first refusal: this root takes no extended attributes, so none is tried again. */
  #unsupported = false;
  /** Whether /proc/self/fd can name an open file; learnt false from the first ENOENT. */
  #procMounted = true;

  constructor(load: XattrLoader = loadXattr) {
    this.#load = load;
  }

  /**
   * Records `metadata` on the file at `hostPath` (before it is synced, so its
   * sync makes the attribute durable with the bytes). False when the
   * attribute could not be set here: the caller keeps the metadata elsewhere.
   */
  async record(hostPath: string, metadata: ObjectMetadata): Promise<boolean> {
    const xattr = this.#unsupported ? undefined : await this.#load();
    if (xattr === undefined) return false;
    try {
      // Synchronously: on a file just created the set is a change in memory (the
      // caller's fsync writes it out), far cheaper than a trip through the thread pool.
      xattr.setAttributeSync(hostPath, METADATA_ATTRIBUTE, JSON.stringify(metadata));
      return true;
    } catch (error) {
      const errno = errnoOf(error) ?? '';
      if (UNSUPPORTED.has(errno)) this.#unsupported = true;
      else if (!REFUSED.has(errno)) throw error;
      return false;
    }
  }

  /**
   * The metadata recorded on a file, or undefined when it has none (written
   * before attributes were used, by another program, or where they are not
   * supported). An open descriptor is read through /proc on Linux, so the
   * answer is that of the file opened, even if the path was replaced since.
   */
  async read(hostPath: string, fd?: number): Promise<ObjectMetadata | undefined> {
    const xattr = this.#unsupported ? undefined : await this.#load();
    if (xattr === undefined) return undefined;
    const throughDescriptor = fd !== undefined && process.platform === 'linux' && this.#procMounted;
    let value: Buffer;
    try {
      // Through an open descriptor the inode is in memory: a synchronous read is cheaper than a trip through the thread pool.
      value = throughDescriptor ? xattr.getAttributeSync(`/proc/self/fd/${String(fd)}`, METADATA_ATTRIBUTE) : await xattr.getAttribute(hostPath, METADATA_ATTRIBUTE);
    } catch (error) {
      const errno = errnoOf(error);
      if (throughDescriptor && errno === 'ENOENT') {
        // No /proc here (some containers): the path, as on other systems.
        this.#procMounted = false;
        return this.read(hostPath);
      }
      if (errno === 'ENODATA' || errno === 'ENOATTR') return undefined;
      if (UNSUPPORTED.has(errno ?? '')) {
        this.#unsupported = true;
        return undefined;
      }
      throw error;
    }
    return parseMetadata(value);
  }
}

/** The attribute's JSON as metadata; a damaged value only loses the content kind, as a damaged sidecar does. */
function parseMetadata(value: Buffer): ObjectMetadata {
  try {
    const parsed = JSON.parse(value.toString('utf8')) as unknown;
    if (typeof parsed !== 'object' || parsed === null || Array.isArray(parsed)) return {};
    return Object.fromEntries(Object.entries(parsed).filter((entry): entry is [string, string] => typeof entry[1] === 'string'));
  } catch {
    return {};
  }
}
