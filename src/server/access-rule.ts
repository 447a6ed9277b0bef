import { createHash, timingSafeEqual } from 'node:crypto';
import { isIP } from 'node:net';
import { ErrorCode, TaskforgeError } from '../core/errors.js';

/** Host names that reach only this machine. */
const LOOPBACK_NAMES = new Set(['localhost', 'ip6-localhost', 'ip6-loopback']);

/** Whether binding to `host` keeps the server reachable from this machine only. */
export function isLoopback(host: string): boolean {
  const bare = host.startsWith('[') && host.endsWith(']') ? host.slice(1, -1) : host;
  if (LOOPBACK_NAMES.has(bare.toLowerCase())) return true;
  if (isIP(bare) === 4) return bare.startsWith('127.');
  if (isIP(bare) === 6) return bare === '::1' || /^::ffff:127\./i.test(bare);
  return false;
}

/**
 * Who may call the server: anyone on this machine when it listens on
 * loopback without a token; else only requests that carry the token. A
 * server that listens beyond loopback without a token is refused before it
 * starts: an open task runner and object store on a network is a gift.
 */
export class AccessRule {
  readonly #digest: Buffer | undefined;

  private constructor(token: string | undefined) {
    // Compared as digests: equal lengths, and a constant-time comparison.
    this.#digest = token === undefined ? undefined : digestOf(token);
  }

  static for(host: string, token: string | undefined): AccessRule {
    if (token !== undefined && token.length < 16) {
      throw new TaskforgeError(ErrorCode.VALIDATION_ERROR, `TASKFORGE_TOKEN: expected at least 16 characters (got ${String(token.length)}); 'openssl rand -hex 32' makes one`, {
        details: { field: 'token' },
      });
    }
    if (token === undefined && !isLoopback(host)) {
      throw new TaskforgeError(ErrorCode.VALIDATION_ERROR, `--host ${host}: listening beyond loopback needs a bearer token in TASKFORGE_TOKEN; refusing to start without one`, {
        details: { field: 'host', host },
      });
    }
    return new AccessRule(token);
  }

  /** Whether requests must carry the token. */
  get requiresToken(): boolean {
    return this.#digest !== undefined;
  }

  /** Whether an `Authorization` header value lets the request in. */
  admits(authorization: string | undefined): boolean {
    if (this.#digest === undefined) return true;
    const match = /^Bearer\s+(\S+)\s*$/i.exec(authorization ?? '');
    if (match?.[1] === undefined) return false;
    return timingSafeEqual(digestOf(match[1]), this.#digest);
  }
}

function digestOf(token: string): Buffer {
  return createHash('sha256').update(token).digest();
}
