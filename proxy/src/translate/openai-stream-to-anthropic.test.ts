import { describe, expect, it } from 'vitest';
import { OPENAI_TEXT_CHUNKS, OPENAI_TOOL_CHUNKS, openaiSse } from './fixtures/openai-wire.ts';
import { feed, parseSse } from './fixtures/sse-helpers.ts';
import { OpenAIToAnthropicStream } from './openai-stream-to-anthropic.ts';

const USAGE = { input_tokens: 176, output_tokens: 12, cache_creation_input_tokens: 0, cache_read_input_tokens: 1024 };
const START = {
  type: 'message_start',
  message: { id: 'chatcmpl-123', type: 'message', role: 'assistant', model: 'gpt-4o-mini-2024-07-18', content: [], stop_reason: null, stop_sequence: null, usage: { input_tokens: 0, output_tokens: 0 } },
};

/** Events as [event name, payload]; also checks each `event:` matches the payload type. */
function events(text: string): object[] {
  return parseSse(text).map((e) => {
    const data = JSON.parse(e.data) as { type: string };
    expect(e.event).toBe(data.type);
    return data;
  });
}

describe('OpenAIToAnthropicStream', () => {
  it('translates a text stream exactly', () => {
    const t = new OpenAIToAnthropicStream();
    expect(events(feed(t, openaiSse(OPENAI_TEXT_CHUNKS)))).toEqual([
      START,
      { type: 'content_block_start', index: 0, content_block: { type: 'text', text: '' } },
      { type: 'content_block_delta', index: 0, delta: { type: 'text_delta', text: 'Hello' } },
      { type: 'content_block_delta', index: 0, delta: { type: 'text_delta', text: ' wörld 👋' } },
      { type: 'content_block_stop', index: 0 },
      { type: 'message_delta', delta: { stop_reason: 'end_turn', stop_sequence: null }, usage: USAGE },
      { type: 'message_stop' },
    ]);
    expect(t.result()).toMatchObject({
      completed: true, usageMissing: false, finishReason: 'stop', upstreamModel: 'gpt-4o-mini-2024-07-18', error: null,
      usage: { input_tokens: 1200, output_tokens: 12, cached_tokens: 1024 },
      message: { content: [{ type: 'text', text: 'Hello wörld 👋' }], stop_reason: 'end_turn', usage: USAGE },
    });
  });

  it('produces identical bytes for every split point of the stream', () => {
    const input = Buffer.from(openaiSse(OPENAI_TEXT_CHUNKS.slice(0, 3)));
    const whole = feed(new OpenAIToAnthropicStream(), input);
    expect(whole).toContain('wörld 👋');
    for (let i = 1; i < input.length; i++) expect(feed(new OpenAIToAnthropicStream(), input, [i])).toBe(whole);
  });

  it('streams parallel tool calls as tool_use blocks with input_json_delta', () => {
    const t = new OpenAIToAnthropicStream({ model: 'alias-model', estimatedInputTokens: 170 });
    const out = events(feed(t, openaiSse(OPENAI_TOOL_CHUNKS)));
    expect(out[0]).toMatchObject({ message: { model: 'alias-model', usage: { input_tokens: 170, output_tokens: 0 } } });
    expect(out.slice(1)).toEqual([
      { type: 'content_block_start', index: 0, content_block: { type: 'tool_use', id: 'call_abc', name: 'get_weather', input: {} } },
      { type: 'content_block_delta', index: 0, delta: { type: 'input_json_delta', partial_json: '{"loca' } },
      { type: 'content_block_delta', index: 0, delta: { type: 'input_json_delta', partial_json: 'tion": "Paris"}' } },
      { type: 'content_block_stop', index: 0 },
      { type: 'content_block_start', index: 1, content_block: { type: 'tool_use', id: 'call_def', name: 'get_time', input: {} } },
      { type: 'content_block_delta', index: 1, delta: { type: 'input_json_delta', partial_json: '{"tz":"CET"}' } },
      { type: 'content_block_stop', index: 1 },
      { type: 'message_delta', delta: { stop_reason: 'tool_use', stop_sequence: null }, usage: USAGE },
      { type: 'message_stop' },
    ]);
    expect(t.result().message.content).toEqual([
      { type: 'tool_use', id: 'call_abc', name: 'get_weather', input: { location: 'Paris' } },
      { type: 'tool_use', id: 'call_def', name: 'get_time', input: { tz: 'CET' } },
    ]);
  });

  it('flags missing usage when the upstream sends no usage chunk', () => {
    const t = new OpenAIToAnthropicStream();
    const out = events(feed(t, openaiSse(OPENAI_TEXT_CHUNKS.slice(0, -1))));
    expect(out.at(-2)).toMatchObject({ type: 'message_delta', usage: { input_tokens: 0, output_tokens: 0 } });
    expect(t.result()).toMatchObject({ completed: true, usageMissing: true });
  });

  it('finishes without [DONE] when finish_reason was seen', () => {
    const t = new OpenAIToAnthropicStream();
    const out = events(feed(t, openaiSse(OPENAI_TEXT_CHUNKS, false)));
    expect(out.at(-1)).toEqual({ type: 'message_stop' });
    expect(t.result().completed).toBe(true);
  });

  it('turns a mid-stream error into an Anthropic error event and stops', () => {
    const t = new OpenAIToAnthropicStream();
    const err = { error: { message: 'Rate limit reached for gpt-4o-mini', type: 'tokens', param: null, code: 'rate_limit_exceeded' } };
    const out = events(feed(t, openaiSse([...OPENAI_TEXT_CHUNKS.slice(0, 2), err, ...OPENAI_TEXT_CHUNKS.slice(2)])));
    expect(out.at(-1)).toEqual({ type: 'error', error: { type: 'rate_limit_error', message: 'Rate limit reached for gpt-4o-mini' } });
    expect(out.filter((e) => (e as { type: string }).type === 'message_stop')).toEqual([]);
    expect(t.result()).toMatchObject({ completed: false, error: { type: 'error', error: { type: 'rate_limit_error' } } });
  });

  it('reports a stream cut before it finished', () => {
    const t = new OpenAIToAnthropicStream();
    const out = events(feed(t, openaiSse(OPENAI_TEXT_CHUNKS.slice(0, 2), false)));
    expect(out.at(-1)).toEqual({ type: 'error', error: { type: 'api_error', message: 'upstream stream ended before it finished' } });
    expect(t.result().completed).toBe(false);
  });
});
