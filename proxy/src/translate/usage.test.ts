import { describe, expect, it } from 'vitest';
import { anthropicStopToFinish, normalizeAnthropicUsage, normalizeOpenAIUsage, openaiFinishToStop, toAnthropicUsage, toOpenAIUsage } from './usage.ts';

describe('usage', () => {
  it('round-trips Anthropic usage through the normalized form', () => {
    const a = { input_tokens: 12, output_tokens: 30, cache_read_input_tokens: 100, cache_creation_input_tokens: 7 };
    const n = normalizeAnthropicUsage(a);
    expect(n).toEqual({ input_tokens: 119, output_tokens: 30, cached_tokens: 100, cache_creation_tokens: 7, reasoning_tokens: 0, tokens_estimated: false, cache_write_5m_tokens: 7 });
    // A write without the TTL split is a 5-minute write, and says so on the way back.
    expect(toAnthropicUsage(n)).toEqual({ ...a, cache_creation: { ephemeral_5m_input_tokens: 7, ephemeral_1h_input_tokens: 0 } });
  });

  it('round-trips OpenAI usage through the normalized form', () => {
    const o = { prompt_tokens: 50, completion_tokens: 9, total_tokens: 59, prompt_tokens_details: { cached_tokens: 32 }, completion_tokens_details: { reasoning_tokens: 4 } };
    const n = normalizeOpenAIUsage(o);
    expect(n).toEqual({ input_tokens: 50, output_tokens: 9, cached_tokens: 32, cache_creation_tokens: 0, reasoning_tokens: 4, tokens_estimated: false });
    expect(toOpenAIUsage(n)).toEqual(o);
  });

  it('treats absent fields as zero', () => {
    expect(normalizeAnthropicUsage({ input_tokens: 1, output_tokens: 2, cache_read_input_tokens: null })).toMatchObject({ input_tokens: 1, cached_tokens: 0 });
    expect(normalizeOpenAIUsage(null)).toMatchObject({ input_tokens: 0, output_tokens: 0 });
  });

  it.each([['stop', 'end_turn'], ['length', 'max_tokens'], ['tool_calls', 'tool_use'], ['function_call', 'tool_use'], ['content_filter', 'refusal'], ['something_new', 'end_turn'], [null, null]])(
    'finish %s → stop %s', (finish, stop) => expect(openaiFinishToStop(finish)).toBe(stop),
  );
  it.each([['end_turn', 'stop'], ['something_new', 'stop'], [null, null]])('stop %s → finish %s', (stop, finish) => expect(anthropicStopToFinish(stop)).toBe(finish));
});
