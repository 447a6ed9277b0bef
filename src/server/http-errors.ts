import { ErrorCode, isTaskforgeError } from '../core/errors.js';

/** The HTTP status of each error code a request can meet; anything else is 500. */
const STATUS_OF: Readonly<Partial<Record<string, number>>> = {
  [ErrorCode.VALIDATION_ERROR]: 400,
  [ErrorCode.PATH_OUTSIDE_ROOT]: 400,
  [ErrorCode.IS_A_DIRECTORY]: 409,
  [ErrorCode.NOT_A_DIRECTORY]: 409,
  [ErrorCode.NOT_FOUND]: 404,
  [ErrorCode.ALREADY_EXISTS]: 409,
  [ErrorCode.INVALID_STATE]: 409,
  [ErrorCode.PERMISSION_DENIED]: 403,
  [ErrorCode.NO_SPACE]: 507,
  [ErrorCode.TIMEOUT]: 504,
  [ErrorCode.CANCELLED]: 409,
  [ErrorCode.INTEGRITY_ERROR]: 422,
  [ErrorCode.KEY_NOT_FOUND]: 422,
  [ErrorCode.ENCRYPTION_REQUIRED]: 422,
  [ErrorCode.INVALID_CONTENT]: 422,
  [ErrorCode.LIMIT_EXCEEDED]: 413,
  [ErrorCode.UNSUPPORTED_OPTION]: 400,
  [ErrorCode.BACKEND_UNAVAILABLE]: 503,
  [ErrorCode.IO_ERROR]: 500,
  [ErrorCode.DEPENDENCY_FAILED]: 409,
};

/**
 * Codes of refusals the server makes (before any route runs, or about what
 * only the server keeps), beside the library's {@link ErrorCode}s. Stable
 * strings, like those.
 */
export const ServerErrorCode = {
  /** 401: the server has a token and the request does not carry it. */
  UNAUTHORIZED: 'UNAUTHORIZED',
  /** 415: the body's type is not one the route takes (every POST takes `application/json` only). */
  UNSUPPORTED_MEDIA_TYPE: 'UNSUPPORTED_MEDIA_TYPE',
  /** 403: the request's Host is not a name of this server (DNS rebinding). */
  HOST_NOT_ALLOWED: 'HOST_NOT_ALLOWED',
  /** 403: a request that changes something came from a page of another origin. */
  ORIGIN_NOT_ALLOWED: 'ORIGIN_NOT_ALLOWED',
  /** 409: a retry of a task whose config this server does not hold (submitted elsewhere, streamed through /objects, or let go past its budget). */
  CONFIG_NOT_KEPT: 'CONFIG_NOT_KEPT',
  /** 409: a retry of a task that was retried already; the message names the retry. */
  ALREADY_RETRIED: 'ALREADY_RETRIED',
  /** 503, with Retry-After: the server holds as many unended tasks (or bytes of them) as it may; nothing of the request was queued. */
  BACKLOG_FULL: 'BACKLOG_FULL',
} as const;

/** The body of every error reply: the stable code, a message naming what was wrong, and the bad fields when there are any. */
export interface ErrorBody {
  readonly error: {
    readonly code: string;
    readonly message: string;
    readonly fields?: readonly { readonly field: string; readonly message: string }[];
  };
}

/** An error (thrown, or a failed task's) as the API says it: status and body (never a stack). */
export function httpError(error: { readonly code: string; readonly message: string; readonly details?: Readonly<Record<string, unknown>> | undefined }): { status: number; body: ErrorBody } {
  const fields = fieldsOf(error.details);
  return {
    status: STATUS_OF[error.code] ?? 500,
    body: { error: { code: error.code, message: error.message, ...(fields === undefined ? {} : { fields }) } },
  };
}

/** An error body made here (a route, the token check, an unknown route). */
export function errorBody(code: string, message: string, fields?: readonly { field: string; message: string }[]): ErrorBody {
  return { error: { code, message, ...(fields === undefined ? {} : { fields }) } };
}

/** Whatever a handler threw, as the API says it: a TaskforgeError as coded; anything else is a 500 whose message hides internals. */
export function replyFor(error: unknown): { status: number; body: ErrorBody } {
  if (isTaskforgeError(error)) return httpError(error);
  return { status: 500, body: errorBody(ErrorCode.INTERNAL, 'the server failed to handle this request; its log says why') };
}

function fieldsOf(details: Readonly<Record<string, unknown>> | undefined): { field: string; message: string }[] | undefined {
  const fields = details?.['fields'];
  if (!Array.isArray(fields)) return undefined;
  return fields.map((problem: unknown) => {
    const { field, message } = problem as { field?: unknown; message?: unknown };
    return { field: typeof field === 'string' ? field : '', message: typeof message === 'string' ? message : '' };
  });
}
