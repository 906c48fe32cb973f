// Real usage objects as providers send them (copied from their API references and observed
// answers), through the proxy's one normaliser, and back out through the translators' shapes.
import { describe, expect, it } from 'vitest';
import { tokensFromUsage } from './usage.ts';
import { normalizeAnthropicUsage, normalizeOpenAIUsage, toAnthropicUsage, toOpenAIUsage } from '../translate/usage.ts';

const base = { cached_tokens: 0, cache_creation_tokens: 0, reasoning_tokens: 0, tokens_estimated: false };

describe('tokensFromUsage: every usage shape an upstream reports', () => {
  it.each([
    ['OpenAI chat', { prompt_tokens: 21, completion_tokens: 9, total_tokens: 30, prompt_tokens_details: { cached_tokens: 4 }, completion_tokens_details: { reasoning_tokens: 2 } },
      { ...base, input_tokens: 21, output_tokens: 9, cached_tokens: 4, reasoning_tokens: 2 }],
    ['OpenAI chat, o-series with every detail', {
      prompt_tokens: 1117, completion_tokens: 46, total_tokens: 1163,
      prompt_tokens_details: { cached_tokens: 1024, audio_tokens: 0 },
      completion_tokens_details: { reasoning_tokens: 32, audio_tokens: 0, accepted_prediction_tokens: 0, rejected_prediction_tokens: 0 },
    }, { ...base, input_tokens: 1117, output_tokens: 46, cached_tokens: 1024, reasoning_tokens: 32 }],
    ['OpenAI gpt-4o-audio', { prompt_tokens: 300, completion_tokens: 120, total_tokens: 420, prompt_tokens_details: { cached_tokens: 0, audio_tokens: 250 }, completion_tokens_details: { reasoning_tokens: 0, audio_tokens: 100 } },
      { ...base, input_tokens: 300, output_tokens: 120, input_audio_tokens: 250, output_audio_tokens: 100 }],
    ['Gemini OpenAI endpoint (thoughts only in total_tokens)', { prompt_tokens: 10, completion_tokens: 5, total_tokens: 45 },
      { ...base, input_tokens: 10, output_tokens: 35, reasoning_tokens: 30 }],
    ['Gemini native usageMetadata', {
      promptTokenCount: 1200, candidatesTokenCount: 80, thoughtsTokenCount: 400, cachedContentTokenCount: 1024, totalTokenCount: 1680,
      promptTokensDetails: [{ modality: 'TEXT', tokenCount: 1000 }, { modality: 'AUDIO', tokenCount: 200 }],
    }, { ...base, input_tokens: 1200, output_tokens: 480, cached_tokens: 1024, reasoning_tokens: 400, input_audio_tokens: 200 }],
    ['Anthropic (cache reads and writes outside input_tokens, no TTL split)', { input_tokens: 30, output_tokens: 12, cache_read_input_tokens: 100, cache_creation_input_tokens: 50 },
      { ...base, input_tokens: 180, output_tokens: 12, cached_tokens: 100, cache_creation_tokens: 50, cache_write_5m_tokens: 50 }],
    ['Anthropic with both cache-write TTLs', {
      input_tokens: 12, output_tokens: 300, cache_read_input_tokens: 2000, cache_creation_input_tokens: 1500,
      cache_creation: { ephemeral_5m_input_tokens: 500, ephemeral_1h_input_tokens: 1000 }, service_tier: 'standard',
    }, { ...base, input_tokens: 3512, output_tokens: 300, cached_tokens: 2000, cache_creation_tokens: 1500, cache_write_5m_tokens: 500, cache_write_1h_tokens: 1000 }],
    ['Anthropic with null cache fields', { input_tokens: 7, output_tokens: 3, cache_read_input_tokens: null, cache_creation_input_tokens: null },
      { ...base, input_tokens: 7, output_tokens: 3 }],
    ['Anthropic stream message_start + message_delta merged', { input_tokens: 25, cache_creation_input_tokens: 0, cache_read_input_tokens: 4096, cache_creation: { ephemeral_5m_input_tokens: 0, ephemeral_1h_input_tokens: 0 }, output_tokens: 87 },
      { ...base, input_tokens: 4121, output_tokens: 87, cached_tokens: 4096 }],
    ['OpenAI Responses', { input_tokens: 20, input_tokens_details: { cached_tokens: 8 }, output_tokens: 6, output_tokens_details: { reasoning_tokens: 2 }, total_tokens: 26 },
      { ...base, input_tokens: 20, output_tokens: 6, cached_tokens: 8, reasoning_tokens: 2 }],
    ['OpenRouter (cache writes in prompt_tokens_details)', { prompt_tokens: 2000, completion_tokens: 10, total_tokens: 2010, prompt_tokens_details: { cached_tokens: 0, cache_write_tokens: 1800 } },
      { ...base, input_tokens: 2000, output_tokens: 10, cache_creation_tokens: 1800, cache_write_5m_tokens: 1800 }],
    ['not an object', null, { ...base, input_tokens: 0, output_tokens: 0 }],
    ['parts larger than their whole are cut to it', { prompt_tokens: 10, completion_tokens: 5, total_tokens: 15, prompt_tokens_details: { audio_tokens: 1e20 }, completion_tokens_details: { audio_tokens: 99 } },
      { ...base, input_tokens: 10, output_tokens: 5, input_audio_tokens: 10, output_audio_tokens: 5 }],
  ])('%s', (_name, usage, expected) => {
    expect(tokensFromUsage(usage)).toEqual(expected);
  });

  it('the translators read usage through the same normaliser (no second reading)', () => {
    const anthropic = { input_tokens: 12, output_tokens: 300, cache_read_input_tokens: 2000, cache_creation_input_tokens: 1500, cache_creation: { ephemeral_5m_input_tokens: 500, ephemeral_1h_input_tokens: 1000 } };
    const openai = { prompt_tokens: 10, completion_tokens: 5, total_tokens: 45, prompt_tokens_details: { cached_tokens: 3 } };
    expect(normalizeAnthropicUsage(anthropic)).toEqual(tokensFromUsage(anthropic));
    expect(normalizeOpenAIUsage(openai)).toEqual(tokensFromUsage(openai));
  });

  it('a translated usage keeps every token kind: Anthropic → OpenAI shape → the same tokens', () => {
    const anthropic = { input_tokens: 12, output_tokens: 300, cache_read_input_tokens: 2000, cache_creation_input_tokens: 1500, cache_creation: { ephemeral_5m_input_tokens: 500, ephemeral_1h_input_tokens: 1000 } };
    const t = tokensFromUsage(anthropic);
    expect(tokensFromUsage(toOpenAIUsage(t))).toEqual(t);
    expect(toAnthropicUsage(t)).toEqual(anthropic);
  });

  it('a translated usage keeps every token kind: OpenAI → Anthropic shape keeps cache reads', () => {
    const openai = { prompt_tokens: 1117, completion_tokens: 46, total_tokens: 1163, prompt_tokens_details: { cached_tokens: 1024 }, completion_tokens_details: { reasoning_tokens: 32 } };
    const back = tokensFromUsage(toAnthropicUsage(tokensFromUsage(openai)));
    expect(back).toMatchObject({ input_tokens: 1117, output_tokens: 46, cached_tokens: 1024 });
  });
});
