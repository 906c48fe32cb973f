// Applications moving over from Helicone or Portkey keep the metadata headers they already send:
// Helicone's custom properties (`Helicone-Property-*`) and Portkey's `x-portkey-metadata` (its
// `_user` names the end user) become the call's tags, Portkey's `x-portkey-trace-id` its trace —
// so spend by tag, the explorer's tag filter and erasure by user find those calls. gatelog's own
// headers win on a conflict; junk is dropped and never fails a call. Real OpenAI and Anthropic
// SDKs against a real `gatelog start`.
import { randomUUID } from 'node:crypto';
import { afterAll, beforeAll, expect, it } from 'vitest';
import OpenAI from 'openai';
import Anthropic from '@anthropic-ai/sdk';
import { startGatelog, type GatelogProcess } from '../support/gatelog-process.ts';

const MASTER = `mk-${randomUUID()}`;
const tag = randomUUID().slice(0, 6);

let gl: GatelogProcess;
let secret = '';

interface Call {
  request_id: string;
  user: string;
  trace_id: string;
  tags: Record<string, string>;
}

const admin = (path: string, init: RequestInit = {}): Promise<Response> =>
  fetch(`${gl.url}${path}`, { ...init, headers: { authorization: `Bearer ${MASTER}`, ...(init.body ? { 'content-type': 'application/json' } : {}), ...init.headers } });

async function recorded(id: string): Promise<Call> {
  for (let i = 0; i < 200; i++) {
    const r = await admin(`/admin/calls/${id}`);
    if (r.status === 200) return (await r.json()) as Call;
    await new Promise((res) => setTimeout(res, 100));
  }
  throw new Error(`call ${id} was never recorded:\n${gl.logs()}`);
}

async function listed(query: string): Promise<string[]> {
  const r = await admin(`/admin/calls?${query}`);
  expect(r.status, await r.clone().text()).toBe(200);
  return ((await r.json()) as { data: { request_id: string }[] }).data.map((c) => c.request_id).sort();
}

beforeAll(async () => {
  gl = await startGatelog({
    env: { GATELOG_MASTER_KEY: MASTER },
    config: {
      ingest: { batch_ms: 50 },
      providers: { mock: { kind: 'mock' } },
      models: [{ name: 'mock-chat', deployments: [{ provider: 'mock', model: 'mock-chat' }] }],
    },
    timeoutMs: 60_000,
  });
  const r = await admin('/admin/keys', { method: 'POST', body: JSON.stringify({ name: `migrating-${tag}` }) });
  expect(r.status).toBe(201);
  secret = ((await r.json()) as { secret: string }).secret;
}, 90_000);

afterAll(async () => {
  await gl?.stop();
});

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
