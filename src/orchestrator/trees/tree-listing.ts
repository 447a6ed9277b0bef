import { ErrorCode } from '../../core/errors.js';
import { fromSystemError } from '../../core/system-errors.js';
import type { StorageBackend } from '../../storage/backend.js';
import { ROOT_PATH, TREE_INDEX_NAME } from '../../storage/storage-path.js';
import { MAX_LIST_LIMIT } from '../../tasks/storage-task-config.js';

/** What a listing says of a stored object of a tree. */
export interface StoredObject {
  readonly size: number;
}

/**
 * Entries a listing page asks for: the most a list takes. Each page of the
 * filesystem backend walks the whole tree again to find what follows its
 * cursor, so small pages cost a walk each (20 walks for 100,000 files at
 * 5,000); the map built here holds every object anyway, as the index does.
 */
const PAGE = MAX_LIST_LIMIT;

/** Every object stored under `prefix`, by its path relative to it; none when nothing is there. One listing, page by page. */
export async function listStored(backend: StorageBackend, prefix: string, signal: AbortSignal): Promise<Map<string, StoredObject>> {
  return (await listStoredAndTrees(backend, prefix, signal, false)).objects;
}

/** What is stored under a prefix: its objects, and the folders (below it) that hold a tree's index, by their paths relative to it. */
export interface StoredUnder {
  readonly objects: Map<string, StoredObject>;
  readonly treeFolders: string[];
}

/** Every object stored under `prefix` and, with `treeIndexes`, every folder below it that holds a tree's index. One listing, page by page. */
export async function listStoredAndTrees(backend: StorageBackend, prefix: string, signal: AbortSignal, treeIndexes = true): Promise<StoredUnder> {
  const objects = new Map<string, StoredObject>();
  const treeFolders: string[] = [];
  const skip = prefix === ROOT_PATH ? 1 : prefix.length + 1;
  let after: string | undefined;
  for (;;) {
    if (signal.aborted) return { objects, treeFolders };
    // The backend's own listing: its objects, not the files a tree keeps in packs.
    let page;
    try {
      page = await backend.list(prefix, { signal, recursive: true, limit: PAGE, treeIndexes, ...(after === undefined ? {} : { after }) });
    } catch (error) {
      const coded = fromSystemError(error, { operation: 'list', path: prefix });
      if (coded.code === ErrorCode.NOT_FOUND) return { objects, treeFolders };
      throw coded;
    }
    for (const entry of page.entries) {
      if (entry.type !== 'file') continue;
      const relative = entry.path.slice(skip);
      if (entry.name !== TREE_INDEX_NAME) objects.set(relative, { size: entry.size });
      else if (relative !== entry.name) treeFolders.push(relative.slice(0, -entry.name.length - 1));
    }
    if (page.cursor === undefined) return { objects, treeFolders };
    after = page.entries.at(-1)?.path;
  }
}
