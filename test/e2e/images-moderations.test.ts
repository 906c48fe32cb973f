// Apps that call OpenAI's image generation and moderation endpoints through the same client keep
// working when only the base URL changes: `images.generate` and `moderations.create` (the real
// `openai` SDK) through /v1, the bare origin and the Azure deployment paths, with the key's
// allow-list, recorded once each with their bodies and the usage the answer carried (0 tokens when
// it carried none, never an estimate). A deployment kind that cannot serve them answers 400
// before anything goes upstream; a multi-MiB base64 image reaches the client whole while the
// stored body keeps to the cap.
import { randomUUID } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import OpenAI, { AzureOpenAI } from 'openai';
import { startGatelog, type GatelogProcess } from '../support/gatelog-process.ts';
import { newKeyWith, recordedCall } from '../support/admin-setup.ts';
import { startFakeOpenAi, type FakeOpenAi } from '../support/fake-openai.ts';
import { startRecordingUpstream, type RecordingUpstream } from '../support/recording-upstream.ts';

const MASTER = `mk-${randomUUID()}`;
const tag = randomUUID().slice(0, 6);
/** Stored bodies are cut here; the large image is several times this. */
const BODY_CAP = 1024 * 1024;
const BIG_IMAGE_BYTES = 4 * 1024 * 1024;

let fake: FakeOpenAi;
let hop: RecordingUpstream;
let gl: GatelogProcess;
let secret = '';
/** Allowed: chat only. */
let chatOnly = '';

interface Stored {
  request_id: string;
  endpoint: string;
  client_api: string;
  requested_model: string;
  deployment_model: string;
  status: number;
  outcome: string;
  input_tokens: number;
  output_tokens: number;
  tokens_estimated: boolean;
  cost_usd: number | null;
  images: number;
  request_body: string;
  response_body: string;
  response_bytes: number;
  truncated: boolean;
}

const admin = (path: string): Promise<Response> => fetch(`${gl.url}${path}`, { headers: { authorization: `Bearer ${MASTER}` } });

async function recorded(id: string | null): Promise<Stored> {
  expect(id).toBeTruthy();
  return recordedCall<Stored>(gl, MASTER, id!);
}

/** The ids recorded under trace `trace`, once at least `n` are (each call must be there exactly once). */
async function traceIds(trace: string, n: number): Promise<string[]> {
  let ids: string[] = [];
  for (let i = 0; i < 200 && ids.length < n; i++) {
    const r = await admin(`/admin/calls?trace=${trace}`);
    expect(r.status).toBe(200);
    ids = ((await r.json()) as { data: { request_id: string }[] }).data.map((c) => c.request_id);
    if (ids.length < n) await new Promise((res) => setTimeout(res, 100));
  }
  return ids.sort();
}

beforeAll(async () => {
  fake = await startFakeOpenAi();
  hop = await startRecordingUpstream(fake.url, 'x-request-id', 'img');
  gl = await startGatelog({
    env: { GATELOG_MASTER_KEY: MASTER },
    config: {
      logging: { body_cap_bytes: BODY_CAP },
      ingest: { batch_ms: 50 },
      providers: {
        mock: { kind: 'mock' },
        up: { kind: 'openai', base_url: `${hop.url}/v1`, api_key: 'sk-test-up-000000000000000000' },
        fastchat: { kind: 'groq', base_url: `${hop.url}/v1`, api_key: 'gsk-test-00000000000000000000' },
        ant: { kind: 'anthropic', base_url: hop.url, api_key: 'sk-ant-test-0000000000000000' },
      },
      models: [
        { name: 'chat', deployments: [{ provider: 'mock', model: 'mock-chat' }] },
        { name: 'gpt-image-1', deployments: [{ provider: 'mock', model: 'gpt-image-1' }] },
        { name: 'dall-e-3', deployments: [{ provider: 'mock', model: 'dall-e-3' }] },
        { name: 'omni-moderation-latest', deployments: [{ provider: 'mock', model: 'omni-moderation-latest' }] },
        { name: 'big-image', deployments: [{ provider: 'up', model: 'gpt-image-1' }] },
        { name: 'groq-llama', deployments: [{ provider: 'fastchat', model: 'llama-3.3-70b-versatile' }] },
        { name: 'claude', deployments: [{ provider: 'ant', model: 'claude-3-5-haiku-latest' }] },
      ],
    },
    timeoutMs: 60_000,
  });
  secret = await newKeyWith(gl.url, MASTER, { name: `media-${tag}`, models: [] });
  chatOnly = await newKeyWith(gl.url, MASTER, { name: `chat-only-${tag}`, models: ['chat'] });
}, 90_000);

afterAll(async () => {
  await gl?.stop();
  await hop?.close();
  await fake?.close();
});

describe('images.generate and moderations.create through gatelog', () => {
  it('answers and records both through /v1, the bare origin and the Azure deployment path', async () => {
    const ids: string[] = [];
    const trace = `media-${tag}`;
    const defaultHeaders = { 'x-gatelog-trace-id': trace };
    for (const baseURL of [`${gl.url}/v1`, gl.url]) {
      const client = new OpenAI({ apiKey: secret, baseURL, defaultHeaders });
      // gpt-image-1: base64 with usage, recorded as reported.
      const img = await client.images.generate({ model: 'gpt-image-1', prompt: 'a lighthouse at dusk' }).withResponse();
      expect(img.data.data?.[0]?.b64_json).toMatch(/^iVBOR/);
      const imgId = img.response.headers.get('x-gatelog-request-id')!;
      const e = await recorded(imgId);
      expect(e).toMatchObject({ endpoint: '/v1/images/generations', client_api: 'openai.images', requested_model: 'gpt-image-1', status: 200, outcome: 'success', tokens_estimated: false, truncated: false });
      expect(JSON.parse(e.request_body)).toEqual({ model: 'gpt-image-1', prompt: 'a lighthouse at dusk' });
      const usage = (JSON.parse(e.response_body) as { usage: { input_tokens: number; output_tokens: number } }).usage;
      expect(e.input_tokens).toBe(usage.input_tokens);
      expect(e.output_tokens).toBe(usage.output_tokens);
      expect(e.output_tokens).toBeGreaterThan(0);
      expect(JSON.parse(e.response_body)).toEqual(img.data);
      ids.push(imgId);

      // DALL·E 3 as URL: no usage, so 0 tokens (not an estimate); priced per image, 1024x1024 standard by default ($0.04).
      const dalle = await client.images.generate({ model: 'dall-e-3', prompt: 'a red fox', response_format: 'url' }).withResponse();
      expect(dalle.data.data?.[0]).toMatchObject({ url: expect.stringMatching(/^https:\/\//), revised_prompt: expect.any(String) });
      const dId = dalle.response.headers.get('x-gatelog-request-id')!;
      const d = await recorded(dId);
      expect(d).toMatchObject({ client_api: 'openai.images', input_tokens: 0, output_tokens: 0, tokens_estimated: false, images: 1, cost_usd: 0.04 });
      expect(JSON.parse(d.response_body)).toEqual(dalle.data);
      ids.push(dId);

      const mod = await client.moderations.create({ model: 'omni-moderation-latest', input: ['I will attack the castle', 'hello'] }).withResponse();
      expect(mod.data.model).toBe('omni-moderation-latest');
      expect(mod.data.results.map((r) => r.flagged)).toEqual([true, false]);
      expect(mod.data.results[0]!.categories.violence).toBe(true);
      const mId = mod.response.headers.get('x-gatelog-request-id')!;
      const m = await recorded(mId);
      expect(m).toMatchObject({ endpoint: '/v1/moderations', client_api: 'openai.moderations', input_tokens: 0, output_tokens: 0, tokens_estimated: false, outcome: 'success' });
      expect(JSON.parse(m.request_body)).toEqual({ model: 'omni-moderation-latest', input: ['I will attack the castle', 'hello'] });
      expect(JSON.parse(m.response_body)).toEqual(mod.data);
      ids.push(mId);
    }

    // Azure clients: the deployment in the path is the alias.
    const azure = new AzureOpenAI({ endpoint: gl.url, apiKey: secret, apiVersion: '2024-10-21', deployment: 'gpt-image-1', defaultHeaders });
    const az = await azure.images.generate({ model: 'ignored-by-azure', prompt: 'a kite' }).withResponse();
    expect(az.data.data?.[0]?.b64_json).toBeTruthy();
    const a = await recorded(az.response.headers.get('x-gatelog-request-id'));
    expect(a).toMatchObject({ endpoint: '/v1/images/generations', client_api: 'openai.images', requested_model: 'gpt-image-1' });
    ids.push(a.request_id);

    // Each call recorded exactly once.
    expect(ids).toHaveLength(7);
    await new Promise((res) => setTimeout(res, 300)); // a duplicate would be in by now
    expect(await traceIds(trace, ids.length)).toEqual([...ids].sort());
  });

  it('refuses what OpenAI refuses, and what the key may not call', async () => {
    const client = new OpenAI({ apiKey: secret, baseURL: `${gl.url}/v1`, maxRetries: 0 });
    const post = (path: string, body: unknown): Promise<Response> =>
      fetch(`${gl.url}${path}`, { method: 'POST', headers: { authorization: `Bearer ${secret}`, 'content-type': 'application/json' }, body: JSON.stringify(body) });
    const code = async (r: Response): Promise<[number, string]> => [r.status, ((await r.json()) as { error: { code: string } }).error.code];
    expect(await code(await post('/v1/images/generations', { model: 'gpt-image-1' }))).toEqual([400, 'missing_prompt']);
    expect(await code(await post('/v1/moderations', { model: 'omni-moderation-latest' }))).toEqual([400, 'missing_input']);
    // OpenAI defaults the model; gatelog routes by alias, so one must be named.
    expect(await code(await post('/v1/moderations', { input: 'x' }))).toEqual([400, 'missing_model']);
    expect(await code(await post('/images/generations', { prompt: 'x' }))).toEqual([400, 'missing_model']);
    expect(await code(await post('/v1/images/generations', { model: 'gpt-image-1', prompt: 'x', stream: true }))).toEqual([400, 'stream_unsupported']);

    const limited = new OpenAI({ apiKey: chatOnly, baseURL: gl.url, maxRetries: 0 });
    for (const call of [
      () => limited.images.generate({ model: 'gpt-image-1', prompt: 'x' }),
      () => limited.moderations.create({ model: 'omni-moderation-latest', input: 'x' }),
    ]) {
      const e = await call().catch((err: unknown) => err);
      expect(e).toBeInstanceOf(OpenAI.PermissionDeniedError);
    }
    expect((await client.moderations.create({ model: 'omni-moderation-latest', input: 'fine' })).results).toHaveLength(1);
  });

  it('a deployment kind that cannot serve them answers 400 before anything is sent upstream', async () => {
    const client = new OpenAI({ apiKey: secret, baseURL: `${gl.url}/v1`, maxRetries: 0 });
    const before = hop.exchanges.length;
    const cases: [string, () => Promise<unknown>][] = [
      ['groq', () => client.images.generate({ model: 'groq-llama', prompt: 'x' })],
      ['groq', () => client.moderations.create({ model: 'groq-llama', input: 'x' })],
      ['Anthropic', () => client.images.generate({ model: 'claude', prompt: 'x' })],
      ['Anthropic', () => client.moderations.create({ model: 'claude', input: 'x' })],
    ];
    for (const [kind, call] of cases) {
      const e = await call().catch((err: unknown) => err);
      expect(e).toBeInstanceOf(OpenAI.BadRequestError);
      const err = e as InstanceType<typeof OpenAI.BadRequestError>;
      expect(err.code).toBe('unsupported_api');
      expect(err.message).toMatch(new RegExp(`POST /v1/(images/generations|moderations) .* not available for ${kind} deployments`));
    }
    expect(hop.exchanges.length).toBe(before);
    expect(fake.requests.filter((r) => r.path !== '/v1/models')).toHaveLength(0);
  });

  it('a multi-MiB base64 image reaches the client whole; the stored body keeps to the cap', async () => {
    fake.behave({ imageBytes: BIG_IMAGE_BYTES });
    const client = new OpenAI({ apiKey: secret, baseURL: `${gl.url}/v1` });
    const before = hop.exchanges.length;
    const big = await client.images.generate({ model: 'big-image', prompt: 'a very detailed map' }).withResponse();
    const b64 = big.data.data?.[0]?.b64_json ?? '';
    expect(Buffer.from(b64, 'base64').length).toBe(BIG_IMAGE_BYTES);
    // Byte for byte what the upstream sent.
    const sent = hop.exchanges[before]!;
    expect(sent.path).toBe('/v1/images/generations');
    expect(JSON.parse(sent.response.toString('utf8'))).toEqual(big.data);
    const e = await recorded(big.response.headers.get('x-gatelog-request-id'));
    expect(e).toMatchObject({ client_api: 'openai.images', deployment_model: 'gpt-image-1', truncated: true, response_bytes: sent.response.length, status: 200 });
    expect(Buffer.byteLength(e.response_body)).toBeLessThanOrEqual(BODY_CAP);
    expect(sent.response.toString('utf8').startsWith(e.response_body.slice(0, 1000))).toBe(true);
    // Usage sits after the image, past the cut: read from the whole answer all the same.
    expect(e).toMatchObject({ input_tokens: 21, output_tokens: 9, tokens_estimated: false });
  }, 60_000);
});
