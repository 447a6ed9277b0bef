import { ErrorCode, TaskforgeError } from '../core/errors.js';

/** Compares paths by UTF-16 code units: the one order every backend lists in. */
export function comparePaths(a: string, b: string): number {
  return a < b ? -1 : a > b ? 1 : 0;
}

/**
 * Picks the first `limit` paths after `after`, in path order, from a walk in
 * any order, holding at most about 2 x limit candidates: a directory of a
 * million names is listed page by page in bounded memory.
 */
export class PageCollector<T extends { readonly path: string }> {
  readonly #limit: number;
  readonly #after: string | undefined;
  #candidates: T[] = [];
  /** Once trimmed: the largest path still kept; anything larger cannot make the page. */
  #ceiling: string | undefined;

  constructor(limit: number, after: string | undefined) {
    this.#limit = limit;
    this.#after = after;
  }

  /** Whether `path` could be on this page. */
  wants(path: string): boolean {
    if (this.#after !== undefined && path <= this.#after) return false;
    return this.#ceiling === undefined || path < this.#ceiling;
  }

  /**
   * Whether anything below directory `path` could be on this page. All its
   * descendants sort between `path + '/'` and `path + '0'` ('0' follows '/').
   */
  wantsDescendantsOf(path: string): boolean {
    const prefix = path === '/' ? '/' : `${path}/`;
    const end = path === '/' ? '0' : `${path}0`;
    if (this.#after !== undefined && end <= this.#after) return false;
    return this.#ceiling === undefined || prefix < this.#ceiling;
  }

  add(candidate: T): void {
    if (!this.wants(candidate.path)) return;
    this.#candidates.push(candidate);
    // One extra beyond the limit tells whether another page follows.
    if (this.#candidates.length >= 2 * (this.#limit + 1)) this.#trim();
  }

  /**
   * True once the page is decided, given that nothing still to come sorts
   * below `lowerBound`: the page and the one entry that says more follow
   * are all below it. A source in another order (S3's key order) reads on
   * until this holds.
   */
  settledBelow(lowerBound: string): boolean {
    this.#trim();
    const marker = this.#candidates[this.#limit];
    return marker !== undefined && lowerBound >= marker.path;
  }

  /** The page's candidates in order, and whether more follow. */
  finish(): { readonly items: T[]; readonly hasMore: boolean } {
    this.#trim();
    const hasMore = this.#candidates.length > this.#limit;
    return { items: this.#candidates.slice(0, this.#limit), hasMore };
  }

  #trim(): void {
    this.#candidates.sort((a, b) => comparePaths(a.path, b.path));
    if (this.#candidates.length > this.#limit + 1) {
      this.#candidates.length = this.#limit + 1;
      this.#ceiling = this.#candidates[this.#limit]?.path;
    }
  }
}

/** The opaque cursor that resumes a listing after `path`. */
export function encodeCursor(path: string): string {
  return Buffer.from(`v1:${path}`, 'utf8').toString('base64url');
}

/** The path a cursor resumes after; VALIDATION_ERROR for a cursor taskforge did not make. */
export function decodeCursor(cursor: string): string {
  const decoded = Buffer.from(cursor, 'base64url').toString('utf8');
  if (!decoded.startsWith('v1:/')) {
    throw new TaskforgeError(ErrorCode.VALIDATION_ERROR, `invalid storage task: metadata.options.cursor: not a cursor from a previous list (got string ${JSON.stringify(cursor.slice(0, 60))})`, {
      details: { fields: [{ field: 'metadata.options.cursor', message: 'not a cursor from a previous list', received: 'string' }] },
    });
  }
  return decoded.slice(3);
}
