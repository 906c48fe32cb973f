// The real @anthropic-ai/sdk against /v1/messages (to an Anthropic deployment: passthrough; to
// an OpenAI deployment: translated), and the real openai SDK against an Anthropic-backed alias.
// Fake upstreams speak each provider's exact wire format; events are asserted.
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import Anthropic from '@anthropic-ai/sdk';
import OpenAI from 'openai';
import { Registry } from 'prom-client';
import { LlmCallEvent, createLogger, createPricer, parseConfig } from '@gatelog/core';
import { buildProxy } from '@gatelog/proxy';
import type { FastifyInstance } from 'fastify';
import { DEFAULT_USAGE, reportedModel, startFakeOpenAi, type FakeOpenAi } from '../support/fake-openai.ts';
import { FAKE_ANTHROPIC_USAGE, anthropicReportedModel, startFakeAnthropic, type FakeAnthropic } from '../support/fake-anthropic.ts';

const MASTER = 'gl-master-key-for-anthropic-tests';
const ANT_KEY = 'sk-ant-provider-secret';
const OAI_KEY = 'sk-oai-provider-secret';
const CLAUDE = 'claude-3-5-sonnet-20241022';

let ant: FakeAnthropic;
let oai: FakeOpenAi;
let app: FastifyInstance;
let url: string;
const events: LlmCallEvent[] = [];

const lastEvent = async (): Promise<LlmCallEvent> => {
  for (let i = 0; i < 400 && events.length === 0; i++) await new Promise((r) => setTimeout(r, 5));
  return LlmCallEvent.parse(events[events.length - 1]);
};

const anthropicClient = (opts: Partial<ConstructorParameters<typeof Anthropic>[0]> = {}): Anthropic => new Anthropic({ baseURL: url, apiKey: MASTER, maxRetries: 0, ...opts });

beforeAll(async () => {
  ant = await startFakeAnthropic();
  oai = await startFakeOpenAi();
  const config = parseConfig(
    {
      providers: {
        ant: { kind: 'anthropic', base_url: ant.url, api_key: ANT_KEY },
        oai: { kind: 'openai', base_url: oai.baseUrl, api_key: OAI_KEY },
      },
      models: [
        { name: 'claude', deployments: [{ provider: 'ant', model: CLAUDE }] },
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

const anthropicCost = (input: number, output: number, read: number, write: number): number =>
  createPricer([])('ant', 'anthropic', CLAUDE, { input_tokens: input, output_tokens: output, cache_read_tokens: read, cache_write_tokens: write })!;

describe('@anthropic-ai/sdk → /v1/messages → Anthropic deployment (passthrough)', () => {
  it('non-stream: provider key sent instead of the gatelog key, usage with cache tokens priced', async () => {
    const msg = await anthropicClient().messages.create(
      { model: 'claude', max_tokens: 100, messages: [{ role: 'user', content: 'hi' }] },
      { headers: { 'anthropic-version': '2099-01-01' } },
    );
    expect(msg.content).toEqual([{ type: 'text', text: 'Fake reply to: hi' }]);
    expect(msg.usage.cache_read_input_tokens).toBe(100);
    const r = ant.requests[0]!;
    expect(r.path).toBe('/v1/messages');
    expect(r.headers['x-api-key']).toBe(ANT_KEY);
    expect(r.headers['authorization']).toBeUndefined();
    expect(JSON.stringify(r.headers)).not.toContain(MASTER);
    // The client's API version is the one the upstream sees.
    expect(r.headers['anthropic-version']).toBe('2099-01-01');
    expect(r.body['model']).toBe(CLAUDE);
    const e = await lastEvent();
    const u = FAKE_ANTHROPIC_USAGE;
    const input = u.input_tokens + u.cache_read_input_tokens + u.cache_creation_input_tokens;
    expect(e).toMatchObject({
      client_api: 'anthropic.messages', upstream_api: 'anthropic.messages', endpoint: '/v1/messages', provider: 'ant',
      requested_model: 'claude', deployment_model: CLAUDE, upstream_model: anthropicReportedModel(CLAUDE),
      input_tokens: input, output_tokens: u.output_tokens, cached_tokens: 100, cache_creation_tokens: 50, finish_reason: 'end_turn', status: 200, outcome: 'success',
    });
    expect(e.cost_usd).toBeCloseTo(anthropicCost(input, u.output_tokens, 100, 50), 12);
    expect(e.response_body).toBe(r.response);
  });

  it('stream: bytes passed through unchanged (thinking, ping), beta header kept, .stream() helpers and finalMessage()', async () => {
    ant.behave({ thinking: 'Let me think.' });
    const client = anthropicClient({ authToken: MASTER, apiKey: null });
    const stream = client.messages.stream(
      { model: 'claude', max_tokens: 1024, thinking: { type: 'enabled', budget_tokens: 512 }, messages: [{ role: 'user', content: 'stream please' }] },
      { headers: { 'anthropic-beta': 'interleaved-thinking-2025-05-14' } },
    );
    const texts: string[] = [];
    stream.on('text', (t) => texts.push(t));
    const final = await stream.finalMessage();
    expect(texts.join('')).toBe('Fake reply to: stream please');
    expect(final.content[0]).toEqual({ type: 'thinking', thinking: 'Let me think.', signature: 'sig_fake_123' });
    expect(final.usage.output_tokens).toBe(FAKE_ANTHROPIC_USAGE.output_tokens);
    const r = ant.requests[0]!;
    expect(r.headers['anthropic-beta']).toBe('interleaved-thinking-2025-05-14');
    expect(r.headers['x-api-key']).toBe(ANT_KEY);
    const e = await lastEvent();
    expect(e).toMatchObject({ client_api: 'anthropic.messages', upstream_api: 'anthropic.messages', stream: true, cached_tokens: 100, cache_creation_tokens: 50, output_tokens: 12, finish_reason: 'end_turn' });
    const stored = JSON.parse(e.response_body) as { content: unknown[] };
    expect(stored.content[0]).toEqual({ type: 'thinking', thinking: 'Let me think.', signature: 'sig_fake_123' });

    // Byte for byte: what the client reads is exactly what the upstream wrote (Claude Code adds ?beta=true).
    ant.reset();
    const res = await fetch(`${url}/v1/messages?beta=true`, {
      method: 'POST',
      headers: { 'content-type': 'application/json', 'x-api-key': MASTER, 'anthropic-version': '2023-06-01' },
      body: JSON.stringify({ model: 'claude', max_tokens: 50, stream: true, messages: [{ role: 'user', content: 'bytes' }] }),
    });
    const text = await res.text();
    expect(res.headers.get('request-id')).toBe('req_fake_ant');
    expect(text).toBe(ant.requests[0]!.response);
    expect(text).toContain('event: ping');
  });

  it('tool use round trip', async () => {
    const client = anthropicClient();
    const tools = [{ name: 'get_weather', description: 'Weather', input_schema: { type: 'object' as const, properties: { city: { type: 'string' } }, required: ['city'] } }];
    ant.behave({ toolUse: { id: 'toolu_1', name: 'get_weather', input: { city: 'Paris' } } });
    const first = await client.messages.create({ model: 'claude', max_tokens: 100, tools, messages: [{ role: 'user', content: 'weather?' }] });
    expect(first.stop_reason).toBe('tool_use');
    const call = first.content.find((b) => b.type === 'tool_use');
    expect(call).toMatchObject({ name: 'get_weather', input: { city: 'Paris' } });
    ant.behave({});
    const second = await client.messages.create({
      model: 'claude', max_tokens: 100, tools,
      messages: [
        { role: 'user', content: 'weather?' },
        { role: 'assistant', content: first.content },
        { role: 'user', content: [{ type: 'tool_result', tool_use_id: 'toolu_1', content: 'sunny' }] },
      ],
    });
    expect(second.content[0]).toMatchObject({ type: 'text' });
    expect(ant.requests[1]!.raw).toContain('"tool_result"');
  });

  it('upstream errors keep Anthropic\'s shape and status (529 overloaded)', async () => {
    ant.behave({ error: { status: 529, type: 'overloaded_error', message: 'Overloaded' } });
    const err = await anthropicClient().messages.create({ model: 'claude', max_tokens: 10, messages: [{ role: 'user', content: 'x' }] }).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(Anthropic.APIError);
    expect((err as InstanceType<typeof Anthropic.APIError>).status).toBe(529);
    expect((err as InstanceType<typeof Anthropic.APIError>).error).toEqual({ type: 'error', error: { type: 'overloaded_error', message: 'Overloaded' } });
    const e = await lastEvent();
    expect(e).toMatchObject({ status: 529, outcome: 'error', error_type: 'overloaded_error' });
  });

  it('mid-stream upstream error: the SDK raises it, the event is not a success', async () => {
    ant.behave({ midStreamError: true });
    const stream = anthropicClient().messages.stream({ model: 'claude', max_tokens: 50, messages: [{ role: 'user', content: 'break' }] });
    const err = await stream.finalMessage().catch((e: unknown) => e);
    expect(err).toBeInstanceOf(Error);
    expect(String((err as Error).message)).toContain('Overloaded');
    const e = await lastEvent();
    expect(e.outcome).not.toBe('success');
    expect((JSON.parse(e.response_body) as { error: { type: string } }).error.type).toBe('overloaded_error');
  });

  it('count_tokens is forwarded; a bare Claude model id reaches the anthropic provider', async () => {
    const r = await anthropicClient().messages.countTokens({ model: 'claude-sonnet-4-5', messages: [{ role: 'user', content: 'count me' }] });
    expect(r.input_tokens).toBe(42);
    expect(ant.requests[0]!.path).toBe('/v1/messages/count_tokens');
    expect(ant.requests[0]!.body['model']).toBe('claude-sonnet-4-5');
    const e = await lastEvent();
    expect(e).toMatchObject({ client_api: 'anthropic.count_tokens', provider: 'ant', input_tokens: 0 });
  });

  it('wrong gatelog key: 401 in Anthropic\'s shape, nothing forwarded', async () => {
    const err = await anthropicClient({ apiKey: 'wrong' }).messages.create({ model: 'claude', max_tokens: 10, messages: [{ role: 'user', content: 'x' }] }).catch((e: unknown) => e);
    expect((err as InstanceType<typeof Anthropic.APIError>).status).toBe(401);
    expect((err as InstanceType<typeof Anthropic.APIError>).error).toMatchObject({ type: 'error', error: { type: 'authentication_error' } });
    expect(ant.requests).toHaveLength(0);
  });
});

describe('@anthropic-ai/sdk → /v1/messages → OpenAI deployment (translated)', () => {
  it('non-stream: translated request and answer, event with both APIs and the upstream model', async () => {
    const msg = await anthropicClient().messages.create({ model: 'gpt', max_tokens: 100, system: 'be brief', messages: [{ role: 'user', content: 'hi' }] });
    expect(msg.type).toBe('message');
    expect(msg.content).toEqual([{ type: 'text', text: 'Fake reply to: hi' }]);
    expect(msg.usage.input_tokens).toBe(DEFAULT_USAGE.prompt_tokens - DEFAULT_USAGE.cached_tokens);
    const r = oai.requests[0]!;
    expect(r.path).toBe('/v1/chat/completions');
    expect(r.headers['authorization']).toBe(`Bearer ${OAI_KEY}`);
    expect(r.body).toMatchObject({ model: 'gpt-4o-mini', max_completion_tokens: 100, messages: [{ role: 'system', content: 'be brief' }, { role: 'user', content: 'hi' }] });
    const e = await lastEvent();
    expect(e).toMatchObject({
      client_api: 'anthropic.messages', upstream_api: 'openai.chat', provider: 'oai', upstream_model: reportedModel('gpt-4o-mini'),
      input_tokens: DEFAULT_USAGE.prompt_tokens, output_tokens: DEFAULT_USAGE.completion_tokens, cached_tokens: DEFAULT_USAGE.cached_tokens,
    });
    expect(e.cost_usd).toBeGreaterThan(0);
  });

  it('stream: .stream() helpers and finalMessage() over a translated OpenAI stream', async () => {
    const stream = anthropicClient().messages.stream({ model: 'gpt', max_tokens: 100, messages: [{ role: 'user', content: 'stream' }] });
    const texts: string[] = [];
    stream.on('text', (t) => texts.push(t));
    const final = await stream.finalMessage();
    expect(texts.join('')).toBe('Fake reply to: stream');
    expect(final.stop_reason).toBe('end_turn');
    expect(final.usage.output_tokens).toBe(DEFAULT_USAGE.completion_tokens);
    expect(oai.requests[0]!.body).toMatchObject({ stream: true, stream_options: { include_usage: true } });
    const e = await lastEvent();
    expect(e).toMatchObject({ client_api: 'anthropic.messages', upstream_api: 'openai.chat', stream: true, input_tokens: DEFAULT_USAGE.prompt_tokens, output_tokens: DEFAULT_USAGE.completion_tokens });
  });

  it('tool use round trip, streamed', async () => {
    oai.behave({ toolCall: { name: 'get_weather', arguments: '{"city":"Oslo"}' } });
    const client = anthropicClient();
    const tools = [{ name: 'get_weather', input_schema: { type: 'object' as const, properties: { city: { type: 'string' } } } }];
    const first = await client.messages.stream({ model: 'gpt', max_tokens: 100, tools, messages: [{ role: 'user', content: 'weather?' }] }).finalMessage();
    expect(first.stop_reason).toBe('tool_use');
    const call = first.content.find((b) => b.type === 'tool_use');
    expect(call).toMatchObject({ type: 'tool_use', name: 'get_weather', input: { city: 'Oslo' } });
    oai.behave({});
    await client.messages.create({
      model: 'gpt', max_tokens: 100, tools,
      messages: [
        { role: 'user', content: 'weather?' },
        { role: 'assistant', content: first.content },
        { role: 'user', content: [{ type: 'tool_result', tool_use_id: (call as { id: string }).id, content: 'cold' }] },
      ],
    });
    const sent = oai.requests[1]!.body as { messages: { role: string; tool_call_id?: string; content?: unknown; tool_calls?: unknown[] }[] };
    expect(sent.messages[1]!.tool_calls).toHaveLength(1);
    expect(sent.messages[2]).toMatchObject({ role: 'tool', tool_call_id: (call as { id: string }).id, content: 'cold' });
  });

  it('count_tokens is estimated locally and flagged', async () => {
    const res = await fetch(`${url}/v1/messages/count_tokens`, {
      method: 'POST', headers: { 'content-type': 'application/json', 'x-api-key': MASTER },
      body: JSON.stringify({ model: 'gpt', messages: [{ role: 'user', content: 'how many tokens is this sentence?' }] }),
    });
    expect(res.status).toBe(200);
    expect(res.headers.get('x-gatelog-tokens-estimated')).toBe('true');
    const body = (await res.json()) as { input_tokens: number };
    expect(body.input_tokens).toBeGreaterThan(3);
    expect(oai.requests).toHaveLength(0);
  });

  it.each([
    ['an unknown content block type', { messages: [{ role: 'user', content: [{ type: 'video', url: 'x' }] }] }, 'messages[0].content[0].type'],
    ['a tool schema that is not an object', { tools: [{ name: 't', input_schema: 'nope' }], messages: [{ role: 'user', content: 'x' }] }, 'tools[0].input_schema'],
    ['an Anthropic-only server tool', { tools: [{ type: 'web_search_20250305', name: 'web_search' }], messages: [{ role: 'user', content: 'x' }] }, 'tools[0].type'],
  ])('bad input (%s): 400 in Anthropic\'s shape, nothing forwarded', async (_name, extra, param) => {
    const res = await fetch(`${url}/v1/messages`, {
      method: 'POST', headers: { 'content-type': 'application/json', 'x-api-key': MASTER },
      body: JSON.stringify({ model: 'gpt', max_tokens: 10, ...extra }),
    });
    expect(res.status).toBe(400);
    const body = (await res.json()) as { type: string; error: { type: string; message: string } };
    expect(body.type).toBe('error');
    expect(body.error.type).toBe('invalid_request_error');
    expect(body.error.message).toContain(param);
    expect(oai.requests).toHaveLength(0);
  });

  it('missing max_tokens: 400 before routing', async () => {
    const err = await anthropicClient().messages.create({ model: 'gpt', messages: [{ role: 'user', content: 'x' }] } as never).catch((e: unknown) => e);
    expect((err as InstanceType<typeof Anthropic.APIError>).status).toBe(400);
    expect((err as InstanceType<typeof Anthropic.APIError>).error).toMatchObject({ type: 'error', error: { type: 'invalid_request_error' } });
    expect(oai.requests).toHaveLength(0);
  });
});

describe('openai SDK → Anthropic-backed alias (translated)', () => {
  const client = (): OpenAI => new OpenAI({ baseURL: `${url}/v1`, apiKey: MASTER, maxRetries: 0 });

  it('stream with tool calls assembled by the SDK\'s stream helpers; finalChatCompletion()', async () => {
    ant.behave({ toolUse: { id: 'toolu_9', name: 'lookup', input: { q: 'gatelog', n: 3 } } });
    const stream = client().chat.completions.stream({
      model: 'claude',
      messages: [{ role: 'user', content: 'look it up' }],
      tools: [{ type: 'function', function: { name: 'lookup', parameters: { type: 'object', properties: { q: { type: 'string' }, n: { type: 'number' } } } } }],
    });
    const done: string[] = [];
    stream.on('tool_calls.function.arguments.done', (e) => done.push(e.arguments));
    const final = await stream.finalChatCompletion();
    const call = final.choices[0]!.message.tool_calls![0]!;
    expect(call).toMatchObject({ id: 'toolu_9', type: 'function', function: { name: 'lookup' } });
    expect(JSON.parse((call as { function: { arguments: string } }).function.arguments)).toEqual({ q: 'gatelog', n: 3 });
    expect(done).toHaveLength(1);
    expect(final.choices[0]!.finish_reason).toBe('tool_calls');
    const sent = ant.requests[0]!;
    expect(sent.headers['x-api-key']).toBe(ANT_KEY);
    expect(sent.body).toMatchObject({ model: CLAUDE, stream: true, max_tokens: 4096, tools: [{ name: 'lookup' }] });
    const e = await lastEvent();
    const u = FAKE_ANTHROPIC_USAGE;
    const input = u.input_tokens + u.cache_read_input_tokens + u.cache_creation_input_tokens;
    expect(e).toMatchObject({
      client_api: 'openai.chat', upstream_api: 'anthropic.messages', stream: true, upstream_model: anthropicReportedModel(CLAUDE),
      input_tokens: input, output_tokens: u.output_tokens, cached_tokens: 100, cache_creation_tokens: 50, finish_reason: 'tool_calls',
    });
    expect(e.cost_usd).toBeCloseTo(anthropicCost(input, u.output_tokens, 100, 50), 12);
  });

  it('stream without any usage from upstream: tokens estimated and flagged', async () => {
    ant.behave({ noUsage: true });
    const stream = client().chat.completions.stream({ model: 'claude', messages: [{ role: 'user', content: 'count yourself' }] });
    const final = await stream.finalChatCompletion();
    expect(final.choices[0]!.message.content).toBe('Fake reply to: count yourself');
    const e = await lastEvent();
    expect(e).toMatchObject({ client_api: 'openai.chat', upstream_api: 'anthropic.messages', tokens_estimated: true });
    expect(e.input_tokens).toBeGreaterThan(0);
    expect(e.output_tokens).toBeGreaterThan(0);
  });

  it('images (data URL and https URL) become Anthropic image blocks; non-stream answer', async () => {
    const png = 'iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJAAAADUlEQVR42mNkYPhfDwAChwGA60e6kgAAAABJRU5ErkJggg==';
    const r = await client().chat.completions.create({
      model: 'claude', max_tokens: 50,
      messages: [{ role: 'user', content: [
        { type: 'text', text: 'what is this?' },
        { type: 'image_url', image_url: { url: `data:image/png;base64,${png}` } },
        { type: 'image_url', image_url: { url: 'https://example.com/cat.jpg' } },
      ] }],
    });
    expect(r.choices[0]!.message.content).toBe('Fake reply to: what is this?');
    expect(r.model).toBe(anthropicReportedModel(CLAUDE));
    const content = (ant.requests[0]!.body['messages'] as { content: unknown[] }[])[0]!.content;
    expect(content[1]).toEqual({ type: 'image', source: { type: 'base64', media_type: 'image/png', data: png } });
    expect(content[2]).toEqual({ type: 'image', source: { type: 'url', url: 'https://example.com/cat.jpg' } });
    const e = await lastEvent();
    expect(e).toMatchObject({ client_api: 'openai.chat', upstream_api: 'anthropic.messages', cache_creation_tokens: 50 });
  });

  it('Anthropic errors reach OpenAI clients in OpenAI\'s shape with a retryable status', async () => {
    ant.behave({ error: { status: 529, type: 'overloaded_error', message: 'Overloaded' } });
    const err = await client().chat.completions.create({ model: 'claude', messages: [{ role: 'user', content: 'x' }] }).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(OpenAI.APIError);
    expect((err as InstanceType<typeof OpenAI.APIError>).status).toBe(503);
    expect((err as InstanceType<typeof OpenAI.APIError>).error).toMatchObject({ type: 'server_error', code: 'overloaded_error', message: 'Overloaded' });
  });

  it('bad input: unknown content part type and n>1 are 400s in OpenAI\'s shape, nothing forwarded', async () => {
    for (const extra of [
      { messages: [{ role: 'user', content: [{ type: 'hologram', data: 'x' }] }] },
      { n: 2, messages: [{ role: 'user', content: 'x' }] },
    ]) {
      const res = await fetch(`${url}/v1/chat/completions`, {
        method: 'POST', headers: { 'content-type': 'application/json', authorization: `Bearer ${MASTER}` },
        body: JSON.stringify({ model: 'claude', ...extra }),
      });
      expect(res.status).toBe(400);
      const body = (await res.json()) as { error: { type: string; code: string } };
      expect(body.error.type).toBe('invalid_request_error');
    }
    expect(ant.requests).toHaveLength(0);
  });
});
