// LiteLLM's users point the OpenAI SDK at the proxy's bare origin (`base_url="http://proxy:4000"`,
// no `/v1`): moving to gatelog by changing the host alone must keep their calls working. The
// OpenAI paths answer without `/v1` too — with the same key check, limits and recording (under
// the `/v1` endpoint) — while every other path stays the UI's. Real OpenAI SDK, real `gatelog
// start` with its UI.
import { randomUUID } from 'node:crypto';
import { afterAll, beforeAll, expect, it } from 'vitest';
import OpenAI from 'openai';
import { startGatelog, type GatelogProcess } from '../support/gatelog-process.ts';

const MASTER = `mk-${randomUUID()}`;
const TRACE = `bare-${randomUUID().slice(0, 8)}`;

let gl: GatelogProcess;
let secret = '';

const admin = (path: string, init: RequestInit = {}): Promise<Response> =>
  fetch(`${gl.url}${path}`, { ...init, headers: { authorization: `Bearer ${MASTER}`, ...(init.body ? { 'content-type': 'application/json' } : {}), ...init.headers } });

beforeAll(async () => {
  gl = await startGatelog({
    env: { GATELOG_MASTER_KEY: MASTER },
    config: {
      ingest: { batch_ms: 50 },
      providers: { mock: { kind: 'mock', models: ['listed-upstream'] } },
      models: [{ name: 'mock-chat', deployments: [{ provider: 'mock', model: 'mock-chat' }] }, { name: 'other', deployments: [{ provider: 'mock', model: 'other' }] }],
    },
    timeoutMs: 60_000,
  });
  const r = await admin('/admin/keys', { method: 'POST', body: JSON.stringify({ name: `bare-${TRACE}`, models: ['mock-chat'] }) });
  expect(r.status, await r.clone().text()).toBe(201);
  secret = ((await r.json()) as { secret: string }).secret;
}, 90_000);

afterAll(async () => {
  await gl?.stop();
});

it('the OpenAI SDK pointed at the bare origin calls, streams and lists models', async () => {
  const openai = new OpenAI({ apiKey: secret, baseURL: gl.url, defaultHeaders: { 'x-gatelog-trace-id': TRACE } });
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
  const v1 = new OpenAI({ apiKey: secret, baseURL: `${gl.url}/v1` });
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
  let rows: { request_id: string; endpoint?: string; stream?: boolean }[] = [];
  for (let i = 0; i < 200 && rows.length < 3; i++) {
    rows = ((await (await admin(`/admin/calls?trace=${TRACE}`)).json()) as { data: typeof rows }).data;
    if (rows.length < 3) await new Promise((res) => setTimeout(res, 100));
  }
  expect(rows).toHaveLength(3);
  const call = (await (await admin(`/admin/calls/${id}`)).json()) as { endpoint: string; trace_id: string };
  expect(call).toMatchObject({ endpoint: '/v1/chat/completions', trace_id: TRACE });
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
