/**
 * Every failure taskforge reports carries one of these stable codes. The
 * strings never change meaning; new codes may be added.
 */
export const ErrorCode = {
  /** The task config is malformed: a field is missing, of the wrong type or unknown. */
  VALIDATION_ERROR: 'VALIDATION_ERROR',
  /** The path names no object (read), or a parent that does not exist. */
  NOT_FOUND: 'NOT_FOUND',
  /** A write with `overwrite: false` met an existing object. */
  ALREADY_EXISTS: 'ALREADY_EXISTS',
  /** The path has `..`, NUL, empty or reserved segments, or a symlink leads out of the root. */
  PATH_OUTSIDE_ROOT: 'PATH_OUTSIDE_ROOT',
  /** The operation wants a file and the path is a directory (read, write, delete without `recursive`). */
  IS_A_DIRECTORY: 'IS_A_DIRECTORY',
  /** A parent segment of the path is a file, or `list` was asked for a file. */
  NOT_A_DIRECTORY: 'NOT_A_DIRECTORY',
  /** The operating system refused access (EACCES, EPERM, EROFS). */
  PERMISSION_DENIED: 'PERMISSION_DENIED',
  /** The device is full or over quota (ENOSPC, EDQUOT); nothing was replaced. */
  NO_SPACE: 'NO_SPACE',
  /** An attempt ran past its `timeout`; its work was aborted. Retryable. */
  TIMEOUT: 'TIMEOUT',
  /** The task was cancelled, while pending or while running. */
  CANCELLED: 'CANCELLED',
  /** Stored bytes failed an integrity check. */
  INTEGRITY_ERROR: 'INTEGRITY_ERROR',
  /** An encrypted object names a key the keyring does not hold. */
  KEY_NOT_FOUND: 'KEY_NOT_FOUND',
  /** A read asked for encryption and the stored object is plain. */
  ENCRYPTION_REQUIRED: 'ENCRYPTION_REQUIRED',
  /** The stored bytes are not what the read asked for (`as: 'json'` of non-JSON, `as: 'text'` of non-UTF-8). */
  INVALID_CONTENT: 'INVALID_CONTENT',
  /** An object decodes to more bytes than the read allows (`maxBytes`): a "zip bomb" is stopped here. */
  LIMIT_EXCEEDED: 'LIMIT_EXCEEDED',
  /** An option this build or backend cannot honour was asked for; nothing was done. */
  UNSUPPORTED_OPTION: 'UNSUPPORTED_OPTION',
  /** A transient condition (EAGAIN, EBUSY, EMFILE, connection reset, HTTP 5xx/429). Retryable. */
  BACKEND_UNAVAILABLE: 'BACKEND_UNAVAILABLE',
  /** The operating system reported an I/O error (EIO and kin). */
  IO_ERROR: 'IO_ERROR',
  /** The call is not allowed in the task's current status. */
  INVALID_STATE: 'INVALID_STATE',
  /** A task this one depends on did not complete. */
  DEPENDENCY_FAILED: 'DEPENDENCY_FAILED',
  /** A durable queue's task was cut off by its process dying while it ran, more times than allowed. */
  INTERRUPTED: 'INTERRUPTED',
  /** The data given to a write could not be read: its stream failed (a missing file, a closed socket). Nothing was stored. */
  SOURCE_ERROR: 'SOURCE_ERROR',
  /** A local file given as a write's data changed while it was read (its size or modification time moved): nothing was stored, rather than a torn copy. */
  SOURCE_CHANGED: 'SOURCE_CHANGED',
  /** The task's queue no longer holds it (a broker restarted without its data, or it fell out of retention unread): it will never end by itself. */
  LOST: 'LOST',
  /** A worker lost its lock on the task (paused past it; another worker took the task over): the attempt committed nothing and ends here. */
  LOCK_LOST: 'LOCK_LOST',
  /** A custom task's own code threw an error that carries no taskforge code. */
  TASK_FAILED: 'TASK_FAILED',
  /** A bug in taskforge itself. Please report it. */
  INTERNAL: 'INTERNAL',
} as const;

export type ErrorCode = (typeof ErrorCode)[keyof typeof ErrorCode];

/** Codes whose errors are worth another attempt. */
const RETRYABLE_BY_DEFAULT: ReadonlySet<ErrorCode> = new Set([ErrorCode.TIMEOUT, ErrorCode.BACKEND_UNAVAILABLE]);

/** Options for {@link TaskforgeError}. */
export interface TaskforgeErrorOptions {
  /** Whether another attempt may succeed. Default: true for TIMEOUT and BACKEND_UNAVAILABLE. */
  readonly retryable?: boolean;
  /** The lower-level error this one explains. */
  readonly cause?: unknown;
  /** Structured facts about the failure (field list, path), never secrets or data. */
  readonly details?: Readonly<Record<string, unknown>>;
}

/** The one error class taskforge throws and reports. */
export class TaskforgeError extends Error {
  override readonly name = 'TaskforgeError';
  readonly code: ErrorCode;
  readonly retryable: boolean;
  readonly details: Readonly<Record<string, unknown>> | undefined;

  constructor(code: ErrorCode, message: string, options: TaskforgeErrorOptions = {}) {
    super(message, options.cause === undefined ? undefined : { cause: options.cause });
    this.code = code;
    this.retryable = options.retryable ?? RETRYABLE_BY_DEFAULT.has(code);
    this.details = options.details;
  }
}

/** True when `error` is a {@link TaskforgeError}, optionally with the given code. */
export function isTaskforgeError(error: unknown, code?: ErrorCode): error is TaskforgeError {
  return error instanceof TaskforgeError && (code === undefined || error.code === code);
}

/** The serialisable error in a {@link TaskResult}. */
export interface TaskErrorInfo {
  readonly code: ErrorCode;
  readonly message: string;
  readonly retryable: boolean;
  readonly details?: Readonly<Record<string, unknown>>;
  /** The underlying error's code and message, where there was one. */
  readonly cause?: { readonly code?: string; readonly message: string };
}

/** Turns a thrown {@link TaskforgeError} into the plain object a result carries. */
export function toErrorInfo(error: TaskforgeError): TaskErrorInfo {
  const cause = describeCause(error.cause);
  return {
    code: error.code,
    message: error.message,
    retryable: error.retryable,
    ...(error.details === undefined ? {} : { details: error.details }),
    ...(cause === undefined ? {} : { cause }),
  };
}

function describeCause(cause: unknown): TaskErrorInfo['cause'] {
  if (cause === undefined) return undefined;
  if (cause instanceof Error) {
    const code = (cause as NodeJS.ErrnoException).code;
    const message = withoutHostPaths(cause);
    return typeof code === 'string' ? { code, message } : { message };
  }
  return { message: typeof cause === 'string' ? cause : `a thrown ${typeof cause}` };
}

/**
 * A system error's message, without the host paths it names (`open
 * '/srv/data/x'`): a result travels to API clients, events and JSON lines,
 * which speak in storage paths; host paths go to logs only.
 */
export function withoutHostPaths(error: Error): string {
  const { path, dest } = error as NodeJS.ErrnoException & { readonly dest?: unknown };
  let message = error.message;
  for (const hostPath of [dest, path]) {
    if (typeof hostPath !== 'string' || hostPath === '') continue;
    message = message.replace(` -> '${hostPath}'`, '').replace(` '${hostPath}'`, '').split(hostPath).join('…');
  }
  return message;
}
