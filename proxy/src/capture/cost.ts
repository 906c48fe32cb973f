// Cost per call through core's pricer: genai-prices, patched (patches/@pydantic__genai-prices)
// so the work that depends on the model alone is done once — ~3 µs a call with varying token
// counts. Not memoized: real calls differ in their token counts, so a memo on the exact inputs
// missed nearly always and its key cost ~1 µs on every call (BENCHMARKS.md, "Ninth round").
import { hasUnits, type Pricer, type Units } from '@gatelog/core';
import { tokenDetail, type Tokens } from './usage-normalize.ts';

export type CostFn = ((provider: string, providerId: string | undefined, model: string, t: Tokens, units?: Units) => number | null) & {
  /** The pricer's price table (stamped on each event as price_version). */
  readonly version?: string;
};

/** The pricer, fed a call's normalized token counts (and units: audio and images calls only). */
export function costFn(pricer: Pricer): CostFn {
  const cost = (provider: string, providerId: string | undefined, model: string, t: Tokens, units?: Units): number | null => {
    if (!model) return null;
    const d = tokenDetail(t);
    return pricer(provider, providerId, model, {
      input_tokens: t.input_tokens,
      output_tokens: t.output_tokens,
      cache_read_tokens: t.cached_tokens,
      cache_write_tokens: t.cache_creation_tokens,
      cache_write_1h_tokens: d.cache_write_1h_tokens,
      input_audio_tokens: d.input_audio_tokens,
      output_audio_tokens: d.output_audio_tokens,
    }, units);
  };
  return pricer.version === undefined ? cost : Object.assign(cost, { version: pricer.version });
}

/** The event's per-kind token columns and the price table its cost came from (migration 0015). */
export function costDetail(t: Tokens, cost: CostFn): { cache_write_5m_tokens: number; cache_write_1h_tokens: number; input_audio_tokens: number; output_audio_tokens: number; price_version: string } {
  return { ...tokenDetail(t), price_version: cost.version ?? '' };
}

/** What prices one call: its outcome, where it went and the tokens it used. */
export interface PricedCall {
  /** The API the client spoke (client_api). */
  api?: string | undefined;
  outcome: string;
  cacheHit: boolean;
  provider: string;
  providerId: string | undefined;
  deploymentModel: string;
  upstreamModel: string;
  tokens: Tokens;
  /** Audio seconds, speech characters, images (media-units.ts); undefined for other APIs. */
  units?: Units | undefined;
}

/**
 * Audio calls whose answer may report no tokens: speech reports no usage, Whisper reports
 * seconds, and both are billed by what tokens do not show (characters, minutes). With neither
 * tokens nor such a unit recorded, their price is unknown, not 0.
 */
const BILLED_BEYOND_TOKENS: ReadonlySet<string> = new Set(['openai.audio.transcriptions', 'openai.audio.translations', 'openai.audio.speech']);

/**
 * A call's cost_usd, the one rule for recording and repricing: a refusal or a cache hit costs 0;
 * a call that used no tokens and did not succeed has no price (null), nor does an audio call
 * with neither tokens nor units recorded; otherwise the deployment model's price, else the
 * model the upstream reported.
 */
export function callCost(cost: CostFn, c: PricedCall): number | null {
  if (c.cacheHit || c.outcome === 'refused') return 0;
  const none = c.tokens.input_tokens + c.tokens.output_tokens === 0;
  if (none && (c.outcome !== 'success' || (c.api !== undefined && BILLED_BEYOND_TOKENS.has(c.api) && !hasUnits(c.units)))) return null;
  return cost(c.provider, c.providerId, c.deploymentModel, c.tokens, c.units) ??
    (c.upstreamModel && c.upstreamModel !== c.deploymentModel ? cost(c.provider, c.providerId, c.upstreamModel, c.tokens, c.units) : null);
}
