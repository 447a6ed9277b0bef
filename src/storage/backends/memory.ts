import { isListedName } from '../storage-name.js';
import { Readable } from 'node:stream';
import { abortable, throwIfAborted } from '../../core/abort.js';
import { ErrorCode, TaskforgeError } from '../../core/errors.js';
import type { ListEntry, ListOptions, ListPage, ObjectInfo, ObjectMetadata, OpenedObject, StorageBackend, WriteOptions } from '../backend.js';
import { encodeCursor, PageCollector } from '../list-pager.js';
import { baseName, childPath, pathSegments, ROOT_PATH } from '../storage-path.js';
import { alreadyExists, isDirectory, notADirectory, notFound } from './tree-errors.js';

/** Options of {@link MemoryBackend}. */
export interface MemoryBackendOptions {
  /** A name to tell several memory backends apart in logs and cache keys. Default: a counter. */
  readonly name?: string;
}

interface FileNode {
  readonly kind: 'file';
  readonly bytes: Buffer;
  readonly metadata: ObjectMetadata;
  readonly modifiedAt: Date;
  readonly version: number;
}

interface DirectoryNode {
  readonly kind: 'directory';
  readonly children: Map<string, FileNode | DirectoryNode>;
  modifiedAt: Date;
}

type Node = FileNode | DirectoryNode;

let instances = 0;

/**
 * A backend that keeps objects in this process's memory: for tests, caches
 * and short-lived work. It has the filesystem's tree semantics (directories
 * exist, a file cannot have children), so code moves between the two unchanged.
 */
export class MemoryBackend implements StorageBackend {
  readonly name: string;
  /** Each instance is its own store, whatever its name. */
  readonly identity: string;
  readonly #root: DirectoryNode = { kind: 'directory', children: new Map(), modifiedAt: new Date() };
  #versions = 0;

  constructor(options: MemoryBackendOptions = {}) {
    instances += 1;
    this.name = `memory:${options.name ?? String(instances)}`;
    this.identity = `memory#${String(instances)}`;
  }

  stat(path: string): Promise<ObjectInfo | undefined> {
    const node = this.#find(path, 'stat');
    if (node === undefined) return Promise.resolve(undefined);
    return Promise.resolve(infoOf(requireFile(node, path, 'stat')));
  }

  read(path: string): Promise<OpenedObject> {
    const node = this.#find(path, 'read');
    if (node === undefined) return Promise.reject(notFound('read', path));
    const file = requireFile(node, path, 'read');
    // A copy, so a caller that changes what it read cannot change what is stored.
    return Promise.resolve({ info: infoOf(file), body: Readable.from([Buffer.from(file.bytes)]) });
  }

  async write(path: string, body: AsyncIterable<Uint8Array>, options: WriteOptions): Promise<ObjectInfo> {
    if (path === ROOT_PATH) throw isDirectory('write', path);
    const chunks: Buffer[] = [];
    let size = 0;
    for await (const chunk of abortable(body, options.signal)) {
      chunks.push(Buffer.from(chunk));
      size += chunk.byteLength;
    }
    throwIfAborted(options.signal);
    await options.beforeCommit?.();
    // Nothing is visible until here, and from here on (synchronous) nothing can fail half-way.
    throwIfAborted(options.signal);
    const parent = this.#directoryFor(path, 'write', true);
    const name = baseName(path);
    const existing = parent.children.get(name);
    if (existing?.kind === 'directory') throw isDirectory('write', path);
    if (existing !== undefined && !options.overwrite) {
      throw alreadyExists(path);
    }
    this.#versions += 1;
    const file: FileNode = {
      kind: 'file',
      bytes: Buffer.concat(chunks, size),
      metadata: { ...options.metadata },
      modifiedAt: new Date(),
      version: this.#versions,
    };
    parent.children.set(name, file);
    parent.modifiedAt = file.modifiedAt;
    return infoOf(file);
  }

  delete(path: string, options: { readonly signal: AbortSignal; readonly recursive: boolean }): Promise<{ deleted: boolean }> {
    throwIfAborted(options.signal);
    const node = this.#find(path, 'delete');
    if (node === undefined) return Promise.resolve({ deleted: false });
    if (node.kind === 'directory' && !options.recursive) return Promise.reject(isDirectory('delete', path, ' (use recursive to remove it)'));
    const parent = this.#directoryFor(path, 'delete', false);
    parent.children.delete(baseName(path));
    parent.modifiedAt = new Date();
    return Promise.resolve({ deleted: true });
  }

  list(path: string, options: ListOptions): Promise<ListPage> {
    throwIfAborted(options.signal);
    const node = this.#find(path, 'list');
    if (node === undefined) {
      return path === ROOT_PATH ? Promise.resolve({ entries: [] }) : Promise.reject(notFound('list', path));
    }
    if (node.kind === 'file') {
      return Promise.reject(new TaskforgeError(ErrorCode.NOT_A_DIRECTORY, `list of '${path}' failed: it is a file, not a directory`, { details: { path } }));
    }
    const collector = new PageCollector<ListEntry>(options.limit, options.after);
    const walk = (directory: DirectoryNode, directoryPath: string): void => {
      for (const [name, child] of directory.children) {
        // Names taskforge reserves (a tree's index and packs) are listed by no backend, but an index when asked.
        if (!isListedName(name, options.recursive && options.treeIndexes && child.kind === 'file')) continue;
        const entryPath = childPath(directoryPath, name);
        collector.add(entryOf(name, entryPath, child));
        if (child.kind === 'directory' && options.recursive && collector.wantsDescendantsOf(entryPath)) walk(child, entryPath);
      }
    };
    walk(node, path);
    const { items, hasMore } = collector.finish();
    const last = items.at(-1);
    return Promise.resolve(hasMore && last !== undefined ? { entries: items, cursor: encodeCursor(last.path) } : { entries: items });
  }

  /** The node at `path`, or undefined when nothing is there. */
  #find(path: string, operation: string): Node | undefined {
    let node: Node = this.#root;
    for (const segment of pathSegments(path)) {
      if (node.kind === 'file') throw notADirectory(operation, path);
      const next = node.children.get(segment);
      if (next === undefined) return undefined;
      node = next;
    }
    return node;
  }

  /** The parent directory of `path`, created on the way when `create` is set. */
  #directoryFor(path: string, operation: string, create: boolean): DirectoryNode {
    let directory = this.#root;
    for (const segment of pathSegments(path).slice(0, -1)) {
      let next = directory.children.get(segment);
      if (next === undefined) {
        if (!create) throw notFound(operation, path);
        next = { kind: 'directory', children: new Map(), modifiedAt: new Date() };
        directory.children.set(segment, next);
      }
      if (next.kind === 'file') throw notADirectory(operation, path);
      directory = next;
    }
    return directory;
  }
}

function infoOf(file: FileNode): ObjectInfo {
  return { size: file.bytes.byteLength, modifiedAt: file.modifiedAt, version: String(file.version), metadata: file.metadata };
}

function entryOf(name: string, path: string, node: Node): ListEntry {
  const size = node.kind === 'file' ? node.bytes.byteLength : 0;
  return { name, path, type: node.kind, size, modifiedAt: node.modifiedAt.toISOString() };
}

function requireFile(node: Node, path: string, operation: string): FileNode {
  if (node.kind === 'directory') throw isDirectory(operation, path);
  return node;
}
