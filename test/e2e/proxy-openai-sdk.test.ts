// The real `openai` SDK against buildProxy(...) on 127.0.0.1:0, with a fake OpenAI upstream
// as provider `fake` and the built-in mock provider. Asserts what the SDK returns and the
// published event (tokens, cost, exact bodies, timings, request id).
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import OpenAI from 'openai';
import { Registry } from 'prom-client';
import { LlmCallEvent, createLogger, parseConfig } from '@gatelog/core';
import { buildProxy } from '@gatelog/proxy';
import type { FastifyInstance } from 'fastify';
import { DEFAULT_USAGE, FAKE_EMBED_DIMS, reportedModel, startFakeOpenAi, type FakeOpenAi } from '../support/fake-openai.ts';

const MASTER = 'gl-master-key-for-tests';
const PROVIDER_KEY = 'sk-provider-secret-123';

interface Exchange {
  requestBody: string;
  responseText: Promise<string>;
}

let fake: FakeOpenAi;
let app: FastifyInstance;
let client: OpenAI;
const events: LlmCallEvent[] = [];
const exchanges: Exchange[] = [];

/** fetch that records the exact bytes sent and received, without disturbing the SDK's stream. */
const recordingFetch: typeof fetch = async (input, init) => {
  const res = await fetch(input, init);
  const requestBody = typeof init?.body === 'string' ? init.body : '';
  if (!res.body) {
    exchanges.push({ requestBody, responseText: Promise.resolve('') });
    return res;
  }
  const [a, b] = res.body.tee();
  // An aborted call rejects this side too; the tests that abort don't read it.
  exchanges.push({ requestBody, responseText: new Response(b).text().catch(() => '') });
  return new Response(a, { status: res.status, statusText: res.statusText, headers: res.headers });
};

async function eventFor(id: string | null): Promise<LlmCallEvent> {
  // Up to 5 s: a call without usage is recorded once its token estimate is back from the
  // estimator's worker thread, which loads its tables on the process's first call.
  for (let i = 0; i < 1000; i++) {
    const e = events.find((x) => x.request_id === id);
    if (e) return LlmCallEvent.parse(e);
    await new Promise((r) => setTimeout(r, 5));
  }
  throw new Error(`no event for request ${String(id)}`);
}

beforeAll(async () => {
  fake = await startFakeOpenAi();
  const config = parseConfig(
    {
      providers: {
        fake: { kind: 'openai', base_url: fake.baseUrl, api_key: PROVIDER_KEY, headers: { 'OpenAI-Organization': 'org-fake' }, models: ['gpt-fake'] },
        mock: { kind: 'mock', latency_ms: 20 },
      },
      models: [
        { name: 'smart', deployments: [{ provider: 'fake', model: 'gpt-4o-mini' }] },
        { name: 'embed', deployments: [{ provider: 'fake', model: 'text-embedding-3-small' }] },
        { name: 'mock-chat', deployments: [{ provider: 'mock', model: 'mock-chat' }] },
        { name: 'mock-embed', deployments: [{ provider: 'mock', model: 'mock-embed' }] },
      ],
      pricing: [
        { provider: 'fake', model: 'gpt-4o-mini', input: 1, output: 2, cached_input: 0.5 },
        { provider: 'fake', model: 'text-embedding-3-small', input: 0.02, output: 0 },
      ],
    },
    'test',
    {},
  );
  app = await buildProxy({ config, publish: (e) => events.push(e), logger: createLogger('silent'), registry: new Registry(), masterKey: MASTER });
  const url = await app.listen({ port: 0, host: '127.0.0.1' });
  client = new OpenAI({ apiKey: MASTER, baseURL: `${url}/v1`, maxRetries: 0, fetch: recordingFetch });
});

afterAll(async () => {
  await app.close();
  await fake.close();
});

beforeEach(() => {
  fake.reset();
  exchanges.length = 0;
});

// 21 prompt tokens of which 4 cached at $0.5/M, 17 plain at $1/M, 9 completion at $2/M.
const EXPECTED_COST = (17 * 1 + 4 * 0.5 + 9 * 2) / 1e6;

describe('openai SDK through gatelog to an OpenAI-compatible upstream', () => {
  it('non-stream chat: SDK result, upstream request, and the event', async () => {
    const { data, response } = await client.chat.completions
      .create({ model: 'smart', messages: [{ role: 'user', content: 'Hello' }] }, { headers: { 'x-gatelog-trace-id': 'trace-1', 'x-gatelog-tags': 'env=test, team=core,bad' } })
      .withResponse();
    expect(data.choices[0]?.message.content).toBe('Fake reply to: Hello');
    expect(data.model).toBe(reportedModel('gpt-4o-mini'));

    const up = fake.requests[0]!;
    expect(up.path).toBe('/v1/chat/completions');
    expect(up.headers.authorization).toBe(`Bearer ${PROVIDER_KEY}`);
    expect(up.headers['openai-organization']).toBe('org-fake');
    expect(JSON.stringify(up.headers)).not.toContain(MASTER);
    expect((up.body as { model: string }).model).toBe('gpt-4o-mini');

    const id = response.headers.get('x-gatelog-request-id');
    const e = await eventFor(id);
    const ex = exchanges[0]!;
    expect(e).toMatchObject({
      endpoint: '/v1/chat/completions',
      client_api: 'openai.chat',
      upstream_api: 'openai.chat',
      requested_model: 'smart',
      provider: 'fake',
      deployment_model: 'gpt-4o-mini',
      upstream_model: reportedModel('gpt-4o-mini'),
      stream: false,
      status: 200,
      outcome: 'success',
      finish_reason: 'stop',
      input_tokens: DEFAULT_USAGE.prompt_tokens,
      output_tokens: DEFAULT_USAGE.completion_tokens,
      cached_tokens: DEFAULT_USAGE.cached_tokens,
      reasoning_tokens: DEFAULT_USAGE.reasoning_tokens,
      tokens_estimated: false,
      trace_id: 'trace-1',
      tags: { env: 'test', team: 'core' },
      key_id: '',
      truncated: false,
    });
    expect(e.cost_usd).toBeCloseTo(EXPECTED_COST, 12);
    expect(e.request_body).toBe(ex.requestBody);
    expect(e.request_bytes).toBe(Buffer.byteLength(ex.requestBody));
    expect(e.response_body).toBe(await ex.responseText);
    expect(e.latency_ms).toBeGreaterThan(0);
    expect(e.ttft_ms).toBeGreaterThan(0);
    expect(e.overhead_ms).toBeGreaterThan(0);
    expect(e.overhead_ms).toBeLessThan(e.latency_ms);
    expect(e.attempts).toEqual([{ provider: 'fake', model: 'gpt-4o-mini', status: 200, error_class: '', latency_ms: expect.any(Number) }]);
    expect(e.attempts[0]!.latency_ms).toBeGreaterThan(0);
    expect(JSON.stringify(e)).not.toContain(PROVIDER_KEY);
    expect(JSON.stringify(e)).not.toContain(MASTER);
  });

  it('stream chat without include_usage: the client sees no usage chunk, the event has usage', async () => {
    const reply = 'héllo wörld 🌍 — ünïcødé ✓ done';
    fake.behave({ reply, splitBytes: 7 });
    const { data: stream, response } = await client.chat.completions.create({ model: 'smart', stream: true, messages: [{ role: 'user', content: 'Hi' }] }).withResponse();
    let text = '';
    const chunks: OpenAI.Chat.Completions.ChatCompletionChunk[] = [];
    for await (const c of stream) {
      chunks.push(c);
      text += c.choices[0]?.delta.content ?? '';
    }
    expect(text).toBe(reply);
    expect(chunks.every((c) => c.usage === undefined && c.choices.length === 1)).toBe(true);
    const raw = await exchanges[0]!.responseText;
    expect(raw.endsWith('data: [DONE]\n\n')).toBe(true);
    expect(raw).not.toContain('"usage"');

    // Upstream was asked for usage on the client's behalf.
    expect((fake.requests[0]!.body as { stream_options?: unknown }).stream_options).toEqual({ include_usage: true });
    expect(exchanges[0]!.requestBody).not.toContain('stream_options');

    const e = await eventFor(response.headers.get('x-gatelog-request-id'));
    expect(e).toMatchObject({ stream: true, outcome: 'success', status: 200, finish_reason: 'stop', input_tokens: 21, output_tokens: 9, cached_tokens: 4, tokens_estimated: false });
    expect(e.request_body).toBe(exchanges[0]!.requestBody);
    expect(e.cost_usd).toBeCloseTo(EXPECTED_COST, 12);
    const assembled = JSON.parse(e.response_body) as { object: string; model: string; choices: { message: { content: string; role: string }; finish_reason: string }[] };
    expect(assembled.object).toBe('chat.completion');
    expect(assembled.model).toBe(reportedModel('gpt-4o-mini'));
    expect(assembled.choices[0]).toMatchObject({ message: { role: 'assistant', content: reply }, finish_reason: 'stop' });
    expect(e.ttft_ms).toBeGreaterThan(0);
    expect(e.ttft_ms!).toBeLessThanOrEqual(e.latency_ms);
  });

  it('stream chat with include_usage: the client gets the usage chunk, unchanged', async () => {
    const stream = await client.chat.completions.create({ model: 'smart', stream: true, stream_options: { include_usage: true }, messages: [{ role: 'user', content: 'Hi' }] });
    const chunks: OpenAI.Chat.Completions.ChatCompletionChunk[] = [];
    for await (const c of stream) chunks.push(c);
    const last = chunks[chunks.length - 1]!;
    expect(last.choices).toEqual([]);
    expect(last.usage?.prompt_tokens).toBe(21);
    expect((fake.requests[0]!.body as { stream_options?: unknown }).stream_options).toEqual({ include_usage: true });
    const e = await eventFor(events[events.length - 1]!.request_id);
    expect(e).toMatchObject({ stream: true, input_tokens: 21, output_tokens: 9, tokens_estimated: false, outcome: 'success' });
  });

  it('stream without any usage from upstream: tokens are estimated', async () => {
    fake.behave({ noUsage: true, reply: 'one two three four five' });
    const { data: stream, response } = await client.chat.completions.create({ model: 'smart', stream: true, messages: [{ role: 'user', content: 'count to five' }] }).withResponse();
    for await (const _c of stream) {
      // drain
    }
    const e = await eventFor(response.headers.get('x-gatelog-request-id'));
    expect(e.tokens_estimated).toBe(true);
    expect(e.input_tokens).toBeGreaterThan(0);
    expect(e.output_tokens).toBe(5);
  });

  it('stream with tool_call deltas: the event holds the assembled tool call', async () => {
    fake.behave({ toolCall: { name: 'get_weather', arguments: '{"city":"Zürich","unit":"c"}' } });
    const { data: stream, response } = await client.chat.completions
      .create({ model: 'smart', stream: true, messages: [{ role: 'user', content: 'weather?' }], tools: [{ type: 'function', function: { name: 'get_weather', parameters: { type: 'object' } } }] })
      .withResponse();
    let args = '';
    for await (const c of stream) args += c.choices[0]?.delta.tool_calls?.[0]?.function?.arguments ?? '';
    expect(args).toBe('{"city":"Zürich","unit":"c"}');
    const e = await eventFor(response.headers.get('x-gatelog-request-id'));
    expect(e.finish_reason).toBe('tool_calls');
    const body = JSON.parse(e.response_body) as { choices: { message: { tool_calls: unknown[] } }[] };
    expect(body.choices[0]!.message.tool_calls).toEqual([{ id: 'call_fake1', type: 'function', function: { name: 'get_weather', arguments: '{"city":"Zürich","unit":"c"}' } }]);
  });

  it('stream that ends without data: [DONE] is still captured, and the client sees no [DONE] either', async () => {
    fake.behave({ noDone: true, reply: 'no done here' });
    const { data: stream, response } = await client.chat.completions.create({ model: 'smart', stream: true, messages: [{ role: 'user', content: 'x' }] }).withResponse();
    let text = '';
    for await (const c of stream) text += c.choices[0]?.delta.content ?? '';
    expect(text).toBe('no done here');
    expect(await exchanges[0]!.responseText).not.toContain('[DONE]');
    const e = await eventFor(response.headers.get('x-gatelog-request-id'));
    expect(e).toMatchObject({ outcome: 'success', finish_reason: 'stop', input_tokens: 21, output_tokens: 9 });
  });

  it('completions', async () => {
    const { data, response } = await client.completions.create({ model: 'smart', prompt: 'Say hi' }).withResponse();
    expect(data.choices[0]?.text).toBe('Fake reply to: Say hi');
    expect(fake.requests[0]!.path).toBe('/v1/completions');
    const e = await eventFor(response.headers.get('x-gatelog-request-id'));
    expect(e).toMatchObject({ endpoint: '/v1/completions', client_api: 'openai.completions', input_tokens: 21, output_tokens: 9, finish_reason: 'stop' });
    expect(e.response_body).toBe(await exchanges[0]!.responseText);
  });

  it('embeddings (SDK default base64 encoding)', async () => {
    const { data, response } = await client.embeddings.create({ model: 'embed', input: ['alpha', 'beta'] }).withResponse();
    expect(data.data).toHaveLength(2);
    expect(data.data[1]!.embedding).toHaveLength(FAKE_EMBED_DIMS);
    expect(data.data[1]!.embedding[0]).toBeCloseTo(2 / 2, 6);
    expect(data.data[1]!.embedding[1]).toBeCloseTo(2 / 3, 6);
    const e = await eventFor(response.headers.get('x-gatelog-request-id'));
    expect(e).toMatchObject({ endpoint: '/v1/embeddings', client_api: 'openai.embeddings', requested_model: 'embed', input_tokens: 21, output_tokens: 0, stream: false });
    expect(e.cost_usd).toBeCloseTo((21 * 0.02) / 1e6, 12);
    expect(e.response_body).toBe(await exchanges[0]!.responseText);
    expect(e.request_body).toBe(exchanges[0]!.requestBody);
  });

  it('models list: aliases plus provider/model', async () => {
    const ids: string[] = [];
    for await (const m of client.models.list()) ids.push(m.id);
    expect(ids).toEqual(expect.arrayContaining(['smart', 'embed', 'mock-chat', 'mock-embed', 'fake/gpt-fake', 'mock/mock-chat']));
    expect(fake.requests).toHaveLength(0);
  });

  it('provider/model reaches a configured provider directly', async () => {
    const r = await client.chat.completions.create({ model: 'fake/gpt-4.1', messages: [{ role: 'user', content: 'direct' }] });
    expect(r.choices[0]?.message.content).toBe('Fake reply to: direct');
    expect((fake.requests[0]!.body as { model: string }).model).toBe('gpt-4.1');
  });

  it('client abort mid-stream: upstream request is aborted, event says client_aborted with the partial response', async () => {
    fake.behave({ chunkDelayMs: 100, reply: 'a b c d e f g h' });
    const { data: stream, response } = await client.chat.completions.create({ model: 'smart', stream: true, messages: [{ role: 'user', content: 'slow' }] }).withResponse();
    let got = 0;
    for await (const _c of stream) {
      if (++got === 2) break; // breaking out of the iterator aborts the HTTP request
    }
    const e = await eventFor(response.headers.get('x-gatelog-request-id'));
    expect(e.outcome).toBe('client_aborted');
    for (let i = 0; i < 100 && !fake.requests[0]!.aborted; i++) await new Promise((r) => setTimeout(r, 5));
    expect(fake.requests[0]!.aborted).toBe(true);
    expect(e.status).toBe(200);
    expect(e.latency_ms).toBeLessThan(400);
    const partial = JSON.parse(e.response_body) as { choices: { message: { content: string } }[] };
    expect('a b c d e f g h'.startsWith(partial.choices[0]!.message.content)).toBe(true);
  });

  it('client abort before upstream headers: recorded as client_aborted with status 499', async () => {
    fake.behave({ delayHeadersMs: 300 });
    const before = events.length;
    const ac = new AbortController();
    setTimeout(() => ac.abort(), 50);
    await expect(client.chat.completions.create({ model: 'smart', messages: [{ role: 'user', content: 'wait' }] }, { signal: ac.signal })).rejects.toThrow();
    for (let i = 0; i < 100 && events.length === before; i++) await new Promise((r) => setTimeout(r, 5));
    const e = LlmCallEvent.parse(events[before]);
    expect(e).toMatchObject({ outcome: 'client_aborted', status: 499, response_body: '', ttft_ms: null });
    expect(e.latency_ms).toBeLessThan(250);
  });
});

describe('openai SDK through gatelog to the built-in mock provider', () => {
  it('non-stream chat is deterministic', async () => {
    const a = await client.chat.completions.create({ model: 'mock-chat', messages: [{ role: 'user', content: 'Hi mock' }] });
    const b = await client.chat.completions.create({ model: 'mock-chat', messages: [{ role: 'user', content: 'Hi mock' }] });
    expect(a.choices[0]?.message.content).toBe('Mock reply to: Hi mock');
    expect(b.id).toBe(a.id);
    expect(a.usage?.total_tokens).toBe((a.usage?.prompt_tokens ?? 0) + (a.usage?.completion_tokens ?? 0));
    const e = events[events.length - 1]!;
    expect(e).toMatchObject({ provider: 'mock', upstream_model: 'mock-chat', tokens_estimated: false, outcome: 'success' });
    expect(e.latency_ms).toBeGreaterThanOrEqual(19);
  });

  it('stream chat arrives in several chunks with usage in the event only', async () => {
    const stream = await client.chat.completions.create({ model: 'mock-chat', stream: true, messages: [{ role: 'user', content: 'Stream me a reply please' }] });
    const parts: string[] = [];
    for await (const c of stream) {
      expect(c.usage).toBeUndefined();
      parts.push(c.choices[0]?.delta.content ?? '');
    }
    expect(parts.join('')).toBe('Mock reply to: Stream me a reply please');
    expect(parts.filter((p) => p.length > 0).length).toBeGreaterThan(2);
    const e = await eventFor(events[events.length - 1]!.request_id);
    expect(e).toMatchObject({ stream: true, provider: 'mock', tokens_estimated: false, finish_reason: 'stop' });
    expect(e.output_tokens).toBeGreaterThan(0);
    expect(e.ttft_ms!).toBeLessThan(e.latency_ms);
    // latency_ms: 20 → first byte after ~10 ms, the rest spread over the chunks.
    expect(e.ttft_ms!).toBeGreaterThanOrEqual(9);
    expect(e.latency_ms).toBeGreaterThanOrEqual(18);
  });

  it('completions stream and deterministic embeddings', async () => {
    const stream = await client.completions.create({ model: 'mock-chat', prompt: 'abc', stream: true });
    let text = '';
    for await (const c of stream) text += c.choices[0]?.text ?? '';
    expect(text).toBe('Mock reply to: abc');
    const e1 = await client.embeddings.create({ model: 'mock-embed', input: 'same text' });
    const e2 = await client.embeddings.create({ model: 'mock-embed', input: 'same text', encoding_format: 'float' });
    expect(e1.data[0]!.embedding.length).toBeGreaterThan(0);
    expect(e2.data[0]!.embedding).toEqual(e1.data[0]!.embedding);
  });
});
