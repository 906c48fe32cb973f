// The one usage normaliser of the proxy: any usage object an upstream reports (OpenAI chat or
// Responses, Anthropic Messages, Gemini's usageMetadata) → our token columns. Capture (the
// call's record) and translation (the usage a translated answer carries, and what the
// translating adapters record) both read usage through `tokensFromUsage`, so the same usage
// object can never be recorded two ways.
//
// Conventions (one for every provider):
// - input_tokens is the whole prompt, cache reads and writes included (OpenAI's convention);
//   Anthropic's input_tokens excludes them, so they are added back.
// - output_tokens is everything billed at the output rate: reasoning / thinking included
//   (reasoning_tokens says how much of it was reasoning).
// - cache_creation_tokens = cache_write_5m_tokens + cache_write_1h_tokens (Anthropic writes by
//   TTL; a write without the split is a 5-minute write, Anthropic's default TTL).
// - input/output_audio_tokens are part of input/output_tokens (OpenAI audio models, Gemini).

export interface Tokens {
  input_tokens: number;
  output_tokens: number;
  /** Input tokens read from the provider's prompt cache (included in input_tokens). */
  cached_tokens: number;
  /** Input tokens written to the provider's prompt cache (included in input_tokens): 5m + 1h. */
  cache_creation_tokens: number;
  /** Output tokens spent on reasoning / thinking (included in output_tokens). */
  reasoning_tokens: number;
  tokens_estimated: boolean;
  /** Cache writes with a 5-minute TTL (part of cache_creation_tokens); absent = 0. */
  cache_write_5m_tokens?: number;
  /** Cache writes with a 1-hour TTL (part of cache_creation_tokens); absent = 0. */
  cache_write_1h_tokens?: number;
  /** Audio input tokens (part of input_tokens); absent = 0. */
  input_audio_tokens?: number;
  /** Audio output tokens (part of output_tokens); absent = 0. */
  output_audio_tokens?: number;
}

export const NO_TOKENS: Readonly<Tokens> = Object.freeze({
  input_tokens: 0,
  output_tokens: 0,
  cached_tokens: 0,
  cache_creation_tokens: 0,
  reasoning_tokens: 0,
  tokens_estimated: false,
});

const nonNeg = (v: unknown): number => (typeof v === 'number' && Number.isFinite(v) && v > 0 ? Math.floor(v) : 0);
const obj = (v: unknown): Record<string, unknown> => (v && typeof v === 'object' && !Array.isArray(v) ? (v as Record<string, unknown>) : {});

/**
 * Only the detail fields that are non-zero, so simple calls keep simple records. A part never
 * exceeds its whole (a bogus report cannot make a column overflow what its total allows).
 */
function withDetail(t: Tokens, detail: { w5?: number; w1h?: number; ain?: number; aout?: number }): Tokens {
  if (detail.w5) t.cache_write_5m_tokens = detail.w5;
  if (detail.w1h) t.cache_write_1h_tokens = detail.w1h;
  if (detail.ain) t.input_audio_tokens = Math.min(detail.ain, t.input_tokens);
  if (detail.aout) t.output_audio_tokens = Math.min(detail.aout, t.output_tokens);
  return t;
}

/** OpenAI chat/completions (and the OpenAI-compatible family: Gemini, OpenRouter, …). */
function fromChat(u: Record<string, unknown>): Tokens {
  const prompt = nonNeg(u['prompt_tokens']);
  const completion = nonNeg(u['completion_tokens']);
  const pd = obj(u['prompt_tokens_details']);
  const cd = obj(u['completion_tokens_details']);
  let reasoning = nonNeg(cd['reasoning_tokens']);
  // Gemini's OpenAI endpoint bills thoughts it leaves out of completion_tokens: total says so.
  const hidden = nonNeg(u['total_tokens']) - prompt - completion;
  if (hidden > 0) reasoning = Math.max(reasoning, hidden);
  // Some OpenAI-compatible providers (OpenRouter, our own translation) report cache writes here.
  const write = nonNeg(pd['cache_write_tokens']);
  return withDetail(
    {
      input_tokens: prompt,
      output_tokens: hidden > 0 ? completion + hidden : completion,
      cached_tokens: nonNeg(pd['cached_tokens']),
      cache_creation_tokens: write,
      reasoning_tokens: reasoning,
      tokens_estimated: false,
    },
    { w5: write - Math.min(write, nonNeg(pd['cache_write_1h_tokens'])), w1h: Math.min(write, nonNeg(pd['cache_write_1h_tokens'])), ain: nonNeg(pd['audio_tokens']), aout: nonNeg(cd['audio_tokens']) },
  );
}

/** OpenAI Responses: cached and reasoning are parts of input and output. */
function fromResponses(u: Record<string, unknown>): Tokens {
  // Transcriptions (gpt-4o-transcribe) spell it `input_token_details`: {text_tokens, audio_tokens}.
  const id = obj(u['input_tokens_details'] ?? u['input_token_details']);
  const od = obj(u['output_tokens_details']);
  return withDetail(
    {
      input_tokens: nonNeg(u['input_tokens']),
      output_tokens: nonNeg(u['output_tokens']),
      cached_tokens: nonNeg(id['cached_tokens']),
      cache_creation_tokens: 0,
      reasoning_tokens: nonNeg(od['reasoning_tokens']),
      tokens_estimated: false,
    },
    { ain: nonNeg(id['audio_tokens']), aout: nonNeg(od['audio_tokens']) },
  );
}

/** Gemini's native usageMetadata: thoughts are billed as output but left out of candidates. */
function fromGemini(u: Record<string, unknown>): Tokens {
  const thoughts = nonNeg(u['thoughtsTokenCount']);
  const audio = (list: unknown): number =>
    Array.isArray(list) ? list.reduce<number>((n, d) => n + (obj(d)['modality'] === 'AUDIO' ? nonNeg(obj(d)['tokenCount']) : 0), 0) : 0;
  return withDetail(
    {
      input_tokens: nonNeg(u['promptTokenCount']) + nonNeg(u['toolUsePromptTokenCount']),
      output_tokens: nonNeg(u['candidatesTokenCount']) + thoughts,
      cached_tokens: nonNeg(u['cachedContentTokenCount']),
      cache_creation_tokens: 0,
      reasoning_tokens: thoughts,
      tokens_estimated: false,
    },
    { ain: audio(u['promptTokensDetails']), aout: audio(u['candidatesTokensDetails']) },
  );
}

/** Anthropic Messages: input_tokens excludes cache reads and writes; writes split by TTL. */
function fromAnthropic(u: Record<string, unknown>): Tokens {
  const read = nonNeg(u['cache_read_input_tokens']);
  const cc = obj(u['cache_creation']);
  const w1h = nonNeg(cc['ephemeral_1h_input_tokens']);
  const write = Math.max(nonNeg(u['cache_creation_input_tokens']), nonNeg(cc['ephemeral_5m_input_tokens']) + w1h);
  return withDetail(
    {
      input_tokens: nonNeg(u['input_tokens']) + read + write,
      output_tokens: nonNeg(u['output_tokens']),
      cached_tokens: read,
      cache_creation_tokens: write,
      reasoning_tokens: 0,
      tokens_estimated: false,
    },
    { w5: write - Math.min(write, w1h), w1h: Math.min(write, w1h) },
  );
}

/** Any usage object an upstream reports, recognised by its shape. */
export function tokensFromUsage(raw: unknown): Tokens {
  const u = obj(raw);
  if (u['prompt_tokens'] !== undefined || u['completion_tokens'] !== undefined) return fromChat(u);
  if (u['input_tokens_details'] !== undefined || u['output_tokens_details'] !== undefined || u['input_token_details'] !== undefined) return fromResponses(u);
  if (u['promptTokenCount'] !== undefined || u['candidatesTokenCount'] !== undefined) return fromGemini(u);
  return fromAnthropic(u);
}

/** A copy of `t` with every detail field present (0 when absent): for events and pricing. */
export function tokenDetail(t: Tokens): Required<Pick<Tokens, 'cache_write_5m_tokens' | 'cache_write_1h_tokens' | 'input_audio_tokens' | 'output_audio_tokens'>> {
  const w1h = Math.min(t.cache_creation_tokens, t.cache_write_1h_tokens ?? 0);
  return {
    // Writes whose TTL nobody reported are 5-minute writes (Anthropic's default).
    cache_write_5m_tokens: t.cache_creation_tokens - w1h,
    cache_write_1h_tokens: w1h,
    input_audio_tokens: t.input_audio_tokens ?? 0,
    output_audio_tokens: t.output_audio_tokens ?? 0,
  };
}
