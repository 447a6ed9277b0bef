import { controlCharacterIn, printable } from '../core/control-characters.js';
import { ErrorCode, TaskforgeError } from '../core/errors.js';

/** Segments starting with this are taskforge's own files (temporary files, metadata). */
export const RESERVED_PREFIX = '.taskforge-';

/** The name of a stored tree's index in its folder: reserved, and listed only when a listing asks for tree indexes. */
export const TREE_INDEX_NAME = `${RESERVED_PREFIX}tree`;

/** The root of every backend. */
export const ROOT_PATH = '/';

/**
 * Normalises a virtual POSIX storage path to `/a/b/c` (one leading slash, no
 * trailing slash; the root is `/`). A path without a leading slash is taken
 * from the root too. Refuses, with PATH_OUTSIDE_ROOT, anything that could
 * name a place outside the root or two names for one place: `..` and `.`
 * segments, empty segments (`a//b`), NUL bytes. Refuses segments with the
 * reserved prefix, and control characters, with VALIDATION_ERROR.
 */
export function parseStoragePath(raw: string): string {
  const known = recentPaths.get(raw);
  if (known !== undefined) return known;
  const parsed = normalise(raw);
  // Hot paths are parsed again and again (cached reads): remember the last few hundred.
  if (recentPaths.size >= RECENT_PATHS) recentPaths.clear();
  recentPaths.set(raw, parsed);
  return parsed;
}

const RECENT_PATHS = 512;
const recentPaths = new Map<string, string>();

function normalise(raw: string): string {
  if (raw.includes('\0')) throw outside(raw, 'it contains a NUL byte');
  const control = controlCharacterIn(raw);
  if (control !== undefined) {
    throw new TaskforgeError(ErrorCode.VALIDATION_ERROR, `path '${printable(raw)}' is refused: it contains a control character (${control}), which would reach terminals and logs as it is`, {
      details: { path: raw },
    });
  }
  const trimmed = raw.startsWith('/') ? raw.slice(1) : raw;
  const body = trimmed.endsWith('/') ? trimmed.slice(0, -1) : trimmed;
  if (body === '') return ROOT_PATH;
  const segments = body.split('/');
  for (const segment of segments) {
    if (segment === '..') throw outside(raw, "it has a '..' segment");
    if (segment === '.') throw outside(raw, "it has a '.' segment");
    if (segment === '') throw outside(raw, 'it has an empty segment');
    if (segment.startsWith(RESERVED_PREFIX)) {
      throw new TaskforgeError(ErrorCode.VALIDATION_ERROR, `path '${printable(raw)}' is refused: names starting with '${RESERVED_PREFIX}' are reserved for taskforge`, {
        details: { path: raw },
      });
    }
  }
  return `/${segments.join('/')}`;
}

/** The segments of a normalised path; none for the root. */
export function pathSegments(path: string): string[] {
  return path === ROOT_PATH ? [] : path.slice(1).split('/');
}

/** Joins a normalised directory path and a name. */
export function childPath(directory: string, name: string): string {
  return directory === ROOT_PATH ? `/${name}` : `${directory}/${name}`;
}

/** The folder a normalised path is in; the root for the root's children (and for the root). */
export function parentPath(path: string): string {
  const slash = path.lastIndexOf('/');
  return slash <= 0 ? ROOT_PATH : path.slice(0, slash);
}

/** The last segment of a normalised path; '' for the root. */
export function baseName(path: string): string {
  return path.slice(path.lastIndexOf('/') + 1);
}

function outside(raw: string, reason: string): TaskforgeError {
  return new TaskforgeError(ErrorCode.PATH_OUTSIDE_ROOT, `path '${printable(raw)}' is refused: ${reason}`, {
    details: { path: raw },
  });
}
