import { describe, expect, it } from 'vitest';
import { replayChatCompletionAsSse, type ReplayableCompletion } from './replay.ts';

/** What a client library does with the stream: parse frames and fold deltas back together. */
function consume(frames: Buffer[]): { chunks: Record<string, unknown>[]; done: boolean; rebuilt: ReplayableCompletion } {
  const text = Buffer.concat(frames).toString('utf8');
  expect(text.endsWith('\n\n')).toBe(true);
  const events = text.split('\n\n').filter(Boolean);
  const done = events.at(-1) === 'data: [DONE]';
  const chunks = events.filter((e) => e !== 'data: [DONE]').map((e) => {
    expect(e.startsWith('data: ')).toBe(true);
    return JSON.parse(e.slice(6)) as Record<string, unknown>;
  });
  type Delta = { role?: string; content?: string; refusal?: string | null; reasoning_content?: string; tool_calls?: { index: number; id?: string; type?: string; function: { name?: string; arguments?: string } }[] };
  const rebuilt: ReplayableCompletion = { id: '', created: 0, model: '', choices: [] };
  for (const c of chunks) {
    rebuilt.id = c['id'] as string;
    rebuilt.created = c['created'] as number;
    rebuilt.model = c['model'] as string;
    if (c['usage']) rebuilt.usage = c['usage'] as Record<string, unknown>;
    for (const ch of c['choices'] as { index: number; delta: Delta; finish_reason: string | null }[]) {
      let acc = rebuilt.choices.find((x) => x.index === ch.index);
      if (!acc) {
        acc = { index: ch.index, message: { role: '', content: null }, finish_reason: null };
        rebuilt.choices.push(acc);
      }
      const m = acc.message;
      if (ch.delta.role) m.role = ch.delta.role;
      if (ch.delta.content) m.content = (m.content ?? '') + ch.delta.content;
      if (ch.delta.refusal) m.refusal = (m.refusal ?? '') + ch.delta.refusal;
      if (ch.delta.reasoning_content) m.reasoning_content = (m.reasoning_content ?? '') + ch.delta.reasoning_content;
      for (const tc of ch.delta.tool_calls ?? []) {
        m.tool_calls ??= [];
        const t = (m.tool_calls[tc.index] ??= { id: '', type: 'function', function: { name: '', arguments: '' } });
        if (tc.id) t.id = tc.id;
        if (tc.function.name) t.function.name += tc.function.name;
        if (tc.function.arguments) t.function.arguments += tc.function.arguments;
      }
      if (ch.finish_reason) acc.finish_reason = ch.finish_reason;
    }
  }
  return { chunks, done, rebuilt };
}

const text: ReplayableCompletion = {
  id: 'chatcmpl-1',
  object: 'chat.completion',
  created: 1_790_000_000,
  model: 'gpt-4o-mini-2024-07-18',
  system_fingerprint: 'fp_1',
  choices: [{ index: 0, message: { role: 'assistant', content: 'Hello there, 👋 world.', refusal: null }, logprobs: null, finish_reason: 'stop' }],
  usage: { prompt_tokens: 9, completion_tokens: 6, total_tokens: 15 },
};

const tools: ReplayableCompletion = {
  id: 'chatcmpl-2',
  created: 1_790_000_001,
  model: 'm',
  choices: [
    {
      index: 0,
      message: {
        role: 'assistant',
        content: null,
        tool_calls: [
          { id: 'call_a', type: 'function', function: { name: 'get_weather', arguments: '{"city":"Paris"}' } },
          { id: 'call_b', type: 'function', function: { name: 'get_time', arguments: '{}' } },
        ],
      },
      finish_reason: 'tool_calls',
    },
  ],
};

describe('replayChatCompletionAsSse', () => {
  it('emits role, content, finish, usage and [DONE] in OpenAI chunk shape', () => {
    const frames = replayChatCompletionAsSse(text, { includeUsage: true });
    const { chunks, done, rebuilt } = consume(frames);
    expect(done).toBe(true);
    expect(chunks[0]).toEqual({
      id: 'chatcmpl-1',
      object: 'chat.completion.chunk',
      created: 1_790_000_000,
      model: 'gpt-4o-mini-2024-07-18',
      system_fingerprint: 'fp_1',
      choices: [{ index: 0, delta: { role: 'assistant', content: '', refusal: null }, logprobs: null, finish_reason: null }],
      usage: null,
    });
    expect(chunks.at(-1)).toMatchObject({ choices: [], usage: text.usage });
    expect(chunks.at(-2)).toMatchObject({ choices: [{ delta: {}, finish_reason: 'stop' }] });
    expect(rebuilt.choices[0]!.message.content).toBe('Hello there, 👋 world.');
    expect(rebuilt.usage).toEqual(text.usage);
  });

  it('without include_usage: no usage field and no usage chunk', () => {
    const { chunks } = consume(replayChatCompletionAsSse(text, { includeUsage: false }));
    expect(chunks.every((c) => !('usage' in c))).toBe(true);
    expect(chunks.every((c) => (c['choices'] as unknown[]).length === 1)).toBe(true);
  });

  it('splits content into small deltas without breaking surrogate pairs', () => {
    const { chunks, rebuilt } = consume(replayChatCompletionAsSse(text, { includeUsage: false, contentChunkChars: 4 }));
    expect(chunks.length).toBeGreaterThan(5);
    expect(rebuilt.choices[0]!.message.content).toBe(text.choices[0]!.message.content);
    expect(Buffer.concat(replayChatCompletionAsSse(text, { includeUsage: false, contentChunkChars: 1 })).toString()).not.toContain('\\ud83d"');
  });

  it('replays tool calls with ids, names and arguments, and the finish reason', () => {
    const { rebuilt } = consume(replayChatCompletionAsSse(tools, { includeUsage: false }));
    expect(rebuilt.choices[0]).toEqual({
      index: 0,
      message: { role: 'assistant', content: null, tool_calls: tools.choices[0]!.message.tool_calls },
      finish_reason: 'tool_calls',
    });
  });

  it('replays reasoning and refusals, and can use a fresh id', () => {
    const c: ReplayableCompletion = {
      ...text,
      choices: [{ index: 0, message: { role: 'assistant', content: null, refusal: 'I cannot help with that.', reasoning_content: 'thinking' }, finish_reason: 'stop' }],
    };
    const { chunks, rebuilt } = consume(replayChatCompletionAsSse(c, { includeUsage: false, id: 'chatcmpl-new', created: 5 }));
    expect(rebuilt.choices[0]!.message).toMatchObject({ refusal: 'I cannot help with that.', reasoning_content: 'thinking' });
    expect(chunks.every((x) => x['id'] === 'chatcmpl-new' && x['created'] === 5)).toBe(true);
  });

  it('is deterministic (same input, same bytes)', () => {
    expect(Buffer.concat(replayChatCompletionAsSse(tools, { includeUsage: true }))).toEqual(Buffer.concat(replayChatCompletionAsSse(tools, { includeUsage: true })));
  });
});
