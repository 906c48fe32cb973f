import { describe, expect, it } from 'vitest';
import { TranslateError } from './errors.ts';
import { openaiToAnthropicRequest, wantsStreamUsage } from './openai-to-anthropic-request.ts';

const PNG = 'iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJAAAADUlEQVR42mP8z8BQDwAEhQGAhKmMIQAAAABJRU5ErkJggg==';
const base = { model: 'claude-sonnet-4-5', messages: [{ role: 'user', content: 'Hi' }] };

describe('openaiToAnthropicRequest', () => {
  const cases: { name: string; body: object; want: object; opts?: { defaultMaxTokens?: number; model?: string } }[] = [
    { name: 'minimal: default max_tokens', body: base, want: { model: 'claude-sonnet-4-5', messages: [{ role: 'user', content: 'Hi' }], max_tokens: 4096 } },
    { name: 'configurable default and model override', body: base, opts: { defaultMaxTokens: 1000, model: 'claude-x' }, want: { model: 'claude-x', max_tokens: 1000 } },
    { name: 'max_completion_tokens wins over max_tokens', body: { ...base, max_tokens: 10, max_completion_tokens: 20 }, want: { max_tokens: 20 } },
    {
      name: 'system and developer → system blocks, in order',
      body: { model: 'm', messages: [{ role: 'system', content: 'Be terse.' }, { role: 'developer', content: [{ type: 'text', text: 'Use French.' }] }, { role: 'user', content: 'Hi' }] },
      want: { system: [{ type: 'text', text: 'Be terse.' }, { type: 'text', text: 'Use French.' }] },
    },
    { name: 'single system → string', body: { model: 'm', messages: [{ role: 'system', content: 'S' }, { role: 'user', content: 'Hi' }] }, want: { system: 'S' } },
    {
      name: 'consecutive same-role messages merge',
      body: { model: 'm', messages: [{ role: 'user', content: 'a' }, { role: 'user', content: [{ type: 'text', text: 'b' }] }, { role: 'assistant', content: 'c' }, { role: 'assistant', content: '' }, { role: 'user', content: 'd' }] },
      want: { messages: [{ role: 'user', content: [{ type: 'text', text: 'a' }, { type: 'text', text: 'b' }] }, { role: 'assistant', content: 'c' }, { role: 'user', content: 'd' }] },
    },
    {
      name: 'images: data URL → base64, https → url',
      body: { model: 'm', messages: [{ role: 'user', content: [{ type: 'text', text: 'What?' }, { type: 'image_url', image_url: { url: `data:image/png;base64,${PNG}`, detail: 'high' } }, { type: 'image_url', image_url: { url: 'https://example.com/cat.jpg' } }] }] },
      want: { messages: [{ role: 'user', content: [
        { type: 'text', text: 'What?' },
        { type: 'image', source: { type: 'base64', media_type: 'image/png', data: PNG } },
        { type: 'image', source: { type: 'url', url: 'https://example.com/cat.jpg' } },
      ] }] },
    },
    {
      name: 'PDF file part → document',
      body: { model: 'm', messages: [{ role: 'user', content: [{ type: 'file', file: { filename: 'a.pdf', file_data: 'data:application/pdf;base64,JVBERi0x' } }] }] },
      want: { messages: [{ role: 'user', content: [{ type: 'document', source: { type: 'base64', media_type: 'application/pdf', data: 'JVBERi0x' } }] }] },
    },
    {
      name: 'parallel tool calls and merged tool results',
      body: { model: 'm', messages: [
        { role: 'user', content: 'Weather in Paris and time?' },
        { role: 'assistant', content: null, tool_calls: [
          { id: 'call_1', type: 'function', function: { name: 'get_weather', arguments: '{"city":"Paris"}' } },
          { id: 'call_2', type: 'function', function: { name: 'get_time', arguments: '' } },
        ] },
        { role: 'tool', tool_call_id: 'call_1', content: '18C' },
        { role: 'tool', tool_call_id: 'call_2', content: [{ type: 'text', text: '12:00' }] },
        { role: 'user', content: 'thanks' },
      ] },
      want: { messages: [
        { role: 'user', content: 'Weather in Paris and time?' },
        { role: 'assistant', content: [
          { type: 'tool_use', id: 'call_1', name: 'get_weather', input: { city: 'Paris' } },
          { type: 'tool_use', id: 'call_2', name: 'get_time', input: {} },
        ] },
        { role: 'user', content: [
          { type: 'tool_result', tool_use_id: 'call_1', content: '18C' },
          { type: 'tool_result', tool_use_id: 'call_2', content: [{ type: 'text', text: '12:00' }] },
          { type: 'text', text: 'thanks' },
        ] },
      ] },
    },
    {
      name: 'tools, named tool_choice, parallel_tool_calls:false',
      body: { ...base, tools: [{ type: 'function', function: { name: 'f', description: 'does f', parameters: { type: 'object', properties: { a: { type: 'string' } } } } }, { type: 'function', function: { name: 'g' } }], tool_choice: { type: 'function', function: { name: 'f' } }, parallel_tool_calls: false },
      want: {
        tools: [{ name: 'f', description: 'does f', input_schema: { type: 'object', properties: { a: { type: 'string' } } } }, { name: 'g', input_schema: { type: 'object', properties: {} } }],
        tool_choice: { type: 'tool', name: 'f', disable_parallel_tool_use: true },
      },
    },
    { name: 'tool_choice required → any', body: { ...base, tools: [{ type: 'function', function: { name: 'f' } }], tool_choice: 'required' }, want: { tool_choice: { type: 'any' } } },
    { name: 'tool_choice none', body: { ...base, tools: [{ type: 'function', function: { name: 'f' } }], tool_choice: 'none' }, want: { tool_choice: { type: 'none' } } },
    { name: 'parallel_tool_calls:false alone → auto', body: { ...base, tools: [{ type: 'function', function: { name: 'f' } }], parallel_tool_calls: false }, want: { tool_choice: { type: 'auto', disable_parallel_tool_use: true } } },
    { name: 'tool_choice auto without tools is dropped', body: { ...base, tool_choice: 'auto' }, want: { max_tokens: 4096 } },
    {
      name: 'sampling, stop, user, stream',
      body: { ...base, temperature: 1.7, top_p: 0.9, stop: 'END', user: 'u-42', stream: true, stream_options: { include_usage: true } },
      want: { temperature: 1, top_p: 0.9, stop_sequences: ['END'], metadata: { user_id: 'u-42' }, stream: true },
    },
    { name: 'stop array, temperature in range', body: { ...base, stop: ['a', 'b'], temperature: 0.3 }, want: { stop_sequences: ['a', 'b'], temperature: 0.3 } },
    { name: 'n:1 and logprobs:false are fine', body: { ...base, n: 1, logprobs: false }, want: { max_tokens: 4096 } },
    {
      name: 'json_object → system instruction appended',
      body: { model: 'm', messages: [{ role: 'system', content: 'S' }, { role: 'user', content: 'Hi' }], response_format: { type: 'json_object' } },
      want: { system: [{ type: 'text', text: 'S' }, { type: 'text', text: expect.stringContaining('valid JSON object') as unknown as string }] },
    },
    {
      name: 'json_schema → schema in the instruction',
      body: { ...base, response_format: { type: 'json_schema', json_schema: { name: 'x', schema: { type: 'object', properties: { n: { type: 'number' } } } } } },
      want: { system: expect.stringContaining('{"type":"object","properties":{"n":{"type":"number"}}}') as unknown as string },
    },
  ];
  it.each(cases)('$name', ({ body, want, opts }) => {
    expect(openaiToAnthropicRequest(body, opts).request).toMatchObject(want);
  });

  it('reports ignored sampling hints and never sends them', () => {
    const { request, ignoredParams } = openaiToAnthropicRequest({ ...base, seed: 1, presence_penalty: 0.5, frequency_penalty: null });
    expect(ignoredParams).toEqual(['presence_penalty', 'seed']);
    expect(Object.keys(request).sort()).toEqual(['max_tokens', 'messages', 'model']);
  });

  const errors: { name: string; body: unknown; code: string; param: string }[] = [
    { name: 'n > 1', body: { ...base, n: 2 }, code: 'unsupported_parameter', param: 'n' },
    { name: 'logprobs', body: { ...base, logprobs: true }, code: 'unsupported_parameter', param: 'logprobs' },
    { name: 'top_logprobs', body: { ...base, top_logprobs: 2 }, code: 'unsupported_parameter', param: 'top_logprobs' },
    { name: 'audio output', body: { ...base, modalities: ['text', 'audio'], audio: { voice: 'alloy', format: 'wav' } }, code: 'unsupported_parameter', param: 'audio' },
    { name: 'logit_bias', body: { ...base, logit_bias: { '50256': -100 } }, code: 'unsupported_parameter', param: 'logit_bias' },
    { name: 'legacy functions', body: { ...base, functions: [] }, code: 'unsupported_parameter', param: 'functions' },
    { name: 'input_audio part', body: { model: 'm', messages: [{ role: 'user', content: [{ type: 'input_audio', input_audio: { data: 'x', format: 'wav' } }] }] }, code: 'unsupported_content', param: 'messages[0].content[0].type' },
    { name: 'image in a system message', body: { model: 'm', messages: [{ role: 'system', content: [{ type: 'image_url', image_url: { url: 'https://x/y.png' } }] }, { role: 'user', content: 'x' }] }, code: 'unsupported_content', param: 'messages[0].content[0].type' },
    { name: 'unsupported image type', body: { model: 'm', messages: [{ role: 'user', content: [{ type: 'image_url', image_url: { url: 'data:image/tiff;base64,AAAA' } }] }] }, code: 'unsupported_content', param: 'messages[0].content[0].image_url.url' },
    { name: 'ftp image URL', body: { model: 'm', messages: [{ role: 'user', content: [{ type: 'image_url', image_url: { url: 'ftp://x/y.png' } }] }] }, code: 'unsupported_content', param: 'messages[0].content[0].image_url.url' },
    { name: 'file_id', body: { model: 'm', messages: [{ role: 'user', content: [{ type: 'file', file: { file_id: 'file-abc' } }] }] }, code: 'unsupported_content', param: 'messages[0].content[0].file' },
    { name: 'invalid tool call JSON', body: { model: 'm', messages: [{ role: 'user', content: 'x' }, { role: 'assistant', tool_calls: [{ id: 'c', type: 'function', function: { name: 'f', arguments: '{"a":' } }] }] }, code: 'invalid_tool_arguments', param: 'messages[1].tool_calls[0].function.arguments' },
    { name: 'tool args not an object', body: { model: 'm', messages: [{ role: 'user', content: 'x' }, { role: 'assistant', tool_calls: [{ id: 'c', type: 'function', function: { name: 'f', arguments: '[1]' } }] }] }, code: 'invalid_tool_arguments', param: 'messages[1].tool_calls[0].function.arguments' },
    { name: 'non-function tool', body: { ...base, tools: [{ type: 'code_interpreter' }] }, code: 'invalid_tool', param: 'tools[0].type' },
    { name: 'tool without name', body: { ...base, tools: [{ type: 'function', function: { description: 'x' } }] }, code: 'invalid_request', param: 'tools[0].function.name' },
    { name: 'tool parameters not an object', body: { ...base, tools: [{ type: 'function', function: { name: 'f', parameters: 'x' } }] }, code: 'invalid_tool', param: 'tools[0].function.parameters' },
    { name: 'bad tool_choice', body: { ...base, tools: [{ type: 'function', function: { name: 'f' } }], tool_choice: 'sometimes' }, code: 'invalid_tool', param: 'tool_choice' },
    { name: 'required without tools', body: { ...base, tool_choice: 'required' }, code: 'invalid_tool', param: 'tool_choice' },
    { name: 'only system messages', body: { model: 'm', messages: [{ role: 'system', content: 'S' }] }, code: 'invalid_request', param: 'messages' },
    { name: 'function role', body: { model: 'm', messages: [{ role: 'function', name: 'f', content: 'x' }] }, code: 'invalid_request', param: 'messages[0].role' },
    { name: 'messages missing', body: { model: 'm' }, code: 'invalid_request', param: 'messages' },
    { name: 'temperature as string', body: { ...base, temperature: '0.5' }, code: 'invalid_request', param: 'temperature' },
    { name: 'stop as number', body: { ...base, stop: 5 }, code: 'invalid_request', param: 'stop' },
    { name: 'response_format unknown', body: { ...base, response_format: { type: 'grammar' } }, code: 'unsupported_parameter', param: 'response_format.type' },
  ];
  it.each(errors)('rejects $name', ({ body, code, param }) => {
    let caught: unknown;
    try {
      openaiToAnthropicRequest(body);
    } catch (e) {
      caught = e;
    }
    expect(caught).toBeInstanceOf(TranslateError);
    expect(caught).toMatchObject({ code, param, status: 400 });
  });

  it('reads stream_options.include_usage', () => {
    expect(wantsStreamUsage({ stream: true, stream_options: { include_usage: true } })).toBe(true);
    expect(wantsStreamUsage({ stream: true })).toBe(false);
  });
});
