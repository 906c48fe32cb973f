import { describe, expect, it } from 'vitest';
import { tokensFromUsage } from './usage.ts';

describe('tokensFromUsage: every usage shape an upstream reports', () => {
  it.each([
    ['OpenAI chat', { prompt_tokens: 21, completion_tokens: 9, total_tokens: 30, prompt_tokens_details: { cached_tokens: 4 }, completion_tokens_details: { reasoning_tokens: 2 } },
      { input_tokens: 21, output_tokens: 9, cached_tokens: 4, cache_creation_tokens: 0, reasoning_tokens: 2 }],
    ['Gemini (thoughts only in total_tokens)', { prompt_tokens: 10, completion_tokens: 5, total_tokens: 45 },
      { input_tokens: 10, output_tokens: 35, cached_tokens: 0, cache_creation_tokens: 0, reasoning_tokens: 30 }],
    ['Anthropic (cache reads and writes outside input_tokens)', { input_tokens: 30, output_tokens: 12, cache_read_input_tokens: 100, cache_creation_input_tokens: 50 },
      { input_tokens: 180, output_tokens: 12, cached_tokens: 100, cache_creation_tokens: 50, reasoning_tokens: 0 }],
    ['Anthropic with null cache fields', { input_tokens: 7, output_tokens: 3, cache_read_input_tokens: null, cache_creation_input_tokens: null },
      { input_tokens: 7, output_tokens: 3, cached_tokens: 0, cache_creation_tokens: 0, reasoning_tokens: 0 }],
    ['OpenAI Responses', { input_tokens: 20, input_tokens_details: { cached_tokens: 8 }, output_tokens: 6, output_tokens_details: { reasoning_tokens: 2 }, total_tokens: 26 },
      { input_tokens: 20, output_tokens: 6, cached_tokens: 8, cache_creation_tokens: 0, reasoning_tokens: 2 }],
  ])('%s', (_name, usage, expected) => {
    expect(tokensFromUsage(usage)).toEqual({ ...expected, tokens_estimated: false });
  });
});
