// Provider kinds on the wire: Azure (deployment URL, api-version, api-key), Gemini through
// Google's OpenAI-compatible endpoint (Bearer key, usage with thinking tokens only in
// total_tokens), a preset reached as provider/model, and /v1/responses forwarded (JSON and
// SSE, usage from response.completed). A recording upstream answers in each one's format.
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { createServer, type IncomingHttpHeaders, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import OpenAI from 'openai';
import { Registry } from 'prom-client';
import { LlmCallEvent, createLogger, createPricer, parseConfig } from '@gatelog/core';
import { buildProxy } from '@gatelog/proxy';
import type { FastifyInstance } from 'fastify';

interface Seen { url: string; headers: IncomingHttpHeaders; body: Record<string, unknown> }

const MASTER = 'gl-master-kinds';
let upstream: Server;
let base: string;
const seen: Seen[] = [];
let app: FastifyInstance;
let client: OpenAI;
const events: LlmCallEvent[] = [];

const RESPONSE = {
  id: 'resp_1', object: 'response', created_at: 1_700_000_000, status: 'completed', model: 'gpt-4.1-mini-2025-04-14',
  output: [{ type: 'message', id: 'msg_1', status: 'completed', role: 'assistant', content: [{ type: 'output_text', text: 'Hello there', annotations: [] }] }],
  usage: { input_tokens: 20, input_tokens_details: { cached_tokens: 8 }, output_tokens: 6, output_tokens_details: { reasoning_tokens: 2 }, total_tokens: 26 },
};

function answer(s: Seen): { status: number; type: string; body: string } {
  const path = s.url.split('?')[0]!;
  if (path.endsWith('/responses')) {
    if (s.body['stream'] !== true) return { status: 200, type: 'application/json', body: JSON.stringify(RESPONSE) };
    const ev = (type: string, data: Record<string, unknown>, seq: number): string => `event: ${type}\ndata: ${JSON.stringify({ type, sequence_number: seq, ...data })}\n\n`;
    const inProgress = { ...RESPONSE, status: 'in_progress', output: [], usage: null };
    return {
      status: 200, type: 'text/event-stream',
      body: ev('response.created', { response: inProgress }, 0) + ev('response.in_progress', { response: inProgress }, 1) +
        ev('response.output_text.delta', { item_id: 'msg_1', output_index: 0, content_index: 0, delta: 'Hello ' }, 2) +
        ev('response.output_text.delta', { item_id: 'msg_1', output_index: 0, content_index: 0, delta: 'there' }, 3) +
        ev('response.completed', { response: RESPONSE }, 4),
    };
  }
  // Gemini's OpenAI endpoint: thinking tokens show only in total_tokens.
  const usage = { prompt_tokens: 10, completion_tokens: 5, total_tokens: 45 };
  return {
    status: 200, type: 'application/json',
    body: JSON.stringify({ id: 'c1', object: 'chat.completion', created: 1, model: String(s.body['model'] ?? 'azure-model'), choices: [{ index: 0, message: { role: 'assistant', content: 'ok' }, finish_reason: 'stop' }], usage }),
  };
}

async function lastEvent(): Promise<LlmCallEvent> {
  for (let i = 0; i < 400 && events.length === 0; i++) await new Promise((r) => setTimeout(r, 5));
  return LlmCallEvent.parse(events[events.length - 1]);
}

beforeAll(async () => {
  upstream = createServer((req, res) => {
    const parts: Buffer[] = [];
    req.on('data', (c: Buffer) => parts.push(c));
    req.on('end', () => {
      const raw = Buffer.concat(parts).toString('utf8');
      const s: Seen = { url: req.url ?? '', headers: req.headers, body: raw ? (JSON.parse(raw) as Record<string, unknown>) : {} };
      seen.push(s);
      const a = answer(s);
      res.writeHead(a.status, { 'content-type': a.type });
      res.end(a.body);
    });
  });
  await new Promise<void>((r) => upstream.listen(0, '127.0.0.1', r));
  base = `http://127.0.0.1:${(upstream.address() as AddressInfo).port}`;
  const config = parseConfig(
    {
      providers: {
        az: { kind: 'azure', base_url: base, api_key: 'az-secret', api_version: '2024-10-21' },
        gem: { kind: 'gemini', base_url: `${base}/v1beta/openai`, api_key: 'gem-secret', models: ['gemini-2.5-flash'] },
        groq: { kind: 'groq', base_url: `${base}/openai/v1`, api_key: 'groq-secret' },
        oai: { kind: 'openai', base_url: `${base}/v1`, api_key: 'oai-secret' },
      },
      models: [
        { name: 'az-4o', deployments: [{ provider: 'az', model: 'gpt4o-prod' }] },
        { name: 'resp', deployments: [{ provider: 'oai', model: 'gpt-4.1-mini' }] },
      ],
      router: { retries: 0 },
    },
    'test',
    {},
  );
  app = await buildProxy({ config, publish: (e) => events.push(e), logger: createLogger('silent'), registry: new Registry(), masterKey: MASTER });
  const url = await app.listen({ port: 0, host: '127.0.0.1' });
  client = new OpenAI({ baseURL: `${url}/v1`, apiKey: MASTER, maxRetries: 0 });
});

afterAll(async () => {
  await app?.close();
  upstream?.closeAllConnections();
  await new Promise<void>((r) => (upstream ? upstream.close(() => r()) : r()));
});

beforeEach(() => {
  seen.length = 0;
  events.length = 0;
});

describe('provider kinds', () => {
  it('azure: deployment URL with api-version, api-key header, no Authorization', async () => {
    await client.chat.completions.create({ model: 'az-4o', messages: [{ role: 'user', content: 'hi' }] });
    const s = seen[0]!;
    expect(s.url).toBe('/openai/deployments/gpt4o-prod/chat/completions?api-version=2024-10-21');
    expect(s.headers['api-key']).toBe('az-secret');
    expect(s.headers['authorization']).toBeUndefined();
    const e = await lastEvent();
    expect(e).toMatchObject({ provider: 'az', deployment_model: 'gpt4o-prod', upstream_api: 'openai.chat' });
  });

  it('gemini: Google\'s OpenAI-compatible path, Bearer key, thinking tokens from total_tokens, priced as Google', async () => {
    await client.chat.completions.create({ model: 'gem/gemini-2.5-flash', messages: [{ role: 'user', content: 'hi' }] });
    const s = seen[0]!;
    expect(s.url).toBe('/v1beta/openai/chat/completions');
    expect(s.headers['authorization']).toBe('Bearer gem-secret');
    expect(s.body['model']).toBe('gemini-2.5-flash');
    const e = await lastEvent();
    expect(e).toMatchObject({ provider: 'gem', input_tokens: 10, output_tokens: 35, reasoning_tokens: 30 });
    const expected = createPricer([])('gem', 'google', 'gemini-2.5-flash', { input_tokens: 10, output_tokens: 35 });
    expect(expected).not.toBeNull();
    expect(e.cost_usd).toBeCloseTo(expected!, 12);
  });

  it('a preset reached as provider/model', async () => {
    await client.chat.completions.create({ model: 'groq/llama-3.1-8b-instant', messages: [{ role: 'user', content: 'hi' }] });
    expect(seen[0]!.url).toBe('/openai/v1/chat/completions');
    expect(seen[0]!.headers['authorization']).toBe('Bearer groq-secret');
    const e = await lastEvent();
    expect(e).toMatchObject({ provider: 'groq', deployment_model: 'llama-3.1-8b-instant' });
  });
});

describe('/v1/responses', () => {
  it('non-stream: forwarded, usage captured', async () => {
    const r = await client.responses.create({ model: 'resp', input: 'say hello' });
    expect(r.output_text).toBe('Hello there');
    expect(seen[0]!.url).toBe('/v1/responses');
    expect(seen[0]!.headers['authorization']).toBe('Bearer oai-secret');
    expect(seen[0]!.body).toMatchObject({ model: 'gpt-4.1-mini', input: 'say hello' });
    const e = await lastEvent();
    expect(e).toMatchObject({
      client_api: 'openai.responses', upstream_api: 'openai.responses', endpoint: '/v1/responses', upstream_model: 'gpt-4.1-mini-2025-04-14',
      input_tokens: 20, cached_tokens: 8, output_tokens: 6, reasoning_tokens: 2, finish_reason: 'completed', tokens_estimated: false,
    });
    expect(e.cost_usd).toBeGreaterThan(0);
  });

  it('stream: events passed through, usage from response.completed', async () => {
    const stream = await client.responses.create({ model: 'resp', input: 'say hello', stream: true });
    let text = '';
    for await (const ev of stream) if (ev.type === 'response.output_text.delta') text += ev.delta;
    expect(text).toBe('Hello there');
    const e = await lastEvent();
    expect(e).toMatchObject({ client_api: 'openai.responses', stream: true, input_tokens: 20, output_tokens: 6, cached_tokens: 8, finish_reason: 'completed' });
    expect((JSON.parse(e.response_body) as { id: string }).id).toBe('resp_1');
  });

  it('missing input: 400 in OpenAI\'s shape, nothing forwarded', async () => {
    const err = await client.responses.create({ model: 'resp' } as never).catch((x: unknown) => x);
    expect((err as InstanceType<typeof OpenAI.APIError>).status).toBe(400);
    expect(seen).toHaveLength(0);
  });

  it('/v1/models lists aliases and provider/model forms', async () => {
    const list = await client.models.list();
    const ids = list.data.map((m) => m.id);
    expect(ids).toEqual(expect.arrayContaining(['az-4o', 'resp', 'gem/gemini-2.5-flash']));
  });
});
