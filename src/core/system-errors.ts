import { ErrorCode, TaskforgeError } from './errors.js';

/** What was being done when a system call failed, for the error message. */
export interface SystemErrorContext {
  readonly operation: string;
  readonly path: string;
}

const CODE_BY_ERRNO: Readonly<Record<string, ErrorCode>> = {
  ENOENT: ErrorCode.NOT_FOUND,
  EEXIST: ErrorCode.ALREADY_EXISTS,
  EISDIR: ErrorCode.IS_A_DIRECTORY,
  ENOTDIR: ErrorCode.NOT_A_DIRECTORY,
  ENOTEMPTY: ErrorCode.IS_A_DIRECTORY,
  EACCES: ErrorCode.PERMISSION_DENIED,
  EPERM: ErrorCode.PERMISSION_DENIED,
  EROFS: ErrorCode.PERMISSION_DENIED,
  ENOSPC: ErrorCode.NO_SPACE,
  EDQUOT: ErrorCode.NO_SPACE,
  EFBIG: ErrorCode.NO_SPACE,
  ENAMETOOLONG: ErrorCode.VALIDATION_ERROR,
  ELOOP: ErrorCode.PATH_OUTSIDE_ROOT,
  // Transient: the same call may well succeed a moment later.
  EAGAIN: ErrorCode.BACKEND_UNAVAILABLE,
  EBUSY: ErrorCode.BACKEND_UNAVAILABLE,
  EMFILE: ErrorCode.BACKEND_UNAVAILABLE,
  ENFILE: ErrorCode.BACKEND_UNAVAILABLE,
  EINTR: ErrorCode.BACKEND_UNAVAILABLE,
  ETIMEDOUT: ErrorCode.BACKEND_UNAVAILABLE,
  ECONNRESET: ErrorCode.BACKEND_UNAVAILABLE,
  ECONNREFUSED: ErrorCode.BACKEND_UNAVAILABLE,
  EPIPE: ErrorCode.BACKEND_UNAVAILABLE,
  ECONNABORTED: ErrorCode.BACKEND_UNAVAILABLE,
  EHOSTUNREACH: ErrorCode.BACKEND_UNAVAILABLE,
  ENETUNREACH: ErrorCode.BACKEND_UNAVAILABLE,
  // A host name not found: mistyped, or the name service is down for now (a retry may help: EAI_AGAIN always, ENOTFOUND sometimes).
  ENOTFOUND: ErrorCode.BACKEND_UNAVAILABLE,
  EAI_AGAIN: ErrorCode.BACKEND_UNAVAILABLE,
  EIO: ErrorCode.IO_ERROR,
};

const DESCRIPTION_BY_CODE: Partial<Record<ErrorCode, string>> = {
  [ErrorCode.NOT_FOUND]: 'no such object or directory',
  [ErrorCode.ALREADY_EXISTS]: 'it already exists',
  [ErrorCode.IS_A_DIRECTORY]: 'it is a directory',
  [ErrorCode.NOT_A_DIRECTORY]: 'a parent of it is a file, not a directory',
  [ErrorCode.PERMISSION_DENIED]: 'permission denied',
  [ErrorCode.NO_SPACE]: 'no space left on the device',
  [ErrorCode.VALIDATION_ERROR]: 'a name in the path, or the whole path, is too long for the file system',
  [ErrorCode.PATH_OUTSIDE_ROOT]: 'too many levels of symbolic links',
  [ErrorCode.BACKEND_UNAVAILABLE]: 'the system is temporarily busy',
  [ErrorCode.IO_ERROR]: 'an I/O error occurred',
};

/** Errnos that share a code but not a cause: each told as what happened (a refused connection is not a busy system). */
const DESCRIPTION_BY_ERRNO: Readonly<Record<string, string>> = {
  ECONNREFUSED: 'the connection was refused (is the server running, on that port?)',
  ECONNRESET: 'the connection was reset',
  EPIPE: 'the connection was closed by the other end',
  ETIMEDOUT: 'the operation timed out',
  ECONNABORTED: 'the connection was aborted',
  EHOSTUNREACH: 'the host is unreachable',
  ENETUNREACH: 'the network is unreachable',
  ENOTFOUND: 'the host name was not found (is it spelt right?)',
  EAI_AGAIN: 'the host name could not be looked up for now',
  EMFILE: 'too many open files in this process',
  ENFILE: 'too many open files on the system',
  EROFS: 'the file system is read-only',
  ENOTEMPTY: 'it is a directory that is not empty',
  EFBIG: 'the file is too large for the file system',
  EDQUOT: 'the disk quota is exhausted',
};

/** The code of a system error's errno (ENOSPC: NO_SPACE), if taskforge maps it. */
export function codeOfErrno(errno: string | undefined): ErrorCode | undefined {
  return errno === undefined ? undefined : CODE_BY_ERRNO[errno];
}

/** The errno string of a Node system error, if `error` is one. */
export function errnoOf(error: unknown): string | undefined {
  if (error instanceof Error) {
    const code = (error as NodeJS.ErrnoException).code;
    if (typeof code === 'string') return code;
  }
  return undefined;
}

/**
 * A system error of a call made on the way to the operation asked for (the
 * storage root's folder made before a write): the same errno, and `within`
 * says what failed, so that fromSystemError tells it ("write of '/x' failed:
 * the storage root cannot be made: permission denied (EACCES)") and not as
 * the object's own failure. `words`, by errno, say what happened there
 * where the errno's usual words would not fit.
 */
export function systemErrorWithin(error: unknown, within: string, words: Readonly<Record<string, string>> = {}): unknown {
  const errno = errnoOf(error);
  if (errno === undefined) return error;
  return Object.assign(new Error(`${within}: ${error instanceof Error ? error.message : String(error)}`, { cause: error }), { code: errno, within, words: words[errno] });
}

/**
 * What a system error says happened, in words and its errno (`no such
 * object or directory (ENOENT)`); its message when it has no errno taskforge
 * maps. `words`, by errno, where the usual ones (said of stored objects)
 * would not fit: a local file is a file.
 */
export function systemErrorReason(error: unknown, words: Readonly<Record<string, string>> = {}): string {
  const errno = errnoOf(error);
  const code = codeOfErrno(errno);
  if (errno === undefined || code === undefined) return error instanceof Error ? error.message : String(error);
  const own = words[errno];
  return own === undefined ? reasonOf(errno, code) : `${own} (${errno})`;
}

/** The words for a local file's errors, where the storage's would say 'object'. */
export const LOCAL_FILE_WORDS: Readonly<Record<string, string>> = { ENOENT: 'no such file or directory' };

function reasonOf(errno: string, code: ErrorCode): string {
  return `${DESCRIPTION_BY_ERRNO[errno] ?? DESCRIPTION_BY_CODE[code] ?? errno} (${errno})`;
}

/**
 * Maps a Node system error to a coded {@link TaskforgeError}, naming the
 * operation and the storage path (never the host path, which would leak the
 * root's location to API clients). Errors that already carry a code pass through.
 */
export function fromSystemError(error: unknown, context: SystemErrorContext): TaskforgeError {
  if (error instanceof TaskforgeError) return error;
  const errno = errnoOf(error);
  const code = errno === undefined ? undefined : CODE_BY_ERRNO[errno];
  if (errno === undefined || code === undefined) {
    const message = error instanceof Error ? error.message : String(error);
    return new TaskforgeError(ErrorCode.INTERNAL, `${context.operation} of '${context.path}' failed: ${message}`, {
      cause: error,
    });
  }
  const { within, words } = error as { within?: unknown; words?: unknown };
  const own = typeof words === 'string' ? `${words} (${errno})` : reasonOf(errno, code);
  const reason = typeof within === 'string' ? `${within}: ${own}` : own;
  return new TaskforgeError(code, `${context.operation} of '${context.path}' failed: ${reason}`, {
    cause: error,
    details: { path: context.path, errno },
  });
}
