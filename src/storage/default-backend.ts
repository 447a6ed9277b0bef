import { resolve } from 'node:path';
import { TaskforgeError } from '../core/errors.js';
import type { StorageBackend } from './backend.js';
import { FileSystemBackend } from './backends/filesystem.js';
import { backendFromUrl } from './storage-url.js';

/** Where a standalone task stores objects when `TASKFORGE_STORAGE_ROOT` is unset. */
export const DEFAULT_STORAGE_ROOT = './taskforge-data';

const backendsByLocation = new Map<string, StorageBackend>();

/**
 * The backend of a task given none: the one `TASKFORGE_STORAGE` names
 * (`s3://bucket/prefix?endpoint=...`), else the filesystem rooted at
 * `TASKFORGE_STORAGE_ROOT` or `./taskforge-data`; both read at each call.
 * Tasks with the same location share one backend, and so its per-path
 * write ordering. A malformed `TASKFORGE_STORAGE` does not throw here (a
 * task constructor never throws): every operation fails with its
 * VALIDATION_ERROR instead.
 */
export function defaultBackend(): StorageBackend {
  const url = process.env['TASKFORGE_STORAGE'];
  const location = url !== undefined && url !== '' ? url : `file:${resolve(process.env['TASKFORGE_STORAGE_ROOT'] ?? DEFAULT_STORAGE_ROOT)}`;
  let backend = backendsByLocation.get(location);
  if (backend === undefined) {
    backend = location.startsWith('file:') ? new FileSystemBackend({ root: location.slice('file:'.length) }) : backendOrFailure(location);
    backendsByLocation.set(location, backend);
  }
  return backend;
}

function backendOrFailure(url: string): StorageBackend {
  try {
    return backendFromUrl(url);
  } catch (error) {
    if (!(error instanceof TaskforgeError)) throw error;
    const fail = (): Promise<never> => Promise.reject(error);
    return { name: 'invalid:TASKFORGE_STORAGE', stat: fail, read: fail, write: fail, delete: fail, list: fail };
  }
}
