import { describe, expect, it } from 'vitest';
import { AnthropicAssembler } from './assemble-anthropic.ts';
import { ResponsesAssembler } from './assemble-responses.ts';
import { StreamCapture } from './response-capture.ts';

const ev = (type: string, data: Record<string, unknown> = {}): string => `event: ${type}\ndata: ${JSON.stringify({ type, ...data })}\n\n`;

const STREAM = [
  ev('message_start', { message: { id: 'msg_1', type: 'message', role: 'assistant', model: 'claude-x', content: [], stop_reason: null, usage: { input_tokens: 5, cache_read_input_tokens: 10, cache_creation_input_tokens: 0, output_tokens: 1 } } }),
  ev('ping'),
  ev('content_block_start', { index: 0, content_block: { type: 'thinking', thinking: '', signature: '' } }),
  ev('content_block_delta', { index: 0, delta: { type: 'thinking_delta', thinking: 'hmm' } }),
  ev('content_block_delta', { index: 0, delta: { type: 'signature_delta', signature: 'sig' } }),
  ev('content_block_stop', { index: 0 }),
  ev('content_block_start', { index: 1, content_block: { type: 'text', text: '' } }),
  ev('content_block_delta', { index: 1, delta: { type: 'text_delta', text: 'Grüß ' } }),
  ev('content_block_delta', { index: 1, delta: { type: 'text_delta', text: 'dich' } }),
  ev('content_block_stop', { index: 1 }),
  ev('content_block_start', { index: 2, content_block: { type: 'tool_use', id: 'toolu_1', name: 'f', input: {} } }),
  ev('content_block_delta', { index: 2, delta: { type: 'input_json_delta', partial_json: '{"a":' } }),
  ev('content_block_delta', { index: 2, delta: { type: 'input_json_delta', partial_json: '1}' } }),
  ev('content_block_stop', { index: 2 }),
  ev('message_delta', { delta: { stop_reason: 'tool_use', stop_sequence: null }, usage: { output_tokens: 9, cache_read_input_tokens: null } }),
  ev('message_stop'),
].join('');

describe('AnthropicAssembler (through StreamCapture)', () => {
  it('rebuilds the message from bytes split anywhere, UTF-8 included', () => {
    const bytes = Buffer.from(STREAM);
    for (const step of [1, 7, 64, bytes.length]) {
      const c = new StreamCapture('anthropic', false);
      for (let i = 0; i < bytes.length; i += step) c.observe(bytes.subarray(i, i + step));
      c.end();
      const a = c.assembler as AnthropicAssembler;
      expect(a.model).toBe('claude-x');
      expect(a.finishReason).toBe('tool_use');
      expect(a.usage).toEqual({ input_tokens: 5, cache_read_input_tokens: 10, cache_creation_input_tokens: 0, output_tokens: 9 });
      expect(a.toJSON()).toMatchObject({
        id: 'msg_1',
        stop_reason: 'tool_use',
        content: [
          { type: 'thinking', thinking: 'hmm', signature: 'sig' },
          { type: 'text', text: 'Grüß dich' },
          { type: 'tool_use', id: 'toolu_1', name: 'f', input: { a: 1 } },
        ],
      });
    }
  });

  it('keeps a mid-stream error and what came before it', () => {
    const a = new AnthropicAssembler();
    a.add({ type: 'message_start', message: { id: 'm', model: 'c', usage: { input_tokens: 3 } } });
    a.add({ type: 'content_block_start', index: 0, content_block: { type: 'text', text: '' } });
    a.add({ type: 'content_block_delta', index: 0, delta: { type: 'text_delta', text: 'par' } });
    a.add({ type: 'error', error: { type: 'overloaded_error', message: 'Overloaded' } });
    expect(a.toJSON()).toMatchObject({ content: [{ type: 'text', text: 'par' }], error: { type: 'overloaded_error' } });
    expect(a.outputText()).toBe('par');
  });
});

describe('ResponsesAssembler', () => {
  it('takes the final response of response.completed; text deltas when cut short', () => {
    const a = new ResponsesAssembler();
    a.add({ type: 'response.created', response: { id: 'r1', model: 'gpt-x', status: 'in_progress' } });
    a.add({ type: 'response.output_text.delta', delta: 'Hi' });
    expect(a.toJSON()).toMatchObject({ id: 'r1', status: 'in_progress', output_text: 'Hi' });
    expect(a.finishReason).toBe(''); // cut here: no finish reason, so the relay flags it partial
    a.add({ type: 'response.incomplete', response: { id: 'r1', model: 'gpt-x', status: 'incomplete', incomplete_details: { reason: 'max_output_tokens' }, usage: { input_tokens: 1, output_tokens: 2 } } });
    expect(a.finishReason).toBe('max_output_tokens');
    expect(a.usage).toEqual({ input_tokens: 1, output_tokens: 2 });
    expect(a.toJSON()).toMatchObject({ status: 'incomplete' });
  });
});
