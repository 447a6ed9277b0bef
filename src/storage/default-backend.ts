import { resolve } from 'node:path';
import type { StorageBackend } from './backend.js';
import { FileSystemBackend } from './backends/filesystem.js';

/** Where a standalone task stores objects when `TASKFORGE_STORAGE_ROOT` is unset. */
export const DEFAULT_STORAGE_ROOT = './taskforge-data';

const backendsByRoot = new Map<string, FileSystemBackend>();

/**
 * The backend of a task given none: the filesystem, rooted at
 * `TASKFORGE_STORAGE_ROOT` (read at each call) or `./taskforge-data`. Tasks
 * with the same root share one backend, and so its per-path write ordering.
 */
export function defaultBackend(): StorageBackend {
  const root = resolve(process.env['TASKFORGE_STORAGE_ROOT'] ?? DEFAULT_STORAGE_ROOT);
  let backend = backendsByRoot.get(root);
  if (backend === undefined) {
    backend = new FileSystemBackend({ root });
    backendsByRoot.set(root, backend);
  }
  return backend;
}
