import { ErrorCode } from '../core/errors.js';
import { errorBody } from './http-errors.js';
import type { Refusal } from './site-guard.js';

/** What the Host rule reads of a request, as Node parsed it. */
export interface HostFieldRequest {
  readonly httpVersion: string;
  /** Names and values, alternating, as received (duplicates kept). */
  readonly rawHeaders: readonly string[];
  readonly url?: string | undefined;
}

/**
 * The Host a request names, per RFC 9112 3.2: a request in absolute form
 * (`GET http://name/path`) names its URL's authority, whatever its Host
 * header says; else its one Host header. Refuses with 400 an HTTP/1.1
 * request without Host and any request with more than one (a server must
 * not choose between them).
 */
export function namedHost(request: HostFieldRequest): { host: string | undefined } | Refusal {
  let count = 0;
  let header: string | undefined;
  for (let at = 0; at < request.rawHeaders.length; at += 2) {
    if (request.rawHeaders[at]?.toLowerCase() !== 'host') continue;
    count += 1;
    header = request.rawHeaders[at + 1];
  }
  if (count > 1) return { status: 400, body: errorBody(ErrorCode.VALIDATION_ERROR, `request: ${String(count)} Host headers (one is allowed)`) };
  if (count === 0 && request.httpVersion === '1.1') return { status: 400, body: errorBody(ErrorCode.VALIDATION_ERROR, 'request: no Host header (HTTP/1.1 requires one)') };
  const url = request.url ?? '';
  if (/^https?:\/\//i.test(url)) {
    try {
      return { host: new URL(url).host };
    } catch {
      return { status: 400, body: errorBody(ErrorCode.VALIDATION_ERROR, 'request: a target URL that cannot be read') };
    }
  }
  return { host: header };
}
