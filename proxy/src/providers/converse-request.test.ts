import { describe, expect, it } from 'vitest';
import { openaiToConverseRequest } from './converse-request.ts';
import { TranslateError } from '../translate/index.ts';

const PNG = 'iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJAAAADUlEQVR42mP8z8BQDwAEhQGAhKmMIQAAAABJRU5ErkJggg==';
const WEATHER = { type: 'function', function: { name: 'get_weather', description: 'Weather for a city', parameters: { type: 'object', properties: { city: { type: 'string' } }, required: ['city'] } } };
const SPEC = { toolSpec: { name: 'get_weather', description: 'Weather for a city', inputSchema: { json: WEATHER.function.parameters } } };

describe('OpenAI chat → Bedrock Converse request', () => {
  it('system and developer messages become `system`; consecutive same-role turns merge; sampling goes to inferenceConfig', () => {
    const out = openaiToConverseRequest({
      model: 'nova', temperature: 0.3, top_p: 0.9, max_completion_tokens: 200, stop: 'END', stream: true, stream_options: { include_usage: true }, user: 'u-1', seed: 7,
      messages: [
        { role: 'system', content: 'Be brief.' },
        { role: 'developer', content: [{ type: 'text', text: 'Answer in French.' }] },
        { role: 'user', content: 'Hello' },
        { role: 'user', content: [{ type: 'text', text: 'again' }] },
        { role: 'assistant', content: 'Bonjour' },
        { role: 'user', content: 'Bye' },
      ],
    });
    expect(out).toEqual({
      system: [{ text: 'Be brief.' }, { text: 'Answer in French.' }],
      messages: [
        { role: 'user', content: [{ text: 'Hello' }, { text: 'again' }] },
        { role: 'assistant', content: [{ text: 'Bonjour' }] },
        { role: 'user', content: [{ text: 'Bye' }] },
      ],
      inferenceConfig: { maxTokens: 200, temperature: 0.3, topP: 0.9, stopSequences: ['END'] },
    });
  });

  it('sends no maxTokens unless the client gave one (max_tokens or max_completion_tokens)', () => {
    expect(openaiToConverseRequest({ model: 'm', messages: [{ role: 'user', content: 'hi' }] })).toEqual({ messages: [{ role: 'user', content: [{ text: 'hi' }] }] });
    expect(openaiToConverseRequest({ model: 'm', max_tokens: 50, messages: [{ role: 'user', content: 'hi' }] }).inferenceConfig).toEqual({ maxTokens: 50 });
  });

  it('images given as data: URLs become image blocks (format and base64 bytes)', () => {
    const out = openaiToConverseRequest({ model: 'm', messages: [{ role: 'user', content: [{ type: 'text', text: 'What is this?' }, { type: 'image_url', image_url: { url: `data:image/png;base64,${PNG}` } }] }] });
    expect(out.messages[0]!.content).toEqual([{ text: 'What is this?' }, { image: { format: 'png', source: { bytes: PNG } } }]);
  });

  it('PDF files as file_data become named document blocks', () => {
    const pdf = Buffer.from('%PDF-1.4 fake').toString('base64');
    const file = { type: 'file', file: { filename: 'a.pdf', file_data: `data:application/pdf;base64,${pdf}` } };
    const out = openaiToConverseRequest({ model: 'm', messages: [{ role: 'user', content: [file, { type: 'text', text: 'Summarise' }, file] }] });
    expect(out.messages[0]!.content).toEqual([
      { document: { format: 'pdf', name: 'document-1', source: { bytes: pdf } } },
      { text: 'Summarise' },
      { document: { format: 'pdf', name: 'document-2', source: { bytes: pdf } } },
    ]);
  });

  it.each([
    ['auto', { auto: {} }],
    ['required', { any: {} }],
    [{ type: 'function', function: { name: 'get_weather' } }, { tool: { name: 'get_weather' } }],
    [undefined, undefined],
  ])('tools and tool_choice %j → toolConfig', (choice, toolChoice) => {
    const out = openaiToConverseRequest({ model: 'm', tools: [WEATHER], ...(choice !== undefined ? { tool_choice: choice } : {}), messages: [{ role: 'user', content: 'Weather in Paris?' }] });
    expect(out.toolConfig).toEqual({ tools: [SPEC], ...(toolChoice !== undefined ? { toolChoice } : {}) });
  });

  it('tool_choice none offers no tools', () => {
    expect(openaiToConverseRequest({ model: 'm', tools: [WEATHER], tool_choice: 'none', messages: [{ role: 'user', content: 'hi' }] }).toolConfig).toBeUndefined();
  });

  it('tool_choice none with tool calls in the conversation offers the tools with no choice (Converse requires a toolConfig for them)', () => {
    const out = openaiToConverseRequest({
      model: 'm', tools: [WEATHER], tool_choice: 'none',
      messages: [
        { role: 'user', content: 'Weather in Paris?' },
        { role: 'assistant', content: null, tool_calls: [{ id: 'call_1', type: 'function', function: { name: 'get_weather', arguments: '{"city":"Paris"}' } }] },
        { role: 'tool', tool_call_id: 'call_1', content: '18°C' },
        { role: 'user', content: 'Now just summarise.' },
      ],
    });
    expect(out.toolConfig).toEqual({ tools: [SPEC] });
  });

  it('assistant tool_calls → toolUse; tool messages → toolResult blocks in one user turn', () => {
    const out = openaiToConverseRequest({
      model: 'm', tools: [WEATHER],
      messages: [
        { role: 'user', content: 'Weather in Paris and Oslo?' },
        { role: 'assistant', content: null, tool_calls: [
          { id: 'call_1', type: 'function', function: { name: 'get_weather', arguments: '{"city":"Paris"}' } },
          { id: 'call_2', type: 'function', function: { name: 'get_weather', arguments: '{"city":"Oslo"}' } },
        ] },
        { role: 'tool', tool_call_id: 'call_1', content: '18C' },
        { role: 'tool', tool_call_id: 'call_2', content: [{ type: 'text', text: '9C' }] },
      ],
    });
    expect(out.messages).toEqual([
      { role: 'user', content: [{ text: 'Weather in Paris and Oslo?' }] },
      { role: 'assistant', content: [{ toolUse: { toolUseId: 'call_1', name: 'get_weather', input: { city: 'Paris' } } }, { toolUse: { toolUseId: 'call_2', name: 'get_weather', input: { city: 'Oslo' } } }] },
      { role: 'user', content: [{ toolResult: { toolUseId: 'call_1', content: [{ text: '18C' }] } }, { toolResult: { toolUseId: 'call_2', content: [{ text: '9C' }] } }] },
    ]);
  });

  it('response_format json_schema → outputConfig with the schema as a JSON string', () => {
    const schema = { type: 'object', properties: { a: { type: 'number' } }, required: ['a'], additionalProperties: false };
    const out = openaiToConverseRequest({ model: 'm', response_format: { type: 'json_schema', json_schema: { name: 'answer', strict: true, schema } }, messages: [{ role: 'user', content: 'hi' }] });
    expect(out.outputConfig).toEqual({ textFormat: { type: 'json_schema', structure: { jsonSchema: { schema: JSON.stringify(schema), name: 'answer' } } } });
    expect(out.system).toBeUndefined();
  });

  it.each([
    [{ n: 2 }, 'n'],
    [{ logprobs: true }, 'logprobs'],
    [{ response_format: { type: 'json_object' } }, 'response_format.type'],
    [{ parallel_tool_calls: false, tools: [WEATHER] }, 'parallel_tool_calls'],
    [{ audio: { voice: 'alloy', format: 'wav' } }, 'audio'],
    [{ messages: [{ role: 'user', content: [{ type: 'image_url', image_url: { url: 'https://example.com/cat.png' } }] }] }, 'messages'],
    [{ messages: [{ role: 'user', content: [{ type: 'input_audio', input_audio: { data: 'AAAA', format: 'wav' } }] }] }, 'messages[0].content[0].type'],
  ])('refuses %j (param %s) rather than answer differently', (extra, param) => {
    let err: unknown;
    try {
      openaiToConverseRequest({ model: 'm', messages: [{ role: 'user', content: 'hi' }], ...extra });
    } catch (e) {
      err = e;
    }
    expect(err).toBeInstanceOf(TranslateError);
    expect((err as TranslateError).status).toBe(400);
    expect((err as TranslateError).param).toBe(param);
  });
});
