import { lstatSync, readdirSync, readlinkSync, type Dirent } from 'node:fs';
import { join } from 'node:path';
import { setImmediate as yieldToEventLoop } from 'node:timers/promises';
import { ErrorCode } from '../../core/errors.js';
import { codeOfErrno, errnoOf } from '../../core/system-errors.js';
import { mtimeOf } from '../../storage/file-times.js';
import { RESERVED_PREFIX } from '../../storage/storage-path.js';
import { controlCharacterIn, printable } from '../../core/control-characters.js';

/** One thing found under a local directory, named by its path relative to it (`a/b.txt`, `/`-separated). */
export type LocalEntry =
  | { readonly kind: 'file'; readonly path: string; readonly size: number; readonly mtimeMs: number; readonly mode: number }
  | { readonly kind: 'directory'; readonly path: string; readonly mtimeMs: number; readonly mode: number }
  | { readonly kind: 'symlink'; readonly path: string; readonly target: string; readonly mtimeMs: number }
  /** Not stored, with why: a FIFO, socket or device; a name taskforge reserves; one that vanished or could not be read. */
  | { readonly kind: 'skipped'; readonly path: string; readonly reason: string }
  /**
   * An entry that cannot be stored (its name is not UTF-8, a folder that
   * cannot be listed, one that cannot be looked at): a failure of the run,
   * not a skip. With `keep`, what the store holds at and under its path
   * stays as it is (a --delete must not take it for gone).
   */
  | { readonly kind: 'failed'; readonly path: string; readonly code: ErrorCode; readonly message: string; readonly keep?: boolean };

/** How long the walk holds the event loop before it gives it a turn. */
const SLICE_MS = 5;

/**
 * Everything under `root`, depth first, each directory's names in code-unit
 * order, the directory before what it holds. Symbolic links are reported
 * as links and never followed, so the walk never leaves the tree. Holds one
 * directory listing per level at a time, and no descriptor.
 *
 * The listings and stats are made at once, on this thread, in slices of
 * SLICE_MS: they are lookups, which the kernel answers from memory in a
 * few microseconds, where a trip through the thread pool cost the event
 * loop 30 µs of its own time per stat and left it idle between batches
 * (a fifth of a 5,000-file store's time). A tree whose inodes are not in
 * memory waits on the disk here, one lookup at a time.
 */
export async function* walkTree(root: string, options: WalkOptions = {}): AsyncGenerator<LocalEntry, void, undefined> {
  const slice = { started: performance.now() };
  yield* walkDirectory(root, '', slice, options);
}

/** What a walk leaves out. */
export interface WalkOptions {
  /** Host folders not to go into, each with why (the store's own root, when it is inside the tree). */
  readonly exclude?: ReadonlyMap<string, string>;
}

async function* walkDirectory(hostDirectory: string, relative: string, slice: { started: number }, options: WalkOptions): AsyncGenerator<LocalEntry, void, undefined> {
  let names: Dirent[];
  try {
    names = readdirSync(hostDirectory, { withFileTypes: true });
  } catch (error) {
    if (relative === '') throw error;
    yield unreadable(relative, 'cannot be listed', error);
    return;
  }
  names.sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0));
  for (const dirent of names) {
    if (performance.now() - slice.started >= SLICE_MS) {
      await yieldToEventLoop();
      slice.started = performance.now();
    }
    const excluded = options.exclude?.get(join(hostDirectory, dirent.name));
    if (excluded !== undefined) {
      yield { kind: 'skipped', path: relative === '' ? dirent.name : `${relative}/${dirent.name}`, reason: excluded };
      continue;
    }
    const entry = describe(hostDirectory, relative, dirent.name);
    yield entry;
    if (entry.kind === 'directory') yield* walkDirectory(join(hostDirectory, dirent.name), entry.path, slice, options);
  }
}

/** What the entry `name` of `hostDirectory` is, found without following a link. */
function describe(hostDirectory: string, relative: string, name: string): LocalEntry {
  const path = relative === '' ? name : `${relative}/${name}`;
  const host = join(hostDirectory, name);
  if (name.startsWith(RESERVED_PREFIX)) return { kind: 'skipped', path, reason: `names starting with '${RESERVED_PREFIX}' are reserved for taskforge` };
  const control = controlCharacterIn(name);
  // (Told by its escaped form: the name itself would reach the terminal as it is.)
  if (control !== undefined) return { kind: 'skipped', path: printable(path), reason: `a name with a control character (${control}), which no storage path may hold` };
  let stats;
  try {
    stats = lstatSync(host, { bigint: true });
  } catch (error) {
    // A name that is not UTF-8 comes out of readdir with U+FFFD in place of its bytes, a name nothing has: no storage path can hold it.
    if (errnoOf(error) === 'ENOENT' && name.includes('\uFFFD')) {
      return { kind: 'failed', path, code: ErrorCode.SOURCE_ERROR, message: `'${path}' cannot be stored: its name is not valid UTF-8 (storage paths are UTF-8); rename it to store it` };
    }
    // Gone since its folder was listed: not there, as a --delete may take it. Anything else is a failure, not a skip.
    if (errnoOf(error) === 'ENOENT') return { kind: 'skipped', path, reason: 'vanished while the tree was read' };
    return unreadable(path, 'cannot be looked at', error);
  }
  const mode = Number(stats.mode) & 0o7777;
  if (stats.isFile()) return { kind: 'file', path, size: Number(stats.size), mtimeMs: mtimeOf(stats), mode };
  if (stats.isDirectory()) return { kind: 'directory', path, mtimeMs: mtimeOf(stats), mode };
  if (stats.isSymbolicLink()) {
    try {
      return { kind: 'symlink', path, target: readlinkSync(host), mtimeMs: mtimeOf(stats) };
    } catch (error) {
      return { kind: 'skipped', path, reason: `a link that cannot be read (${errnoOf(error) ?? String(error)})` };
    }
  }
  return { kind: 'skipped', path, reason: `a ${specialKind(stats)}, not a file, directory or link` };
}

/** A folder or entry the walk cannot read: failed, naming why, and what is stored of it kept. */
function unreadable(path: string, what: string, error: unknown): LocalEntry {
  const errno = errnoOf(error) ?? String(error);
  return { kind: 'failed', path, code: codeOfErrno(errno) ?? ErrorCode.SOURCE_ERROR, message: `'${path}' ${what} (${errno}): nothing under it was stored, and what the store holds of it is kept`, keep: true };
}

function specialKind(stats: { isFIFO(): boolean; isSocket(): boolean; isBlockDevice(): boolean; isCharacterDevice(): boolean }): string {
  if (stats.isFIFO()) return 'FIFO';
  if (stats.isSocket()) return 'socket';
  if (stats.isBlockDevice()) return 'block device';
  if (stats.isCharacterDevice()) return 'character device';
  return 'special file';
}
