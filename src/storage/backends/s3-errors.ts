import { ErrorCode, TaskforgeError } from '../../core/errors.js';
import { errnoOf, fromSystemError } from '../../core/system-errors.js';

/** The HTTP status of an S3 client error, when it has one. */
export function statusOf(error: unknown): number | undefined {
  const metadata = (error as { $metadata?: { httpStatusCode?: unknown } } | null)?.$metadata;
  return typeof metadata?.httpStatusCode === 'number' ? metadata.httpStatusCode : undefined;
}

/**
 * An S3 client error as a coded error naming the operation and path: 403
 * and missing credentials PERMISSION_DENIED, 404 NOT_FOUND, 429 and 5xx BACKEND_UNAVAILABLE
 * (retryable), a refused or reset connection BACKEND_UNAVAILABLE; the rest
 * IO_ERROR with the server's own code.
 */
export function s3Error(operation: string, path: string, error: unknown): TaskforgeError {
  if (error instanceof TaskforgeError) return error;
  const status = statusOf(error);
  const name = error instanceof Error ? error.name : 'Error';
  const message = error instanceof Error ? error.message : String(error);
  const details = { path, ...(status === undefined ? {} : { httpStatus: status }), s3Code: name };
  if (status === undefined && errnoOf(error) !== undefined) return fromSystemError(error, { operation, path });
  // No credentials anywhere in the SDK's chain: a setting to fix, not a server to wait for (retrying cannot help).
  if (name === 'CredentialsProviderError') {
    return new TaskforgeError(ErrorCode.PERMISSION_DENIED, `${operation} of '${path}' failed: no AWS credentials were found (set AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY, a profile, or a role): ${message}`, { cause: error, details, retryable: false });
  }
  if (status === 403) return new TaskforgeError(ErrorCode.PERMISSION_DENIED, `${operation} of '${path}' failed: S3 refused access (${name})`, { cause: error, details });
  if (status === 404) return new TaskforgeError(ErrorCode.NOT_FOUND, `${operation} of '${path}' failed: ${name}`, { cause: error, details });
  if (status === 429 || (status !== undefined && status >= 500) || status === undefined) {
    return new TaskforgeError(ErrorCode.BACKEND_UNAVAILABLE, `${operation} of '${path}' failed: the S3 server is unavailable (${name}: ${message})`, { cause: error, details, retryable: true });
  }
  return new TaskforgeError(ErrorCode.IO_ERROR, `${operation} of '${path}' failed: ${name}: ${message}`, { cause: error, details });
}
