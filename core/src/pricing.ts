// Cost of a call in USD: config overrides first, then @pydantic/genai-prices' bundled data.
// An unknown price is null — never 0 — so the UI can tell "free" from "unknown".
//
// Every token kind is priced at its own rate: plain input, cache reads (cache_read), cache
// writes by TTL (5-minute at cache_write, 1-hour at cache_write_1h), output (reasoning /
// thinking and audio are parts of output and input, billed at those rates unless the price
// table has a rate of their own). `version` names the price table: the genai-prices package
// version plus a hash of the config's custom prices, stamped on every priced row.
// patches/@pydantic__genai-prices@0.1.8.patch keeps the library from redoing, on every call,
// the work that depends on the model alone (which model a name matches, its price units and
// their checks); prices are unchanged to the bit (pricing-patch.test.ts).
import { createHash } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';
import { calcPrice, type ModelPrice } from '@pydantic/genai-prices';
import type { PriceOverride } from './config.ts';

export interface Usage {
  /** All input tokens, cached ones (reads and writes) included. */
  input_tokens: number;
  output_tokens: number;
  cache_read_tokens?: number;
  /** All cache writes, 5-minute and 1-hour. */
  cache_write_tokens?: number;
  /** The 1-hour part of cache_write_tokens. */
  cache_write_1h_tokens?: number;
  input_audio_tokens?: number;
  output_audio_tokens?: number;
}

export type Pricer = ((provider: string, providerId: string | undefined, model: string, usage: Usage) => number | null) & {
  /** The price table this pricer uses (see priceVersion). */
  readonly version?: string;
};

/**
 * Anthropic's documented cache-write multipliers of the base input price: 1.25× for a
 * 5-minute write, 2× for a 1-hour write (https://docs.anthropic.com/en/docs/build-with-claude/prompt-caching#pricing).
 * Used only where a price has no 1-hour write rate of its own (a custom price without
 * `cache_write_1h`, a genai-prices model without `cache_write_1h_mtok`).
 */
export const CACHE_WRITE_1H_MULTIPLIER = 2;

function genaiPricesVersion(): string {
  try {
    const require = createRequire(import.meta.url);
    // The package's exports hide package.json: find it beside the resolved entry (dist/).
    const entry = require.resolve('@pydantic/genai-prices');
    const pkg = JSON.parse(readFileSync(join(dirname(entry), '..', 'package.json'), 'utf8')) as { version?: unknown };
    return typeof pkg.version === 'string' ? pkg.version : 'unknown';
  } catch {
    return 'unknown';
  }
}

const GENAI_PRICES_VERSION = genaiPricesVersion();

/** `genai-prices@0.1.8`, plus `+custom:<sha256 prefix>` of the custom prices when there are any. */
export function priceVersion(overrides: readonly PriceOverride[]): string {
  const base = `genai-prices@${GENAI_PRICES_VERSION}`;
  if (overrides.length === 0) return base;
  const canonical = JSON.stringify(overrides.map((o) => Object.fromEntries(Object.entries(o).sort(([a], [b]) => a.localeCompare(b)))));
  return `${base}+custom:${createHash('sha256').update(canonical).digest('hex').slice(0, 12)}`;
}

function overridePrice(o: PriceOverride, usage: Usage): number {
  const read = usage.cache_read_tokens ?? 0;
  const write = usage.cache_write_tokens ?? 0;
  const write1h = Math.min(write, usage.cache_write_1h_tokens ?? 0);
  const plain = Math.max(0, usage.input_tokens - read - write);
  const usd =
    plain * o.input +
    read * (o.cached_input ?? o.input) +
    (write - write1h) * (o.cache_write ?? o.input) +
    write1h * (o.cache_write_1h ?? o.input * CACHE_WRITE_1H_MULTIPLIER) +
    usage.output_tokens * o.output;
  return usd / 1e6;
}

/** A rate of a genai-prices model (USD per million), its base where it is tiered. */
function rate(p: ModelPrice, key: string): number | undefined {
  const v = p[key];
  if (typeof v === 'number') return v;
  return v && typeof v === 'object' ? v.base : undefined;
}

export function createPricer(overrides: readonly PriceOverride[]): Pricer {
  const table = new Map(overrides.map((o) => [`${o.provider}\u0000${o.model}`, o]));
  const known = new Map<string, boolean>();
  const price = (provider: string, providerId: string | undefined, model: string, usage: Usage): number | null => {
    const o = table.size > 0 ? table.get(`${provider}\u0000${model}`) : undefined;
    if (o) return overridePrice(o, usage);
    const key = `${providerId ?? ''}\u0000${model}`;
    if (known.get(key) === false) return null;
    const write = usage.cache_write_tokens ?? 0;
    const write1h = Math.min(write, usage.cache_write_1h_tokens ?? 0);
    let r;
    try {
      r = calcPrice(
        {
          input_tokens: usage.input_tokens,
          output_tokens: usage.output_tokens,
          cache_read_tokens: usage.cache_read_tokens ?? 0,
          cache_write_tokens: write,
          ...(write1h > 0 ? { cache_write_1h_tokens: write1h } : {}),
          ...(usage.input_audio_tokens ? { input_audio_tokens: usage.input_audio_tokens } : {}),
          ...(usage.output_audio_tokens ? { output_audio_tokens: usage.output_audio_tokens } : {}),
        },
        model,
        providerId ? { providerId } : {},
      );
    } catch {
      // Usage genai-prices refuses (parts larger than the whole): this call is unpriced, the
      // model is not marked unknown.
      return null;
    }
    known.set(key, r != null);
    if (!r) return null;
    let usd = Number(r.total_price);
    if (write1h > 0 && rate(r.model_price, 'cache_write_1h_mtok') === undefined) {
      // No 1-hour write rate in the table: genai-prices charged those tokens as 5-minute writes
      // (or as input); charge Anthropic's documented 2× base input instead.
      const input = rate(r.model_price, 'input_mtok') ?? 0;
      const charged = rate(r.model_price, 'cache_write_mtok') ?? input;
      usd += (write1h * (input * CACHE_WRITE_1H_MULTIPLIER - charged)) / 1e6;
    }
    return usd;
  };
  return Object.assign(price, { version: priceVersion(overrides) });
}
