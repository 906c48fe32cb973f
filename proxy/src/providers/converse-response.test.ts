import { describe, expect, it } from 'vitest';
import { converseFinish, converseToOpenAIResponse } from './converse-response.ts';
import { TranslateError } from '../translate/index.ts';

const META = { id: 'chatcmpl-req1', model: 'us.amazon.nova-pro-v1:0', created: 1_700_000_000 };

describe('Bedrock Converse answer → OpenAI chat completion', () => {
  it('text, tool calls with JSON-string arguments, finish reason and usage with cache reads and writes', () => {
    const { body, usage } = converseToOpenAIResponse({
      output: { message: { role: 'assistant', content: [{ text: 'Let me check.' }, { toolUse: { toolUseId: 'tooluse_1', name: 'get_weather', input: { city: 'Paris' } } }] } },
      stopReason: 'tool_use',
      usage: { inputTokens: 10, outputTokens: 7, totalTokens: 32, cacheReadInputTokens: 12, cacheWriteInputTokens: 3 },
      metrics: { latencyMs: 100 },
    }, META);
    expect(body).toEqual({
      id: 'chatcmpl-req1', object: 'chat.completion', created: 1_700_000_000, model: 'us.amazon.nova-pro-v1:0',
      choices: [{ index: 0, logprobs: null, finish_reason: 'tool_calls', message: {
        role: 'assistant', content: 'Let me check.', refusal: null,
        tool_calls: [{ id: 'tooluse_1', type: 'function', function: { name: 'get_weather', arguments: '{"city":"Paris"}' } }],
      } }],
      usage: { prompt_tokens: 25, completion_tokens: 7, total_tokens: 32, prompt_tokens_details: { cached_tokens: 12, cache_write_tokens: 3 } },
    });
    expect(usage).toMatchObject({ input_tokens: 25, output_tokens: 7, cached_tokens: 12, cache_creation_tokens: 3 });
  });

  it('reasoning text → reasoning_content', () => {
    const { body } = converseToOpenAIResponse({ output: { message: { role: 'assistant', content: [{ reasoningContent: { reasoningText: { text: 'think' } } }, { text: '42' }] } }, stopReason: 'end_turn', usage: { inputTokens: 1, outputTokens: 2 } }, META);
    expect(body.choices[0]!.message).toMatchObject({ content: '42', reasoning_content: 'think' });
  });

  it.each([
    ['end_turn', 'stop'], ['stop_sequence', 'stop'], ['max_tokens', 'length'], ['tool_use', 'tool_calls'],
    ['guardrail_intervened', 'content_filter'], ['content_filtered', 'content_filter'], ['something_new', 'stop'],
  ])('stopReason %s → finish_reason %s', (stop, finish) => {
    expect(converseFinish(stop)).toBe(finish);
  });

  it('an answer without output.message is an upstream error (502), not an empty answer', () => {
    expect(() => converseToOpenAIResponse({ message: 'hm' }, META)).toThrow(TranslateError);
  });
});
