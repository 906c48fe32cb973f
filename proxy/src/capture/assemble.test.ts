import { describe, expect, it } from 'vitest';
import { StreamAssembler } from './assemble.ts';

const base = { id: 'chatcmpl-1', object: 'chat.completion.chunk', created: 123, model: 'gpt-4o-mini-2024-07-18', system_fingerprint: 'fp_1' };

describe('StreamAssembler', () => {
  it('assembles content, finish_reason, model and usage into a chat.completion', () => {
    const a = new StreamAssembler('chat');
    a.add({ ...base, choices: [{ index: 0, delta: { role: 'assistant', content: '' }, finish_reason: null }] });
    a.add({ ...base, choices: [{ index: 0, delta: { content: 'Hel' }, finish_reason: null }] });
    a.add({ ...base, choices: [{ index: 0, delta: { content: 'lo' }, finish_reason: null }] });
    a.add({ ...base, choices: [{ index: 0, delta: {}, finish_reason: 'stop' }] });
    const usage = { prompt_tokens: 5, completion_tokens: 2, total_tokens: 7 };
    expect(a.add({ ...base, choices: [], usage })).toBe(true);
    expect(a.finishReason).toBe('stop');
    expect(a.toJSON()).toEqual({
      id: 'chatcmpl-1',
      object: 'chat.completion',
      created: 123,
      model: 'gpt-4o-mini-2024-07-18',
      choices: [{ index: 0, message: { role: 'assistant', content: 'Hello' }, logprobs: null, finish_reason: 'stop' }],
      usage,
      system_fingerprint: 'fp_1',
    });
  });

  it('merges tool_call deltas by index', () => {
    const a = new StreamAssembler('chat');
    a.add({ ...base, choices: [{ index: 0, delta: { role: 'assistant', tool_calls: [{ index: 0, id: 'call_a', type: 'function', function: { name: 'f', arguments: '' } }] } }] });
    a.add({ ...base, choices: [{ index: 0, delta: { tool_calls: [{ index: 1, id: 'call_b', type: 'function', function: { name: 'g', arguments: '{"y"' } }] } }] });
    a.add({ ...base, choices: [{ index: 0, delta: { tool_calls: [{ index: 0, function: { arguments: '{"x":' } }] } }] });
    a.add({ ...base, choices: [{ index: 0, delta: { tool_calls: [{ index: 0, function: { arguments: '1}' } }, { index: 1, function: { arguments: ':2}' } }] } }] });
    a.add({ ...base, choices: [{ index: 0, delta: {}, finish_reason: 'tool_calls' }] });
    const msg = (a.toJSON()['choices'] as { message: Record<string, unknown> }[])[0]!.message;
    expect(msg['content']).toBeNull();
    expect(msg['tool_calls']).toEqual([
      { id: 'call_a', type: 'function', function: { name: 'f', arguments: '{"x":1}' } },
      { id: 'call_b', type: 'function', function: { name: 'g', arguments: '{"y":2}' } },
    ]);
    expect(a.outputText()).toBe('f{"x":1}g{"y":2}');
  });

  it('assembles legacy completions text', () => {
    const a = new StreamAssembler('completions');
    a.add({ id: 'cmpl-1', object: 'text_completion', created: 1, model: 'm', choices: [{ index: 0, text: 'ab', finish_reason: null }] });
    a.add({ id: 'cmpl-1', object: 'text_completion', created: 1, model: 'm', choices: [{ index: 0, text: 'c', finish_reason: 'length' }] });
    expect(a.toJSON()).toMatchObject({ object: 'text_completion', choices: [{ index: 0, text: 'abc', finish_reason: 'length' }] });
    expect(a.usage).toBeNull();
  });

  it('ignores junk without throwing', () => {
    const a = new StreamAssembler('chat');
    expect(a.add(null)).toBe(false);
    expect(a.add('x')).toBe(false);
    expect(a.add({ choices: 'nope' })).toBe(false);
    expect(a.add({ choices: [null, { delta: null }] })).toBe(false);
  });
});
