// Usage and finish-reason mapping shared by all translators.
import type { AnthropicStopReason, AnthropicUsage } from './types-anthropic.ts';
import type { OpenAIFinishReason, OpenAIUsage } from './types-openai.ts';
import { isObject, num } from './guards.ts';

/**
 * Provider-neutral token counts for pricing and the call event.
 * input_tokens is the whole prompt, cached parts included (the OpenAI convention), so
 * uncached input = input_tokens - cache_read_tokens - cache_write_tokens.
 */
export interface NormalizedUsage {
  input_tokens: number;
  output_tokens: number;
  cache_read_tokens: number;
  cache_write_tokens: number;
  reasoning_tokens: number;
}

export function emptyUsage(): NormalizedUsage {
  return { input_tokens: 0, output_tokens: 0, cache_read_tokens: 0, cache_write_tokens: 0, reasoning_tokens: 0 };
}

/** Anthropic reports input_tokens without the cached parts; we add them back. */
export function normalizeAnthropicUsage(u: Partial<AnthropicUsage> | undefined): NormalizedUsage {
  const read = num(u?.cache_read_input_tokens);
  const write = num(u?.cache_creation_input_tokens);
  return {
    input_tokens: num(u?.input_tokens) + read + write,
    output_tokens: num(u?.output_tokens),
    cache_read_tokens: read,
    cache_write_tokens: write,
    reasoning_tokens: 0,
  };
}

export function normalizeOpenAIUsage(u: unknown): NormalizedUsage {
  if (!isObject(u)) return emptyUsage();
  const details = isObject(u['prompt_tokens_details']) ? u['prompt_tokens_details'] : {};
  const cdetails = isObject(u['completion_tokens_details']) ? u['completion_tokens_details'] : {};
  return {
    input_tokens: num(u['prompt_tokens']),
    output_tokens: num(u['completion_tokens']),
    cache_read_tokens: num(details['cached_tokens']),
    cache_write_tokens: 0,
    reasoning_tokens: num(cdetails['reasoning_tokens']),
  };
}

export function toOpenAIUsage(n: NormalizedUsage): OpenAIUsage {
  const u: OpenAIUsage = {
    prompt_tokens: n.input_tokens,
    completion_tokens: n.output_tokens,
    total_tokens: n.input_tokens + n.output_tokens,
    prompt_tokens_details: { cached_tokens: n.cache_read_tokens },
  };
  if (n.reasoning_tokens > 0) u.completion_tokens_details = { reasoning_tokens: n.reasoning_tokens };
  return u;
}

export function toAnthropicUsage(n: NormalizedUsage): AnthropicUsage {
  return {
    input_tokens: Math.max(0, n.input_tokens - n.cache_read_tokens - n.cache_write_tokens),
    output_tokens: n.output_tokens,
    cache_creation_input_tokens: n.cache_write_tokens,
    cache_read_input_tokens: n.cache_read_tokens,
  };
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
