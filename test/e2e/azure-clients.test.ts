// Azure OpenAI clients pointed at gatelog: `AzureOpenAI` sends calls to
// `{endpoint}/openai/deployments/{deployment}/chat/completions?api-version=…` with the key in an
// `api-key` header, as LiteLLM's proxy accepts them. The path's deployment is the model alias
// (over whatever the body names), the key's allow-list and limits hold, and the call is recorded
// like any other. Real `AzureOpenAI` from the `openai` package against a real `gatelog start`.
import { randomUUID } from 'node:crypto';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { AzureOpenAI, APIError } from 'openai';
import { startGatelog, type GatelogProcess } from '../support/gatelog-process.ts';

const MASTER = `mk-${randomUUID()}`;
const TRACE = `azure-${randomUUID().slice(0, 8)}`;
const API_VERSION = '2024-10-21';

let gl: GatelogProcess;
let secret = '';

const admin = (path: string, init: RequestInit = {}): Promise<Response> =>
  fetch(`${gl.url}${path}`, { ...init, headers: { authorization: `Bearer ${MASTER}`, ...(init.body ? { 'content-type': 'application/json' } : {}), ...init.headers } });

const azure = (deployment: string, apiKey = secret): AzureOpenAI =>
  new AzureOpenAI({ endpoint: gl.url, apiKey, apiVersion: API_VERSION, deployment, defaultHeaders: { 'x-gatelog-trace-id': TRACE } });

beforeAll(async () => {
  gl = await startGatelog({
    env: { GATELOG_MASTER_KEY: MASTER },
    config: {
      ingest: { batch_ms: 50 },
      providers: { mock: { kind: 'mock' } },
      models: [
        { name: 'chat-dep', deployments: [{ provider: 'mock', model: 'mock-chat' }] },
        { name: 'embed-dep', deployments: [{ provider: 'mock', model: 'mock-embed' }] },
        { name: 'forbidden-dep', deployments: [{ provider: 'mock', model: 'mock-chat' }] },
      ],
    },
    timeoutMs: 60_000,
  });
  const r = await admin('/admin/keys', { method: 'POST', body: JSON.stringify({ name: `azure-${TRACE}`, models: ['chat-dep', 'embed-dep'] }) });
  expect(r.status, await r.clone().text()).toBe(201);
  secret = ((await r.json()) as { secret: string }).secret;
}, 90_000);

afterAll(async () => {
  await gl?.stop();
});

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

  let rows: unknown[] = [];
  for (let i = 0; i < 200 && rows.length < 3; i++) {
    rows = ((await (await admin(`/admin/calls?trace=${TRACE}`)).json()) as { data: unknown[] }).data;
    if (rows.length < 3) await new Promise((res) => setTimeout(res, 100));
  }
  expect(rows).toHaveLength(3);
  const call = (await (await admin(`/admin/calls/${id}`)).json()) as Record<string, unknown>;
  expect(call).toMatchObject({ endpoint: '/v1/chat/completions', requested_model: 'chat-dep', trace_id: TRACE });
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
    method: 'POST', headers: { 'api-key': secret, 'content-type': 'application/json' }, body: JSON.stringify({ messages: [{ role: 'user', content: 'x' }] }),
  });
  expect([403, 404]).toContain(unknown.status);
  expect(((await unknown.json()) as { error: { code: string } }).error.code).toBeTruthy();
  // The api-key header means nothing on the other paths.
  const v1 = await fetch(`${gl.url}/v1/chat/completions`, {
    method: 'POST', headers: { 'api-key': secret, 'content-type': 'application/json' }, body: JSON.stringify({ model: 'chat-dep', messages: [{ role: 'user', content: 'x' }] }),
  });
  expect(v1.status).toBe(401);
});
