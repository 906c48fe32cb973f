import { describe, expect, it } from 'vitest';
import { anthropicToOpenAIRequest } from './anthropic-request-to-openai.ts';
import { TranslateError } from './errors.ts';

const PNG = 'iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJAAAADUlEQVR42mP8z8BQDwAEhQGAhKmMIQAAAABJRU5ErkJggg==';
const base = { model: 'gpt-4o-mini', max_tokens: 1024, messages: [{ role: 'user', content: 'Hello, Claude' }] };

describe('anthropicToOpenAIRequest', () => {
  const cases: { name: string; body: object; want: object; opts?: object }[] = [
    { name: 'minimal', body: base, want: { model: 'gpt-4o-mini', max_completion_tokens: 1024, messages: [{ role: 'user', content: 'Hello, Claude' }] } },
    { name: 'max_tokens field and model override', body: base, opts: { maxTokensField: 'max_tokens', model: 'llama' }, want: { model: 'llama', max_tokens: 1024 } },
    {
      name: 'system blocks joined (cache_control hints dropped)',
      body: { ...base, system: [{ type: 'text', text: 'You are terse.', cache_control: { type: 'ephemeral' } }, { type: 'text', text: 'Answer in French.' }] },
      want: { messages: [{ role: 'system', content: 'You are terse.\n\nAnswer in French.' }, { role: 'user', content: 'Hello, Claude' }] },
    },
    {
      name: 'images: base64 → data URL, url → url; document → file',
      body: { ...base, messages: [{ role: 'user', content: [
        { type: 'image', source: { type: 'base64', media_type: 'image/png', data: PNG } },
        { type: 'image', source: { type: 'url', url: 'https://upload.wikimedia.org/a.jpg' } },
        { type: 'document', source: { type: 'base64', media_type: 'application/pdf', data: 'JVBERi0x' }, title: 'r.pdf' },
        { type: 'text', text: 'Describe.' },
      ] }] },
      want: { messages: [{ role: 'user', content: [
        { type: 'image_url', image_url: { url: `data:image/png;base64,${PNG}` } },
        { type: 'image_url', image_url: { url: 'https://upload.wikimedia.org/a.jpg' } },
        { type: 'file', file: { filename: 'r.pdf', file_data: 'data:application/pdf;base64,JVBERi0x' } },
        { type: 'text', text: 'Describe.' },
      ] }] },
    },
    {
      name: 'tool round: tool_use → tool_calls, tool_result → tool messages first, thinking dropped',
      body: { ...base, messages: [
        { role: 'user', content: 'Weather?' },
        { role: 'assistant', content: [
          { type: 'thinking', thinking: 'hmm', signature: 'sig' },
          { type: 'text', text: 'Checking.' },
          { type: 'tool_use', id: 'toolu_1', name: 'get_weather', input: { city: 'Paris' } },
          { type: 'tool_use', id: 'toolu_2', name: 'get_time', input: {} },
        ] },
        { role: 'user', content: [
          { type: 'tool_result', tool_use_id: 'toolu_1', content: '18C' },
          { type: 'tool_result', tool_use_id: 'toolu_2', content: [{ type: 'text', text: 'no clock' }], is_error: true },
          { type: 'text', text: 'And tomorrow?' },
        ] },
      ] },
      want: { messages: [
        { role: 'user', content: 'Weather?' },
        { role: 'assistant', content: 'Checking.', tool_calls: [
          { id: 'toolu_1', type: 'function', function: { name: 'get_weather', arguments: '{"city":"Paris"}' } },
          { id: 'toolu_2', type: 'function', function: { name: 'get_time', arguments: '{}' } },
        ] },
        { role: 'tool', tool_call_id: 'toolu_1', content: '18C' },
        { role: 'tool', tool_call_id: 'toolu_2', content: 'Error: no clock' },
        { role: 'user', content: 'And tomorrow?' },
      ] },
    },
    {
      name: 'images inside tool results move to a following user message',
      body: { ...base, messages: [{ role: 'user', content: [{ type: 'tool_result', tool_use_id: 't', content: [{ type: 'text', text: 'shot:' }, { type: 'image', source: { type: 'base64', media_type: 'image/png', data: PNG } }] }] }] },
      want: { messages: [
        { role: 'tool', tool_call_id: 't', content: 'shot:' },
        { role: 'user', content: [{ type: 'image_url', image_url: { url: `data:image/png;base64,${PNG}` } }] },
      ] },
    },
    {
      name: 'tools and tool_choice any with parallel disabled',
      body: { ...base, tools: [{ name: 'get_weather', description: 'Get weather', input_schema: { type: 'object', properties: { city: { type: 'string' } }, required: ['city'] } }], tool_choice: { type: 'any', disable_parallel_tool_use: true } },
      want: { tools: [{ type: 'function', function: { name: 'get_weather', description: 'Get weather', parameters: { type: 'object', properties: { city: { type: 'string' } }, required: ['city'] } } }], tool_choice: 'required', parallel_tool_calls: false },
    },
    { name: 'named tool choice', body: { ...base, tools: [{ name: 'f', input_schema: { type: 'object' } }], tool_choice: { type: 'tool', name: 'f' } }, want: { tool_choice: { type: 'function', function: { name: 'f' } } } },
    { name: 'tool choice none', body: { ...base, tools: [{ name: 'f', input_schema: { type: 'object' } }], tool_choice: { type: 'none' } }, want: { tool_choice: 'none' } },
    {
      name: 'sampling, stop, user, stream asks for usage',
      body: { ...base, temperature: 0.2, top_p: 0.8, stop_sequences: ['\n\nHuman:'], metadata: { user_id: 'u-1' }, stream: true },
      want: { temperature: 0.2, top_p: 0.8, stop: ['\n\nHuman:'], user: 'u-1', stream: true, stream_options: { include_usage: true } },
    },
  ];
  it.each(cases)('$name', ({ body, want, opts }) => {
    expect(anthropicToOpenAIRequest(body, opts).request).toMatchObject(want);
  });

  it('lists ignored Anthropic-only hints', () => {
    const { request, ignoredParams } = anthropicToOpenAIRequest({ ...base, top_k: 5, thinking: { type: 'enabled', budget_tokens: 2048 } });
    expect(ignoredParams).toEqual(['top_k', 'thinking']);
    expect(request).not.toHaveProperty('top_k');
  });

  const errors: { name: string; body: unknown; code: string; param: string }[] = [
    { name: 'missing max_tokens', body: { model: 'm', messages: [] }, code: 'invalid_request', param: 'max_tokens' },
    { name: 'server tool', body: { ...base, tools: [{ type: 'web_search_20250305', name: 'web_search', max_uses: 5 }] }, code: 'invalid_tool', param: 'tools[0].type' },
    { name: 'tool without schema', body: { ...base, tools: [{ name: 'f' }] }, code: 'invalid_tool', param: 'tools[0].input_schema' },
    { name: 'unknown block', body: { ...base, messages: [{ role: 'user', content: [{ type: 'search_result', source: 'x' }] }] }, code: 'unsupported_content', param: 'messages[0].content[0].type' },
    { name: 'base64 image without media_type', body: { ...base, messages: [{ role: 'user', content: [{ type: 'image', source: { type: 'base64', data: PNG } }] }] }, code: 'invalid_request', param: 'messages[0].content[0].source.media_type' },
    { name: 'file-id image', body: { ...base, messages: [{ role: 'user', content: [{ type: 'image', source: { type: 'file', file_id: 'file_1' } }] }] }, code: 'unsupported_content', param: 'messages[0].content[0].source.type' },
    { name: 'system role in messages', body: { ...base, messages: [{ role: 'system', content: 'x' }] }, code: 'invalid_request', param: 'messages[0].role' },
    { name: 'bad tool_choice', body: { ...base, tool_choice: { type: 'maybe' } }, code: 'invalid_tool', param: 'tool_choice.type' },
  ];
  it.each(errors)('rejects $name', ({ body, code, param }) => {
    let caught: unknown;
    try {
      anthropicToOpenAIRequest(body);
    } catch (e) {
      caught = e;
    }
    expect(caught).toBeInstanceOf(TranslateError);
    expect(caught).toMatchObject({ code, param });
  });
});
