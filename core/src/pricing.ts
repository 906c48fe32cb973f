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
//
// Calls billed by a unit (audio seconds, speech characters, images) pass `units`: such a call
// with no tokens is priced by genai-prices where it has that unit (Whisper's seconds), else by
// unit-prices.ts' table of OpenAI's published rates; a config entry's unit rates come first.
// A unit nobody has a rate for leaves the call unpriced (null), as an unknown model does.
import { createHash } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';
import { calcPrice, type ModelPrice } from '@pydantic/genai-prices';
import type { PriceOverride } from './config.ts';
import { builtInUnitRates, chargeUnits, type Units } from './unit-prices.ts';

export type { Units, UnitRates } from './unit-prices.ts';
export { hasUnits } from './unit-prices.ts';

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

/** `units`: only for calls billed beyond text tokens (audio and image APIs); chat calls pass none. */
export type Pricer = ((provider: string, providerId: string | undefined, model: string, usage: Usage, units?: Units) => number | null) & {
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

/** JSON with every object's keys sorted: the same prices hash the same whatever their order. */
function canonical(v: unknown): string {
  if (Array.isArray(v)) return `[${v.map(canonical).join(',')}]`;
  if (v && typeof v === 'object') {
    return `{${Object.entries(v).sort(([a], [b]) => a.localeCompare(b)).map(([k, x]) => `${JSON.stringify(k)}:${canonical(x)}`).join(',')}}`;
  }
  return JSON.stringify(v);
}

/** `genai-prices@0.1.8`, plus `+custom:<sha256 prefix>` of the custom prices when there are any. */
export function priceVersion(overrides: readonly PriceOverride[]): string {
  const base = `genai-prices@${GENAI_PRICES_VERSION}`;
  if (overrides.length === 0) return base;
  return `${base}+custom:${createHash('sha256').update(canonical(overrides)).digest('hex').slice(0, 12)}`;
}

/** USD of the tokens at a config entry's token rates. */
function overrideTokens(o: PriceOverride & { input: number; output: number }, usage: Usage, imageTokens: number): number {
  const read = usage.cache_read_tokens ?? 0;
  const write = usage.cache_write_tokens ?? 0;
  const write1h = Math.min(write, usage.cache_write_1h_tokens ?? 0);
  const plain = Math.max(0, usage.input_tokens - read - write);
  const image = Math.min(plain, imageTokens);
  const usd =
    (plain - image) * o.input +
    image * (o.input_image ?? o.input) +
    read * (o.cached_input ?? o.input) +
    (write - write1h) * (o.cache_write ?? o.input) +
    write1h * (o.cache_write_1h ?? o.input * CACHE_WRITE_1H_MULTIPLIER) +
    usage.output_tokens * o.output;
  return usd / 1e6;
}

const hasTokenRates = (o: PriceOverride): o is PriceOverride & { input: number; output: number } => o.input !== undefined && o.output !== undefined;

/**
 * A config entry's price: tokens at its token rates, plus each reported unit at its unit rate.
 * Null when the call used tokens and the entry has no token rates, or used no tokens and
 * reported a unit the entry has no rate for.
 */
function overridePrice(o: PriceOverride, usage: Usage, units: Units | undefined): number | null {
  const tokens = usage.input_tokens + usage.output_tokens > 0;
  let usd = 0;
  if (hasTokenRates(o)) usd = overrideTokens(o, usage, units?.input_image_tokens ?? 0);
  else if (tokens) return null;
  if (!units) return usd;
  const c = chargeUnits(o, units);
  // With tokens, a unit without a rate is information (gpt-image's image count); without, it is what the call is billed by.
  return !tokens && c.missing ? null : usd + c.usd;
}

/** A call that used no tokens, by its units: genai-prices where it prices them, else the built-in table. */
function unitPrice(providerId: string | undefined, model: string, units: Units): number | null {
  if ((units.audio_seconds ?? 0) > 0) {
    try {
      const r = calcPrice({ input_tokens: 0, output_tokens: 0, audio_seconds: units.audio_seconds }, model, providerId ? { providerId } : {});
      // Known by name but with no audio rate (a token-priced model): not priced by seconds here.
      if (r && (rate(r.model_price, 'audio_hours') !== undefined || rate(r.model_price, 'input_audio_hours') !== undefined)) return Number(r.total_price);
    } catch {
      // Usage genai-prices refuses: try the built-in table.
    }
  }
  const b = builtInUnitRates(providerId, model);
  if (!b) return null;
  const c = chargeUnits(b, units, b);
  return c.priced && !c.missing ? c.usd : null;
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
  const price = (provider: string, providerId: string | undefined, model: string, usage: Usage, units?: Units): number | null => {
    const o = table.size > 0 ? table.get(`${provider}\u0000${model}`) : undefined;
    if (o) return overridePrice(o, usage, units);
    if (units !== undefined && usage.input_tokens + usage.output_tokens === 0) return unitPrice(providerId, model, units);
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
          // gpt-image models price image input tokens at input_image_mtok (a part of input_tokens).
          ...(units?.input_image_tokens ? { input_image_tokens: units.input_image_tokens } : {}),
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
