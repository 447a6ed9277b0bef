import { Readable } from 'node:stream';
import { ErrorCode, TaskforgeError } from '../core/errors.js';
import { fromSystemError } from '../core/system-errors.js';
import type { OpenedObject, StorageBackend } from '../storage/backend.js';
import type { Keyring } from '../storage/codec/keyring.js';
import { collectBytes } from '../storage/content.js';
import { isDirectory } from '../storage/backends/tree-errors.js';
import { childPath, parentPath, ROOT_PATH } from '../storage/storage-path.js';
import { indexPath, readIndex, type IndexEntry } from './tree-index.js';
import { packPiece } from './pack-piece.js';

/** A pack's bytes, read whole; NOT_FOUND naming the index's claim when it is gone. */
export async function readPack(backend: StorageBackend, prefix: string, name: string, signal: AbortSignal): Promise<{ bytes: Buffer; version: string }> {
  const path = childPath(prefix, name);
  try {
    const opened = await backend.read(path, { signal, whole: true });
    return { bytes: opened.bytes ?? (await collectBytes(opened.body, signal)), version: opened.info.version };
  } catch (error) {
    const coded = fromSystemError(error, { operation: 'read', path });
    if (coded.code !== ErrorCode.NOT_FOUND) throw coded;
    throw new TaskforgeError(ErrorCode.NOT_FOUND, `the pack '${path}' that the tree index names is missing`, { details: { path } });
  }
}

/** How a tree's index is opened: with the caller's keys, and refused unencrypted when the caller requires encryption. */
export interface TreeAccess {
  readonly keyring: () => Keyring | undefined;
  readonly requireEncryption: boolean;
  readonly signal: AbortSignal;
}

/** A stored tree: where its index is, and what it records, by path relative to `prefix`. */
export interface FoundTree {
  readonly prefix: string;
  readonly index: ReadonlyMap<string, IndexEntry>;
  /** Its index is stored encrypted: so must every object and pack of it be (a plain one put in place is a downgrade). */
  readonly encrypted: boolean;
}

/**
 * The nearest stored tree at `path` or above it (from `path`'s parent
 * with `above`), or undefined: one lookup of an index name per folder on
 * the way up, all at once (see treeFolder), and the index, read whole, of
 * the nearest one found.
 */
export async function findTree(backend: StorageBackend, path: string, access: TreeAccess, above = false): Promise<FoundTree | undefined> {
  const prefix = await treeFolder(backend, path, access.signal, above);
  if (prefix === undefined) return undefined;
  const { entries, encrypted } = await readIndex({ backend, prefix, options: { encryption: access.requireEncryption }, keyring: access.keyring(), signal: access.signal });
  return { prefix, index: entries, encrypted };
}

/**
 * The nearest folder at `path` or above it (from its parent with `above`)
 * that holds a tree's index, or undefined. Every folder on the way is
 * looked at at once, not one after another: on S3 each look is a request.
 */
export async function treeFolder(backend: StorageBackend, path: string, signal: AbortSignal, above = false): Promise<string | undefined> {
  const folders: string[] = [];
  for (let prefix = above ? parentOf(path) : path; prefix !== undefined; prefix = parentOf(prefix)) folders.push(prefix);
  const found = await Promise.all(folders.map((prefix) => holdsIndex(backend, prefix, signal)));
  return folders[found.indexOf(true)];
}

/** Whether `folder` holds a tree's index (a file, or a folder that cannot be looked into, holds none; a stop is a stop). */
export async function holdsIndex(backend: StorageBackend, folder: string, signal: AbortSignal): Promise<boolean> {
  try {
    return (await backend.stat(indexPath(folder), { signal })) !== undefined;
  } catch (error) {
    if (signal.aborted) throw error;
    return false;
  }
}


/** `path` relative to the tree at `prefix` ('' for the tree itself); undefined when it is not in it. */
export function inTree(prefix: string, path: string): string | undefined {
  if (path === prefix) return '';
  if (prefix === ROOT_PATH) return path.slice(1);
  return path.startsWith(`${prefix}/`) ? path.slice(prefix.length + 1) : undefined;
}

/**
 * A file of a stored tree that lives in a pack, opened as its own object
 * would be (its container, decoded by the caller as any object is), or
 * undefined when the nearest tree above `path` does not hold it in a pack.
 * Asked only once `path` itself is not found: a file written by
 * `write --recursive` is read at its path whether it went into a pack or
 * not. Its pack is read whole.
 */
export async function openPackedFile(backend: StorageBackend, path: string, access: TreeAccess): Promise<OpenedObject | undefined> {
  const tree = await findTree(backend, path, access, true);
  if (tree === undefined) return undefined;
  const entry = tree.index.get(inTree(tree.prefix, path) ?? '');
  // A folder of the tree holding only packed files is no folder of the backend's: a read of it is told what it is, as any folder's.
  if (entry?.kind === 'directory') throw isDirectory('read', path);
  if (entry?.kind !== 'file' || entry.pack === undefined) return undefined;
  const pack = await readPack(backend, tree.prefix, entry.pack.name, access.signal);
  const piece = packPiece(pack.bytes, entry.pack, path);
  return {
    info: { size: piece.byteLength, modifiedAt: new Date(entry.stored.modifiedAt), version: `${pack.version}@${String(entry.pack.offset)}`, metadata: {} },
    body: Readable.from([piece]),
    bytes: piece,
    ...(tree.encrypted ? { mustBeEncrypted: true } : {}),
  };
}

/** The folder `path` is in; undefined above the root. */
function parentOf(path: string): string | undefined {
  return path === ROOT_PATH ? undefined : parentPath(path);
}
