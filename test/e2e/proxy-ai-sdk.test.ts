// The Vercel `ai` SDK through gatelog with both of its providers: @ai-sdk/openai (chat) and
// @ai-sdk/anthropic, each against an Anthropic deployment and an OpenAI deployment, with
// generateText, streamText and a tool loop the SDK drives itself.
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { generateText, jsonSchema, stepCountIs, streamText, tool } from 'ai';
import { createOpenAI } from '@ai-sdk/openai';
import { createAnthropic } from '@ai-sdk/anthropic';
import { Registry } from 'prom-client';
import { LlmCallEvent, createLogger, parseConfig } from '@gatelog/core';
import { buildProxy } from '@gatelog/proxy';
import type { FastifyInstance } from 'fastify';
import { startFakeOpenAi, type FakeOpenAi } from '../support/fake-openai.ts';
import { startFakeAnthropic, type FakeAnthropic } from '../support/fake-anthropic.ts';

const MASTER = 'gl-master-ai-sdk';
let ant: FakeAnthropic;
let oai: FakeOpenAi;
let app: FastifyInstance;
let url: string;
const events: LlmCallEvent[] = [];

beforeAll(async () => {
  // The SDK warns that it does not know our alias names' output limits; not what is tested here.
  (globalThis as { AI_SDK_LOG_WARNINGS?: boolean }).AI_SDK_LOG_WARNINGS = false;
  ant = await startFakeAnthropic();
  oai = await startFakeOpenAi();
  const config = parseConfig(
    {
      providers: {
        ant: { kind: 'anthropic', base_url: ant.url, api_key: 'sk-ant' },
        oai: { kind: 'openai', base_url: oai.baseUrl, api_key: 'sk-oai' },
      },
      models: [
        { name: 'claude', deployments: [{ provider: 'ant', model: 'claude-3-5-haiku-20241022' }] },
        { name: 'gpt', deployments: [{ provider: 'oai', model: 'gpt-4o-mini' }] },
      ],
      router: { retries: 0 },
    },
    'test',
    {},
  );
  app = await buildProxy({ config, publish: (e) => events.push(e), logger: createLogger('silent'), registry: new Registry(), masterKey: MASTER });
  url = await app.listen({ port: 0, host: '127.0.0.1' });
});

afterAll(async () => {
  await app?.close();
  await ant?.close();
  await oai?.close();
});

beforeEach(() => {
  ant.reset();
  oai.reset();
  events.length = 0;
});

const openaiProvider = () => createOpenAI({ baseURL: `${url}/v1`, apiKey: MASTER });
const anthropicProvider = () => createAnthropic({ baseURL: `${url}/v1`, apiKey: MASTER });

const weather = () =>
  tool({
    description: 'Weather for a city',
    inputSchema: jsonSchema<{ city: string }>({ type: 'object', properties: { city: { type: 'string' } }, required: ['city'], additionalProperties: false }),
    execute: async ({ city }) => `sunny in ${city}`,
  });

describe('ai SDK with @ai-sdk/openai', () => {
  it('generateText to an Anthropic-backed alias', async () => {
    const r = await generateText({ model: openaiProvider().chat('claude'), prompt: 'hello there' });
    expect(r.text).toBe('Fake reply to: hello there');
    expect(r.usage.outputTokens).toBe(12);
    expect(ant.requests[0]!.headers['x-api-key']).toBe('sk-ant');
    expect(events.at(-1)).toMatchObject({ client_api: 'openai.chat', upstream_api: 'anthropic.messages' });
  });

  it('streamText with a tool loop to an Anthropic-backed alias', async () => {
    ant.behave({ toolUse: { id: 'toolu_a', name: 'weather', input: { city: 'Lyon' } } });
    const r = streamText({ model: openaiProvider().chat('claude'), prompt: 'weather in Lyon?', tools: { weather: weather() }, stopWhen: stepCountIs(3) });
    const text = await r.text;
    const steps = await r.steps;
    expect(steps[0]!.toolCalls[0]).toMatchObject({ toolName: 'weather', input: { city: 'Lyon' } });
    expect(steps[0]!.toolResults[0]).toMatchObject({ output: 'sunny in Lyon' });
    expect(text).toContain('Fake reply to: tool result');
    expect(ant.requests).toHaveLength(2);
    expect(ant.requests[1]!.raw).toContain('"tool_result"');
  });
});

describe('ai SDK with @ai-sdk/anthropic', () => {
  it('generateText with a tool loop to an Anthropic deployment (passthrough)', async () => {
    ant.behave({ toolUse: { id: 'toolu_b', name: 'weather', input: { city: 'Nice' } } });
    const r = await generateText({ model: anthropicProvider()('claude'), prompt: 'weather in Nice?', tools: { weather: weather() }, stopWhen: stepCountIs(3) });
    expect(r.steps[0]!.toolResults[0]).toMatchObject({ output: 'sunny in Nice' });
    expect(r.text).toContain('Fake reply to: tool result');
    expect(events.at(-1)).toMatchObject({ client_api: 'anthropic.messages', upstream_api: 'anthropic.messages', cache_creation_tokens: 50 });
  });

  it('streamText to an OpenAI deployment (translated)', async () => {
    const r = streamText({ model: anthropicProvider()('gpt'), prompt: 'stream it' });
    let text = '';
    for await (const t of r.textStream) text += t;
    expect(text).toBe('Fake reply to: stream it');
    expect(oai.requests[0]!.headers['authorization']).toBe('Bearer sk-oai');
    for (let i = 0; i < 100 && events.length === 0; i++) await new Promise((res) => setTimeout(res, 5));
    expect(events.at(-1)).toMatchObject({ client_api: 'anthropic.messages', upstream_api: 'openai.chat', stream: true });
  });

  it('generateText with a tool call to an OpenAI deployment (translated)', async () => {
    oai.behave({ toolCall: { name: 'weather', arguments: '{"city":"Metz"}' } });
    const r = await generateText({ model: anthropicProvider()('gpt'), prompt: 'weather in Metz?', tools: { weather: weather() } });
    expect(r.toolCalls[0]).toMatchObject({ toolName: 'weather', input: { city: 'Metz' } });
    expect(r.toolResults[0]).toMatchObject({ output: 'sunny in Metz' });
  });
});
