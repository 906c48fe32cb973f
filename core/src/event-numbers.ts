// Numbers an upstream reports are input like any other: a usage of 1e308 tokens, a negative
// count or a NaN must not cost a call its record (ClickHouse refuses such a row, and the whole
// call would end in the dead-letter file, invisible in the explorer). Both ends use these
// bounds: the proxy when it builds an event (capture) and ingest when ClickHouse refuses a
// row (it repairs the row once before dead-lettering it).
//
// - Token counts must be integers in [0, MAX_TOKENS_PER_CALL]. If any is not, the upstream's
//   usage is treated as missing: every count is replaced by an estimate from the body sizes
//   (BYTES_PER_TOKEN_ESTIMATE bytes a token), `tokens_estimated` is set, and error_type is
//   USAGE_INVALID (when the call has no other error) so these calls can be found.
// - cost_usd / cache_saved_usd: non-finite, negative or above MAX_COST_USD → null / 0.
// - Durations (ms): non-finite or negative → 0, capped at MAX_DURATION_MS; byte counts capped
//   at MAX_SAFE_INTEGER; status outside [0, 999] → 0.
// - Units (migration 0030): counts outside [0, MAX_TOKENS_PER_CALL] → 0 (not reported); audio
//   seconds non-finite or negative → 0, capped at MAX_AUDIO_SECONDS.

/** No model reads or writes anywhere near this many tokens in one call (UInt32 holds 4.29e9). */
export const MAX_TOKENS_PER_CALL = 100_000_000;
export const MAX_COST_USD = 1_000_000;
export const MAX_DURATION_MS = 7 * 86_400_000;
export const BYTES_PER_TOKEN_ESTIMATE = 4;
/** Longer than any audio one call can carry (a 25 MB upload is hours at most). */
export const MAX_AUDIO_SECONDS = MAX_DURATION_MS / 1000;
const UNIT_COUNTS = ['input_image_tokens', 'input_characters', 'images'] as const;
export const USAGE_INVALID = 'upstream_usage_invalid';

export const TOKEN_FIELDS = ['input_tokens', 'output_tokens', 'cached_tokens', 'cache_creation_tokens', 'reasoning_tokens'] as const;
type TokenField = (typeof TOKEN_FIELDS)[number];

export const saneTokenCount = (v: unknown): v is number => typeof v === 'number' && Number.isInteger(v) && v >= 0 && v <= MAX_TOKENS_PER_CALL;

/** Whether every token count of `t` is usable. */
export function tokensAreSane(t: Partial<Record<TokenField, unknown>>): boolean {
  return TOKEN_FIELDS.every((f) => t[f] === undefined || saneTokenCount(t[f]));
}

/** Counts estimated from the call's body sizes, for usage that cannot be used. */
export function tokensFromBytes(requestBytes: number, responseBytes: number): Record<TokenField, number> & { tokens_estimated: true } {
  const est = (b: number): number => Math.min(MAX_TOKENS_PER_CALL, Math.ceil(Math.max(0, Number.isFinite(b) ? b : 0) / BYTES_PER_TOKEN_ESTIMATE));
  return { input_tokens: est(requestBytes), output_tokens: est(responseBytes), cached_tokens: 0, cache_creation_tokens: 0, reasoning_tokens: 0, tokens_estimated: true };
}

const saneStatus = (v: unknown): boolean => typeof v === 'number' && Number.isInteger(v) && v >= 0 && v <= 999;
const finiteIn = (v: unknown, max: number): number => (typeof v === 'number' && Number.isFinite(v) && v >= 0 ? Math.min(v, max) : 0);

/**
 * Bring every number of a (parsed, possibly foreign) event object within bounds, in place.
 * Returns whether anything changed. Non-number fields are left to the schema.
 */
export function sanitizeEventNumbers(e: Record<string, unknown>): boolean {
  const before = JSON.stringify(e);
  if (!tokensAreSane(e)) {
    const bytes = (k: string): number => (typeof e[k] === 'number' ? (e[k] as number) : 0);
    Object.assign(e, tokensFromBytes(bytes('request_bytes'), bytes('response_bytes')));
    if (!e['error_type']) e['error_type'] = USAGE_INVALID;
  }
  for (const k of ['cost_usd', 'cache_saved_usd'] as const) {
    const v = e[k];
    if (v === null || v === undefined) continue;
    if (typeof v !== 'number' || !Number.isFinite(v) || v < 0 || v > MAX_COST_USD) e[k] = k === 'cost_usd' ? null : 0;
  }
  // Only fields that are there: anything missing is the schema's business.
  for (const k of ['latency_ms', 'overhead_ms']) if (k in e) e[k] = finiteIn(e[k], MAX_DURATION_MS);
  if ('ttft_ms' in e && e['ttft_ms'] !== null) e['ttft_ms'] = finiteIn(e['ttft_ms'], MAX_DURATION_MS);
  for (const k of ['request_bytes', 'response_bytes']) if (k in e) e[k] = Math.floor(finiteIn(e[k], Number.MAX_SAFE_INTEGER));
  if ('status' in e && !saneStatus(e['status'])) e['status'] = 0;
  for (const k of UNIT_COUNTS) if (k in e && !saneTokenCount(e[k])) e[k] = 0;
  if ('audio_seconds' in e) e['audio_seconds'] = finiteIn(e['audio_seconds'], MAX_AUDIO_SECONDS);
  if (Array.isArray(e['attempts'])) {
    for (const a of e['attempts'] as Record<string, unknown>[]) {
      if (!a || typeof a !== 'object') continue;
      if ('latency_ms' in a) a['latency_ms'] = finiteIn(a['latency_ms'], MAX_DURATION_MS);
      if ('status' in a && !saneStatus(a['status'])) a['status'] = 0;
    }
  }
  return JSON.stringify(e) !== before;
}
