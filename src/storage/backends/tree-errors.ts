import { ErrorCode, TaskforgeError } from '../../core/errors.js';

/**
 * The errors of the tree semantics every backend shares (a path is a file,
 * a directory or nothing), worded once so each backend says the same thing.
 */
export function notFound(operation: string, path: string): TaskforgeError {
  return new TaskforgeError(ErrorCode.NOT_FOUND, `${operation} of '${path}' failed: no such object or directory`, { details: { path } });
}

export function isDirectory(operation: string, path: string, hint = ''): TaskforgeError {
  return new TaskforgeError(ErrorCode.IS_A_DIRECTORY, `${operation} of '${path}' failed: it is a directory${hint}`, { details: { path } });
}

export function notADirectory(operation: string, path: string): TaskforgeError {
  return new TaskforgeError(ErrorCode.NOT_A_DIRECTORY, `${operation} of '${path}' failed: a parent of it is a file, not a directory`, { details: { path } });
}

export function alreadyExists(path: string): TaskforgeError {
  return new TaskforgeError(ErrorCode.ALREADY_EXISTS, `write of '${path}' failed: it already exists and overwrite is false`, { details: { path } });
}
