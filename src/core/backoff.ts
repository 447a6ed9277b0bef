/** How long to wait between attempts. */
export interface RetryPolicy {
  /** Delay ceiling for the first retry, in ms. Default 100. */
  readonly baseDelayMs: number;
  /** No retry waits longer than this, in ms. Default 10,000. */
  readonly maxDelayMs: number;
  /** Source of randomness in [0, 1); replaceable for tests. Default Math.random. */
  readonly random: () => number;
}

/** The defaults of {@link RetryPolicy}. */
export const DEFAULT_RETRY_POLICY: RetryPolicy = {
  baseDelayMs: 100,
  maxDelayMs: 10_000,
  random: Math.random,
};

/**
 * Exponential backoff with full jitter: a uniform delay in
 * [0, min(max, base * 2^(retry-1))]. Full jitter spreads retries of many
 * tasks that failed together, so they do not hit the backend in lockstep.
 *
 * @param retry 1 for the first retry, 2 for the second, and so on.
 */
export function backoffDelay(retry: number, policy: RetryPolicy): number {
  const ceiling = Math.min(policy.maxDelayMs, policy.baseDelayMs * 2 ** Math.max(0, retry - 1));
  return Math.floor(policy.random() * ceiling);
}
