// Cost of a call in USD: config overrides first, then @pydantic/genai-prices' bundled data.
// An unknown price is null — never 0 — so the UI can tell "free" from "unknown".
import { calcPrice } from '@pydantic/genai-prices';
import type { PriceOverride } from './config.ts';

export interface Usage {
  /** All input tokens, cached ones included. */
  input_tokens: number;
  output_tokens: number;
  cache_read_tokens?: number;
  cache_write_tokens?: number;
}

export type Pricer = (provider: string, providerId: string | undefined, model: string, usage: Usage) => number | null;

export function createPricer(overrides: readonly PriceOverride[]): Pricer {
  const table = new Map(overrides.map((o) => [`${o.provider}\u0000${o.model}`, o]));
  const cache = new Map<string, boolean>();
  return (provider, providerId, model, usage) => {
    const o = table.get(`${provider}\u0000${model}`);
    if (o) {
      const read = usage.cache_read_tokens ?? 0;
      const write = usage.cache_write_tokens ?? 0;
      const plain = Math.max(0, usage.input_tokens - read - write);
      const usd =
        plain * o.input +
        read * (o.cached_input ?? o.input) +
        write * (o.cache_write ?? o.input) +
        usage.output_tokens * o.output;
      return usd / 1e6;
    }
    const key = `${providerId ?? ''}\u0000${model}`;
    if (cache.get(key) === false) return null;
    try {
      const r = calcPrice(
        {
          input_tokens: usage.input_tokens,
          output_tokens: usage.output_tokens,
          cache_read_tokens: usage.cache_read_tokens ?? 0,
          cache_write_tokens: usage.cache_write_tokens ?? 0,
        },
        model,
        providerId ? { providerId } : {},
      );
      cache.set(key, r != null);
      return r ? Number(r.total_price) : null;
    } catch {
      cache.set(key, false);
      return null;
    }
  };
}
