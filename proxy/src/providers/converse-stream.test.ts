import { describe, expect, it } from 'vitest';
import { EventStreamCodec, fromUtf8, toUtf8 } from './aws-wire.ts';
import { BedrockEventStreamToSse } from './bedrock-stream.ts';
import { ConverseToOpenAIStream } from './converse-stream.ts';

const codec = new EventStreamCodec(toUtf8, fromUtf8);
const frame = (headers: Record<string, string>, payload: unknown): Buffer =>
  Buffer.from(codec.encode({ headers: Object.fromEntries(Object.entries(headers).map(([k, value]) => [k, { type: 'string' as const, value }])), body: fromUtf8(JSON.stringify(payload)) }));
const ev = (type: string, payload: Record<string, unknown>): Buffer => frame({ ':event-type': type, ':content-type': 'application/json', ':message-type': 'event' }, { ...payload, p: 'abcdef' });
const exception = (name: string, message: string): Buffer => frame({ ':exception-type': name, ':content-type': 'application/json', ':message-type': 'exception' }, { message });

const USAGE = { inputTokens: 10, outputTokens: 5, totalTokens: 19, cacheReadInputTokens: 4 };
const TEXT = [
  ev('messageStart', { role: 'assistant' }),
  ev('contentBlockDelta', { contentBlockIndex: 0, delta: { text: 'Hel' } }),
  ev('contentBlockDelta', { contentBlockIndex: 0, delta: { text: 'lo' } }),
  ev('contentBlockStop', { contentBlockIndex: 0 }),
  ev('messageStop', { stopReason: 'max_tokens' }),
  ev('metadata', { usage: USAGE, metrics: { latencyMs: 12 } }),
];
const TOOL = [
  ev('messageStart', { role: 'assistant' }),
  ev('contentBlockStart', { contentBlockIndex: 0, start: { toolUse: { toolUseId: 'tooluse_1', name: 'get_weather' } } }),
  ev('contentBlockDelta', { contentBlockIndex: 0, delta: { toolUse: { input: '{"city":' } } }),
  ev('contentBlockDelta', { contentBlockIndex: 0, delta: { toolUse: { input: '"Paris"}' } } }),
  ev('contentBlockStop', { contentBlockIndex: 0 }),
  ev('messageStop', { stopReason: 'tool_use' }),
  ev('metadata', { usage: USAGE, metrics: { latencyMs: 12 } }),
];

/** The frames through both stages (split every `step` bytes), as the client's data lines. */
function run(frames: Buffer[], includeUsage: boolean, step = 13): { data: unknown[]; recorded: string; t: ConverseToOpenAIStream; opening: unknown } {
  const bytes = Buffer.concat(frames);
  const d = new BedrockEventStreamToSse('converse');
  const t = new ConverseToOpenAIStream({ id: 'chatcmpl-x', model: 'us.amazon.nova-pro-v1:0', created: 1, includeUsage });
  let recorded = '';
  let out = '';
  for (let i = 0; i < bytes.length; i += step) {
    const sse = d.push(bytes.subarray(i, i + step));
    recorded += sse.toString();
    out += t.push(sse).toString();
  }
  recorded += d.end().toString();
  out += t.end().toString();
  const data = out.split('\n\n').filter((f) => f.startsWith('data: ')).map((f) => f.slice(6)).map((s) => (s === '[DONE]' ? s : JSON.parse(s) as unknown));
  return { data, recorded, t, opening: d.opening };
}

describe('ConverseStream → OpenAI chat.completion.chunk SSE', () => {
  it('text deltas, finish reason at messageStop, the usage chunk from metadata, then [DONE]', () => {
    const { data, recorded, t } = run(TEXT, true);
    expect(recorded).toContain('event: contentBlockDelta\ndata: {"contentBlockIndex":0,"delta":{"text":"Hel"},"p":"abcdef"}\n\n');
    const chunk = (delta: unknown, finish: string | null = null): unknown => ({ id: 'chatcmpl-x', object: 'chat.completion.chunk', created: 1, model: 'us.amazon.nova-pro-v1:0', choices: [{ index: 0, delta, logprobs: null, finish_reason: finish }], usage: null });
    expect(data).toEqual([
      chunk({ role: 'assistant', content: '' }),
      chunk({ content: 'Hel' }),
      chunk({ content: 'lo' }),
      chunk({}, 'length'),
      { id: 'chatcmpl-x', object: 'chat.completion.chunk', created: 1, model: 'us.amazon.nova-pro-v1:0', choices: [], usage: { prompt_tokens: 14, completion_tokens: 5, total_tokens: 19, prompt_tokens_details: { cached_tokens: 4 } } },
      '[DONE]',
    ]);
    expect(t.result()).toMatchObject({ completed: true, usageMissing: false, finishReason: 'length', usage: { input_tokens: 14, output_tokens: 5, cached_tokens: 4 } });
  });

  it('without include_usage: no usage chunk, no usage field, usage still known to the record', () => {
    const { data, t } = run(TEXT, false, 1);
    expect(data.some((d) => typeof d === 'object' && d !== null && 'usage' in d)).toBe(false);
    expect(data.at(-1)).toBe('[DONE]');
    expect(t.result().usage.output_tokens).toBe(5);
  });

  it('a toolUse block → a tool call with its arguments streamed as JSON text', () => {
    const { data, t } = run(TOOL, false);
    const deltas = data.filter((d): d is { choices: { delta: { tool_calls?: unknown } }[] } => typeof d === 'object').map((d) => d.choices[0]!.delta.tool_calls).filter(Boolean);
    expect(deltas).toEqual([
      [{ index: 0, id: 'tooluse_1', type: 'function', function: { name: 'get_weather', arguments: '' } }],
      [{ index: 0, function: { arguments: '{"city":' } }],
      [{ index: 0, function: { arguments: '"Paris"}' } }],
    ]);
    expect(t.result().message.choices[0]).toMatchObject({ finish_reason: 'tool_calls', message: { tool_calls: [{ function: { name: 'get_weather', arguments: '{"city":"Paris"}' } }] } });
  });

  it('an exception frame mid-stream ends it with OpenAI’s error object, status-mapped type and nothing after', () => {
    const { data, recorded, t, opening } = run([...TEXT.slice(0, 2), exception('modelStreamErrorException', 'model broke'), ...TEXT.slice(2)], true);
    expect(opening).toBeNull();
    expect(recorded).toContain('event: modelStreamErrorException\ndata: {"message":"model broke"}');
    expect(data.at(-1)).toEqual({ error: { message: 'model broke', type: 'server_error', param: null, code: 'api_error' } });
    expect(t.result()).toMatchObject({ completed: false, error: { error: { message: 'model broke' } } });
  });

  it('an exception before any event is the opening failure (an error answer routing can retry)', () => {
    const { opening } = run([exception('throttlingException', 'slow down')], false);
    expect(opening).toEqual({ status: 429, type: 'rate_limit_error', message: 'slow down' });
  });

  it('a stream cut before messageStop ends with a truncation error', () => {
    const { data } = run(TEXT.slice(0, 3), false);
    expect(data.at(-1)).toMatchObject({ error: { code: 'upstream_stream_truncated' } });
  });
});
