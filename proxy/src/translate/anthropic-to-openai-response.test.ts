import { describe, expect, it } from 'vitest';
import { anthropicToOpenAIResponse } from './anthropic-to-openai-response.ts';
import { TranslateError } from './errors.ts';
import { TOOL_MESSAGE } from './fixtures/anthropic-wire.ts';

const textMessage = (stop: string, usage: object = { input_tokens: 10, output_tokens: 5 }) => ({
  id: 'msg_1', type: 'message', role: 'assistant', model: 'claude-haiku-4-5-20251001',
  content: [{ type: 'text', text: 'Hi!' }], stop_reason: stop, stop_sequence: null, usage,
});

describe('anthropicToOpenAIResponse', () => {
  it('translates text, tool_use, thinking and cache usage', () => {
    const { body, usage, upstreamModel } = anthropicToOpenAIResponse(TOOL_MESSAGE, { created: 1700000000 });
    expect(body).toEqual({
      id: 'msg_01Aq9w938a90dw8q',
      object: 'chat.completion',
      created: 1700000000,
      model: 'claude-sonnet-4-20250514',
      choices: [{
        index: 0,
        message: {
          role: 'assistant',
          content: 'I will check the weather.',
          refusal: null,
          reasoning_content: 'The user wants weather.',
          tool_calls: [{ id: 'toolu_01A09q90qw90lq917835lq9', type: 'function', function: { name: 'get_weather', arguments: '{"location":"San Francisco, CA","unit":"celsius"}' } }],
        },
        logprobs: null,
        finish_reason: 'tool_calls',
      }],
      usage: { prompt_tokens: 3095, completion_tokens: 503, total_tokens: 3598, prompt_tokens_details: { cached_tokens: 1000 } },
    });
    expect(usage).toEqual({ input_tokens: 3095, output_tokens: 503, cached_tokens: 1000, cache_creation_tokens: 0, reasoning_tokens: 0, tokens_estimated: false });
    expect(upstreamModel).toBe('claude-sonnet-4-20250514');
  });

  it('omits reasoning when asked', () => {
    const { body } = anthropicToOpenAIResponse(TOOL_MESSAGE, { created: 0, includeReasoning: false });
    expect(body.choices[0]!.message).not.toHaveProperty('reasoning_content');
  });

  it.each([
    ['end_turn', 'stop'], ['stop_sequence', 'stop'], ['pause_turn', 'stop'], ['max_tokens', 'length'],
    ['tool_use', 'tool_calls'], ['refusal', 'content_filter'], ['model_context_window_exceeded', 'length'],
  ])('stop_reason %s → %s', (stop, finish) => {
    expect(anthropicToOpenAIResponse(textMessage(stop), { created: 0 }).body.choices[0]!.finish_reason).toBe(finish);
  });

  it('counts cache writes into prompt tokens and exposes them for pricing', () => {
    const { body, usage } = anthropicToOpenAIResponse(textMessage('end_turn', { input_tokens: 3, cache_creation_input_tokens: 2000, cache_read_input_tokens: 0, output_tokens: 7 }), { created: 0 });
    expect(body.usage).toMatchObject({ prompt_tokens: 2003, completion_tokens: 7, prompt_tokens_details: { cached_tokens: 0 } });
    expect(usage).toMatchObject({ input_tokens: 2003, cache_creation_tokens: 2000, cached_tokens: 0 });
  });

  it('gives null content when there is no text', () => {
    const msg = { ...textMessage('end_turn'), content: [] };
    expect(anthropicToOpenAIResponse(msg, { created: 0 }).body.choices[0]!.message.content).toBeNull();
  });

  it('rejects a body that is not a message with a 502-class error', () => {
    expect(() => anthropicToOpenAIResponse({ type: 'error' }, { created: 0 })).toThrow(TranslateError);
  });
});
