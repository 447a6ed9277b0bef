import { mkdirSync, statSync } from 'node:fs';
import { mkdir, stat } from 'node:fs/promises';
import { dirname } from 'node:path';
import { errnoOf } from './system-errors.js';

/**
 * Makes `folder` and the folders above it that are missing, one at a time;
 * resolves true when it made `folder` itself. Not Node's recursive mkdir,
 * which never returns where mkdir answers ENOENT under a folder that exists
 * (a path in /proc): a command told to store there spun for ever. A
 * failure is the system's error, for the caller to name; a file where a
 * folder must be is ENOTDIR, as mkdir says it.
 */
export async function makeFolders(folder: string): Promise<boolean> {
  const missing: string[] = [];
  for (let at = folder; ; at = dirname(at)) {
    // (Links followed: a folder reached through one is a folder.)
    const found = await stat(at).catch((error: unknown) => {
      if (errnoOf(error) !== 'ENOENT') throw error;
      return undefined;
    });
    if (found !== undefined && !found.isDirectory()) throw notAFolder(at);
    if (found !== undefined || dirname(at) === at) break;
    missing.push(at);
  }
  for (const missingFolder of missing.reverse()) {
    await mkdir(missingFolder).catch((error: unknown) => {
      if (errnoOf(error) !== 'EEXIST') throw error;
    });
  }
  return missing.length > 0;
}

/** {@link makeFolders}, on this thread. */
export function makeFoldersSync(folder: string): boolean {
  const missing: string[] = [];
  for (let at = folder; ; at = dirname(at)) {
    let found = true;
    try {
      if (!statSync(at).isDirectory()) throw notAFolder(at);
    } catch (error) {
      if (errnoOf(error) !== 'ENOENT') throw error;
      found = false;
    }
    if (found || dirname(at) === at) break;
    missing.push(at);
  }
  for (const missingFolder of missing.reverse()) {
    try {
      mkdirSync(missingFolder);
    } catch (error) {
      if (errnoOf(error) !== 'EEXIST') throw error;
    }
  }
  return missing.length > 0;
}

/** The error mkdir gives where a file stands in a folder's place. */
function notAFolder(path: string): NodeJS.ErrnoException {
  return Object.assign(new Error(`ENOTDIR: not a directory, mkdir '${path}'`), { code: 'ENOTDIR', errno: -20, syscall: 'mkdir', path });
}
