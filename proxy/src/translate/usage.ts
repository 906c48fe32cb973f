// Usage and finish-reason mapping shared by all translators (usage read by the proxy's one normaliser).
import type { AnthropicStopReason, AnthropicUsage } from './types-anthropic.ts';
import type { OpenAIFinishReason, OpenAIUsage } from './types-openai.ts';
import { isObject } from './guards.ts';
import { NO_TOKENS, tokenDetail, tokensFromUsage, type Tokens } from '../capture/usage-normalize.ts';

/**
 * Provider-neutral token counts: the proxy's one normaliser (capture/usage-normalize.ts), so a
 * translated answer carries, and its call records, exactly what capture would read from the
 * upstream's own usage. input_tokens is the whole prompt, cached parts included (the OpenAI
 * convention), so uncached input = input_tokens - cached_tokens - cache_creation_tokens.
 */
export type NormalizedUsage = Tokens;

export function emptyUsage(): NormalizedUsage {
  return { ...NO_TOKENS };
}

/** Anthropic reports input_tokens without the cached parts; the normaliser adds them back. */
export function normalizeAnthropicUsage(u: Partial<AnthropicUsage> | undefined): NormalizedUsage {
  return tokensFromUsage(u ?? {});
}

export function normalizeOpenAIUsage(u: unknown): NormalizedUsage {
  return isObject(u) ? tokensFromUsage(u) : emptyUsage();
}

export function toOpenAIUsage(n: NormalizedUsage): OpenAIUsage {
  const d = tokenDetail(n);
  const u: OpenAIUsage = {
    prompt_tokens: n.input_tokens,
    completion_tokens: n.output_tokens,
    total_tokens: n.input_tokens + n.output_tokens,
    prompt_tokens_details: { cached_tokens: n.cached_tokens },
  };
  // Cache writes have no OpenAI field of their own; OpenAI-compatible providers (OpenRouter)
  // report them as prompt_tokens_details.cache_write_tokens, which the normaliser reads back.
  if (n.cache_creation_tokens > 0) {
    u.prompt_tokens_details = { ...u.prompt_tokens_details, cache_write_tokens: n.cache_creation_tokens };
    if (d.cache_write_1h_tokens > 0) u.prompt_tokens_details.cache_write_1h_tokens = d.cache_write_1h_tokens;
  }
  if (d.input_audio_tokens > 0) u.prompt_tokens_details = { ...u.prompt_tokens_details, audio_tokens: d.input_audio_tokens };
  if (n.reasoning_tokens > 0) u.completion_tokens_details = { reasoning_tokens: n.reasoning_tokens };
  if (d.output_audio_tokens > 0) u.completion_tokens_details = { ...u.completion_tokens_details, audio_tokens: d.output_audio_tokens };
  return u;
}

export function toAnthropicUsage(n: NormalizedUsage): AnthropicUsage {
  const u: AnthropicUsage = {
    input_tokens: Math.max(0, n.input_tokens - n.cached_tokens - n.cache_creation_tokens),
    output_tokens: n.output_tokens,
    cache_creation_input_tokens: n.cache_creation_tokens,
    cache_read_input_tokens: n.cached_tokens,
  };
  if (n.cache_creation_tokens > 0) {
    const d = tokenDetail(n);
    u.cache_creation = { ephemeral_5m_input_tokens: d.cache_write_5m_tokens, ephemeral_1h_input_tokens: d.cache_write_1h_tokens };
  }
  return u;
}

const STOP_TO_FINISH: Record<AnthropicStopReason, OpenAIFinishReason> = {
  end_turn: 'stop',
  stop_sequence: 'stop',
  // pause_turn: a server tool loop paused; the turn is over from the client's point of view.
  pause_turn: 'stop',
  max_tokens: 'length',
  model_context_window_exceeded: 'length',
  tool_use: 'tool_calls',
  refusal: 'content_filter',
};

export function anthropicStopToFinish(stop: unknown): OpenAIFinishReason | null {
  if (typeof stop !== 'string') return null;
  return (STOP_TO_FINISH as Record<string, OpenAIFinishReason | undefined>)[stop] ?? 'stop';
}

const FINISH_TO_STOP: Record<OpenAIFinishReason, AnthropicStopReason> = {
  stop: 'end_turn',
  length: 'max_tokens',
  tool_calls: 'tool_use',
  function_call: 'tool_use',
  content_filter: 'refusal',
};

export function openaiFinishToStop(finish: unknown): AnthropicStopReason | null {
  if (typeof finish !== 'string') return null;
  return (FINISH_TO_STOP as Record<string, AnthropicStopReason | undefined>)[finish] ?? 'end_turn';
}
