import { mkdir, realpath } from 'node:fs/promises';
import { join, resolve, sep } from 'node:path';
import { ErrorCode, TaskforgeError } from '../../core/errors.js';
import { errnoOf } from '../../core/system-errors.js';
import { pathSegments } from '../storage-path.js';

/**
 * Maps storage paths to host paths under one root directory and makes sure
 * none leads out of it: every host path is built from the real path of an
 * existing ancestor, checked to lie inside the real root.
 */
export class FileSystemRoot {
  /** The root as configured, absolute. */
  readonly directory: string;
  #realRoot: string | undefined;

  constructor(directory: string) {
    this.directory = resolve(directory);
  }

  /** The real path of the root, creating it when `create` is set; undefined when it does not exist. */
  async real(create: boolean): Promise<string | undefined> {
    if (this.#realRoot !== undefined) return this.#realRoot;
    if (create) await mkdir(this.directory, { recursive: true });
    try {
      this.#realRoot = await realpath(this.directory);
    } catch (error) {
      if (errnoOf(error) === 'ENOENT') return undefined;
      throw error;
    }
    return this.#realRoot;
  }

  /**
   * The host path of the entry `path` names, without following a symlink at
   * its last segment (a write or delete acts on the link, never through it).
   * Missing parents are created when `createParents` is set.
   */
  async entry(path: string, createParents: boolean): Promise<string> {
    const root = await this.#requireRoot(createParents);
    const segments = pathSegments(path);
    const name = segments.pop();
    if (name === undefined) return root;
    const { real, missing } = await this.#deepestExisting(root, segments, path);
    const parent = join(real, ...missing);
    if (createParents && missing.length > 0) await mkdir(parent, { recursive: true });
    return join(parent, name);
  }

  /**
   * The real host path `path` leads to, following symlinks, all inside the
   * root. ENOENT propagates when nothing is there.
   */
  async target(path: string): Promise<string> {
    const root = await this.#requireRoot(false);
    const real = await realpath(join(root, ...pathSegments(path)));
    this.#assertInside(root, real, path);
    return real;
  }

  /** True when `hostPath` (already real) is the root or below it. */
  contains(root: string, hostPath: string): boolean {
    return hostPath === root || hostPath.startsWith(root + sep);
  }

  async #requireRoot(create: boolean): Promise<string> {
    const root = await this.real(create);
    if (root === undefined) {
      throw Object.assign(new Error(`storage root ${this.directory} does not exist`), { code: 'ENOENT' });
    }
    return root;
  }

  /** Real path of the deepest ancestor that exists, and the segments below it that do not. */
  async #deepestExisting(root: string, segments: readonly string[], path: string): Promise<{ real: string; missing: string[] }> {
    for (let depth = segments.length; depth >= 0; depth -= 1) {
      try {
        const real = await realpath(join(root, ...segments.slice(0, depth)));
        this.#assertInside(root, real, path);
        return { real, missing: segments.slice(depth) };
      } catch (error) {
        if (errnoOf(error) !== 'ENOENT') throw error;
      }
    }
    return { real: root, missing: [...segments] };
  }

  #assertInside(root: string, real: string, path: string): void {
    if (!this.contains(root, real)) {
      throw new TaskforgeError(ErrorCode.PATH_OUTSIDE_ROOT, `path '${path}' is refused: a symbolic link leads out of the storage root`, {
        details: { path },
      });
    }
  }
}
