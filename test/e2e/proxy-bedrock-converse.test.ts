// Models other than Claude on AWS Bedrock (Amazon Nova, Meta Llama) behind a real `gatelog
// start`: the real openai SDK (/v1/chat/completions) and @anthropic-ai/sdk (/v1/messages,
// translated on top) against a fake Bedrock runtime that checks every SigV4 signature and
// Converse's body rules, and answers Converse JSON and ConverseStream's binary eventstream
// frames split across reads, exceptions and HTTP errors. The recorded calls are read back from
// the store: tokens, cost at genai-prices' `aws` rates, the exact Converse request and answer,
// and no AWS secret in them or in the logs.
import { randomUUID } from 'node:crypto';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import Anthropic from '@anthropic-ai/sdk';
import OpenAI from 'openai';
import { createPricer } from '@gatelog/core';
import { startGatelog, type GatelogProcess } from '../support/gatelog-process.ts';
import { recordedCall } from '../support/admin-setup.ts';
import { startFakeBedrock, type AwsKeys, type FakeBedrock } from '../support/fake-bedrock.ts';
import { FAKE_CONVERSE_USAGE, FAKE_TOOL_USE_ID } from '../support/fake-bedrock-converse.ts';

const MASTER = `mk-${randomUUID()}`;
const KEYS: AwsKeys = { accessKeyId: 'AKIAFAKECONVERSE1234', secretAccessKey: 'fake/converse+Secret/Key/For/Tests/0123456789', sessionToken: 'FwoGZXIvYXdzEFAKEconverseSessionToken0123456789' };
const API_KEY = 'ABSKconverseApiKeyForTests0123456789';
const NOVA = 'us.amazon.nova-pro-v1:0';
const LLAMA = 'meta.llama3-1-70b-instruct-v1:0';

interface Stored {
  provider: string;
  deployment_model: string;
  client_api: string;
  upstream_api: string;
  status: number;
  stream: boolean;
  input_tokens: number;
  output_tokens: number;
  cached_tokens: number;
  cache_creation_tokens: number;
  cost_usd: number | null;
  finish_reason: string;
  response_body: string;
  attempts: { provider: string; status: number }[];
  attempt_io: { request_body: string; response_body: string; provider_request_id: string }[];
}

let signed: FakeBedrock;
let keyed: FakeBedrock;
let gl: GatelogProcess;

const U = FAKE_CONVERSE_USAGE;
const INPUT = U.inputTokens + U.cacheReadInputTokens + U.cacheWriteInputTokens;
const awsCost = (model: string): number | null =>
  createPricer([])('bed', 'aws', model, { input_tokens: INPUT, output_tokens: U.outputTokens, cache_read_tokens: U.cacheReadInputTokens, cache_write_tokens: U.cacheWriteInputTokens });

const openai = (): OpenAI => new OpenAI({ baseURL: `${gl.url}/v1`, apiKey: MASTER, maxRetries: 0 });
const anthropic = (): Anthropic => new Anthropic({ baseURL: gl.url, apiKey: MASTER, maxRetries: 0 });
const stored = (id: string | null | undefined): Promise<Stored> => recordedCall<Stored>(gl, MASTER, id!);

/** No AWS secret in `text`. */
function expectNoSecrets(text: string): void {
  for (const s of [KEYS.secretAccessKey, KEYS.sessionToken!, API_KEY]) expect(text).not.toContain(s);
  expect(text).not.toMatch(/AWS4-HMAC-SHA256|x-amz-security-token/i);
}

const WEATHER: OpenAI.ChatCompletionTool = { type: 'function', function: { name: 'get_weather', description: 'Weather for a city', parameters: { type: 'object', properties: { city: { type: 'string' } }, required: ['city'] } } };

beforeAll(async () => {
  signed = await startFakeBedrock(KEYS);
  keyed = await startFakeBedrock({ apiKey: API_KEY });
  gl = await startGatelog({
    bareEnv: true,
    env: { GATELOG_MASTER_KEY: MASTER, AWS_EC2_METADATA_DISABLED: 'true' },
    config: {
      ingest: { batch_ms: 50 },
      providers: {
        bed: { kind: 'bedrock', region: 'us-east-1', base_url: signed.url, aws_access_key_id: KEYS.accessKeyId, aws_secret_access_key: KEYS.secretAccessKey, aws_session_token: KEYS.sessionToken },
        bedkey: { kind: 'bedrock', region: 'us-east-1', base_url: keyed.url, api_key: API_KEY },
      },
      models: [
        { name: 'nova', deployments: [{ provider: 'bed', model: NOVA }] },
        { name: 'llama', deployments: [{ provider: 'bed', model: LLAMA }] },
        { name: 'llama-key', deployments: [{ provider: 'bedkey', model: LLAMA }] },
        { name: 'nova-fb', deployments: [{ provider: 'bed', model: NOVA }], fallbacks: ['llama-key'] },
      ],
      router: { retries: 0 },
    },
    timeoutMs: 60_000,
  });
}, 90_000);

afterAll(async () => {
  await gl?.stop();
  await Promise.all([signed?.close(), keyed?.close()]);
});

beforeEach(() => {
  signed.reset();
  keyed.reset();
});

describe('openai SDK → /v1/chat/completions → Bedrock Converse', () => {
  it('plain: SigV4-signed POST to /model/{id}/converse with Converse’s body; the answer, tokens and aws cost recorded', async () => {
    const { data: r, response } = await openai().chat.completions.create({
      model: 'nova', max_tokens: 64, temperature: 0.2,
      messages: [{ role: 'system', content: 'Be brief.' }, { role: 'user', content: 'Hi' }, { role: 'user', content: 'there' }],
    }).withResponse();
    expect(r.choices[0]!.message.content).toBe('Fake reply to: Hi');
    expect(r.choices[0]!.finish_reason).toBe('stop');
    expect(r.usage).toMatchObject({ prompt_tokens: INPUT, completion_tokens: U.outputTokens, prompt_tokens_details: { cached_tokens: U.cacheReadInputTokens } });
    const req = signed.requests[0]!;
    expect(req.verified).toBe(true);
    expect(req.path).toBe('/model/us.amazon.nova-pro-v1%3A0/converse');
    expect(req.headers['x-amz-security-token']).toBe(KEYS.sessionToken);
    expect(req.body).toEqual({
      system: [{ text: 'Be brief.' }],
      messages: [{ role: 'user', content: [{ text: 'Hi' }, { text: 'there' }] }],
      inferenceConfig: { maxTokens: 64, temperature: 0.2 },
    });
    const e = await stored(response.headers.get('x-gatelog-request-id'));
    expect(e).toMatchObject({
      provider: 'bed', deployment_model: NOVA, client_api: 'openai.chat', upstream_api: 'bedrock.converse', status: 200,
      input_tokens: INPUT, output_tokens: U.outputTokens, cached_tokens: U.cacheReadInputTokens, cache_creation_tokens: U.cacheWriteInputTokens,
    });
    const cost = awsCost(NOVA);
    expect(cost).toBeGreaterThan(0);
    expect(e.cost_usd).toBeCloseTo(cost!, 12);
    // The record holds the Converse request and answer exactly as they went and came.
    expect(JSON.parse(e.attempt_io[0]!.request_body)).toEqual(req.body);
    expect(JSON.parse(e.attempt_io[0]!.response_body)).toMatchObject({ output: { message: { content: [{ text: 'Fake reply to: Hi' }] } }, stopReason: 'end_turn' });
    expect(e.attempt_io[0]!.provider_request_id).toBe('fake-req-converse');
    expectNoSecrets(JSON.stringify(e));
  });

  it('streamed with include_usage: /converse-stream eventstream frames arrive as chunks, then the usage chunk; usage recorded', async () => {
    const { data: stream, response } = await openai().chat.completions.create({ model: 'llama', stream: true, stream_options: { include_usage: true }, messages: [{ role: 'user', content: 'stream please' }] }).withResponse();
    let text = '';
    let usage: OpenAI.CompletionUsage | null | undefined;
    let finish: string | null | undefined;
    for await (const c of stream) {
      text += c.choices[0]?.delta.content ?? '';
      finish ??= c.choices[0]?.finish_reason;
      if (c.usage) usage = c.usage;
    }
    expect(text).toBe('Fake reply to: stream please');
    expect(finish).toBe('stop');
    expect(usage).toMatchObject({ prompt_tokens: INPUT, completion_tokens: U.outputTokens });
    const req = signed.requests[0]!;
    expect(req.verified).toBe(true);
    expect(req.path).toBe('/model/meta.llama3-1-70b-instruct-v1%3A0/converse-stream');
    expect(req.body['inferenceConfig']).toBeUndefined();
    const e = await stored(response.headers.get('x-gatelog-request-id'));
    expect(e).toMatchObject({ stream: true, provider: 'bed', upstream_api: 'bedrock.converse', input_tokens: INPUT, output_tokens: U.outputTokens, finish_reason: 'stop' });
    expect(e.cost_usd).toBeCloseTo(awsCost(LLAMA)!, 12);
    // The attempt's record is ConverseStream's events, readable; the call's is the answer the client's chunks assemble to.
    expect(e.attempt_io[0]!.response_body).toContain('event: messageStart\ndata: {"role":"assistant"');
    expect(e.attempt_io[0]!.response_body).toContain('event: metadata\ndata: {"usage":');
    expect(JSON.parse(e.response_body)).toMatchObject({ object: 'chat.completion', choices: [{ message: { content: 'Fake reply to: stream please' }, finish_reason: 'stop' }] });
  });

  it('usage is recorded for a stream without include_usage too', async () => {
    const { data: stream, response } = await openai().chat.completions.create({ model: 'nova', stream: true, messages: [{ role: 'user', content: 'quiet' }] }).withResponse();
    for await (const c of stream) expect(c.usage ?? null).toBeNull();
    const e = await stored(response.headers.get('x-gatelog-request-id'));
    expect(e).toMatchObject({ input_tokens: INPUT, output_tokens: U.outputTokens });
    expect(e.cost_usd).toBeCloseTo(awsCost(NOVA)!, 12);
  });

  it('tools round trip: toolConfig out, toolUse back as tool_calls (streamed too), the tool result sent as toolResult', async () => {
    signed.behave({ toolUse: { name: 'get_weather', input: { city: 'Paris' } } });
    const first = await openai().chat.completions.create({ model: 'nova', tools: [WEATHER], tool_choice: 'required', messages: [{ role: 'user', content: 'Weather in Paris?' }] });
    expect(first.choices[0]!.finish_reason).toBe('tool_calls');
    const call = first.choices[0]!.message.tool_calls![0]!;
    expect(call).toEqual({ id: FAKE_TOOL_USE_ID, type: 'function', function: { name: 'get_weather', arguments: '{"city":"Paris"}' } });
    expect(signed.requests[0]!.body['toolConfig']).toEqual({ tools: [{ toolSpec: { name: 'get_weather', description: 'Weather for a city', inputSchema: { json: WEATHER.function.parameters } } }], toolChoice: { any: {} } });

    const stream = await openai().chat.completions.create({ model: 'nova', tools: [WEATHER], stream: true, messages: [{ role: 'user', content: 'Weather in Paris?' }] });
    let args = '';
    let id = '';
    for await (const c of stream) {
      const t = c.choices[0]?.delta.tool_calls?.[0];
      id ||= t?.id ?? '';
      args += t?.function?.arguments ?? '';
    }
    expect(id).toBe(FAKE_TOOL_USE_ID);
    expect(JSON.parse(args)).toEqual({ city: 'Paris' });

    signed.reset();
    const second = await openai().chat.completions.create({
      model: 'nova', tools: [WEATHER],
      messages: [{ role: 'user', content: 'Weather in Paris?' }, first.choices[0]!.message, { role: 'tool', tool_call_id: call.id, content: '18C and sunny' }],
    });
    expect(second.choices[0]!.message.content).toBe('Fake reply to: Weather in Paris?');
    expect(signed.requests[0]!.body['messages']).toEqual([
      { role: 'user', content: [{ text: 'Weather in Paris?' }] },
      { role: 'assistant', content: [{ toolUse: { toolUseId: FAKE_TOOL_USE_ID, name: 'get_weather', input: { city: 'Paris' } } }] },
      { role: 'user', content: [{ toolResult: { toolUseId: FAKE_TOOL_USE_ID, content: [{ text: '18C and sunny' }] } }] },
    ]);
  });

  it('a field Converse cannot honour is refused with OpenAI’s 400, nothing sent', async () => {
    const err = await openai().chat.completions.create({ model: 'nova', n: 2, messages: [{ role: 'user', content: 'x' }] }).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(OpenAI.BadRequestError);
    expect((err as InstanceType<typeof OpenAI.BadRequestError>).param).toBe('n');
    const json = await openai().chat.completions.create({ model: 'nova', response_format: { type: 'json_object' }, messages: [{ role: 'user', content: 'x' }] }).catch((e: unknown) => e);
    expect(json).toBeInstanceOf(OpenAI.BadRequestError);
    expect(signed.requests).toHaveLength(0);
  });

  it('throttled (HTTP 429 ThrottlingException): RateLimitError without a fallback; with one, the next deployment answers', async () => {
    signed.behave({ error: { status: 429, exception: 'ThrottlingException', message: 'Too many requests, please wait before trying again.' } });
    const err = await openai().chat.completions.create({ model: 'nova', messages: [{ role: 'user', content: 'x' }] }).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(OpenAI.RateLimitError);
    expect((err as InstanceType<typeof OpenAI.RateLimitError>).error).toMatchObject({ message: 'Too many requests, please wait before trying again.', type: 'rate_limit_error' });

    const { data: r, response } = await openai().chat.completions.create({ model: 'nova-fb', messages: [{ role: 'user', content: 'fall back' }] }).withResponse();
    expect(r.choices[0]!.message.content).toBe('Fake reply to: fall back');
    expect(keyed.requests[0]!.verified).toBe(true);
    expect(keyed.requests[0]!.headers['authorization']).toBe(`Bearer ${API_KEY}`);
    const e = await stored(response.headers.get('x-gatelog-request-id'));
    expect(e.attempts.map((a) => [a.provider, a.status])).toEqual([['bed', 429], ['bedkey', 200]]);
    expect(e.provider).toBe('bedkey');
    expectNoSecrets(JSON.stringify(e));
  });

  it('throttled before the first stream event: a 429 the client sees as RateLimitError', async () => {
    signed.behave({ exception: { name: 'throttlingException', after: 0, message: 'slow down' } });
    const err = await openai().chat.completions.create({ model: 'nova', stream: true, messages: [{ role: 'user', content: 'x' }] }).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(OpenAI.RateLimitError);
  });

  it('an exception frame mid-stream reaches the SDK as an APIError with Bedrock’s message', async () => {
    signed.behave({ exception: { name: 'modelStreamErrorException', after: 3, message: 'The model stream broke.' } });
    const stream = await openai().chat.completions.create({ model: 'nova', stream: true, messages: [{ role: 'user', content: 'break' }] });
    let text = '';
    const err = await (async () => {
      for await (const c of stream) text += c.choices[0]?.delta.content ?? '';
    })().catch((e: unknown) => e);
    expect(err).toBeInstanceOf(OpenAI.APIError);
    expect((err as Error).message).toContain('The model stream broke.');
    expect(text).toBe('Fake reply');
  });

  it.each([
    [400, 'ValidationException', OpenAI.BadRequestError, 400],
    [403, 'AccessDeniedException', OpenAI.PermissionDeniedError, 403],
    [404, 'ResourceNotFoundException', OpenAI.NotFoundError, 404],
    [503, 'ServiceUnavailableException', OpenAI.InternalServerError, 503],
    [408, 'ModelTimeoutException', OpenAI.InternalServerError, 504],
    [424, 'ModelErrorException', OpenAI.InternalServerError, 502],
  ])('HTTP %i %s → %o with status %i', async (status, exception, Cls, want) => {
    signed.behave({ error: { status, exception, message: `fake ${exception}` } });
    const err = await openai().chat.completions.create({ model: 'nova', messages: [{ role: 'user', content: 'x' }] }).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(Cls);
    expect((err as InstanceType<typeof OpenAI.APIError>).status).toBe(want);
    expect((err as Error).message).toContain(`fake ${exception}`);
  });
});

describe('@anthropic-ai/sdk → /v1/messages → Bedrock Converse (translated through OpenAI chat)', () => {
  it('a Messages call to a Nova alias: Converse body, Anthropic answer, tokens and cost recorded', async () => {
    const { data: msg, response } = await anthropic().messages.create({ model: 'nova', max_tokens: 100, system: 'Be brief.', messages: [{ role: 'user', content: 'hello nova' }] }).withResponse();
    expect(msg.content).toEqual([{ type: 'text', text: 'Fake reply to: hello nova' }]);
    expect(msg.stop_reason).toBe('end_turn');
    expect(msg.usage).toMatchObject({ input_tokens: U.inputTokens, output_tokens: U.outputTokens, cache_read_input_tokens: U.cacheReadInputTokens });
    const req = signed.requests[0]!;
    expect(req.verified).toBe(true);
    expect(req.action).toBe('converse');
    expect(req.body).toEqual({ system: [{ text: 'Be brief.' }], messages: [{ role: 'user', content: [{ text: 'hello nova' }] }], inferenceConfig: { maxTokens: 100 } });
    expect(req.body['anthropic_version']).toBeUndefined();
    const e = await stored(response.headers.get('x-gatelog-request-id'));
    expect(e).toMatchObject({ client_api: 'anthropic.messages', provider: 'bed', input_tokens: INPUT, output_tokens: U.outputTokens });
    expect(e.cost_usd).toBeCloseTo(awsCost(NOVA)!, 12);
  });

  it('streamed Messages with .stream() and finalMessage()', async () => {
    const stream = anthropic().messages.stream({ model: 'nova', max_tokens: 100, messages: [{ role: 'user', content: 'stream nova' }] });
    const texts: string[] = [];
    stream.on('text', (t) => texts.push(t));
    const final = await stream.finalMessage();
    expect(texts.join('')).toBe('Fake reply to: stream nova');
    expect(final.usage.output_tokens).toBe(U.outputTokens);
    expect(signed.requests[0]!.action).toBe('converse-stream');

    const { data: raw, response } = await anthropic().messages.create({ model: 'nova', max_tokens: 100, stream: true, messages: [{ role: 'user', content: 'again' }] }).withResponse();
    for await (const _ of raw) {
      // drained: the call is recorded once its stream ends
    }
    const e = await stored(response.headers.get('x-gatelog-request-id'));
    expect(e).toMatchObject({ client_api: 'anthropic.messages', stream: true, input_tokens: INPUT, output_tokens: U.outputTokens, cached_tokens: U.cacheReadInputTokens, cache_creation_tokens: U.cacheWriteInputTokens });
    expect(e.cost_usd).toBeCloseTo(awsCost(NOVA)!, 12);
  });

  it('count_tokens is gatelog’s local estimate, not a call to Bedrock', async () => {
    const r = await anthropic().messages.countTokens({ model: 'nova', messages: [{ role: 'user', content: 'count me please' }] });
    expect(r.input_tokens).toBeGreaterThan(0);
    expect(signed.requests).toHaveLength(0);
  });

  it('no AWS secret in the logs', () => {
    expectNoSecrets(gl.logs());
  });
});
