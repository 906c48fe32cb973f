import { describe, expect, it } from 'vitest';
import { AnthropicToOpenAIStream } from './anthropic-stream-to-openai.ts';
import { anthropicSse, OVERLOADED_EVENT, TEXT_STREAM_EVENTS, THINKING_STREAM_EVENTS, TOOL_STREAM_EVENTS } from './fixtures/anthropic-wire.ts';
import { feed, payloads } from './fixtures/sse-helpers.ts';

const make = (includeUsage = true, extra: { includeReasoning?: boolean; forwardPings?: boolean } = {}) =>
  new AnthropicToOpenAIStream({ includeUsage, created: 1700000000, ...extra });
const head = { id: 'msg_01XFDUDYJgAACzvnptvVoYEL', object: 'chat.completion.chunk', created: 1700000000, model: 'claude-sonnet-4-20250514' };
const chunk = (delta: object, finish: string | null = null) => ({ ...head, choices: [{ index: 0, delta, logprobs: null, finish_reason: finish }], usage: null });
const FINAL_USAGE = { prompt_tokens: 135, completion_tokens: 15, total_tokens: 150, prompt_tokens_details: { cached_tokens: 100, cache_write_tokens: 10 } };

describe('AnthropicToOpenAIStream', () => {
  it('translates a text stream exactly, with the final usage chunk and [DONE]', () => {
    const t = make();
    const out = feed(t, anthropicSse(TEXT_STREAM_EVENTS));
    expect(out).toContain(': ping\n\n');
    expect(payloads(out)).toEqual([
      chunk({ role: 'assistant', content: '' }),
      chunk({ content: 'Hello' }),
      chunk({ content: ' wörld 👋' }),
      chunk({}, 'stop'),
      { ...head, choices: [], usage: FINAL_USAGE },
      '[DONE]',
    ]);
    const r = t.result();
    expect(r).toMatchObject({
      completed: true, usageMissing: false, finishReason: 'stop', upstreamModel: 'claude-sonnet-4-20250514', id: 'msg_01XFDUDYJgAACzvnptvVoYEL', error: null,
      usage: { input_tokens: 135, output_tokens: 15, cached_tokens: 100, cache_creation_tokens: 10, reasoning_tokens: 0 },
    });
    expect(r.message.choices[0]!.message.content).toBe('Hello wörld 👋');
    expect(r.message.usage).toEqual(FINAL_USAGE);
  });

  it('produces identical bytes for every split point of the stream', () => {
    const input = Buffer.from(anthropicSse(TEXT_STREAM_EVENTS));
    const whole = feed(make(), input);
    expect(whole).toMatch(/wörld 👋[\s\S]*\[DONE\]\n\n$/u);
    for (let i = 1; i < input.length; i++) expect(feed(make(), input, [i])).toBe(whole);
  });

  it('handles multi-byte UTF-8 split one byte at a time', () => {
    const input = Buffer.from(anthropicSse(TEXT_STREAM_EVENTS));
    const cuts = Array.from({ length: input.length - 1 }, (_, i) => i + 1);
    const t = make();
    feed(t, input, cuts);
    expect(t.result().message.choices[0]!.message.content).toBe('Hello wörld 👋');
  });

  it('streams parallel tool calls with indexes, ids, names and argument deltas', () => {
    const t = make(false);
    const out = payloads(feed(t, anthropicSse(TOOL_STREAM_EVENTS)));
    const deltas = out.slice(1, -2).map((c) => (c as { choices: { delta: object }[] }).choices[0]!.delta);
    expect(deltas).toEqual([
      { content: 'Checking both.' },
      { tool_calls: [{ index: 0, id: 'toolu_01T1x1fJ34qAmk2tNTrN7Up6', type: 'function', function: { name: 'get_weather', arguments: '' } }] },
      { tool_calls: [{ index: 0, function: { arguments: '{"location": "San Fra' } }] },
      { tool_calls: [{ index: 0, function: { arguments: 'ncisco, CA"}' } }] },
      { tool_calls: [{ index: 1, id: 'toolu_02', type: 'function', function: { name: 'get_time', arguments: '' } }] },
      { tool_calls: [{ index: 1, function: { arguments: '{"tz":"PST"}' } }] },
      { tool_calls: [{ index: 2, id: 'toolu_03', type: 'function', function: { name: 'list_all', arguments: '' } }] },
      { tool_calls: [{ index: 2, function: { arguments: '{}' } }] },
    ]);
    expect(out.at(-2)).toMatchObject({ choices: [{ finish_reason: 'tool_calls' }] });
    expect(out.at(-2)).not.toHaveProperty('usage');
    expect(out.at(-1)).toBe('[DONE]');
    expect(t.result().message.choices[0]!.message.tool_calls!.map((c) => c.function.arguments)).toEqual(['{"location": "San Francisco, CA"}', '{"tz":"PST"}', '{}']);
  });

  it.each([
    [true, [{ reasoning_content: 'Let me think: 27 * 453' }, { content: '12,231' }], 'Let me think: 27 * 453'],
    [false, [{ content: '12,231' }], undefined],
  ])('thinking with includeReasoning=%s', (includeReasoning, want, reasoning) => {
    const t = make(false, { includeReasoning, forwardPings: false });
    const out = payloads(feed(t, anthropicSse(THINKING_STREAM_EVENTS)));
    expect(out.slice(1, -2).map((c) => (c as { choices: { delta: object }[] }).choices[0]!.delta)).toEqual(want);
    expect(t.result().message.choices[0]!.message.reasoning_content).toBe(reasoning);
  });

  it('turns a mid-stream error event into an OpenAI error object and stops', () => {
    const t = make();
    const events = [...TEXT_STREAM_EVENTS.slice(0, 4), OVERLOADED_EVENT, ...TEXT_STREAM_EVENTS.slice(4)];
    const out = payloads(feed(t, anthropicSse(events)));
    expect(out.at(-1)).toEqual({ error: { message: 'Overloaded', type: 'server_error', param: null, code: 'overloaded_error' } });
    expect(out).not.toContain('[DONE]');
    const r = t.result();
    expect(r.completed).toBe(false);
    expect(r.error).toEqual(out.at(-1));
    expect(r.message.choices[0]!.message.content).toBe('Hello');
  });

  it('flags missing usage when the upstream never sends it', () => {
    const strip = TEXT_STREAM_EVENTS.map((e) => {
      const { usage: _u, ...rest } = e as { usage?: unknown };
      return rest;
    });
    const t = make();
    const out = payloads(feed(t, anthropicSse(strip)));
    expect(out.filter((c) => (c as { usage?: unknown }).usage != null)).toEqual([]);
    expect(out.at(-1)).toBe('[DONE]');
    expect(t.result()).toMatchObject({ completed: true, usageMissing: true, finishReason: 'stop' });
    expect(t.result().message).not.toHaveProperty('usage');
  });

  it('reports a truncated stream to the client and the caller', () => {
    const t = make();
    const out = payloads(feed(t, anthropicSse(TEXT_STREAM_EVENTS.slice(0, 4))));
    expect(out.at(-1)).toMatchObject({ error: { code: 'upstream_stream_truncated' } });
    expect(t.result()).toMatchObject({ completed: false, usageMissing: true, error: { error: { code: 'upstream_stream_truncated' } } });
  });

  it('reports malformed event data', () => {
    const t = make();
    const out = payloads(feed(t, 'event: message_start\ndata: {not json\n\n'));
    expect(out).toEqual([{ error: { message: 'malformed upstream stream event', type: 'server_error', param: null, code: 'invalid_upstream_response' } }]);
  });
});
