// Exponential backoff with jitter, one definition for every retry loop (model calls, alert and
// audit deliveries). Pure: the random source is passed in.

export interface Backoff {
  base_ms: number;
  max_ms: number;
}

/**
 * Delay before retry number `n` (1-based): base·2^(n-1), capped, with "equal jitter" (half
 * fixed, half random) so synchronized clients spread out but never retry at once. A `random`
 * of `() => 1` gives the plain capped exponential.
 */
export function backoffMs(n: number, b: Backoff, random: () => number): number {
  const d = Math.min(b.max_ms, b.base_ms * 2 ** Math.max(0, n - 1));
  return d / 2 + random() * (d / 2);
}
