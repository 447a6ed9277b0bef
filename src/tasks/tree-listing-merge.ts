import { ErrorCode, TaskforgeError } from '../core/errors.js';
import { fromSystemError } from '../core/system-errors.js';
import type { ListEntry, ListOptions, ListPage, StorageBackend } from '../storage/backend.js';
import { comparePaths, encodeCursor } from '../storage/list-pager.js';
import { childPath } from '../storage/storage-path.js';
import { findTree, inTree, type FoundTree, type TreeAccess } from './tree-lookup.js';

/**
 * A page of the listing of `path` with the files of a stored tree that
 * went into packs, as if each were an object at its path: the backend's
 * entries and the tree's packed files (and their folders), merged in path
 * order, each path once. Without a tree at `path` or above, the backend's
 * listing as it is. A tree whose index the caller's keys cannot open is
 * listed as its objects alone: its packed files' names are not the
 * caller's to see.
 */
export async function listWithTrees(backend: StorageBackend, path: string, options: ListOptions, access: TreeAccess): Promise<ListPage> {
  let tree: FoundTree | undefined;
  let unopened: TaskforgeError | undefined;
  try {
    tree = await findTree(backend, path, access);
  } catch (error) {
    if (!(error instanceof TaskforgeError && error.code === ErrorCode.KEY_NOT_FOUND)) throw error;
    unopened = error;
  }
  if (tree === undefined) {
    try {
      return await backend.list(path, options);
    } catch (error) {
      // A folder only the tree's index knows of: without its keys, say so rather than that nothing is there.
      if (unopened !== undefined && fromSystemError(error, { operation: 'list', path }).code === ErrorCode.NOT_FOUND) throw unopened;
      throw error;
    }
  }
  const packed = packedEntries(tree, path, options.recursive);
  let page: ListPage;
  try {
    page = await backend.list(path, options);
  } catch (error) {
    // A folder of the tree that holds only packed files (or nothing) is no folder of the backend's.
    const known = tree.index.get(inTree(tree.prefix, path) ?? '')?.kind === 'directory';
    if (!known || fromSystemError(error, { operation: 'list', path }).code !== ErrorCode.NOT_FOUND) throw error;
    page = { entries: [] };
  }
  const { after } = options;
  const merged = mergeByPath(page.entries, after === undefined ? packed : packed.filter((entry) => entry.path > after));
  // Past the backend's page, its next page may hold paths that sort first: this page ends where the backend's does.
  const lastOfBackend = page.cursor === undefined ? undefined : page.entries.at(-1)?.path;
  const settled = lastOfBackend === undefined ? merged : merged.filter((entry) => entry.path <= lastOfBackend);
  const entries = settled.slice(0, options.limit);
  const last = entries.at(-1);
  return (settled.length > options.limit || page.cursor !== undefined) && last !== undefined ? { entries, cursor: encodeCursor(last.path) } : { entries };
}

/** The tree's packed files and its folders under `path` (all, or its direct children), in path order. */
function packedEntries(tree: FoundTree, path: string, recursive: boolean): ListEntry[] {
  const base = inTree(tree.prefix, path) ?? '';
  const own = tree.index.get(base);
  if (base !== '' && own?.kind === 'file' && own.pack !== undefined) {
    throw new TaskforgeError(ErrorCode.NOT_A_DIRECTORY, `list of '${path}' failed: it is a file, not a directory`, { details: { path } });
  }
  const found = new Map<string, ListEntry>();
  for (const [relative, entry] of tree.index) {
    // A folder of the tree, empty or not, is listed as the backend would list it had it been made there.
    if (entry.kind === 'directory') {
      const below = base === '' ? relative : relative.startsWith(`${base}/`) ? relative.slice(base.length + 1) : undefined;
      if (below === undefined || below === '' || (!recursive && below.includes('/'))) continue;
      const folderPath = childPath(path, below);
      found.set(folderPath, { name: below.slice(below.lastIndexOf('/') + 1), path: folderPath, type: 'directory', size: 0, modifiedAt: new Date(entry.mtimeMs).toISOString() });
      continue;
    }
    if (entry.kind !== 'file' || entry.pack === undefined) continue;
    const below = base === '' ? relative : relative.startsWith(`${base}/`) ? relative.slice(base.length + 1) : undefined;
    if (below === undefined || below === '') continue;
    const segments = below.split('/');
    const folders = recursive ? segments.length - 1 : Math.min(1, segments.length - 1);
    for (let depth = 1; depth <= folders; depth += 1) {
      const folder = segments.slice(0, depth).join('/');
      const folderPath = childPath(path, folder);
      if (found.has(folderPath)) continue;
      const recorded = tree.index.get(base === '' ? folder : `${base}/${folder}`);
      const modifiedAt = recorded !== undefined && recorded.kind !== 'symlink' ? new Date(recorded.mtimeMs).toISOString() : entry.stored.modifiedAt;
      found.set(folderPath, { name: segments[depth - 1] ?? folder, path: folderPath, type: 'directory', size: 0, modifiedAt });
    }
    if (recursive || segments.length === 1) {
      const filePath = childPath(path, below);
      found.set(filePath, { name: segments.at(-1) ?? below, path: filePath, type: 'file', size: entry.stored.size, modifiedAt: entry.stored.modifiedAt });
    }
  }
  return [...found.values()].sort((a, b) => comparePaths(a.path, b.path));
}

/** Two lists in path order as one, each path once (the backend's entry where both have it). */
function mergeByPath(backend: readonly ListEntry[], packed: readonly ListEntry[]): ListEntry[] {
  const merged: ListEntry[] = [];
  let i = 0;
  let j = 0;
  while (i < backend.length || j < packed.length) {
    const a = backend[i];
    const b = packed[j];
    if (a !== undefined && (b === undefined || comparePaths(a.path, b.path) <= 0)) {
      merged.push(a);
      i += 1;
      if (b?.path === a.path) j += 1;
    } else if (b !== undefined) {
      merged.push(b);
      j += 1;
    }
  }
  return merged;
}
