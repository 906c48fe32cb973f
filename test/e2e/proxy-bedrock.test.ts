// Claude on AWS Bedrock behind gatelog: the real @anthropic-ai/sdk (/v1/messages, as Claude
// Code speaks it) and the real openai SDK (/v1/chat/completions, translated) against a fake
// Bedrock runtime that checks every SigV4 signature with the AWS signer, Bedrock's body shape,
// and answers JSON, binary eventstream frames split across reads, exceptions and HTTP errors.
// The recorded calls are checked: tokens, cost at genai-prices' `aws` rates, provider, model,
// and that no AWS secret reaches the record.
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import Anthropic from '@anthropic-ai/sdk';
import OpenAI from 'openai';
import { createPricer, type LlmCallEvent } from '@gatelog/core';
import { FAKE_ANTHROPIC_USAGE } from '../support/fake-anthropic.ts';
import { startRoutingProxy, type RoutingProxy } from '../support/routing-proxy.ts';
import { bedrockReportedModel, startFakeBedrock, type AwsKeys, type FakeBedrock } from '../support/fake-bedrock.ts';

const MASTER = 'gl-master-key-for-bedrock-tests';
const KEYS: AwsKeys = { accessKeyId: 'AKIAFAKEBEDROCK12345', secretAccessKey: 'fake/secret+Access/Key/For/Tests/0123456789', sessionToken: 'FwoGZXIvYXdzEFAKEsessionTokenForTests0123456789' };
const API_KEY = 'ABSKbedrockApiKeyForTests0123456789';
const WRONG_TOKEN = 'FwoGZXIvYXdzEOTHERsessionTokenEchoedBack0123456789';
const PROFILE = 'us.anthropic.claude-3-5-haiku-20241022-v1:0';
const BASE_MODEL = 'anthropic.claude-3-5-haiku-20241022-v1:0';

let signed: FakeBedrock;
let keyed: FakeBedrock;
let proxy: RoutingProxy;
let url: string;

const lastEvent = (): Promise<LlmCallEvent> => proxy.lastEvent();
const anthropic = (): Anthropic => new Anthropic({ baseURL: url, apiKey: MASTER, maxRetries: 0 });
const openai = (): OpenAI => new OpenAI({ baseURL: `${url}/v1`, apiKey: MASTER, maxRetries: 0 });

const U = FAKE_ANTHROPIC_USAGE;
const INPUT = U.input_tokens + U.cache_read_input_tokens + U.cache_creation_input_tokens;
const awsCost = (model: string): number | null =>
  createPricer([])('bed', 'aws', model, { input_tokens: INPUT, output_tokens: U.output_tokens, cache_read_tokens: U.cache_read_input_tokens, cache_write_tokens: U.cache_creation_input_tokens });

/** No AWS secret anywhere in what gatelog recorded. */
function expectNoSecrets(e: LlmCallEvent): void {
  const all = JSON.stringify(e);
  for (const s of [KEYS.secretAccessKey, KEYS.sessionToken!, API_KEY]) expect(all).not.toContain(s);
  expect(all).not.toMatch(/AWS4-HMAC-SHA256|x-amz-security-token/i);
}

beforeAll(async () => {
  signed = await startFakeBedrock(KEYS);
  keyed = await startFakeBedrock({ apiKey: API_KEY });
  proxy = await startRoutingProxy(
    {
      providers: {
        bed: { kind: 'bedrock', region: 'us-east-1', base_url: signed.url, aws_access_key_id: KEYS.accessKeyId, aws_secret_access_key: KEYS.secretAccessKey, aws_session_token: KEYS.sessionToken },
        // The fake checks signatures: a wrong secret must not pass.
        wrong: { kind: 'bedrock', region: 'us-east-1', base_url: signed.url, aws_access_key_id: KEYS.accessKeyId, aws_secret_access_key: 'not/the/right/secret/0123456789', aws_session_token: WRONG_TOKEN },
        // Credentials from the environment: a Bedrock API key.
        bedkey: { kind: 'bedrock', base_url: keyed.url },
      },
      models: [
        { name: 'claude', deployments: [{ provider: 'bed', model: PROFILE }] },
        { name: 'claude-key', deployments: [{ provider: 'bedkey', model: BASE_MODEL }] },
        { name: 'claude-wrong', deployments: [{ provider: 'wrong', model: PROFILE }] },
        { name: 'claude-fb', deployments: [{ provider: 'bed', model: PROFILE }], fallbacks: ['claude-key'] },
      ],
      router: { retries: 0 },
    },
    MASTER,
    { AWS_REGION: 'us-east-1', AWS_BEARER_TOKEN_BEDROCK: API_KEY },
  );
  url = proxy.url;
});

afterAll(async () => {
  await proxy?.close();
  await Promise.all([signed?.close(), keyed?.close()]);
});

beforeEach(() => {
  for (const f of [signed, keyed]) f.reset();
  proxy.events.length = 0;
});

describe('@anthropic-ai/sdk → /v1/messages → Bedrock', () => {
  it('non-stream: SigV4-signed InvokeModel with Bedrock’s body (only the betas Bedrock serves), answer as sent, call priced at aws rates', async () => {
    // Claude Code's own betas (Anthropic's API only) would make Bedrock refuse the call: left out.
    const msg = await anthropic().messages.create(
      { model: 'claude', max_tokens: 100, messages: [{ role: 'user', content: 'hi' }] },
      { headers: { 'anthropic-beta': 'claude-code-20250219,token-efficient-tools-2025-02-19, interleaved-thinking-2025-05-14,mcp-servers-2025-12-04' } },
    );
    expect(msg.content).toEqual([{ type: 'text', text: 'Fake reply to: hi' }]);
    const r = signed.requests[0]!;
    expect(r.verified).toBe(true);
    expect(r.path).toBe('/model/us.anthropic.claude-3-5-haiku-20241022-v1%3A0/invoke');
    expect(r.modelId).toBe(PROFILE);
    expect(r.headers['x-amz-security-token']).toBe(KEYS.sessionToken);
    expect(r.headers['authorization']).toMatch(/^AWS4-HMAC-SHA256 Credential=AKIAFAKEBEDROCK12345\/\d{8}\/us-east-1\/bedrock\/aws4_request/);
    expect(JSON.stringify(r.headers)).not.toContain(MASTER);
    expect(r.body).toEqual({
      anthropic_version: 'bedrock-2023-05-31', max_tokens: 100, messages: [{ role: 'user', content: 'hi' }],
      anthropic_beta: ['token-efficient-tools-2025-02-19', 'interleaved-thinking-2025-05-14'],
    });
    const e = await lastEvent();
    expect(e).toMatchObject({
      client_api: 'anthropic.messages', provider: 'bed', requested_model: 'claude', deployment_model: PROFILE, upstream_model: bedrockReportedModel(PROFILE),
      input_tokens: INPUT, output_tokens: U.output_tokens, cached_tokens: U.cache_read_input_tokens, cache_creation_tokens: U.cache_creation_input_tokens, status: 200, outcome: 'success',
    });
    const cost = awsCost(PROFILE);
    expect(cost).not.toBeNull();
    expect(cost!).toBeGreaterThan(0);
    expect(e.cost_usd).toBeCloseTo(cost!, 12);
    // The record holds what was sent upstream: Bedrock's body, no credentials.
    expect(JSON.parse(e.attempt_io![0]!.request_body)).toEqual(r.body);
    expect(e.attempt_io![0]!.provider_request_id).toBe('fake-req-1');
    expectNoSecrets(e);
  });

  it('stream: eventstream frames split across reads arrive as Anthropic SSE; .stream() helpers and finalMessage()', async () => {
    const stream = anthropic().messages.stream({ model: 'claude', max_tokens: 100, messages: [{ role: 'user', content: 'stream please' }] });
    const texts: string[] = [];
    stream.on('text', (t) => texts.push(t));
    const final = await stream.finalMessage();
    expect(texts.join('')).toBe('Fake reply to: stream please');
    expect(final.usage.output_tokens).toBe(U.output_tokens);
    expect(final.stop_reason).toBe('end_turn');
    const r = signed.requests[0]!;
    expect(r.verified).toBe(true);
    expect(r.action).toBe('invoke-with-response-stream');
    expect(r.body['stream']).toBeUndefined();
    const e = await lastEvent();
    expect(e).toMatchObject({ stream: true, provider: 'bed', input_tokens: INPUT, output_tokens: U.output_tokens, finish_reason: 'end_turn', status: 200, outcome: 'success' });
    expect(e.cost_usd).toBeCloseTo(awsCost(PROFILE)!, 12);
    // The attempt's record is the Anthropic events the frames carried, readable.
    expect(e.attempt_io![0]!.response_body).toContain('event: message_start\ndata: {"type":"message_start"');
    expectNoSecrets(e);
  });

  it('the raw wire: text/event-stream of Anthropic events, in order', async () => {
    const res = await fetch(`${url}/v1/messages`, {
      method: 'POST',
      headers: { 'content-type': 'application/json', 'x-api-key': MASTER, 'anthropic-version': '2023-06-01' },
      body: JSON.stringify({ model: 'claude', max_tokens: 10, stream: true, messages: [{ role: 'user', content: 'raw' }] }),
    });
    expect(res.status).toBe(200);
    expect(res.headers.get('content-type')).toMatch(/^text\/event-stream/);
    const text = await res.text();
    const types = [...text.matchAll(/^event: (\w+)$/gm)].map((m) => m[1]);
    expect(types).toEqual(['message_start', 'ping', 'content_block_start', 'content_block_delta', 'content_block_delta', 'content_block_stop', 'message_delta', 'message_stop']);
  });

  it('a request signed with the wrong secret is refused (403 permission_error); the session token AWS echoes is scrubbed', async () => {
    const err = await anthropic().messages.create({ model: 'claude-wrong', max_tokens: 10, messages: [{ role: 'user', content: 'x' }] }).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(Anthropic.PermissionDeniedError);
    expect(signed.requests[0]!.verified).toBe(false);
    const message = (err as Error).message;
    expect(message).toContain('Canonical String');
    expect(message).not.toContain(WRONG_TOKEN);
    const e = await lastEvent();
    const all = JSON.stringify(e);
    expect(all).toContain('Canonical String');
    for (const s of ['not/the/right/secret', WRONG_TOKEN]) expect(all).not.toContain(s);
  });

  it('a Bedrock API key from AWS_BEARER_TOKEN_BEDROCK is sent as Bearer; the base model id is priced too', async () => {
    const msg = await anthropic().messages.create({ model: 'claude-key', max_tokens: 10, messages: [{ role: 'user', content: 'key' }] });
    expect(msg.content[0]).toMatchObject({ text: 'Fake reply to: key' });
    expect(keyed.requests[0]!.verified).toBe(true);
    const e = await lastEvent();
    expect(e.provider).toBe('bedkey');
    expect(e.cost_usd).toBeCloseTo(awsCost(BASE_MODEL)!, 12);
    expectNoSecrets(e);
  });

  it('count_tokens goes to Bedrock’s CountTokens with the InvokeModel body, base64', async () => {
    const r = await anthropic().messages.countTokens({ model: 'claude', messages: [{ role: 'user', content: 'count me' }] });
    const req = signed.requests[0]!;
    expect(req.verified).toBe(true);
    // CountTokens takes the foundation model, not the inference profile.
    expect(req.path).toBe('/model/anthropic.claude-3-5-haiku-20241022-v1%3A0/count-tokens');
    expect(r.input_tokens).toBe(17 + JSON.stringify([{ role: 'user', content: 'count me' }]).length);
    const e = await lastEvent();
    // Counting is recorded like the anthropic kind's (no tokens used, cost 0).
    expect(e).toMatchObject({ client_api: 'anthropic.count_tokens', provider: 'bed', input_tokens: 0, tokens_estimated: false, status: 200 });
  });

  it('throttled before the first event: 429 rate_limit_error to the client, retryable in the record', async () => {
    signed.behave({ exception: { name: 'throttlingException', after: 0, message: 'Too many requests, please wait before trying again.' } });
    const err = await anthropic().messages.create({ model: 'claude', max_tokens: 10, stream: true, messages: [{ role: 'user', content: 'x' }] }).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(Anthropic.RateLimitError);
    expect((err as InstanceType<typeof Anthropic.RateLimitError>).error).toMatchObject({ type: 'error', error: { type: 'rate_limit_error', message: 'Too many requests, please wait before trying again.' } });
    const e = await lastEvent();
    expect(e).toMatchObject({ status: 429, outcome: 'error', provider: 'bed' });
    expect(e.attempts[0]).toMatchObject({ status: 429, error_class: 'http_429' });
  });

  it('throttled: the alias falls back to the next one, which answers', async () => {
    signed.behave({ exception: { name: 'throttlingException', after: 0 } });
    const stream = anthropic().messages.stream({ model: 'claude-fb', max_tokens: 10, messages: [{ role: 'user', content: 'fall back' }] });
    const final = await stream.finalMessage();
    expect(final.content[0]).toMatchObject({ text: 'Fake reply to: fall back' });
    const e = await lastEvent();
    expect(e.provider).toBe('bedkey');
    expect(e.attempts.map((a) => [a.provider, a.status])).toEqual([['bed', 429], ['bedkey', 200]]);
  });

  it('an exception mid-stream reaches the SDK as Anthropic’s error event', async () => {
    signed.behave({ exception: { name: 'modelStreamErrorException', after: 4, message: 'The model stream broke.' } });
    const stream = anthropic().messages.stream({ model: 'claude', max_tokens: 10, messages: [{ role: 'user', content: 'x' }] });
    const err = await stream.finalMessage().catch((e: unknown) => e);
    expect(err).toBeInstanceOf(Anthropic.APIError);
    expect(String((err as Error).message)).toContain('The model stream broke.');
    const e = await lastEvent();
    expect(e.provider).toBe('bed');
    expect(e.response_body).toContain('The model stream broke.');
  });

  it('HTTP errors keep their meaning: ValidationException 400, ThrottlingException 429', async () => {
    signed.behave({ error: { status: 400, exception: 'ValidationException', message: 'messages: field required' } });
    const bad = await anthropic().messages.create({ model: 'claude', max_tokens: 10, messages: [{ role: 'user', content: 'x' }] }).catch((e: unknown) => e);
    expect(bad).toBeInstanceOf(Anthropic.BadRequestError);
    expect((bad as InstanceType<typeof Anthropic.BadRequestError>).error).toMatchObject({ error: { type: 'invalid_request_error', message: 'messages: field required' } });
    signed.behave({ error: { status: 429, exception: 'ThrottlingException', message: 'Rate exceeded' } });
    const slow = await anthropic().messages.create({ model: 'claude', max_tokens: 10, messages: [{ role: 'user', content: 'x' }] }).catch((e: unknown) => e);
    expect(slow).toBeInstanceOf(Anthropic.RateLimitError);
    const e = await lastEvent();
    expect(e.attempts[0]).toMatchObject({ status: 429, error_class: 'http_429' });
    expectNoSecrets(e);
  });

  it('a corrupt frame mid-stream fails that call cleanly; the next call is served', async () => {
    signed.behave({ badCrcAt: 3 });
    const stream = anthropic().messages.stream({ model: 'claude', max_tokens: 10, messages: [{ role: 'user', content: 'x' }] });
    const err = await stream.finalMessage().catch((e: unknown) => e);
    expect(err).toBeInstanceOf(Error);
    const e = await lastEvent();
    expect(e.outcome).not.toBe('success');
    signed.reset();
    proxy.events.length = 0;
    const ok = await anthropic().messages.create({ model: 'claude', max_tokens: 10, messages: [{ role: 'user', content: 'after' }] });
    expect(ok.content[0]).toMatchObject({ text: 'Fake reply to: after' });
  });
});

describe('openai SDK → /v1/chat/completions → Bedrock (translated)', () => {
  it('non-stream chat', async () => {
    const r = await openai().chat.completions.create({ model: 'claude', max_tokens: 50, messages: [{ role: 'system', content: 'be brief' }, { role: 'user', content: 'hello' }] });
    expect(r.choices[0]!.message.content).toBe('Fake reply to: hello');
    expect(r.usage?.prompt_tokens).toBe(INPUT);
    const body = signed.requests[0]!.body;
    expect(body).toMatchObject({ anthropic_version: 'bedrock-2023-05-31', system: 'be brief', max_tokens: 50 });
    expect(body['model']).toBeUndefined();
    const e = await lastEvent();
    expect(e).toMatchObject({ client_api: 'openai.chat', upstream_api: 'anthropic.messages', provider: 'bed', input_tokens: INPUT, output_tokens: U.output_tokens, status: 200 });
    expect(e.cost_usd).toBeCloseTo(awsCost(PROFILE)!, 12);
  });

  it('streaming chat with usage', async () => {
    const stream = await openai().chat.completions.create({ model: 'claude', max_tokens: 50, stream: true, stream_options: { include_usage: true }, messages: [{ role: 'user', content: 'stream' }] });
    let text = '';
    let usage: OpenAI.CompletionUsage | null | undefined;
    for await (const c of stream) {
      text += c.choices[0]?.delta.content ?? '';
      if (c.usage) usage = c.usage;
    }
    expect(text).toBe('Fake reply to: stream');
    expect(usage?.completion_tokens).toBe(U.output_tokens);
    const e = await lastEvent();
    expect(e).toMatchObject({ stream: true, provider: 'bed', input_tokens: INPUT, output_tokens: U.output_tokens, outcome: 'success' });
    expect(e.cost_usd).toBeCloseTo(awsCost(PROFILE)!, 12);
  });

  it('tools: the tool call comes back in OpenAI’s shape, streamed too', async () => {
    signed.behave({ toolUse: { name: 'get_weather', input: { city: 'Paris' } } });
    const tools: OpenAI.ChatCompletionTool[] = [{ type: 'function', function: { name: 'get_weather', parameters: { type: 'object', properties: { city: { type: 'string' } } } } }];
    const r = await openai().chat.completions.create({ model: 'claude', max_tokens: 50, tools, messages: [{ role: 'user', content: 'weather?' }] });
    expect(r.choices[0]!.finish_reason).toBe('tool_calls');
    expect(r.choices[0]!.message.tool_calls?.[0]).toMatchObject({ type: 'function', function: { name: 'get_weather', arguments: '{"city":"Paris"}' } });
    expect(signed.requests[0]!.body['tools']).toEqual([{ name: 'get_weather', input_schema: { type: 'object', properties: { city: { type: 'string' } } } }]);

    const stream = await openai().chat.completions.create({ model: 'claude', max_tokens: 50, tools, stream: true, messages: [{ role: 'user', content: 'weather?' }] });
    let args = '';
    for await (const c of stream) args += c.choices[0]?.delta.tool_calls?.[0]?.function?.arguments ?? '';
    expect(JSON.parse(args)).toEqual({ city: 'Paris' });
  });

  it.each([
    [408, 'ModelTimeoutException', 504],
    [424, 'ModelErrorException', 502],
  ])('HTTP %i %s is %i for OpenAI clients too, as for Anthropic ones', async (status, exception, want) => {
    signed.behave({ error: { status, exception, message: `fake ${exception}` } });
    const err = await openai().chat.completions.create({ model: 'claude', max_tokens: 5, messages: [{ role: 'user', content: 'x' }] }).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(OpenAI.InternalServerError);
    expect((err as InstanceType<typeof OpenAI.APIError>).status).toBe(want);
    expect((err as Error).message).toContain(`fake ${exception}`);
  });

  it('a throttled Bedrock is a 429 RateLimitError for OpenAI clients too', async () => {
    signed.behave({ exception: { name: 'throttlingException', after: 0 } });
    const err = await openai().chat.completions.create({ model: 'claude', max_tokens: 5, stream: true, messages: [{ role: 'user', content: 'x' }] }).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(OpenAI.RateLimitError);
  });
});
