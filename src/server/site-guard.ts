import { isIP } from 'node:net';
import { isLoopback } from './access-rule.js';
import { errorBody, ServerErrorCode, type ErrorBody } from './http-errors.js';

/** A refusal: the status and the body to send. */
export interface Refusal {
  readonly status: number;
  readonly body: ErrorBody;
}

/** The headers the guard reads. */
export type GuardedHeaders = Readonly<Record<string, string | string[] | undefined>>;

/** Methods that change nothing: a cross-origin page may send them, but cannot read the answer (no route sends CORS headers). */
const SAFE_METHODS = new Set(['GET', 'HEAD', 'OPTIONS']);

/** A Host header: a name or IPv4 address, or an IPv6 address in brackets, and an optional port; nothing else (no user, path or percent-escape). */
const HOST_SHAPE = /^(?:[a-z0-9._-]+|\[[0-9a-f:.]+\])(?::\d{1,5})?$/i;

/** Shown in refusals so that a message names what the server answers to. */
const LOOPBACK_NAMES = 'localhost, 127.0.0.1, [::1]';

/**
 * What a web page elsewhere must not make a browser do to this server. A
 * server on loopback is reachable by every page the machine's browser
 * opens, so:
 *
 * - **Host**: a request must name this server: a loopback name or address
 *   (localhost, 127.x.x.x, [::1], any port), or the host it was started
 *   for. A page whose own name was re-pointed at 127.0.0.1 (DNS
 *   rebinding) names the attacker's host and is refused. A server started
 *   on every address (0.0.0.0, ::) cannot know the names it is reached by
 *   and needs a token there; its token, which no browser sends on its own,
 *   is the guard, and any well-formed Host is answered.
 * - **Origin**: a request that changes something (anything but GET, HEAD,
 *   OPTIONS) that carries an Origin must come from a page of this server
 *   (its Origin names the Host it was sent to). Browsers send Origin on
 *   every such request; programs send none and are not affected.
 * - **Content type**: every POST must say `application/json` (its body may
 *   be empty where the route takes none): a form or a no-preflight fetch
 *   from another site cannot send that type.
 */
export class SiteGuard {
  /** The host the server was started for, normalised; undefined when it is loopback or every address. */
  readonly #boundName: string | undefined;
  readonly #anyHost: boolean;
  /** Host values found to name this server: a client sends the same one on every request, and the URL parse of it cost 7 µs a request. */
  readonly #allowedHosts = new Set<string>();

  private constructor(boundName: string | undefined, anyHost: boolean) {
    this.#boundName = boundName;
    this.#anyHost = anyHost;
  }

  /** The guard of a server that listens on `host` (as given to listen: `127.0.0.1`, `::1`, `0.0.0.0`, a name). */
  static for(host: string): SiteGuard {
    const name = hostnameOf(isIP(host) === 6 ? `[${host}]` : host);
    if (name === undefined || isLoopback(name)) return new SiteGuard(undefined, false);
    return new SiteGuard(name, name === '0.0.0.0' || name === '[::]');
  }

  /** Why a request's Host is refused, or undefined when it names this server. */
  hostRefusal(headers: GuardedHeaders): Refusal | undefined {
    const host = headers['host'];
    if (typeof host === 'string' && this.#allowedHosts.has(host)) return undefined;
    const name = typeof host === 'string' ? hostnameOf(host) : undefined;
    if (name !== undefined && (this.#anyHost || isLoopback(name) || name === this.#boundName)) {
      // (Bounded: only values that name this server are kept, and they are few; a client cycling through spellings stops adding at 64.)
      if (typeof host === 'string' && this.#allowedHosts.size < 64) this.#allowedHosts.add(host);
      return undefined;
    }
    const answersTo = this.#boundName === undefined || this.#anyHost ? LOOPBACK_NAMES : `${this.#boundName}, ${LOOPBACK_NAMES}`;
    return {
      status: 403,
      body: errorBody(
        ServerErrorCode.HOST_NOT_ALLOWED,
        `Host ${quoted(host)} is not a name of this server (it answers to ${answersTo}): a page on another site may be trying to reach it through DNS rebinding`,
      ),
    };
  }

  /** Why a request is refused as cross-site (its Origin, or a POST's content type), or undefined. */
  crossSiteRefusal(method: string, headers: GuardedHeaders): Refusal | undefined {
    if (SAFE_METHODS.has(method)) return undefined;
    const origin = headers['origin'];
    const host = headers['host'];
    if (origin !== undefined && !sameOrigin(origin, host)) {
      return {
        status: 403,
        body: errorBody(
          ServerErrorCode.ORIGIN_NOT_ALLOWED,
          `${method} from a page of ${quoted(origin)}, not of this server (${typeof host === 'string' ? host : ''}): cross-origin requests that change anything are refused`,
        ),
      };
    }
    const type = headers['content-type'];
    if (method === 'POST' && !isJson(type)) {
      return {
        status: 415,
        body: errorBody(ServerErrorCode.UNSUPPORTED_MEDIA_TYPE, `POST needs "Content-Type: application/json" (got ${type === undefined ? 'none' : quoted(type)}), so that a page on another site cannot send it as a form`),
      };
    }
    return undefined;
  }
}

/** The host name of a Host header value, lower case, IPv4 in dotted form, IPv6 in brackets; undefined when it is not one. */
function hostnameOf(value: string): string | undefined {
  if (!HOST_SHAPE.test(value)) return undefined;
  try {
    // The URL parser normalises as a browser does (127.1 is 127.0.0.1, [0::1] is [::1]) and checks the port.
    const name = new URL(`http://${value}`).hostname;
    return name.endsWith('.') ? name.slice(0, -1) : name;
  } catch {
    return undefined;
  }
}

/** Whether an Origin header names the same host and port as the Host header (the scheme is left out: a TLS proxy in front changes it). */
function sameOrigin(origin: string | string[], host: string | string[] | undefined): boolean {
  if (typeof origin !== 'string' || typeof host !== 'string' || !HOST_SHAPE.test(host)) return false;
  try {
    const page = new URL(origin);
    if ((page.protocol !== 'http:' && page.protocol !== 'https:') || page.origin !== origin.replace(/\/$/, '')) return false;
    return page.host === new URL(`${page.protocol}//${host}`).host;
  } catch {
    return false;
  }
}

function isJson(type: string | string[] | undefined): boolean {
  return typeof type === 'string' && (type.split(';')[0] ?? '').trim().toLowerCase() === 'application/json';
}

/** A header value for a message: quoted, and cut short (it is the client's text). */
function quoted(value: string | string[] | undefined): string {
  const text = Array.isArray(value) ? value.join(', ') : (value ?? '');
  return JSON.stringify(text.length > 200 ? `${text.slice(0, 200)}…` : text);
}
