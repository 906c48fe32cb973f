// Limits per end user of a virtual key, against two real `gatelog start` processes sharing one
// redis-server (Debian's) and one ClickHouse (the HTTP fixture): an end user over `user_rpm`
// is refused 429 user_rate_limit_exceeded with Retry-After while another user of the same key
// goes on, on either proxy (the counters are shared, so the limit holds once, not per proxy);
// a user over `user_budget` is refused while others are not, the budget settling to the real
// cost; `require_user` refuses a call naming no user with 400 user_required in each API's
// shape; bad fields are 400 naming them; the per-user spend listing answers within team scope.
// Clients: the real `openai` SDK (the body's `user`) and `@anthropic-ai/sdk` (metadata.user_id).
import { randomUUID } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import OpenAI from 'openai';
import Anthropic from '@anthropic-ai/sdk';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { openStore, type Store } from '@gatelog/core';
import { startRedis, type RedisServer } from '../support/redis-server.ts';
import { ClickHouseHttpFixture } from '../support/clickhouse-http.ts';
import { startGatelog, type GatelogProcess } from '../support/gatelog-process.ts';
import { runKeysCli } from '../../src/keys-cli.ts';

const MASTER = `mk-${randomUUID()}`;
const database = `g_${randomUUID().replaceAll('-', '')}`;
let redis: RedisServer;
const ch = new ClickHouseHttpFixture();
let store: Store;
let dir: string;
let a: GatelogProcess;
let b: GatelogProcess;

beforeAll(async () => {
  redis = await startRedis();
  await ch.start();
  dir = mkdtempSync(join(tmpdir(), 'gatelog-end-users-'));
  const config = {
    storage: { clickhouse: { url: ch.url, database } },
    state: { redis: redis.url },
    // `slow` streams its first byte after 1.5 s, then its reply in 6 pieces over another 1.5 s.
    providers: { mock: { kind: 'mock' }, slowmock: { kind: 'mock', latency_ms: 3000 } },
    models: [
      { name: 'fast', deployments: [{ provider: 'mock', model: 'mock-chat' }] },
      { name: 'slow', deployments: [{ provider: 'slowmock', model: 'mock-chat' }] },
    ],
    // Output only: a "hi" call answers 5 output tokens = $0.005; max_tokens 10 reserves $0.01.
    pricing: [
      { provider: 'mock', model: 'mock-chat', input: 0, output: 1000 },
      { provider: 'slowmock', model: 'mock-chat', input: 0, output: 1000 },
    ],
    ingest: { batch_ms: 50 },
    keys: { refresh_ms: 300 },
    ui: { enabled: false },
  };
  // One at a time: each runs the (idempotent) migrations on the shared ClickHouse.
  a = await startGatelog({ config, env: { GATELOG_MASTER_KEY: MASTER } });
  b = await startGatelog({ config, env: { GATELOG_MASTER_KEY: MASTER } });
  store = await openStore({ clickhouse: { url: ch.url, database, username: 'default', password: '' }, database }, dir);
}, 180_000);

afterAll(async () => {
  await Promise.all([a?.stop(), b?.stop()]);
  await store?.close();
  await ch.close();
  await redis?.stop();
  rmSync(dir, { recursive: true, force: true });
});

function admin(p: GatelogProcess, method: string, path: string, body?: unknown, key = MASTER): Promise<Response> {
  return fetch(`${p.url}${path}`, {
    method,
    headers: { authorization: `Bearer ${key}`, ...(body !== undefined ? { 'content-type': 'application/json' } : {}) },
    ...(body !== undefined ? { body: JSON.stringify(body) } : {}),
  });
}

interface Created {
  key: { id: string };
  secret: string;
}

/** A key made on proxy a, once both proxies know it. */
async function createKey(fields: Record<string, unknown>): Promise<Created> {
  const r = await admin(a, 'POST', '/admin/keys', { name: `eu-${randomUUID().slice(0, 8)}`, ...fields });
  expect(r.status, await r.clone().text()).toBe(201);
  const created = (await r.json()) as Created;
  for (let i = 0; ; i++) {
    const s = await fetch(`${b.url}/v1/models`, { headers: { authorization: `Bearer ${created.secret}` } });
    if (s.status === 200) break;
    if (i > 100) throw new Error(`key never reached proxy b (last status ${s.status})`);
    await new Promise((res) => setTimeout(res, 100));
  }
  return created;
}

const openai = (p: GatelogProcess, apiKey: string): OpenAI => new OpenAI({ baseURL: `${p.url}/v1`, apiKey, maxRetries: 0 });

interface Outcome {
  status: number;
  code?: string | null | undefined;
  type?: string | null | undefined;
  retryAfter?: string | null | undefined;
}

async function chat(p: GatelogProcess, apiKey: string, user: string | undefined, maxTokens = 10, headers: Record<string, string> = {}): Promise<Outcome> {
  try {
    await openai(p, apiKey).chat.completions.create(
      { model: 'fast', max_tokens: maxTokens, messages: [{ role: 'user', content: 'hi' }], ...(user !== undefined ? { user } : {}) },
      { headers },
    );
    return { status: 200 };
  } catch (err) {
    if (!(err instanceof OpenAI.APIError)) throw err;
    return { status: err.status ?? -1, code: err.code, type: err.type, retryAfter: err.headers?.get('retry-after') };
  }
}

async function messages(apiKey: string, userId: string | undefined): Promise<Outcome> {
  const client = new Anthropic({ baseURL: a.url, apiKey, maxRetries: 0 });
  try {
    await client.messages.create({ model: 'fast', max_tokens: 10, messages: [{ role: 'user', content: 'hi' }], ...(userId !== undefined ? { metadata: { user_id: userId } } : {}) });
    return { status: 200 };
  } catch (err) {
    if (!(err instanceof Anthropic.APIError)) throw err;
    const body = err.error as { type?: string; error?: { type?: string } } | undefined;
    return { status: err.status ?? -1, type: body?.error?.type, code: body?.type, retryAfter: err.headers?.get('retry-after') };
  }
}

async function recorded(keyId: string, n: number): Promise<{ user: string; outcome: string; status: number; error_type: string; cost_usd: number | null }[]> {
  for (let i = 0; ; i++) {
    const rs = await store.client.query({
      query: `SELECT user, outcome, status, error_type, cost_usd FROM ${database}.llm_calls FINAL WHERE key_id = {k:String} ORDER BY started_at`,
      query_params: { k: keyId },
      format: 'JSONEachRow',
    });
    const rows = await rs.json<{ user: string; outcome: string; status: number; error_type: string; cost_usd: number | null }>();
    if (rows.length >= n || i > 100) return rows;
    await new Promise((res) => setTimeout(res, 100));
  }
}

type Listing = { period: string; user_budget_usd: number | null; data: { user: string; spent_usd: number; calls: number; remaining_usd: number | null }[] };
const near = (x: number | null | undefined, y: number): boolean => x != null && Math.abs(x - y) < 1e-9;

/**
 * The key's end-user listing once `ok` holds. Right after a call is stored, a proxy on shared
 * counters counts its cost twice for a grace of two refreshes (over, never under: budget.ts),
 * so what is left may read low for up to ~15 s before it settles.
 */
async function listingWhen(p: GatelogProcess, keyId: string, ok: (l: Listing) => boolean): Promise<Listing> {
  let last: Listing | undefined;
  for (let i = 0; i < 250; i++) {
    const r = await admin(p, 'GET', `/admin/keys/${keyId}/users`);
    expect(r.status).toBe(200);
    last = (await r.json()) as Listing;
    if (ok(last)) return last;
    await new Promise((res) => setTimeout(res, 100));
  }
  throw new Error(`listing never as expected: ${JSON.stringify(last)}`);
}

/** 60 words: the mock's whole reply to it is ~65 tokens ($0.065 here), streamed in 6 pieces. */
const LONG_PROMPT = Array.from({ length: 60 }, (_, i) => `w${i}`).join(' ');

/** A stream the client leaves after `pieces` pieces of text. */
async function leaveStream(apiKey: string, user: string, pieces: number): Promise<void> {
  const stream = await openai(a, apiKey).chat.completions.create({
    model: 'slow', max_tokens: 100, stream: true, user,
    messages: [{ role: 'user', content: LONG_PROMPT }],
  });
  let n = 0;
  for await (const chunk of stream) {
    if (chunk.choices[0]?.delta?.content) n++;
    if (n >= pieces) break; // leaving the iterator aborts the HTTP request
  }
}

describe('per end user limits on one key', () => {
  it('user_rpm: alice is refused 429 user_rate_limit_exceeded with Retry-After, bob goes on; recorded as refused', async () => {
    const { key, secret } = await createKey({ user_rpm: 2 });
    expect((await chat(a, secret, 'alice')).status).toBe(200);
    expect((await chat(a, secret, 'alice')).status).toBe(200);
    const refused = await chat(a, secret, 'alice');
    expect(refused).toMatchObject({ status: 429, code: 'user_rate_limit_exceeded', type: 'requests' });
    expect(Number(refused.retryAfter)).toBeGreaterThanOrEqual(1);
    expect((await chat(a, secret, 'bob')).status).toBe(200);
    // A call naming no end user is not limited per user.
    for (let i = 0; i < 3; i++) expect((await chat(a, secret, undefined)).status).toBe(200);
    const rows = await recorded(key.id, 7);
    expect(rows.filter((r) => r.outcome === 'refused')).toEqual([
      expect.objectContaining({ user: 'alice', status: 429, error_type: 'user_rate_limit_exceeded', cost_usd: 0 }),
    ]);
  });

  it('user_rpm holds across two proxies on one Redis: once in total, not once per proxy', async () => {
    const { secret } = await createKey({ user_rpm: 2 });
    expect((await chat(a, secret, 'alice')).status).toBe(200);
    expect((await chat(b, secret, 'alice')).status).toBe(200);
    expect(await chat(a, secret, 'alice')).toMatchObject({ status: 429, code: 'user_rate_limit_exceeded' });
    expect(await chat(b, secret, 'alice')).toMatchObject({ status: 429, code: 'user_rate_limit_exceeded' });
    expect((await chat(b, secret, 'bob')).status).toBe(200);
    expect((await chat(a, secret, 'bob')).status).toBe(200);
    // Redis holds the end user's counters under a hash only.
    const keys = await redisKeys();
    expect(keys.some((k) => k.includes(':rl:user:'))).toBe(true);
    expect(keys.filter((k) => k.includes('alice') || k.includes('bob'))).toEqual([]);
  });

  it("the key's own limit still holds: a user's refusals spend none of it, cycling user ids gets past none of it", async () => {
    const { secret } = await createKey({ rpm: 3, user_rpm: 1 });
    expect((await chat(a, secret, 'alice')).status).toBe(200);
    for (let i = 0; i < 3; i++) expect(await chat(b, secret, 'alice')).toMatchObject({ status: 429, code: 'user_rate_limit_exceeded' });
    expect((await chat(a, secret, 'bob')).status).toBe(200);
    expect((await chat(b, secret, 'carol')).status).toBe(200);
    for (const user of ['u-1', 'u-2', 'u-3']) expect(await chat(a, secret, user)).toMatchObject({ status: 429, code: 'rate_limit_exceeded' });
  });

  it('x-ratelimit-* headers name the limit that binds first: the end user\'s or the key\'s', async () => {
    const requests = async (secret: string, user: string | undefined): Promise<{ limit: string | null; remaining: string | null }> => {
      const { response } = await openai(a, secret)
        .chat.completions.create({ model: 'fast', max_tokens: 10, messages: [{ role: 'user', content: 'hi' }], ...(user !== undefined ? { user } : {}) })
        .withResponse();
      return { limit: response.headers.get('x-ratelimit-limit-requests'), remaining: response.headers.get('x-ratelimit-remaining-requests') };
    };
    // Only end users are limited: their limit, and none for a call that names no one.
    const perUser = (await createKey({ user_rpm: 3 })).secret;
    expect(await requests(perUser, 'alice')).toEqual({ limit: '3', remaining: '2' });
    expect(await requests(perUser, undefined)).toEqual({ limit: null, remaining: null });
    // Both: whichever has fewer requests left.
    const both = (await createKey({ rpm: 6, user_rpm: 2 })).secret;
    expect(await requests(both, 'alice')).toEqual({ limit: '2', remaining: '1' });
    expect(await requests(both, 'alice')).toEqual({ limit: '2', remaining: '0' });
    expect(await requests(both, undefined)).toEqual({ limit: '6', remaining: '3' });
    expect(await requests(both, undefined)).toEqual({ limit: '6', remaining: '2' });
    expect(await requests(both, 'bob')).toEqual({ limit: '6', remaining: '1' });
  });

  it('Anthropic metadata.user_id names the end user; refusals in the Anthropic shape', async () => {
    const { secret } = await createKey({ user_rpm: 1 });
    expect((await messages(secret, 'carol')).status).toBe(200);
    const refused = await messages(secret, 'carol');
    expect(refused).toMatchObject({ status: 429, code: 'error', type: 'rate_limit_error' });
    expect(Number(refused.retryAfter)).toBeGreaterThanOrEqual(1);
    expect((await messages(secret, 'dave')).status).toBe(200);
  });

  it('user_budget: alice over it is refused while bob is not; it settles to the real cost; the listing shows both', async () => {
    // Each call costs $0.005; max_tokens 10 reserves $0.01, max_tokens 5 reserves $0.005.
    const { key, secret } = await createKey({ team: 'red', budget_usd: 1, user_budget_usd: 0.014, user_budget_period: 'daily' });
    expect((await chat(a, secret, 'alice')).status).toBe(200);
    const over = await chat(b, secret, 'alice');
    expect(over).toMatchObject({ status: 429, code: 'user_budget_exceeded', type: 'budget_exceeded' });
    expect(Number(over.retryAfter)).toBeGreaterThanOrEqual(1);
    expect((await chat(b, secret, 'bob')).status).toBe(200);
    // $0.005 spent + $0.005 reserved fits $0.014 only if the first call settled at its real $0.005.
    expect((await chat(a, secret, 'alice', 5)).status).toBe(200);
    expect(await chat(b, secret, 'alice', 5)).toMatchObject({ status: 429, code: 'user_budget_exceeded' });

    const listing = await listingWhen(b, key.id, (l) => l.data.length === 2 && l.data[0]!.calls === 2 && near(l.data[0]!.remaining_usd, 0.004));
    expect(listing).toMatchObject({ period: 'daily', user_budget_usd: 0.014 });
    expect(listing.data.map((u) => u.user)).toEqual(['alice', 'bob']);
    expect(listing.data[0]!.spent_usd).toBeCloseTo(0.01, 9);
    expect(listing.data[0]!.remaining_usd).toBeCloseTo(0.004, 9);
    expect(listing.data[1]!.spent_usd).toBeCloseTo(0.005, 9);
    // The key's own budget state does not list its end users.
    const one = (await (await admin(a, 'GET', `/admin/keys/${key.id}`)).json()) as { budgets: { scope: string }[] };
    expect(one.budgets.map((s) => s.scope)).toEqual(['key']);

    const top = (await (await admin(a, 'GET', `/admin/keys/${key.id}/users?limit=1`)).json()) as Listing;
    expect(top.data).toHaveLength(1);
    expect(top.data.map((u) => u.user)).toEqual(['alice']);
    const bad = await admin(a, 'GET', `/admin/keys/${key.id}/users?limti=1`);
    expect(bad.status).toBe(400);
    expect(((await bad.json()) as { error: { code: string } }).error.code).toBe('invalid_query_parameter');
    expect((await admin(a, 'GET', `/admin/keys/${key.id}/users?limit=0`)).status).toBe(400);
    // Team scope: a blue reader does not see red's key; a red one does.
    const token = async (teams: string[]): Promise<string> => {
      const r = await admin(a, 'POST', '/admin/tokens', { name: `viewer-${teams.join('-')}-${randomUUID().slice(0, 6)}`, role: 'viewer', teams });
      expect(r.status).toBe(201);
      return ((await r.json()) as { secret: string }).secret;
    };
    expect((await admin(a, 'GET', `/admin/keys/${key.id}/users`, undefined, await token(['blue']))).status).toBe(404);
    expect((await admin(a, 'GET', `/admin/keys/${key.id}/users`, undefined, await token(['red']))).status).toBe(200);
  });

  it('a stream the client leaves settles the end user budget from the text delivered', async () => {
    // max_tokens 100 reserves $0.10; the whole reply would cost ~$0.065, the piece or two delivered far less.
    const { key, secret } = await createKey({ user_budget_usd: 0.145 });
    await leaveStream(secret, 'frank', 1);
    const [left] = await recorded(key.id, 1);
    expect(left).toMatchObject({ user: 'frank', outcome: 'client_aborted' });
    expect(left!.cost_usd).toBeGreaterThan(0);
    expect(left!.cost_usd).toBeLessThan(0.045);
    // Had it kept its $0.10 (or been charged the whole $0.065 reply), a second $0.10 would not fit
    // the $0.145; settled to the text delivered, it does.
    await leaveStream(secret, 'frank', 1);
    const rows = await recorded(key.id, 2);
    expect(rows.map((r) => r.outcome)).toEqual(['client_aborted', 'client_aborted']);
    const spent = rows.reduce((t, r) => t + (r.cost_usd ?? 0), 0);
    const l = await listingWhen(b, key.id, (x) => x.data[0]?.calls === 2 && near(x.data[0].remaining_usd, 0.145 - spent));
    expect(l.data[0]).toMatchObject({ user: 'frank' });
    expect(l.data[0]!.spent_usd).toBeCloseTo(spent, 9);
  });

  it('require_user: a call naming no end user is refused 400 user_required (OpenAI and Anthropic shapes)', async () => {
    const { secret } = await createKey({ require_user: true });
    expect(await chat(a, secret, undefined)).toMatchObject({ status: 400, code: 'user_required', type: 'invalid_request_error' });
    expect((await chat(a, secret, 'erin')).status).toBe(200);
    expect((await chat(a, secret, undefined, 10, { 'x-gatelog-user': 'erin' })).status).toBe(200);
    expect(await messages(secret, undefined)).toMatchObject({ status: 400, type: 'invalid_request_error' });
    expect((await messages(secret, 'erin')).status).toBe(200);
  });
});

describe('key fields', () => {
  it('bad values are 400 naming the field', async () => {
    for (const [fields, name] of [
      [{ user_rpm: 0 }, 'user_rpm'],
      [{ user_tpm: 'lots' }, 'user_tpm'],
      [{ user_budget_usd: -1 }, 'user_budget_usd'],
      [{ user_budget_period: 'hourly' }, 'user_budget_period'],
      [{ require_user: 'maybe' }, 'require_user'],
    ] as const) {
      const r = await admin(a, 'POST', '/admin/keys', { name: 'bad', ...fields });
      expect(r.status).toBe(400);
      const e = ((await r.json()) as { error: { code: string; message: string } }).error;
      expect(e.code).toBe('invalid_key_fields');
      expect(e.message).toContain(name);
    }
    const { key } = await createKey({});
    const r = await admin(a, 'PATCH', `/admin/keys/${key.id}`, { user_budget_usd: 'free' });
    expect(r.status).toBe(400);
    expect(((await r.json()) as { error: { message: string } }).error.message).toContain('user_budget_usd');
  });

  it('the CLI sets them and `keys show --json` / `list --json` show them', async () => {
    let out = '';
    const io = { out: (s: string) => void (out += s), env: { GATELOG_MASTER_KEY: MASTER }, fetch };
    const name = `cli-${randomUUID().slice(0, 8)}`;
    expect(await runKeysCli(['create', '--name', name, '--user-rpm', '3', '--user-tpm', '900', '--user-budget', '0.5', '--user-period', 'weekly', '--require-user', '--url', a.url, '--json'], io)).toBe(0);
    const id = (JSON.parse(out) as Created).key.id;
    out = '';
    expect(await runKeysCli(['update', id, '--user-rpm', 'none', '--url', a.url, '--json'], io)).toBe(0);
    out = '';
    expect(await runKeysCli(['show', id, '--url', b.url, '--json'], io)).toBe(0);
    expect((JSON.parse(out) as { key: unknown }).key).toMatchObject({ user_rpm: null, user_tpm: 900, user_budget_usd: 0.5, user_budget_period: 'weekly', require_user: true });
    out = '';
    expect(await runKeysCli(['list', '--url', a.url, '--json'], io)).toBe(0);
    expect((JSON.parse(out) as { data: { id: string; user_tpm: number }[] }).data.find((k) => k.id === id)).toMatchObject({ user_tpm: 900 });
    out = '';
    expect(await runKeysCli(['show', id, '--url', a.url], io)).toBe(0);
    expect(out).toContain('user-budget $0.5/weekly');
    expect(out).toContain('requires-user');
  });
});

/** Every key in the test's Redis (SCAN through redis-cli's protocol: a raw RESP client). */
async function redisKeys(): Promise<string[]> {
  const { createConnection } = await import('node:net');
  const port = Number(new URL(redis.url).port);
  return new Promise((resolve, reject) => {
    const sock = createConnection({ host: '127.0.0.1', port }, () => sock.write('*2\r\n$4\r\nKEYS\r\n$1\r\n*\r\n'));
    let buf = '';
    sock.on('data', (d) => {
      buf += d.toString('utf8');
      const m = /^\*(\d+)\r\n/.exec(buf);
      if (!m) return;
      const lines = buf.split('\r\n');
      const n = Number(m[1]);
      if (lines.length < 2 + 2 * n) return;
      sock.end();
      resolve(Array.from({ length: n }, (_, i) => lines[2 + 2 * i]!));
    });
    sock.on('error', reject);
  });
}
