// Cost per call through core's pricer, memoized on the exact inputs of the price function.
// calcPrice costs ~17µs; identical (provider, model, token counts) always price the same, and
// the memo is cleared every minute so time-dependent price data still applies.
import type { Pricer } from '@gatelog/core';
import type { Tokens } from './usage.ts';

const MAX_ENTRIES = 4096;
const TTL_MS = 60_000;

export type CostFn = (provider: string, providerId: string | undefined, model: string, t: Tokens) => number | null;

export function memoizeCost(pricer: Pricer, now: () => number = Date.now): CostFn {
  let memo = new Map<string, number | null>();
  let since = now();
  return (provider, providerId, model, t) => {
    if (!model) return null;
    const ts = now();
    if (memo.size >= MAX_ENTRIES || ts - since > TTL_MS) {
      memo = new Map();
      since = ts;
    }
    const key = `${provider}\u0000${providerId ?? ''}\u0000${model}\u0000${t.input_tokens}\u0000${t.output_tokens}\u0000${t.cached_tokens}\u0000${t.cache_creation_tokens}`;
    const hit = memo.get(key);
    if (hit !== undefined) return hit;
    const usd = pricer(provider, providerId, model, {
      input_tokens: t.input_tokens,
      output_tokens: t.output_tokens,
      cache_read_tokens: t.cached_tokens,
      cache_write_tokens: t.cache_creation_tokens,
    });
    memo.set(key, usd);
    return usd;
  };
}
