// Claude on Google Vertex AI behind gatelog: the real @anthropic-ai/sdk and openai SDK against a
// fake Vertex whose token endpoint verifies each service-account JWT with the key file's public
// key. Checked: the rawPredict URL and body, the token exchanged once and kept, renewed once on
// a 401, errors in the client's shape, and the recorded call (tokens, cost at genai-prices'
// `google` rates, provider) with no credential in it.
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { generateKeyPairSync } from 'node:crypto';
import { readFileSync, writeFileSync } from 'node:fs';
import Anthropic from '@anthropic-ai/sdk';
import OpenAI from 'openai';
import { createPricer, type LlmCallEvent } from '@gatelog/core';
import { FAKE_ANTHROPIC_USAGE } from '../support/fake-anthropic.ts';
import { FAKE_PROJECT, SA_EMAIL, startFakeVertex, type FakeVertex } from '../support/fake-vertex.ts';
import { startRoutingProxy, type RoutingProxy } from '../support/routing-proxy.ts';

const MASTER = 'gl-master-key-for-vertex-tests';
const MODEL = 'claude-3-5-haiku@20241022';
const U = FAKE_ANTHROPIC_USAGE;
const INPUT = U.input_tokens + U.cache_read_input_tokens + U.cache_creation_input_tokens;

let vertex: FakeVertex;
let proxy: RoutingProxy;
let privateKey: string;

const lastEvent = (): Promise<LlmCallEvent> => proxy.lastEvent();
const anthropic = (): Anthropic => new Anthropic({ baseURL: proxy.url, apiKey: MASTER, maxRetries: 0 });
const openai = (): OpenAI => new OpenAI({ baseURL: `${proxy.url}/v1`, apiKey: MASTER, maxRetries: 0 });
const googleCost = (): number | null =>
  createPricer([])('vtx', 'google', MODEL, { input_tokens: INPUT, output_tokens: U.output_tokens, cache_read_tokens: U.cache_read_input_tokens, cache_write_tokens: U.cache_creation_input_tokens });

function expectNoCredentials(e: LlmCallEvent): void {
  const all = JSON.stringify(e);
  expect(all).not.toContain('ya29.');
  expect(all).not.toContain('PRIVATE KEY');
  expect(all).not.toContain(privateKey.split('\n')[1]!);
}

beforeAll(async () => {
  vertex = await startFakeVertex();
  const sa = JSON.parse(readFileSync(vertex.credentialsFile, 'utf8')) as Record<string, string>;
  privateKey = sa['private_key']!;
  // A key file the token endpoint does not know: its assertions fail verification.
  const stranger = `${vertex.credentialsFile}.stranger.json`;
  writeFileSync(stranger, JSON.stringify({ ...sa, private_key: generateKeyPairSync('rsa', { modulusLength: 2048 }).privateKey.export({ type: 'pkcs8', format: 'pem' }).toString() }));
  proxy = await startRoutingProxy(
    {
      providers: {
        vtx: { kind: 'vertex', region: 'us-east5', base_url: vertex.url, credentials_file: vertex.credentialsFile },
        // Region and key file from CLOUD_ML_REGION / GOOGLE_APPLICATION_CREDENTIALS; project from the key file.
        vtxenv: { kind: 'vertex', base_url: vertex.url },
        stranger: { kind: 'vertex', region: 'us-east5', base_url: vertex.url, credentials_file: stranger },
      },
      models: [
        { name: 'claude', deployments: [{ provider: 'vtx', model: MODEL }] },
        { name: 'claude-env', deployments: [{ provider: 'vtxenv', model: MODEL }] },
        { name: 'claude-stranger', deployments: [{ provider: 'stranger', model: MODEL }] },
      ],
      router: { retries: 0 },
    },
    MASTER,
    { CLOUD_ML_REGION: 'europe-west1', GOOGLE_APPLICATION_CREDENTIALS: vertex.credentialsFile },
  );
});

afterAll(async () => {
  await proxy?.close();
  await vertex?.close();
});

beforeEach(() => {
  vertex.reset();
  proxy.events.length = 0;
});

describe('@anthropic-ai/sdk → /v1/messages → Vertex AI', () => {
  it('non-stream: rawPredict with Vertex’s body and a service-account token; priced at google rates', async () => {
    const msg = await anthropic().messages.create(
      { model: 'claude', max_tokens: 100, messages: [{ role: 'user', content: 'hi' }] },
      { headers: { 'anthropic-beta': 'claude-code-20250219,token-efficient-tools-2025-02-19,advanced-tool-use-2025-11-20' } },
    );
    expect(msg.content).toEqual([{ type: 'text', text: 'Fake reply to: hi' }]);
    const r = vertex.requests.at(-1)!;
    expect(r.authorized).toBe(true);
    expect(r.path).toBe(`/v1/projects/${FAKE_PROJECT}/locations/us-east5/publishers/anthropic/models/${MODEL}:rawPredict`);
    expect(r.body).toEqual({ anthropic_version: 'vertex-2023-10-16', max_tokens: 100, messages: [{ role: 'user', content: 'hi' }] });
    expect(r.headers['anthropic-beta']).toBe('token-efficient-tools-2025-02-19');
    expect(JSON.stringify(r.headers)).not.toContain(MASTER);
    const x = vertex.tokenExchanges[0]!;
    expect(x.claims).toMatchObject({ iss: SA_EMAIL, aud: `${vertex.url}/token`, scope: 'https://www.googleapis.com/auth/cloud-platform' });
    expect(x.kid).toBe('fake-key-id-1');
    const e = await lastEvent();
    expect(e).toMatchObject({ client_api: 'anthropic.messages', provider: 'vtx', deployment_model: MODEL, input_tokens: INPUT, output_tokens: U.output_tokens, status: 200, outcome: 'success' });
    const cost = googleCost();
    expect(cost).not.toBeNull();
    expect(e.cost_usd).toBeCloseTo(cost!, 12);
    expectNoCredentials(e);
  });

  it('stream: streamRawPredict’s SSE passes through; the token is reused, not exchanged again', async () => {
    const before = vertex.tokenExchanges.length;
    const stream = anthropic().messages.stream({ model: 'claude', max_tokens: 100, messages: [{ role: 'user', content: 'stream please' }] });
    const texts: string[] = [];
    stream.on('text', (t) => texts.push(t));
    const final = await stream.finalMessage();
    expect(texts.join('')).toBe('Fake reply to: stream please');
    expect(final.usage.output_tokens).toBe(U.output_tokens);
    expect(vertex.requests.at(-1)!.path).toMatch(/:streamRawPredict$/);
    expect(vertex.requests.at(-1)!.body['stream']).toBe(true);
    await anthropic().messages.create({ model: 'claude', max_tokens: 5, messages: [{ role: 'user', content: 'again' }] });
    expect(vertex.tokenExchanges.length).toBe(Math.max(before, 1));
    const e = await lastEvent();
    expect(e.cost_usd).toBeCloseTo(googleCost()!, 12);
  });

  it('a refused token is renewed once and the call goes through', async () => {
    await anthropic().messages.create({ model: 'claude', max_tokens: 5, messages: [{ role: 'user', content: 'warm' }] });
    const before = vertex.tokenExchanges.length;
    vertex.revokeTokens();
    vertex.reset();
    const msg = await anthropic().messages.create({ model: 'claude', max_tokens: 5, messages: [{ role: 'user', content: 'after revoke' }] });
    expect(msg.content[0]).toMatchObject({ text: 'Fake reply to: after revoke' });
    expect(vertex.tokenExchanges.length).toBe(before + 1);
    expect(vertex.requests.map((r) => r.authorized)).toEqual([false, true]);
  });

  it('credentials from GOOGLE_APPLICATION_CREDENTIALS and CLOUD_ML_REGION, project from the key file', async () => {
    await anthropic().messages.create({ model: 'claude-env', max_tokens: 5, messages: [{ role: 'user', content: 'env' }] });
    expect(vertex.requests.at(-1)!.path).toBe(`/v1/projects/${FAKE_PROJECT}/locations/europe-west1/publishers/anthropic/models/${MODEL}:rawPredict`);
  });

  it('a key the token endpoint cannot verify: 401 authentication_error, Google’s reason, no key material', async () => {
    const err = await anthropic().messages.create({ model: 'claude-stranger', max_tokens: 5, messages: [{ role: 'user', content: 'x' }] }).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(Anthropic.AuthenticationError);
    expect((err as Error).message).toContain('invalid_grant');
    const e = await lastEvent();
    expect(e.status).toBe(401);
    expectNoCredentials(e);
  });

  it('errors: Google’s 429 becomes Anthropic’s rate_limit_error; Anthropic’s own error passes as it is', async () => {
    vertex.behave({ error: { status: 429, google: true, message: 'Quota exceeded for aiplatform.googleapis.com/online_prediction_requests_per_base_model' } });
    const limited = await anthropic().messages.create({ model: 'claude', max_tokens: 5, messages: [{ role: 'user', content: 'x' }] }).catch((e: unknown) => e);
    expect(limited).toBeInstanceOf(Anthropic.RateLimitError);
    expect((limited as InstanceType<typeof Anthropic.RateLimitError>).error).toMatchObject({ type: 'error', error: { type: 'rate_limit_error', message: expect.stringContaining('Quota exceeded') as unknown } });
    vertex.behave({ error: { status: 529, google: false, message: 'Overloaded' } });
    const busy = await anthropic().messages.create({ model: 'claude', max_tokens: 5, messages: [{ role: 'user', content: 'x' }] }).catch((e: unknown) => e);
    expect((busy as InstanceType<typeof Anthropic.APIError>).status).toBe(529);
    expect((busy as InstanceType<typeof Anthropic.APIError>).error).toMatchObject({ error: { type: 'overloaded_error', message: 'Overloaded' } });
    const e = await lastEvent();
    expect(e.attempts[0]).toMatchObject({ status: 529, error_class: 'http_529' });
  });

  it('count_tokens goes to count-tokens:rawPredict with the model in the body', async () => {
    const r = await anthropic().messages.countTokens({ model: 'claude', messages: [{ role: 'user', content: 'count me' }] });
    expect(r.input_tokens).toBe(42);
    const req = vertex.requests.at(-1)!;
    expect(req.path).toBe(`/v1/projects/${FAKE_PROJECT}/locations/us-east5/publishers/anthropic/models/count-tokens:rawPredict`);
    expect(req.body['model']).toBe(MODEL);
  });
});

describe('openai SDK → /v1/chat/completions → Vertex AI (translated)', () => {
  it('chat, streamed chat and tools', async () => {
    const r = await openai().chat.completions.create({ model: 'claude', max_tokens: 50, messages: [{ role: 'user', content: 'hello' }] });
    expect(r.choices[0]!.message.content).toBe('Fake reply to: hello');
    let e = await lastEvent();
    expect(e).toMatchObject({ client_api: 'openai.chat', upstream_api: 'anthropic.messages', provider: 'vtx', input_tokens: INPUT, output_tokens: U.output_tokens });
    expect(e.cost_usd).toBeCloseTo(googleCost()!, 12);

    proxy.events.length = 0;
    const stream = await openai().chat.completions.create({ model: 'claude', max_tokens: 50, stream: true, stream_options: { include_usage: true }, messages: [{ role: 'user', content: 'stream' }] });
    let text = '';
    for await (const c of stream) text += c.choices[0]?.delta.content ?? '';
    expect(text).toBe('Fake reply to: stream');
    e = await lastEvent();
    expect(e).toMatchObject({ stream: true, provider: 'vtx', output_tokens: U.output_tokens, outcome: 'success' });

    vertex.behave({ toolUse: { name: 'get_weather', input: { city: 'Paris' } } });
    const tools: OpenAI.ChatCompletionTool[] = [{ type: 'function', function: { name: 'get_weather', parameters: { type: 'object', properties: { city: { type: 'string' } } } } }];
    const t = await openai().chat.completions.create({ model: 'claude', max_tokens: 50, tools, messages: [{ role: 'user', content: 'weather?' }] });
    expect(t.choices[0]!.message.tool_calls?.[0]).toMatchObject({ function: { name: 'get_weather', arguments: '{"city":"Paris"}' } });
  });
});
