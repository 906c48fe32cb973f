// Budgets, rate limits and the response cache through buildProxy on 127.0.0.1:0 with a real
// store (chDB, own temp dir) for keys, a fake OpenAI upstream, and the real `openai` SDK.
// Keys are created through the admin API, as an operator would.
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import OpenAI from 'openai';
import { Registry } from 'prom-client';
import type { FastifyInstance } from 'fastify';
import { createLogger, migrate, openStore, parseConfig, type GatelogConfig, type LlmCallEvent, type Store } from '@gatelog/core';
import type { CounterBackend } from '../../proxy/src/governance/backend.ts';
import { buildProxy } from '@gatelog/proxy';
import { startFakeOpenAi, type FakeOpenAi } from '../support/fake-openai.ts';

const MASTER = 'master-key-for-governance-tests';
const OUT_PRICE = 10; // USD per million output tokens; input is free, so costs are exact

let fake: FakeOpenAi;
let app: FastifyInstance;
let store: Store;
let dir: string;
let url: string;
let config: GatelogConfig;
const events: LlmCallEvent[] = [];

interface Created {
  key: { id: string; name: string; team: string };
  secret: string;
}

async function createKey(fields: Record<string, unknown>): Promise<Created> {
  const res = await fetch(`${url}/admin/keys`, {
    method: 'POST',
    headers: { authorization: `Bearer ${MASTER}`, 'content-type': 'application/json' },
    body: JSON.stringify(fields),
  });
  expect(res.status).toBe(201);
  return (await res.json()) as Created;
}

function chat(secret: string, body: Record<string, unknown>, headers: Record<string, string> = {}): Promise<Response> {
  return fetch(`${url}/v1/chat/completions`, {
    method: 'POST',
    headers: { authorization: `Bearer ${secret}`, 'content-type': 'application/json', ...headers },
    body: JSON.stringify({ model: 'smart', messages: [{ role: 'user', content: 'hello' }], ...body }),
  });
}

async function eventsFor(keyId: string, n: number): Promise<LlmCallEvent[]> {
  for (let i = 0; i < 400; i++) {
    const found = events.filter((e) => e.key_id === keyId);
    if (found.length >= n) return found;
    await new Promise((r) => setTimeout(r, 5));
  }
  throw new Error(`expected ${n} events for ${keyId}, got ${events.filter((e) => e.key_id === keyId).length}`);
}

beforeAll(async () => {
  fake = await startFakeOpenAi();
  dir = mkdtempSync(join(tmpdir(), 'gatelog-gov-'));
  store = await openStore({ clickhouse: 'embedded', database: 'gatelog' }, dir);
  await migrate(store);
  config = parseConfig(
    {
      providers: { fake: { kind: 'openai', base_url: fake.baseUrl, api_key: 'sk-upstream' }, local: { kind: 'mock' } },
      models: [
        // The mock provider has no Responses API: its adapter refuses before anything is sent.
        { name: 'mocked', deployments: [{ provider: 'local', model: 'mock-chat' }] },
        { name: 'smart', deployments: [{ provider: 'fake', model: 'gpt-4o-mini' }] },
        { name: 'cached', cache: true, deployments: [{ provider: 'fake', model: 'gpt-4o-mini' }] },
      ],
      pricing: [{ provider: 'fake', model: 'gpt-4o-mini', input: 0, cached_input: 0, output: OUT_PRICE }],
      teams: { shared: { budget_usd: 0.0015, period: 'daily' } },
      cache: { scope: 'key' },
    },
    'test',
    {},
  );
  app = await buildProxy({ config, publish: (e) => events.push(e), logger: createLogger('silent'), registry: new Registry(), masterKey: MASTER, store });
  url = await app.listen({ port: 0, host: '127.0.0.1' });
});

afterAll(async () => {
  await app.close();
  await fake.close();
  await store.close();
  rmSync(dir, { recursive: true, force: true });
});

beforeEach(() => {
  fake.reset();
});

describe('budgets', () => {
  // Worst case of every call below: 100 output tokens × $10/M = $0.001; each really uses 90 ($0.0009).
  const call = { max_tokens: 100 };

  it('50 parallel requests against room for one: exactly one is admitted', async () => {
    fake.behave({ usage: { prompt_tokens: 20, completion_tokens: 90, cached_tokens: 0, reasoning_tokens: 0 }, delayHeadersMs: 50 });
    const { key, secret } = await createKey({ name: 'burst', budget_usd: 0.0015, budget_period: 'monthly' });
    const results = await Promise.all(Array.from({ length: 50 }, () => chat(secret, call)));
    const statuses = results.map((r) => r.status);
    expect(statuses.filter((s) => s === 200)).toHaveLength(1);
    expect(statuses.filter((s) => s === 429)).toHaveLength(49);
    expect(fake.requests).toHaveLength(1);
    const refused = (await results.find((r) => r.status === 429)!.json()) as { error: { type: string; code: string; message: string } };
    expect(refused.error).toMatchObject({ type: 'budget_exceeded', code: 'budget_exceeded' });
    expect(refused.error.message).toMatch(/resets at \d{4}-\d{2}-01T00:00:00Z/);
    const evs = await eventsFor(key.id, 50);
    expect(evs.filter((e) => e.outcome === 'refused')).toHaveLength(49);
    for (const e of evs.filter((x) => x.outcome === 'refused')) {
      expect(e).toMatchObject({ status: 429, cost_usd: 0, error_type: 'budget_exceeded', key_name: 'burst', attempts: [] });
    }
    expect(evs.find((e) => e.outcome === 'success')!.cost_usd).toBeCloseTo(0.0009, 9);
  });

  it('is exhausted mid-period: settled costs count, the next call that could overrun is refused', async () => {
    fake.behave({ usage: { prompt_tokens: 20, completion_tokens: 90, cached_tokens: 0, reasoning_tokens: 0 } });
    const { key, secret } = await createKey({ name: 'steady', budget_usd: 0.0025, budget_period: 'daily' });
    expect((await chat(secret, call)).status).toBe(200);
    expect((await chat(secret, call)).status).toBe(200);
    // $0.0018 spent; another worst case of $0.001 would pass $0.0025.
    const third = await chat(secret, call);
    expect(third.status).toBe(429);
    const body = (await third.json()) as { error: { message: string } };
    expect(body.error.message).toContain('Budget exceeded for key "steady"');
    expect(body.error.message).toMatch(/resets at \d{4}-\d{2}-\d{2}T00:00:00Z/);
    // A smaller request still fits.
    expect((await chat(secret, { max_tokens: 50 })).status).toBe(200);
    const status = (await (await fetch(`${url}/admin/keys/${key.id}`, { headers: { authorization: `Bearer ${MASTER}` } })).json()) as {
      budgets: { spent_usd: number; remaining_usd: number }[];
    };
    expect(status.budgets[0]!.spent_usd).toBeCloseTo(0.0027, 9);
  });

  it('a team budget covers all the keys of the team', async () => {
    fake.behave({ usage: { prompt_tokens: 20, completion_tokens: 90, cached_tokens: 0, reasoning_tokens: 0 } });
    const a = await createKey({ name: 'team-a', team: 'shared' });
    const b = await createKey({ name: 'team-b', team: 'shared' });
    expect((await chat(a.secret, call)).status).toBe(200);
    const refused = await chat(b.secret, call);
    expect(refused.status).toBe(429);
    expect(((await refused.json()) as { error: { message: string } }).error.message).toContain('team "shared"');
    const [ev] = await eventsFor(b.key.id, 1);
    expect(ev).toMatchObject({ outcome: 'refused', team: 'shared', key_name: 'team-b' });
  });
});

describe('rate limits', () => {
  it('RPM: x-ratelimit-* headers, then 429 with Retry-After', async () => {
    const { secret } = await createKey({ name: 'rpm', rpm: 2 });
    const r1 = await chat(secret, {});
    expect(r1.status).toBe(200);
    expect(r1.headers.get('x-ratelimit-limit-requests')).toBe('2');
    expect(r1.headers.get('x-ratelimit-remaining-requests')).toBe('1');
    expect(r1.headers.get('x-ratelimit-reset-requests')).toMatch(/^\d+(\.\d+)?m?s$/);
    const r2 = await chat(secret, {});
    expect(r2.headers.get('x-ratelimit-remaining-requests')).toBe('0');
    const r3 = await chat(secret, {});
    expect(r3.status).toBe(429);
    expect(Number(r3.headers.get('retry-after'))).toBeGreaterThanOrEqual(1);
    expect(r3.headers.get('x-ratelimit-limit-requests')).toBe('2');
    expect(((await r3.json()) as { error: { type: string; code: string } }).error).toMatchObject({ type: 'requests', code: 'rate_limit_exceeded' });
    expect(fake.requests).toHaveLength(2);
  });

  it('TPM: real token counts are settled after each response until the limit refuses', async () => {
    fake.behave({ usage: { prompt_tokens: 20, completion_tokens: 30, cached_tokens: 0, reasoning_tokens: 0 } });
    const { secret } = await createKey({ name: 'tpm', tpm: 100 });
    const statuses: number[] = [];
    let last: Response | undefined;
    for (let i = 0; i < 5; i++) {
      last = await chat(secret, { max_tokens: 10 });
      statuses.push(last.status);
      if (last.status === 429) break;
    }
    // 50 real tokens per call against 100 a minute (each call reserves ~20 up front): the third no longer fits.
    expect(statuses).toEqual([200, 200, 429]);
    expect(last!.headers.get('x-ratelimit-limit-tokens')).toBe('100');
    expect(Number(last!.headers.get('retry-after'))).toBeGreaterThanOrEqual(1);
    expect(((await last!.json()) as { error: { type: string } }).error.type).toBe('tokens');
  });

  it('max parallel: a second concurrent call is refused, the slot comes back after', async () => {
    fake.behave({ delayHeadersMs: 300 });
    const { secret } = await createKey({ name: 'par', max_parallel: 1 });
    const [a, b] = await Promise.all([chat(secret, {}), new Promise((r) => setTimeout(r, 100)).then(() => chat(secret, {}))]);
    expect([a.status, b.status]).toEqual([200, 429]);
    expect(((await b.json()) as { error: { code: string } }).error.code).toBe('parallel_limit_exceeded');
    fake.behave({});
    expect((await chat(secret, {})).status).toBe(200);
  });
});

describe('a call the adapter refuses before sending', () => {
  it('gives back its max-parallel slot and budget reservation', async () => {
    const { key, secret } = await createKey({ name: 'adapter-refused', max_parallel: 1, budget_usd: 1, budget_period: 'monthly' });
    const responses = (): Promise<Response> =>
      fetch(`${url}/v1/responses`, {
        method: 'POST',
        headers: { authorization: `Bearer ${secret}`, 'content-type': 'application/json' },
        body: JSON.stringify({ model: 'mocked', input: 'hello', max_output_tokens: 50 }),
      });
    for (let i = 0; i < 3; i++) {
      const res = await responses();
      expect(res.status).toBe(400);
      expect(((await res.json()) as { error: { code: string } }).error.code).toBe('unsupported_api');
    }
    // The slot is free: a normal call of the same key goes through.
    expect((await chat(secret, {})).status).toBe(200);
    const evs = await eventsFor(key.id, 4);
    expect(evs.filter((e) => e.status === 400 && e.outcome === 'refused')).toHaveLength(3);
  });
});

describe('shared state down', () => {
  it('fail-closed: a limited key is refused with 503 state_unavailable; unlimited keys pass', async () => {
    const down = (): Promise<never> => Promise.reject(Object.assign(new Error('connect ECONNREFUSED'), { code: 'ECONNREFUSED' }));
    const dead: CounterBackend = { kind: 'dead', reserve: down, add: down, get: down, rateAcquire: down, rateAdjust: down };
    const limited = await createKey({ name: 'closed-limited', rpm: 10 });
    const free = await createKey({ name: 'closed-free' });
    const registry = new Registry();
    const closed = await buildProxy({
      config: { ...config, state: { on_failure: 'closed' } },
      publish: () => undefined,
      logger: createLogger('silent'),
      registry,
      masterKey: MASTER,
      store,
      sharedState: dead,
    });
    try {
      const req = (secret: string) =>
        closed.inject({
          method: 'POST',
          url: '/v1/chat/completions',
          headers: { authorization: `Bearer ${secret}`, 'content-type': 'application/json' },
          payload: { model: 'smart', messages: [{ role: 'user', content: 'x' }] },
        });
      const r = await req(limited.secret);
      expect(r.statusCode).toBe(503);
      expect(r.headers['retry-after']).toBe('1');
      expect(r.json()).toMatchObject({ error: { code: 'state_unavailable', type: 'service_unavailable' } });
      expect((await req(free.secret)).statusCode).toBe(200);
      expect(await registry.getSingleMetricAsString('gatelog_state_backend_failures_total')).toMatch(/op="rateAcquire"} [1-9]/);
    } finally {
      await closed.close();
    }
  });
});

describe('cache', () => {
  it('non-stream: the second identical call is a hit with identical content, recorded with cost 0 and the saving', async () => {
    const { key, secret } = await createKey({ name: 'cache-json' });
    const client = new OpenAI({ apiKey: secret, baseURL: `${url}/v1`, maxRetries: 0 });
    const ask = () => client.chat.completions.create({ model: 'cached', messages: [{ role: 'user', content: 'cache me (json)' }] }).withResponse();
    const first = await ask();
    const second = await ask();
    expect(first.response.headers.get('x-gatelog-cache')).toBe('miss');
    expect(second.response.headers.get('x-gatelog-cache')).toBe('hit');
    expect(second.data).toEqual(first.data);
    expect(fake.requests).toHaveLength(1);
    const [miss, hit] = await eventsFor(key.id, 2);
    expect(miss).toMatchObject({ cache_hit: false, cache_saved_usd: 0 });
    expect(miss!.cost_usd).toBeGreaterThan(0);
    expect(hit).toMatchObject({ cache_hit: true, cost_usd: 0, outcome: 'success', status: 200, attempts: [] });
    expect(hit!.cache_saved_usd).toBe(miss!.cost_usd);
    expect(hit!.response_body).toBe(miss!.response_body);
  });

  it('stream: replayed as SSE, the SDK sees identical content', async () => {
    const { secret } = await createKey({ name: 'cache-stream' });
    const client = new OpenAI({ apiKey: secret, baseURL: `${url}/v1`, maxRetries: 0 });
    const run = async (): Promise<{ text: string; finish: string | null; cache: string | null }> => {
      const { data, response } = await client.chat.completions
        .create({ model: 'cached', stream: true, messages: [{ role: 'user', content: 'cache me (stream)' }] })
        .withResponse();
      let text = '';
      let finish: string | null = null;
      for await (const chunk of data) {
        text += chunk.choices[0]?.delta.content ?? '';
        finish = chunk.choices[0]?.finish_reason ?? finish;
      }
      return { text, finish, cache: response.headers.get('x-gatelog-cache') };
    };
    const a = await run();
    const b = await run();
    expect(a.cache).toBe('miss');
    expect(b.cache).toBe('hit');
    expect(a.text.length).toBeGreaterThan(0);
    expect(b).toEqual({ ...a, cache: 'hit' });
    expect(fake.requests).toHaveLength(1);
  });

  it('scope key: another key never gets this key\'s entry; x-gatelog-cache: off and errors are not cached', async () => {
    const one = await createKey({ name: 'scope-1' });
    const two = await createKey({ name: 'scope-2' });
    const body = { model: 'cached', messages: [{ role: 'user', content: 'scoped' }] };
    expect((await chat(one.secret, body)).headers.get('x-gatelog-cache')).toBe('miss');
    expect((await chat(one.secret, body)).headers.get('x-gatelog-cache')).toBe('hit');
    expect((await chat(two.secret, body)).headers.get('x-gatelog-cache')).toBe('miss');
    const off = await chat(one.secret, body, { 'x-gatelog-cache': 'off' });
    expect(off.headers.get('x-gatelog-cache')).toBeNull();
    expect(fake.requests).toHaveLength(3);

    fake.behave({ error: { status: 500 } });
    const err = { model: 'cached', messages: [{ role: 'user', content: 'failing' }] };
    expect((await chat(one.secret, err)).status).toBe(500);
    fake.behave({});
    const after = await chat(one.secret, err);
    expect(after.status).toBe(200);
    expect(after.headers.get('x-gatelog-cache')).toBe('miss');
  });

  it('temperature > 0 is not cached by default', async () => {
    const { secret } = await createKey({ name: 'sampled' });
    const body = { model: 'cached', temperature: 0.7, messages: [{ role: 'user', content: 'sampled' }] };
    await chat(secret, body);
    const again = await chat(secret, body);
    expect(again.headers.get('x-gatelog-cache')).toBeNull();
    expect(fake.requests).toHaveLength(2);
  });
});
