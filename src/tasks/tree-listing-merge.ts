import { ErrorCode, TaskforgeError } from '../core/errors.js';
import { fromSystemError } from '../core/system-errors.js';
import type { ListEntry, ListOptions, ListPage, StorageBackend } from '../storage/backend.js';
import { comparePaths, encodeCursor } from '../storage/list-pager.js';
import { childPath, parentPath } from '../storage/storage-path.js';
import { findTree, holdsIndex, inTree, type FoundTree, type TreeAccess } from './tree-lookup.js';
import { INDEX_NAME, readIndex } from './tree-index.js';

/**
 * A page of the listing of `path` with the files of stored trees that went
 * into packs, as if each were an object at its path: the backend's entries
 * and the trees' packed files (and their folders), merged in path order,
 * each path once. The trees are the nearest one at `path` or above it and,
 * in a recursive listing, every one below it whose files fall in the page.
 * Without a tree, the backend's listing as it is. A tree whose index the
 * caller's keys cannot open is listed as its objects alone: its packed
 * files' names are not the caller's to see.
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
  // (First: a packed file at `path` is told as the file it is.)
  const ownPacked = tree === undefined ? [] : packedEntries(tree, path, options.recursive);
  let page: ListPage;
  try {
    page = await backend.list(path, { ...options, treeIndexes: options.recursive });
  } catch (error) {
    const code = fromSystemError(error, { operation: 'list', path }).code;
    // A folder only the tree's index knows of: without its keys, say so rather than that nothing is there.
    if (unopened !== undefined && code === ErrorCode.NOT_FOUND) throw unopened;
    // A folder of the tree that holds only packed files (or nothing) is no folder of the backend's.
    const known = tree?.index.get(inTree(tree.prefix, path) ?? '')?.kind === 'directory';
    if (!known || code !== ErrorCode.NOT_FOUND) throw error;
    page = { entries: [] };
  }
  // Past the backend's page, its next page may hold paths that sort first: this page ends where the backend's does.
  const lastOfBackend = page.cursor === undefined ? undefined : page.entries.at(-1)?.path;
  const below = options.recursive ? await treesBelow(backend, path, page, options.after, lastOfBackend, access) : [];
  const objects = options.recursive ? page.entries.filter((entry) => entry.name !== INDEX_NAME) : page.entries;
  if (tree === undefined && below.length === 0 && objects.length === page.entries.length) return page;
  const { after } = options;
  // (A tree stored inside another may name what the outer one names too: each path once.)
  const packed = [...ownPacked, ...below.flatMap((found) => packedEntries(found, path, true))]
    .sort((a, b) => comparePaths(a.path, b.path))
    .filter((entry, index, all) => (after === undefined || entry.path > after) && entry.path !== all[index - 1]?.path);
  const merged = mergeByPath(objects, packed);
  const settled = lastOfBackend === undefined ? merged : merged.filter((entry) => entry.path <= lastOfBackend);
  const entries = settled.slice(0, options.limit);
  if (settled.length <= options.limit && page.cursor === undefined) return { entries };
  // (A page of the backend's that held only tree indexes resumes after the last of them.)
  const resumeAfter = settled.length > options.limit ? entries.at(-1)?.path : (entries.at(-1)?.path ?? lastOfBackend);
  return resumeAfter === undefined ? { entries } : { entries, cursor: encodeCursor(resumeAfter) };
}

/**
 * The trees strictly below `path` that have packed files in this page's
 * span (after `after`, up to `last` when more pages follow): those whose
 * index the page lists, and those the page's span begins or ends inside
 * (a folder above `after` or `last`), whose index sorts on another page.
 * A tree whose index the caller's keys cannot open is left out.
 */
async function treesBelow(backend: StorageBackend, path: string, page: ListPage, after: string | undefined, last: string | undefined, access: TreeAccess): Promise<FoundTree[]> {
  const folders = new Set<string>();
  for (const entry of page.entries) {
    // (The index of the tree at `path` itself is the one found above.)
    if (entry.name === INDEX_NAME && parentPath(entry.path) !== path) folders.add(parentPath(entry.path));
  }
  const edges = [...foldersBelow(path, after), ...foldersBelow(path, last)].filter((folder) => !folders.has(folder));
  const holding = await Promise.all([...new Set(edges)].map(async (folder) => ((await holdsIndex(backend, folder, access.signal)) ? folder : undefined)));
  for (const folder of holding) if (folder !== undefined) folders.add(folder);
  const found = await Promise.all(
    [...folders].map(async (prefix): Promise<FoundTree | undefined> => {
      try {
        const { entries, encrypted } = await readIndex({ backend, prefix, options: { encryption: access.requireEncryption }, keyring: access.keyring(), signal: access.signal });
        return { prefix, index: entries, encrypted };
      } catch (error) {
        if (error instanceof TaskforgeError && error.code === ErrorCode.KEY_NOT_FOUND) return undefined;
        throw error;
      }
    }),
  );
  return found.filter((tree): tree is FoundTree => tree !== undefined);
}

/** `edge` itself (unless it is an index) and every folder above it, strictly below `path`; none without an edge. */
function foldersBelow(path: string, edge: string | undefined): string[] {
  const folders: string[] = [];
  if (edge === undefined) return folders;
  for (let folder = edge.endsWith(`/${INDEX_NAME}`) ? parentPath(edge) : edge; inTree(path, folder) !== undefined && folder !== path; folder = parentPath(folder)) folders.push(folder);
  return folders;
}

/** The tree's packed files and its folders under `path` (all, or its direct children), in path order; all of them for a tree below `path`. */
function packedEntries(tree: FoundTree, path: string, recursive: boolean): ListEntry[] {
  const base = inTree(tree.prefix, path) ?? '';
  // Where the tree's `base` is: `path`, or, for a tree below it, the tree's own folder.
  const at = inTree(path, tree.prefix) === undefined ? path : tree.prefix;
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
      const folderPath = childPath(at, below);
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
      const folderPath = childPath(at, folder);
      if (found.has(folderPath)) continue;
      const recorded = tree.index.get(base === '' ? folder : `${base}/${folder}`);
      const modifiedAt = recorded !== undefined && recorded.kind !== 'symlink' ? new Date(recorded.mtimeMs).toISOString() : entry.stored.modifiedAt;
      found.set(folderPath, { name: segments[depth - 1] ?? folder, path: folderPath, type: 'directory', size: 0, modifiedAt });
    }
    if (recursive || segments.length === 1) {
      const filePath = childPath(at, below);
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
