import { ErrorCode, TaskforgeError } from '../core/errors.js';
import { fromSystemError } from '../core/system-errors.js';
import { encodingPlan, withAvailableCompression } from './storage-task-prepare.js';
import { wantsEncryption, type StorageOptions } from './storage-task-config.js';
import type { StorageBackend } from '../storage/backend.js';
import { encodeContainer } from '../storage/codec/encoder.js';
import type { Keyring } from '../storage/codec/keyring.js';
import { collectBytes, metadataFor, toByteSource } from '../storage/content.js';
import { decodeStoredObject } from '../storage/object-reader.js';
import { childPath, RESERVED_PREFIX, TREE_INDEX_NAME } from '../storage/storage-path.js';
import type { PackRef } from './pack-piece.js';

export type { PackRef } from './pack-piece.js';

/** What a tree's index records of one entry, by its path relative to the tree. */
export type IndexEntry =
  /**
   * A file as it was when stored (its size, mtime and mode), and the object
   * it was stored as (its stored size and time): an object of its own at its
   * path, or, with `pack`, a piece of a pack.
   */
  | {
      readonly kind: 'file';
      readonly size: number;
      readonly mtimeMs: number;
      readonly mode: number;
      readonly stored: { readonly size: number; readonly modifiedAt: string };
      readonly pack?: PackRef;
    }
  | { readonly kind: 'directory'; readonly mtimeMs: number; readonly mode: number }
  | { readonly kind: 'symlink'; readonly target: string; /** The link's own mtime (indexes written before it was kept have none). */ readonly mtimeMs?: number };

/** The index of a stored tree: every entry of it, so that a second run reads no unchanged file and a restore puts back modes, times and links. */
export interface TreeIndexFile {
  readonly version: 1;
  readonly entries: Readonly<Record<string, IndexEntry>>;
}

/** The index's name inside the tree's prefix: reserved, so no stored file can take it, and listings leave it out (unless asked). */
export const INDEX_NAME = TREE_INDEX_NAME;

/** Names of packs in a tree's prefix: reserved too. */
export const PACK_PREFIX = `${RESERVED_PREFIX}pack-`;

/** Where the index of the tree at `prefix` lives. */
export function indexPath(prefix: string): string {
  return childPath(prefix, INDEX_NAME);
}

/** How the index is read and written: the tree's own options (an encrypted tree has an encrypted index), and the keys. */
export interface IndexAccess {
  readonly backend: StorageBackend;
  readonly prefix: string;
  readonly options: Pick<StorageOptions, 'compression' | 'encryption'>;
  readonly keyring: Keyring | undefined;
  readonly signal: AbortSignal;
}

/** The tree's index, or an empty one when the tree has none yet. A damaged one, or one the keys cannot open, is an error: guessing would store or restore the wrong thing. */
export async function loadIndex(access: IndexAccess): Promise<Map<string, IndexEntry>> {
  return (await readIndex(access)).entries;
}

/** The tree's index, and whether it is stored encrypted (false when there is none). */
export async function readIndex(access: IndexAccess): Promise<{ readonly entries: Map<string, IndexEntry>; readonly encrypted: boolean }> {
  const path = indexPath(access.prefix);
  let opened;
  try {
    opened = await access.backend.read(path, { signal: access.signal });
  } catch (error) {
    const coded = fromSystemError(error, { operation: 'read', path });
    if (coded.code === ErrorCode.NOT_FOUND) return { entries: new Map(), encrypted: false };
    // Said of the tree's path, not of the index file under it (a name of taskforge's own the user never gave).
    if (coded.code === ErrorCode.NOT_A_DIRECTORY) {
      throw new TaskforgeError(ErrorCode.NOT_A_DIRECTORY, `'${access.prefix}' (or a folder above it) is a file: a tree is stored under a folder, and read from one`, { cause: error, details: { path: access.prefix } });
    }
    throw coded;
  }
  const decoded = await decodeStoredObject({ metadata: opened.info.metadata, body: opened.body }, { path, requireEncryption: wantsEncryption(access.options), keyring: () => access.keyring });
  const text = (await collectBytes(decoded.body, access.signal)).toString('utf8');
  let parsed: unknown;
  try {
    parsed = JSON.parse(text);
  } catch (error) {
    throw damaged(path, 'it is not JSON', error);
  }
  if (!isIndexFile(parsed)) throw damaged(path, 'it is not a version 1 tree index');
  return { entries: new Map(Object.entries(parsed.entries)), encrypted: decoded.encrypted };
}

/** Stores the index whole, atomically, encoded as the tree's objects are. */
export async function saveIndex(access: IndexAccess, entries: ReadonlyMap<string, IndexEntry>): Promise<void> {
  const path = indexPath(access.prefix);
  const file: TreeIndexFile = { version: 1, entries: Object.fromEntries([...entries].sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0))) };
  const bytes = Buffer.from(JSON.stringify(file), 'utf8');
  const plan = encodingPlan(access.options, path, { keyring: () => access.keyring }, 'tree index');
  const source = toByteSource(bytes, path).body;
  const body = plan === undefined ? source : encodeContainer(source, { kind: 'json', path, ...(await withAvailableCompression(plan)) });
  try {
    await access.backend.write(path, body, { signal: access.signal, overwrite: true, metadata: plan === undefined ? metadataFor('json') : {} });
  } catch (error) {
    throw fromSystemError(error, { operation: 'write', path });
  }
}

function isIndexFile(value: unknown): value is TreeIndexFile {
  if (value === null || typeof value !== 'object') return false;
  const { version, entries } = value as { version?: unknown; entries?: unknown };
  if (version !== 1 || entries === null || typeof entries !== 'object' || Array.isArray(entries)) return false;
  return Object.values(entries as Record<string, unknown>).every(isIndexEntry);
}

function isIndexEntry(value: unknown): boolean {
  if (value === null || typeof value !== 'object') return false;
  const entry = value as Record<string, unknown>;
  if (entry['kind'] === 'symlink') return typeof entry['target'] === 'string' && (entry['mtimeMs'] === undefined || isTime(entry['mtimeMs']));
  const timed = isTime(entry['mtimeMs']) && isMode(entry['mode']);
  if (entry['kind'] === 'directory') return timed;
  const stored = entry['stored'] as Record<string, unknown> | undefined;
  return entry['kind'] === 'file' && timed && typeof entry['size'] === 'number' && typeof stored?.['size'] === 'number' && typeof stored['modifiedAt'] === 'string' && (entry['pack'] === undefined || isPackRef(entry['pack']));
}

function isPackRef(value: unknown): boolean {
  if (value === null || typeof value !== 'object') return false;
  const { name, offset, length } = value as Record<string, unknown>;
  return typeof name === 'string' && name.startsWith(PACK_PREFIX) && /^[0-9a-f]+$/.test(name.slice(PACK_PREFIX.length)) && isCount(offset) && isCount(length);
}

function isTime(value: unknown): boolean {
  return typeof value === 'number' && Number.isFinite(value);
}

/** Permission bits (setuid, setgid and sticky included), never a file type's: what a restore may chmod. */
function isMode(value: unknown): boolean {
  return typeof value === 'number' && Number.isInteger(value) && value >= 0 && value <= 0o7777;
}

function isCount(value: unknown): boolean {
  return typeof value === 'number' && Number.isSafeInteger(value) && value >= 0;
}

function damaged(path: string, why: string, cause?: unknown): TaskforgeError {
  return new TaskforgeError(ErrorCode.INTEGRITY_ERROR, `the tree index '${path}' cannot be used: ${why}`, { details: { path }, ...(cause === undefined ? {} : { cause }) });
}
