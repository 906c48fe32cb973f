import { describe, expect, it } from 'vitest';
import { TranslateError } from './errors.ts';
import { OPENAI_TOOL_COMPLETION } from './fixtures/openai-wire.ts';
import { openaiToAnthropicResponse } from './openai-response-to-anthropic.ts';

const completion = (message: object, finish: string) => ({
  id: 'chatcmpl-1', object: 'chat.completion', created: 1, model: 'gpt-4o-mini-2024-07-18',
  choices: [{ index: 0, message: { role: 'assistant', refusal: null, ...message }, logprobs: null, finish_reason: finish }],
  usage: { prompt_tokens: 10, completion_tokens: 2, total_tokens: 12 },
});

describe('openaiToAnthropicResponse', () => {
  it('translates parallel tool calls and cached usage', () => {
    const { body, usage, upstreamModel } = openaiToAnthropicResponse(OPENAI_TOOL_COMPLETION);
    expect(body).toEqual({
      id: 'chatcmpl-abc123', type: 'message', role: 'assistant', model: 'gpt-4o-mini-2024-07-18',
      content: [
        { type: 'tool_use', id: 'call_abc123', name: 'get_current_weather', input: { location: 'Boston, MA' } },
        { type: 'tool_use', id: 'call_def456', name: 'get_time', input: {} },
      ],
      stop_reason: 'tool_use', stop_sequence: null,
      usage: { input_tokens: 18, output_tokens: 17, cache_read_input_tokens: 64, cache_creation_input_tokens: 0 },
    });
    expect(usage).toEqual({ input_tokens: 82, output_tokens: 17, cached_tokens: 64, cache_creation_tokens: 0, reasoning_tokens: 5, tokens_estimated: false });
    expect(upstreamModel).toBe('gpt-4o-mini-2024-07-18');
  });

  it.each([
    ['stop', { content: 'Hi' }, 'end_turn', [{ type: 'text', text: 'Hi' }]],
    ['length', { content: 'Hi' }, 'max_tokens', [{ type: 'text', text: 'Hi' }]],
    ['content_filter', { content: null }, 'refusal', []],
    ['stop', { content: null, refusal: 'I cannot help with that.' }, 'refusal', [{ type: 'text', text: 'I cannot help with that.' }]],
    ['stop', { content: '', reasoning_content: 'private' }, 'end_turn', []],
  ])('finish %s %j → %s', (finish, message, stop, content) => {
    const { body } = openaiToAnthropicResponse(completion(message, finish));
    expect(body.stop_reason).toBe(stop);
    expect(body.content).toEqual(content);
  });

  it.each([
    ['not a completion', { object: 'list' }],
    ['broken tool arguments', completion({ content: null, tool_calls: [{ id: 'c', type: 'function', function: { name: 'f', arguments: '{"a":' } }] }, 'tool_calls')],
  ])('rejects %s as an upstream (502) error', (_n, body) => {
    let caught: unknown;
    try {
      openaiToAnthropicResponse(body);
    } catch (e) {
      caught = e;
    }
    expect(caught).toBeInstanceOf(TranslateError);
    expect(caught).toMatchObject({ code: 'invalid_upstream_response', status: 502 });
  });
});
