// Both directions composed: what survives a trip through the other API's shape.
import { describe, expect, it } from 'vitest';
import { anthropicToOpenAIRequest } from './anthropic-request-to-openai.ts';
import { AnthropicToOpenAIStream } from './anthropic-stream-to-openai.ts';
import { anthropicToOpenAIResponse } from './anthropic-to-openai-response.ts';
import { anthropicSse, TOOL_MESSAGE, TOOL_STREAM_EVENTS } from './fixtures/anthropic-wire.ts';
import { feed } from './fixtures/sse-helpers.ts';
import { openaiToAnthropicRequest } from './openai-to-anthropic-request.ts';
import { openaiToAnthropicResponse } from './openai-response-to-anthropic.ts';
import { OpenAIToAnthropicStream } from './openai-stream-to-anthropic.ts';

const JPEG = '/9j/4AAQSkZJRgABAQAAAQABAAD/2wBDAAgGBgcGBQgHBwcJCQgKDBQNDAsLDBkSEw8UHRofHh0aHBwgJC4nICIsIxwcKDcpLDAxNDQ0Hyc5PTgyPC4zNDL/wAALCAABAAEBAREA/8QAFAABAAAAAAAAAAAAAAAAAAAACf/EABQQAQAAAAAAAAAAAAAAAAAAAAD/2gAIAQEAAD8AKp//2Q==';

describe('round trips', () => {
  it('OpenAI request with images and a parallel tool round survives OpenAI → Anthropic → OpenAI', () => {
    const original = {
      model: 'm',
      max_completion_tokens: 500,
      messages: [
        { role: 'system', content: 'You are a weather bot.' },
        { role: 'user', content: [
          { type: 'text', text: 'Where is this, and what is the weather there?' },
          { type: 'image_url', image_url: { url: `data:image/jpeg;base64,${JPEG}` } },
          { type: 'image_url', image_url: { url: 'https://example.com/street.webp' } },
        ] },
        { role: 'assistant', content: 'Looks like Paris.', tool_calls: [
          { id: 'call_1', type: 'function', function: { name: 'get_weather', arguments: '{"city":"Paris"}' } },
          { id: 'call_2', type: 'function', function: { name: 'get_forecast', arguments: '{"city":"Paris","days":2}' } },
        ] },
        { role: 'tool', tool_call_id: 'call_1', content: '18C, sunny' },
        { role: 'tool', tool_call_id: 'call_2', content: 'rain tomorrow' },
        { role: 'assistant', content: 'Paris: 18C and sunny, rain tomorrow.' },
        { role: 'user', content: 'Thanks!' },
      ],
      tools: [
        { type: 'function', function: { name: 'get_weather', description: 'Current weather', parameters: { type: 'object', properties: { city: { type: 'string' } } } } },
        { type: 'function', function: { name: 'get_forecast', parameters: { type: 'object', properties: { city: { type: 'string' }, days: { type: 'integer' } } } } },
      ],
      tool_choice: 'auto',
      temperature: 0.5,
    };
    const anthropic = openaiToAnthropicRequest(original).request;
    expect(anthropic.messages.map((m) => m.role)).toEqual(['user', 'assistant', 'user', 'assistant', 'user']);
    const back = anthropicToOpenAIRequest(anthropic).request;
    expect(back).toEqual(original);
  });

  it('Anthropic response survives Anthropic → OpenAI → Anthropic (minus thinking)', () => {
    const openai = anthropicToOpenAIResponse(TOOL_MESSAGE, { created: 0 }).body;
    const back = openaiToAnthropicResponse(openai);
    expect(back.body.content).toEqual([
      { type: 'text', text: 'I will check the weather.' },
      TOOL_MESSAGE.content[3],
    ]);
    expect(back.body.stop_reason).toBe('tool_use');
    expect(back.usage).toEqual(anthropicToOpenAIResponse(TOOL_MESSAGE, { created: 0 }).usage);
  });

  it('a streamed tool answer survives Anthropic SSE → OpenAI SSE → Anthropic SSE', () => {
    const first = new AnthropicToOpenAIStream({ includeUsage: true, created: 0 });
    const openaiBytes = feed(first, anthropicSse(TOOL_STREAM_EVENTS));
    const second = new OpenAIToAnthropicStream();
    feed(second, openaiBytes, [7, 100, 101, 333]);
    const r = second.result();
    expect(r.message.content).toEqual([
      { type: 'text', text: 'Checking both.' },
      { type: 'tool_use', id: 'toolu_01T1x1fJ34qAmk2tNTrN7Up6', name: 'get_weather', input: { location: 'San Francisco, CA' } },
      { type: 'tool_use', id: 'toolu_02', name: 'get_time', input: { tz: 'PST' } },
      { type: 'tool_use', id: 'toolu_03', name: 'list_all', input: {} },
    ]);
    expect(r).toMatchObject({ completed: true, usageMissing: false, finishReason: 'tool_calls', message: { stop_reason: 'tool_use' } });
    // Cache writes ride in prompt_tokens_details.cache_write_tokens (OpenRouter's field) and come back as writes
    expect(r.usage).toMatchObject({ input_tokens: 135, output_tokens: 89, cached_tokens: 100, cache_creation_tokens: 10, cache_write_5m_tokens: 10 });
  });
});
