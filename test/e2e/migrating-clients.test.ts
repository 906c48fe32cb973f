// Apps moving over from LiteLLM, Portkey, Helicone or Azure OpenAI keep working when only the
// host and the key change, and what they already send means what it meant there:
// - LiteLLM's docs point the OpenAI SDK at the bare origin (`base_url="http://proxy:4000"`): the
//   OpenAI paths answer without `/v1` too, with the same key check, limits and recording, while
//   every other path stays the UI's; `models.retrieve` answers for what a key may call.
// - Azure OpenAI clients call `/openai/deployments/{deployment}/…?api-version=…` with the key in
//   `api-key`: the path's deployment is the model alias (over the body's).
// - Helicone's custom properties (`Helicone-Property-*`) and Portkey's `x-portkey-metadata` (its
//   `_user` names the end user) become the call's tags, Portkey's `x-portkey-trace-id` its trace;
//   their cache headers steer the response cache; Helicone-Omit-* keep bodies out of the record.
//   gatelog's own headers win on a conflict; junk is dropped and never fails a call.
// Real OpenAI (incl. AzureOpenAI) and Anthropic SDKs against one real `gatelog start` with its UI.
import { randomUUID } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import OpenAI, { AzureOpenAI, APIError } from 'openai';
import Anthropic from '@anthropic-ai/sdk';
import { startGatelog, type GatelogProcess } from '../support/gatelog-process.ts';
import { newKeyWith, recordedCall } from '../support/admin-setup.ts';

const MASTER = `mk-${randomUUID()}`;
const tag = randomUUID().slice(0, 6);
const BARE_TRACE = `bare-${tag}`;
const AZURE_TRACE = `azure-${tag}`;
const API_VERSION = '2024-10-21';

let gl: GatelogProcess;
/** No model allow-list (headers tests). */
let secret = '';
/** Allowed: mock-chat (bare-origin tests). */
let bareSecret = '';
/** Allowed: chat-dep, embed-dep (Azure tests). */
let azureSecret = '';

interface Call {
  request_id: string;
  user: string;
  trace_id: string;
  tags: Record<string, string>;
}

const admin = (path: string, init: RequestInit = {}): Promise<Response> =>
  fetch(`${gl.url}${path}`, { ...init, headers: { authorization: `Bearer ${MASTER}`, ...(init.body ? { 'content-type': 'application/json' } : {}), ...init.headers } });

const recorded = (id: string): Promise<Call> => recordedCall(gl, MASTER, id);

async function listed(query: string): Promise<string[]> {
  const r = await admin(`/admin/calls?${query}`);
  expect(r.status, await r.clone().text()).toBe(200);
  return ((await r.json()) as { data: { request_id: string }[] }).data.map((c) => c.request_id).sort();
}

/** The calls of a trace, once `n` of them are recorded. */
async function traceRows(trace: string, n: number): Promise<string[]> {
  let rows: string[] = [];
  for (let i = 0; i < 200 && rows.length < n; i++) {
    rows = await listed(`trace=${trace}`);
    if (rows.length < n) await new Promise((res) => setTimeout(res, 100));
  }
  return rows;
}

const newKey = (name: string, models: string[]): Promise<string> => newKeyWith(gl.url, MASTER, { name: `${name}-${tag}`, models });

beforeAll(async () => {
  gl = await startGatelog({
    env: { GATELOG_MASTER_KEY: MASTER },
    config: {
      ingest: { batch_ms: 50 },
      providers: { mock: { kind: 'mock', models: ['listed-upstream'] } },
      models: [
        { name: 'mock-chat', deployments: [{ provider: 'mock', model: 'mock-chat' }] },
        { name: 'other', deployments: [{ provider: 'mock', model: 'other' }] },
        { name: 'chat-dep', deployments: [{ provider: 'mock', model: 'mock-chat' }] },
        { name: 'embed-dep', deployments: [{ provider: 'mock', model: 'mock-embed' }] },
        { name: 'forbidden-dep', deployments: [{ provider: 'mock', model: 'mock-chat' }] },
      ],
    },
    timeoutMs: 60_000,
  });
  secret = await newKey('migrating', []);
  bareSecret = await newKey('bare', ['mock-chat']);
  azureSecret = await newKey('azure', ['chat-dep', 'embed-dep']);
}, 90_000);

afterAll(async () => {
  await gl?.stop();
});

describe('LiteLLM: the OpenAI SDK pointed at the bare origin', () => {
  it('the OpenAI SDK pointed at the bare origin calls, streams and lists models', async () => {
    const openai = new OpenAI({ apiKey: bareSecret, baseURL: gl.url, defaultHeaders: { 'x-gatelog-trace-id': BARE_TRACE } });
    const plain = await openai.chat.completions.create({ model: 'mock-chat', messages: [{ role: 'user', content: 'hello from the origin' }] }).withResponse();
    expect(plain.data.choices[0]!.message.content).toBeTruthy();
    const id = plain.response.headers.get('x-gatelog-request-id');
    expect(id).toBeTruthy();

    let streamed = '';
    for await (const chunk of await openai.chat.completions.create({ model: 'mock-chat', stream: true, messages: [{ role: 'user', content: 'stream it' }] })) {
      streamed += chunk.choices[0]?.delta?.content ?? '';
    }
    expect(streamed.length).toBeGreaterThan(0);

    // The key's model allow-list holds here as on /v1: listed and enforced.
    expect((await openai.models.list()).data.map((m) => m.id)).toEqual(['mock-chat']);
    // models.retrieve, here and under /v1: only what the key may call; anything else is 404.
    const v1 = new OpenAI({ apiKey: bareSecret, baseURL: `${gl.url}/v1` });
    for (const client of [openai, v1]) {
      expect(await client.models.retrieve('mock-chat')).toMatchObject({ id: 'mock-chat', object: 'model' });
      for (const id of ['other', 'no-such-model', 'mock/mock-chat']) {
        const e = await client.models.retrieve(id).catch((err: unknown) => err);
        expect(e, id).toBeInstanceOf(OpenAI.NotFoundError);
        expect((e as InstanceType<typeof OpenAI.NotFoundError>).code).toBe('model_not_found');
      }
    }
    // A key without an allow-list retrieves any listed model, a provider/model id included.
    const open = new OpenAI({ apiKey: MASTER, baseURL: `${gl.url}/v1` });
    expect(await open.models.retrieve('other')).toMatchObject({ id: 'other' });
    expect(await open.models.retrieve('mock/listed-upstream')).toMatchObject({ id: 'mock/listed-upstream', owned_by: 'mock' });
    const refused = await openai.chat.completions.create({ model: 'other', messages: [{ role: 'user', content: 'x' }] }).catch((e: unknown) => e);
    expect(refused).toBeInstanceOf(OpenAI.APIError);
    expect((refused as InstanceType<typeof OpenAI.APIError>).status).toBe(403);

    // Recorded like any call, under the canonical endpoint.
    expect(await traceRows(BARE_TRACE, 3)).toHaveLength(3);
    const call = (await (await admin(`/admin/calls/${id}`)).json()) as { endpoint: string; trace_id: string };
    expect(call).toMatchObject({ endpoint: '/v1/chat/completions', trace_id: BARE_TRACE });
  });

  it('without a valid key the bare paths answer 401 in OpenAI\'s shape; other paths stay the UI\'s', async () => {
    const bad = await fetch(`${gl.url}/chat/completions`, {
      method: 'POST', headers: { authorization: 'Bearer sk-wrong', 'content-type': 'application/json' },
      body: JSON.stringify({ model: 'mock-chat', messages: [{ role: 'user', content: 'x' }] }),
    });
    expect(bad.status).toBe(401);
    expect(((await bad.json()) as { error: { type: string } }).error.type).toBeTruthy();
    const models = await fetch(`${gl.url}/models?limit=1`);
    expect(models.status).toBe(401);
    // A path that is not one of the API's is the UI's (its sign-in page), not a model call.
    for (const path of ['/chat/completions/extra', '/']) {
      const ui = await fetch(`${gl.url}${path}`, { redirect: 'manual', headers: { accept: 'text/html' } });
      expect(ui.status, path).toBe(303);
      expect(ui.headers.get('location'), path).toMatch(/^\/login/);
    }
  });
});

describe('Azure OpenAI clients', () => {
  const azure = (deployment: string, apiKey = azureSecret): AzureOpenAI =>
    new AzureOpenAI({ endpoint: gl.url, apiKey, apiVersion: API_VERSION, deployment, defaultHeaders: { 'x-gatelog-trace-id': AZURE_TRACE } });

  it('chat, streams and embeddings through the deployment paths, with the key in api-key', async () => {
    // The body's model is not the deployment: the path wins, as on Azure.
    const plain = await azure('chat-dep').chat.completions.create({ model: 'not-a-deployment', messages: [{ role: 'user', content: 'hello azure' }] }).withResponse();
    expect(plain.data.choices[0]!.message.content).toBeTruthy();
    expect(plain.data.model).toBe('mock-chat');
    const id = plain.response.headers.get('x-gatelog-request-id')!;

    let streamed = '';
    for await (const chunk of await azure('chat-dep').chat.completions.create({ model: 'chat-dep', stream: true, messages: [{ role: 'user', content: 'stream' }] })) {
      streamed += chunk.choices[0]?.delta?.content ?? '';
    }
    expect(streamed.length).toBeGreaterThan(0);

    const emb = await azure('embed-dep').embeddings.create({ model: 'embed-dep', input: 'vector me' });
    expect(emb.data[0]!.embedding.length).toBeGreaterThan(0);

    expect(await traceRows(AZURE_TRACE, 3)).toHaveLength(3);
    const call = (await (await admin(`/admin/calls/${id}`)).json()) as Record<string, unknown>;
    expect(call).toMatchObject({ endpoint: '/v1/chat/completions', requested_model: 'chat-dep', trace_id: AZURE_TRACE });
    // The exact bytes the client sent are what is recorded.
    expect(String(call['request_body'])).toContain('not-a-deployment');
  });

  it('a wrong key is 401, a deployment outside the key\'s allow-list 403, an unknown one 404', async () => {
    const wrong = await azure('chat-dep', 'gl-wrong').chat.completions.create({ model: 'chat-dep', messages: [{ role: 'user', content: 'x' }] }).catch((e: unknown) => e);
    expect(wrong).toBeInstanceOf(APIError);
    expect((wrong as APIError).status).toBe(401);
    const forbidden = await azure('forbidden-dep').chat.completions.create({ model: 'forbidden-dep', messages: [{ role: 'user', content: 'x' }] }).catch((e: unknown) => e);
    expect((forbidden as APIError).status).toBe(403);
    const unknown = await fetch(`${gl.url}/openai/deployments/no-such/chat/completions?api-version=${API_VERSION}`, {
      method: 'POST', headers: { 'api-key': azureSecret, 'content-type': 'application/json' }, body: JSON.stringify({ messages: [{ role: 'user', content: 'x' }] }),
    });
    expect([403, 404]).toContain(unknown.status);
    expect(((await unknown.json()) as { error: { code: string } }).error.code).toBeTruthy();
    // The api-key header means nothing on the other paths.
    const v1 = await fetch(`${gl.url}/v1/chat/completions`, {
      method: 'POST', headers: { 'api-key': azureSecret, 'content-type': 'application/json' }, body: JSON.stringify({ model: 'chat-dep', messages: [{ role: 'user', content: 'x' }] }),
    });
    expect(v1.status).toBe(401);
  });
});

describe('Helicone and Portkey headers', () => {
  it('Helicone custom properties and user id become the call\'s tags and user', async () => {
    const openai = new OpenAI({
      apiKey: secret,
      baseURL: `${gl.url}/v1`,
      defaultHeaders: { 'Helicone-Property-Environment': `prod-${tag}`, 'Helicone-Property-Feature': 'search', 'Helicone-User-Id': `hel-${tag}` },
    });
    const a = await openai.chat.completions.create({ model: 'mock-chat', messages: [{ role: 'user', content: 'helicone a' }] }).withResponse();
    // A property with a value too long for a tag is dropped; the call still answers and keeps the others.
    const b = await openai.chat.completions.create({ model: 'mock-chat', messages: [{ role: 'user', content: 'helicone b' }] }, {
      headers: { 'Helicone-Property-Environment': `staging-${tag}`, 'Helicone-Property-Huge': 'x'.repeat(300), 'x-gatelog-tags': 'feature=ranking' },
    }).withResponse();
    expect(a.data.choices[0]!.message.content).toBeTruthy();
    const ca = await recorded(a.response.headers.get('x-gatelog-request-id')!);
    expect(ca.user).toBe(`hel-${tag}`);
    expect(ca.tags).toEqual({ environment: `prod-${tag}`, feature: 'search' });
    // gatelog's own tag header wins over a property of the same name.
    const cb = await recorded(b.response.headers.get('x-gatelog-request-id')!);
    expect(cb.tags).toEqual({ environment: `staging-${tag}`, feature: 'ranking' });

    expect(await listed(`tags=${encodeURIComponent(`environment=prod-${tag}`)}`)).toEqual([ca.request_id]);
    expect(await listed(`user=hel-${tag}`)).toEqual([ca.request_id, cb.request_id].sort());
  });

  it('Portkey metadata names the user and tags, its trace id the trace (OpenAI and Anthropic SDKs)', async () => {
    const metadata = JSON.stringify({ _user: `pk-${tag}`, environment: `pk-env-${tag}`, count: 3, nested: { a: 1 }, 'bad key': 'x' });
    const openai = new OpenAI({ apiKey: secret, baseURL: `${gl.url}/v1`, defaultHeaders: { 'x-portkey-metadata': metadata, 'x-portkey-trace-id': `pk-trace-${tag}` } });
    const a = await openai.chat.completions.create({ model: 'mock-chat', user: 'body-user', messages: [{ role: 'user', content: 'portkey a' }] }).withResponse();
    const anthropic = new Anthropic({ apiKey: secret, baseURL: gl.url, defaultHeaders: { 'x-portkey-metadata': metadata, 'x-portkey-trace-id': `pk-trace-${tag}` } });
    const b = await anthropic.messages.create({ model: 'mock-chat', max_tokens: 16, messages: [{ role: 'user', content: 'portkey b' }] }).withResponse();
    // Not JSON: ignored, the call answers.
    const c = await openai.chat.completions.create({ model: 'mock-chat', messages: [{ role: 'user', content: 'portkey c' }] }, { headers: { 'x-portkey-metadata': '{not json' } }).withResponse();

    const ids = [a, b].map((r) => r.response.headers.get('x-gatelog-request-id')!);
    for (const id of ids) {
      const call = await recorded(id);
      // The header's _user wins over the body's `user`; only string values with valid keys are tags.
      expect(call).toMatchObject({ user: `pk-${tag}`, trace_id: `pk-trace-${tag}`, tags: { environment: `pk-env-${tag}` } });
      expect(Object.keys(call.tags)).toEqual(['environment']);
    }
    const cc = await recorded(c.response.headers.get('x-gatelog-request-id')!);
    expect(cc.user).toBe('');
    expect(cc.tags).toEqual({});
    expect(await listed(`trace=pk-trace-${tag}`)).toEqual([...ids, cc.request_id].sort());
    expect(await listed(`user=pk-${tag}`)).toEqual([...ids].sort());
    expect(await listed(`tags=${encodeURIComponent(`environment=pk-env-${tag}`)}`)).toEqual([...ids].sort());
  });

  it('Helicone-Cache-Enabled and Portkey\'s force refresh steer the response cache', async () => {
    const call = (headers: Record<string, string>): Promise<Response> => fetch(`${gl.url}/v1/chat/completions`, {
      method: 'POST',
      headers: { authorization: `Bearer ${secret}`, 'content-type': 'application/json', ...headers },
      body: JSON.stringify({ model: 'mock-chat', messages: [{ role: 'user', content: `cache me ${tag}` }] }),
    });
    // The alias has no cache of its own: Helicone's header opts the call in, as on Helicone.
    expect((await call({})).headers.get('x-gatelog-cache')).toBeNull();
    expect((await call({ 'Helicone-Cache-Enabled': 'true' })).headers.get('x-gatelog-cache')).toBe('miss');
    const hit = await call({ 'Helicone-Cache-Enabled': 'true' });
    expect(hit.headers.get('x-gatelog-cache')).toBe('hit');
    expect(((await hit.json()) as { choices: unknown[] }).choices).toHaveLength(1);
    expect((await call({ 'x-portkey-cache-force-refresh': 'true' })).headers.get('x-gatelog-cache')).toBe('miss');
  });

  it('Helicone-Omit-Request / Helicone-Omit-Response keep the bodies out of the record', async () => {
    const openai = new OpenAI({ apiKey: secret, baseURL: `${gl.url}/v1` });
    const secretWord = `omitted-${tag}`;
    for (const header of ['Helicone-Omit-Request', 'Helicone-Omit-Response']) {
      const r = await openai.chat.completions.create({ model: 'mock-chat', messages: [{ role: 'user', content: `do not keep ${secretWord}` }] }, { headers: { [header]: 'true' } }).withResponse();
      // The call itself is untouched: the provider got the prompt and the client its answer.
      expect(r.data.choices[0]!.message.content).toBeTruthy();
      const call = (await recorded(r.response.headers.get('x-gatelog-request-id')!)) as Call & Record<string, unknown>;
      expect(call['request_body'], header).toBe('');
      expect(call['response_body'], header).toBe('');
      expect(call['request_bytes'], header).toBeGreaterThan(0);
      expect(JSON.stringify(call), header).not.toContain(secretWord);
    }
    const kept = await openai.chat.completions.create({ model: 'mock-chat', messages: [{ role: 'user', content: `keep ${secretWord}` }] }, { headers: { 'Helicone-Omit-Request': 'false' } }).withResponse();
    const call = (await recorded(kept.response.headers.get('x-gatelog-request-id')!)) as Call & Record<string, unknown>;
    expect(String(call['request_body'])).toContain(secretWord);
  });
});
