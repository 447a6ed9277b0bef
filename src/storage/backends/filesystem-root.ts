import { closeSync, constants, readlinkSync } from 'node:fs';
import { lstat, mkdir, readlink, realpath } from 'node:fs/promises';
import { basename, dirname, join, resolve, sep } from 'node:path';
import { ErrorCode, TaskforgeError } from '../../core/errors.js';
import { makeFolders } from '../../core/make-folders.js';
import { errnoOf, systemErrorWithin } from '../../core/system-errors.js';
import { pathSegments } from '../storage-path.js';
import { pathCallsFor, POOLED_CALLS, type PathCalls } from './path-calls.js';

/** Dangling links followed, one after another, before a path is taken for a loop (Linux stops at 40 too). */
const MAX_LINK_HOPS = 40;

/**
 * Linux's O_PATH: a descriptor that names a file without opening it for
 * I/O (no device's open runs, a FIFO does not block). node:fs does not
 * export it; this is its value on every architecture Node runs on Linux
 * (only alpha, parisc and sparc differ).
 */
const O_PATH = process.platform === 'linux' && ['x64', 'arm64', 'ia32', 'arm', 'ppc64', 's390x', 'riscv64', 'loong64', 'mips64el', 'mipsel'].includes(process.arch) ? 0o10000000 : undefined;

/** What `locate` found: a descriptor naming the file (O_PATH: close it), and its real path. */
export interface Located {
  readonly fd: number;
  readonly real: string;
}

/** Where an entry is made: its parent directory, and its name there. */
export interface Parent {
  /**
   * A path of the parent that names the very directory checked, whatever
   * is renamed or swapped meanwhile (/proc/self/fd/N of a descriptor held
   * on it), or, where Linux's O_PATH and /proc are missing, its real path.
   */
  readonly directory: string;
  /** The parent's real path, inside the root. */
  readonly real: string;
  readonly name: string;
  /** Real paths of folders that gained a folder made for this entry: their syncs, with the parent's, make it durable. */
  readonly made: readonly string[];
  /** Lets go of the descriptor that holds the parent; call once the entry is made. */
  release(): void;
}

/**
 * Maps storage paths to host paths under one root directory and makes sure
 * none leads out of it: every host path is built from the real path of an
 * existing ancestor, checked to lie inside the real root. Containment is
 * decided before existence: a path whose links lead out of the root is
 * PATH_OUTSIDE_ROOT whether or not anything is there, so the answer never
 * tells which files exist outside.
 */
export class FileSystemRoot {
  /** The root as configured, absolute. */
  readonly directory: string;
  #realRoot: string | undefined;
  /** Whether /proc/self/fd names open descriptors here; learnt false from the first failure. */
  #procWorks = true;
  #calls: PathCalls = POOLED_CALLS;

  constructor(directory: string) {
    this.directory = resolve(directory);
  }

  /** The real path of the root, creating it when `create` is set; undefined when it does not exist. */
  async real(create: boolean): Promise<string | undefined> {
    if (this.#realRoot !== undefined) return this.#realRoot;
    if (create) {
      await makeFolders(this.directory).catch((error: unknown) => {
        // (ENOTDIR: the root itself may be the file, not only "a parent of it".)
        throw systemErrorWithin(error, 'the storage root cannot be made', { ENOTDIR: 'it, or a folder above it, is a file' });
      });
    }
    let realRoot: string;
    try {
      realRoot = await realpath(this.directory);
    } catch (error) {
      if (errnoOf(error) === 'ENOENT') return undefined;
      throw error;
    }
    this.#calls = await pathCallsFor(realRoot);
    this.#realRoot = realRoot;
    return realRoot;
  }

  /** How calls on names are made under this root (see path-calls.ts): known once the root has been resolved. */
  get calls(): PathCalls {
    return this.#calls;
  }

  /**
   * The parent directory of the entry `path` names, checked to lie inside
   * the root, and held: on Linux, by an O_PATH descriptor whose real path
   * is the one checked, so that the entry is made in that very directory
   * even if a link is swapped in on the way meanwhile. One lookup, where a
   * realpath takes one per segment. Missing folders are made (when
   * `createParents` is set) one by one, each in the folder above it, held
   * and checked in turn. What this route does not take (a dangling link on
   * the way, no /proc) goes through `entry`, which checks every segment.
   */
  async parentOf(path: string, createParents: boolean): Promise<Parent> {
    const root = await this.#requireRoot(createParents);
    const segments = pathSegments(path);
    const name = segments.pop();
    if (name === undefined) throw new Error('parentOf: the root has no parent');
    const held = await this.#hold(root, segments, path, name, createParents);
    if (held !== undefined) return held;
    const { hostPath, made } = await this.#entry(root, path, createParents);
    const directory = dirname(hostPath);
    return {
      directory,
      real: directory,
      name,
      made,
      release: () => {
        // Nothing is held: the route by path.
      },
    };
  }

  async #hold(root: string, segments: readonly string[], path: string, name: string, createParents: boolean): Promise<Parent | undefined> {
    if (O_PATH === undefined || !this.#procWorks) return undefined;
    let depth = segments.length;
    let fd = await this.#openDirectory(join(root, ...segments));
    if (fd === undefined && !createParents) return undefined;
    while (fd === undefined && depth > 0) {
      depth -= 1;
      fd = await this.#openDirectory(join(root, ...segments.slice(0, depth)));
    }
    if (fd === undefined) return undefined;
    let held: number = fd;
    let real = this.#checkedReal(root, held, path);
    const made: string[] = [];
    for (; depth < segments.length && real !== undefined; depth += 1) {
      const below = `/proc/self/fd/${String(held)}/${segments[depth] ?? ''}`;
      const created: boolean | undefined = await this.#calls.mkdir(below).then(
        () => true,
        (error: unknown) => (errnoOf(error) === 'EEXIST' ? false : undefined),
      );
      // A dangling link (EEXIST, then nothing to open), a file on the way, a refusal: `entry` says what it is.
      const next: number | undefined = created === undefined ? undefined : await this.#openDirectory(below);
      closeSync(held);
      if (next === undefined) return undefined;
      if (created === true) made.push(real);
      held = next;
      real = this.#checkedReal(root, held, path);
    }
    if (real === undefined) return undefined;
    const descriptor = held;
    return {
      directory: `/proc/self/fd/${String(descriptor)}`,
      real,
      name,
      made,
      release: () => {
        closeSync(descriptor);
      },
    };
  }

  /** An O_PATH descriptor of the directory at `hostPath` (links followed), or undefined when there is none to open. */
  async #openDirectory(hostPath: string): Promise<number | undefined> {
    return this.#calls.open(hostPath, (O_PATH ?? 0) | constants.O_DIRECTORY).catch(() => undefined);
  }

  /**
   * The real path of the file or directory `fd` holds, as the kernel names it,
   * checked to lie inside the root (else PATH_OUTSIDE_ROOT); undefined
   * where /proc cannot tell it. On any answer but a path, `fd` is closed.
   */
  #checkedReal(root: string, fd: number, path: string): string | undefined {
    let real: string;
    try {
      // (Synchronously: /proc answers from the open descriptor, in memory.)
      real = readlinkSync(`/proc/self/fd/${String(fd)}`);
    } catch {
      closeSync(fd);
      this.#procWorks = false;
      return undefined;
    }
    if (!this.contains(root, real)) {
      closeSync(fd);
      throw this.#outside(path);
    }
    return real;
  }

  /**
   * The host path of the entry `path` names, without following a symlink at
   * its last segment (a write or delete acts on the link, never through it).
   * Missing parents are created when `createParents` is set.
   */
  async entry(path: string, createParents: boolean): Promise<string> {
    const root = await this.#requireRoot(createParents);
    return (await this.#entry(root, path, createParents)).hostPath;
  }

  /** `entry`, and the real paths of the folders that gained a folder made for it (their entries need a sync too). */
  async #entry(root: string, path: string, createParents: boolean): Promise<{ hostPath: string; made: string[] }> {
    const segments = pathSegments(path);
    const name = segments.pop();
    if (name === undefined) return { hostPath: root, made: [] };
    const { real, missing } = await this.#deepestExisting(root, join(root, ...segments), path, 0);
    const parent = join(real, ...missing);
    const made: string[] = [];
    if (createParents && missing.length > 0) {
      // mkdir names the first folder it made; it made every one below it too, each in the one above.
      const first = await mkdir(parent, { recursive: true });
      let folder = real;
      for (const segment of missing) {
        const below = join(folder, segment);
        if (first !== undefined && below.length >= first.length) made.push(folder);
        folder = below;
      }
    }
    return { hostPath: join(parent, name), made };
  }

  /**
   * The real host path `path` leads to, following symlinks, all inside the
   * root. ENOENT propagates when nothing is there.
   */
  async target(path: string): Promise<string> {
    const root = await this.#requireRoot(false);
    const hostPath = join(root, ...pathSegments(path));
    let real: string;
    try {
      real = await realpath(hostPath);
    } catch (error) {
      // Nothing there, or a file on the way: first, would the path have led out of the root?
      if (isMissing(error)) await this.#deepestExisting(root, hostPath, path, 0);
      throw error;
    }
    this.#assertInside(root, real, path);
    return real;
  }

  /**
   * The file `path` leads to, found by one lookup (made at once on a local
   * file system, see path-calls.ts): an O_PATH descriptor of it, and its real path as the kernel gives it for
   * that descriptor, checked to lie inside the root. The check is of the
   * very file the descriptor names, so a link swapped in meanwhile cannot
   * slip past it. Undefined when nothing is there, or where Linux's O_PATH
   * and /proc are missing: the caller then takes `target`, which also says
   * whether a missing path would have led out of the root.
   */
  async locate(path: string): Promise<Located | undefined> {
    if (O_PATH === undefined || !this.#procWorks) return undefined;
    const root = await this.#requireRoot(false);
    let fd: number;
    try {
      fd = await this.#calls.open(join(root, ...pathSegments(path)), O_PATH);
    } catch {
      return undefined;
    }
    const real = this.#checkedReal(root, fd, path);
    return real === undefined ? undefined : { fd, real };
  }

  /**
   * The host path `path` names under the real root, links not resolved
   * and nothing checked: for comparing what is there with a file found
   * through `locate` or `target` before. Undefined until the root has been
   * resolved (nothing was found through it yet).
   */
  unresolved(path: string): string | undefined {
    const root = this.#realRoot;
    return root === undefined ? undefined : join(root, ...pathSegments(path));
  }

  /** True when `hostPath` (already real) is the root or below it. */
  contains(root: string, hostPath: string): boolean {
    return hostPath === root || hostPath.startsWith(root + sep);
  }

  async #requireRoot(create: boolean): Promise<string> {
    const root = await this.real(create);
    if (root === undefined) {
      throw Object.assign(new Error(`ENOENT: the storage root '${this.directory}' does not exist`), { code: 'ENOENT', path: this.directory });
    }
    return root;
  }

  /**
   * The real path of the deepest ancestor of `hostPath` (itself included)
   * that exists, checked to be inside the root, and the segments below it
   * that do not exist. When the first missing segment is a dangling link,
   * where it points must lie inside the root too (followed link by link).
   */
  async #deepestExisting(root: string, hostPath: string, path: string, hops: number): Promise<{ real: string; missing: string[] }> {
    const missing: string[] = [];
    let existing = hostPath;
    let real: string | undefined;
    while (real === undefined) {
      try {
        real = await realpath(existing);
      } catch (error) {
        const parent = dirname(existing);
        if (!isMissing(error) || parent === existing) throw error;
        missing.unshift(basename(existing));
        existing = parent;
      }
    }
    this.#assertInside(root, real, path);
    const [next, ...rest] = missing;
    if (next !== undefined) {
      const link = await danglingLink(join(real, next));
      if (link !== undefined) {
        if (hops >= MAX_LINK_HOPS) throw this.#outside(path);
        await this.#deepestExisting(root, resolve(real, link, ...rest), path, hops + 1);
      }
    }
    return { real, missing };
  }

  #assertInside(root: string, real: string, path: string): void {
    if (!this.contains(root, real)) throw this.#outside(path);
  }

  #outside(path: string): TaskforgeError {
    return new TaskforgeError(ErrorCode.PATH_OUTSIDE_ROOT, `path '${path}' is refused: a symbolic link leads out of the storage root`, {
      details: { path },
    });
  }
}

/** ENOENT, or ENOTDIR (a file where a directory was needed): either way the path does not resolve. */
function isMissing(error: unknown): boolean {
  const errno = errnoOf(error);
  return errno === 'ENOENT' || errno === 'ENOTDIR';
}

/** The target of the symlink at `hostPath`, or undefined when it is no symlink (or nothing is there). */
async function danglingLink(hostPath: string): Promise<string | undefined> {
  try {
    return (await lstat(hostPath)).isSymbolicLink() ? await readlink(hostPath) : undefined;
  } catch (error) {
    if (isMissing(error)) return undefined;
    throw error;
  }
}
