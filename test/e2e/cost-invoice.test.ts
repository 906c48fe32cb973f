// Cost that matches the invoice. A fixture day of traffic through a real `gatelog start` with the
// real SDKs — Anthropic passthrough (plain, streamed, aborted mid-stream), OpenAI-SDK calls
// translated to Anthropic (plain and streamed), OpenAI calls that fall back from a failing
// deployment — with cache reads, 5-minute and 1-hour cache writes, and reasoning tokens. The
// expected cost is computed here from each fake upstream's own usage report and the published
// per-token prices written below (never gatelog's cost function); per day × model the stored
// cost must be within ±0.5%, and no billed call may have a null or $0 cost.
// Then `gatelog reprice` after a custom price changes in config: row costs, rollups (what the
// spend views read) and the audit trail follow.
import { execFile } from 'node:child_process';
import { join } from 'node:path';
import { promisify } from 'node:util';
import Anthropic from '@anthropic-ai/sdk';
import OpenAI from 'openai';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { StorageConfig, openStore, repricedSummary } from '@gatelog/core';
import { spendTop } from '@gatelog/core/store/dashboard-queries';
import { startFakeAnthropic, type FakeAnthropic, type FakeAnthropicUsage } from '../support/fake-anthropic.ts';
import { startFakeOpenAi, type FakeOpenAi, type FakeUsage } from '../support/fake-openai.ts';
import { ROOT, startGatelog, type GatelogProcess } from '../support/gatelog-process.ts';

const run = promisify(execFile);
const MASTER = 'gl-master-cost-invoice-0123456789';
const auth = { authorization: `Bearer ${MASTER}` };
const tag = crypto.randomUUID().slice(0, 8);

/** Published prices, USD per million tokens (anthropic.com/pricing, openai.com/api/pricing). */
interface Price { input: number; cache_read: number; cache_write_5m: number; cache_write_1h: number; output: number }
const PRICES = {
  'claude-sonnet-4-5': { input: 3, cache_read: 0.3, cache_write_5m: 3.75, cache_write_1h: 6, output: 15 },
  'gpt-4o-mini': { input: 0.15, cache_read: 0.075, cache_write_5m: 0, cache_write_1h: 0, output: 0.6 },
} satisfies Record<string, Price>;
type Model = keyof typeof PRICES;

let ant: FakeAnthropic;
let oai: FakeOpenAi;
let down: FakeOpenAi;
let gl: GatelogProcess;

const config = (pricing: object[] = []): object => ({
  providers: {
    ant: { kind: 'anthropic', base_url: ant.url, api_key: 'sk-ant-upstream' },
    oai: { kind: 'openai', base_url: oai.baseUrl, api_key: 'sk-oai-upstream' },
    down: { kind: 'openai', base_url: down.baseUrl, api_key: 'sk-down-upstream' },
  },
  models: [
    { name: 'claude', deployments: [{ provider: 'ant', model: 'claude-sonnet-4-5' }] },
    { name: 'mini', deployments: [{ provider: 'down', model: 'gpt-4o-mini' }], fallbacks: ['mini-backup'] },
    { name: 'mini-backup', deployments: [{ provider: 'oai', model: 'gpt-4o-mini' }] },
  ],
  router: { retries: 0 },
  ingest: { batch_rows: 100, batch_ms: 100 },
  pricing,
});

// Anthropic usage as the fake reports it: input_tokens excludes cache reads and writes.
const ANT_USAGE: Record<string, FakeAnthropicUsage> = {
  write5m: { input_tokens: 1200, output_tokens: 340, cache_read_input_tokens: 0, cache_creation_input_tokens: 6000, cache_creation: { ephemeral_5m_input_tokens: 6000, ephemeral_1h_input_tokens: 0 } },
  read: { input_tokens: 800, output_tokens: 500, cache_read_input_tokens: 6000, cache_creation_input_tokens: 0, cache_creation: { ephemeral_5m_input_tokens: 0, ephemeral_1h_input_tokens: 0 } },
  both: { input_tokens: 150, output_tokens: 90, cache_read_input_tokens: 2000, cache_creation_input_tokens: 9000, cache_creation: { ephemeral_5m_input_tokens: 1000, ephemeral_1h_input_tokens: 8000 } },
  write1h: { input_tokens: 40, output_tokens: 1200, cache_read_input_tokens: 0, cache_creation_input_tokens: 12000, cache_creation: { ephemeral_5m_input_tokens: 0, ephemeral_1h_input_tokens: 12000 } },
};
const OAI_USAGE: Record<string, FakeUsage> = {
  cached: { prompt_tokens: 3000, completion_tokens: 400, cached_tokens: 2048, reasoning_tokens: 0 },
  reasoning: { prompt_tokens: 1500, completion_tokens: 700, cached_tokens: 0, reasoning_tokens: 300 },
  plain: { prompt_tokens: 500, completion_tokens: 50, cached_tokens: 0, reasoning_tokens: 0 },
};

/** Every call of the fixture day: its marker (in the prompt and the trace id) and what it is. */
const calls: { marker: string; model: Model; kind: string }[] = [];
const mark = (model: Model, kind: string): string => {
  const marker = `fx-${tag}-${calls.length}`;
  calls.push({ marker, model, kind });
  return marker;
};

async function fixtureDay(): Promise<void> {
  const ac = new Anthropic({ baseURL: gl.url, apiKey: MASTER, maxRetries: 0 });
  const oc = new OpenAI({ baseURL: `${gl.url}/v1`, apiKey: MASTER, maxRetries: 0 });
  const trace = (m: string): { headers: Record<string, string> } => ({ headers: { 'x-gatelog-trace-id': m } });
  const antMsg = (m: string) => ({ model: 'claude', max_tokens: 1024, messages: [{ role: 'user' as const, content: `call ${m}` }] });

  // Anthropic passthrough: plain and streamed, each cache kind.
  for (const [name, u] of Object.entries(ANT_USAGE)) {
    ant.behave({ usage: u });
    const m1 = mark('claude-sonnet-4-5', `anthropic ${name}`);
    await ac.messages.create(antMsg(m1), trace(m1));
    const m2 = mark('claude-sonnet-4-5', `anthropic stream ${name}`);
    const s = await ac.messages.create({ ...antMsg(m2), stream: true }, trace(m2));
    for await (const ev of s) void ev;
  }
  // Aborted mid-stream: the caller leaves after the first text; Anthropic had reported the
  // prompt (and the cache write) in message_start, which is what it bills.
  ant.behave({ usage: ANT_USAGE['both']!, frameDelayMs: 150, reply: 'a long answer that the caller will not wait for' });
  const ma = mark('claude-sonnet-4-5', 'anthropic stream aborted');
  const ctl = new AbortController();
  try {
    const s = await ac.messages.create({ ...antMsg(ma), stream: true }, { ...trace(ma), signal: ctl.signal });
    for await (const ev of s) if (ev.type === 'content_block_delta') ctl.abort();
  } catch {
    // the abort surfaces as an error in the SDK
  }
  // OpenAI SDK against the Anthropic deployment: translated both ways.
  ant.behave({ usage: ANT_USAGE['both']! });
  const mt1 = mark('claude-sonnet-4-5', 'translated');
  await oc.chat.completions.create({ model: 'claude', messages: [{ role: 'user', content: `call ${mt1}` }] }, trace(mt1));
  ant.behave({ usage: ANT_USAGE['write1h']! });
  const mt2 = mark('claude-sonnet-4-5', 'translated stream');
  const ts = await oc.chat.completions.create({ model: 'claude', stream: true, stream_options: { include_usage: true }, messages: [{ role: 'user', content: `call ${mt2}` }] }, trace(mt2));
  for await (const c of ts) void c;
  // OpenAI: every call falls back from `down` (500) to `oai`; cache reads and reasoning.
  down.behave({ error: { status: 500 } });
  for (const [name, u] of Object.entries(OAI_USAGE)) {
    oai.behave({ usage: u });
    const m1 = mark('gpt-4o-mini', `openai fallback ${name}`);
    await oc.chat.completions.create({ model: 'mini', messages: [{ role: 'user', content: `call ${m1}` }] }, trace(m1));
    const m2 = mark('gpt-4o-mini', `openai fallback stream ${name}`);
    const s = await oc.chat.completions.create({ model: 'mini', stream: true, messages: [{ role: 'user', content: `call ${m2}` }] }, trace(m2));
    for await (const c of s) void c;
  }
}

/** What the fake Anthropic reported for the call with `marker` (JSON body, or the SSE frames it wrote). */
function anthropicReport(marker: string): Record<string, unknown> | undefined {
  const req = ant.requests.find((r) => r.raw.includes(`call ${marker}`));
  if (!req) return undefined;
  if (!req.response.startsWith('event:')) return (JSON.parse(req.response) as { usage: Record<string, unknown> }).usage;
  const usage: Record<string, unknown> = {};
  for (const line of req.response.split('\n')) {
    if (!line.startsWith('data: ')) continue;
    const d = JSON.parse(line.slice(6)) as { type: string; message?: { usage?: Record<string, unknown> }; usage?: Record<string, unknown> };
    const u = d.type === 'message_start' ? d.message?.usage : d.type === 'message_delta' ? d.usage : undefined;
    for (const [k, v] of Object.entries(u ?? {})) if (v !== null) usage[k] = v;
  }
  return Object.keys(usage).length ? usage : undefined;
}

/** The provider-side cost of one call, from the upstream's own usage report. */
function providerCost(c: { marker: string; model: Model }, prices: Price = PRICES[c.model]): number | null {
  const n = (v: unknown): number => (typeof v === 'number' ? v : 0);
  if (c.model === 'claude-sonnet-4-5') {
    const u = anthropicReport(c.marker);
    if (!u) return null;
    const cc = (u['cache_creation'] ?? {}) as Record<string, unknown>;
    const w1h = n(cc['ephemeral_1h_input_tokens']);
    const w5m = n(u['cache_creation_input_tokens']) - w1h;
    return (n(u['input_tokens']) * prices.input + n(u['cache_read_input_tokens']) * prices.cache_read + w5m * prices.cache_write_5m + w1h * prices.cache_write_1h + n(u['output_tokens']) * prices.output) / 1e6;
  }
  const u = oai.requests.find((r) => r.raw.includes(`call ${c.marker}`))?.reported;
  if (!u) return null;
  const cached = n((u['prompt_tokens_details'] as Record<string, unknown> | undefined)?.['cached_tokens']);
  return ((n(u['prompt_tokens']) - cached) * prices.input + cached * prices.cache_read + n(u['completion_tokens']) * prices.output) / 1e6;
}

interface Row { request_id: string; trace_id: string; started_at: string; deployment_model: string; outcome: string; cost_usd: number | null; cache_write_5m_tokens?: number; cache_write_1h_tokens?: number; price_version?: string; repriced_at?: string | null }

async function storedRows(n: number): Promise<Map<string, Row>> {
  const t0 = Date.now();
  for (;;) {
    const list = (await (await fetch(`${gl.url}/admin/calls?limit=500`, { headers: auth })).json()) as { data: { request_id: string }[] };
    if (list.data.length >= n) {
      const rows = await Promise.all(list.data.map(async (c) => (await (await fetch(`${gl.url}/admin/calls/${c.request_id}`, { headers: auth })).json()) as Row));
      return new Map(rows.map((r) => [r.trace_id, r]));
    }
    if (Date.now() - t0 > 30_000) throw new Error(`only ${list.data.length} of ${n} calls stored`);
    await new Promise((r) => setTimeout(r, 200));
  }
}

const day = (startedAt: string): string => startedAt.slice(0, 10);

/** Per day × model: [stored, provider-side]. */
function totals(rows: Map<string, Row>, prices?: (m: Model) => Price): Map<string, [number, number]> {
  const out = new Map<string, [number, number]>();
  for (const c of calls) {
    const row = rows.get(c.marker)!;
    const k = `${day(row.started_at)} ${c.model}`;
    const t = out.get(k) ?? [0, 0];
    t[0] += row.cost_usd ?? 0;
    t[1] += providerCost(c, prices?.(c.model)) ?? 0;
    out.set(k, t);
  }
  return out;
}

async function spendByModel(from: string, to: string): Promise<Record<string, number>> {
  const store = await openStore(StorageConfig.parse({}), gl.dataDir);
  try {
    const top = await spendTop(store, { from, to, by: 'model' });
    return Object.fromEntries(top.map((t) => [t.grp, t.cost_usd]));
  } finally {
    await store.close();
  }
}

let rows: Map<string, Row>;

beforeAll(async () => {
  [ant, oai, down] = await Promise.all([startFakeAnthropic(), startFakeOpenAi(), startFakeOpenAi()]);
  gl = await startGatelog({ config: config(), env: { GATELOG_MASTER_KEY: MASTER } });
  await fixtureDay();
  rows = await storedRows(calls.length);
}, 180_000);

afterAll(async () => {
  await gl?.stop();
  await Promise.all([ant?.close(), oai?.close(), down?.close()]);
});

describe('cost matches the invoice', () => {
  it('every call is stored; every billed call has a cost; per day × model within ±0.5% of the provider-side cost', () => {
    expect(rows.size).toBe(calls.length);
    // The failing deployment was tried (until its cooldown), and every OpenAI answer came from the fallback.
    expect(down.requests.length).toBeGreaterThan(0);
    expect(oai.requests.filter((r) => r.reported).length).toBe(6);
    const billed = calls.filter((c) => providerCost(c) !== null);
    expect(billed.length).toBe(calls.length); // the aborted stream was billed its prompt too
    for (const c of billed) {
      const r = rows.get(c.marker)!;
      expect(r.cost_usd, `${c.kind} cost`).not.toBeNull();
      expect(r.cost_usd, `${c.kind} cost`).toBeGreaterThan(0);
    }
    const t = totals(rows);
    expect([...t.keys()].some((k) => k.endsWith('claude-sonnet-4-5')) && [...t.keys()].some((k) => k.endsWith('gpt-4o-mini'))).toBe(true);
    for (const [k, [stored, provider]] of t) {
      expect(Math.abs(stored - provider) / provider, `${k}: stored ${stored} vs provider ${provider}`).toBeLessThanOrEqual(0.005);
    }
  });

  it('keeps 5-minute and 1-hour cache writes apart, translated calls too, and names the price table', () => {
    const byKind = (kind: string): Row => rows.get(calls.find((c) => c.kind === kind)!.marker)!;
    expect(byKind('anthropic both')).toMatchObject({ cache_write_5m_tokens: 1000, cache_write_1h_tokens: 8000 });
    expect(byKind('anthropic stream both')).toMatchObject({ cache_write_5m_tokens: 1000, cache_write_1h_tokens: 8000 });
    expect(byKind('translated')).toMatchObject({ cache_write_5m_tokens: 1000, cache_write_1h_tokens: 8000 });
    expect(byKind('translated stream')).toMatchObject({ cache_write_5m_tokens: 0, cache_write_1h_tokens: 12000 });
    for (const r of rows.values()) expect(r.price_version).toMatch(/^genai-prices@\d+\.\d+\.\d+$/);
  });
});

describe('gatelog reprice', () => {
  it('a changed custom price reprices rows, rollups and audit', async () => {
    const dayStart = `${day([...rows.values()][0]!.started_at)}T00:00:00.000Z`;
    const dayEnd = new Date(Date.parse(dayStart) + 2 * 86_400_000).toISOString();
    await gl.stop();
    const before = await spendByModel(dayStart, dayEnd);
    expect(before['claude']).toBeGreaterThan(0);
    // The price of claude-sonnet-4-5 on `ant` doubles in config.
    const doubled: Price = { input: 6, cache_read: 0.6, cache_write_5m: 7.5, cache_write_1h: 12, output: 30 };
    gl = await startGatelog({
      dataDir: gl.dataDir,
      config: config([{ provider: 'ant', model: 'claude-sonnet-4-5', input: 6, output: 30, cached_input: 0.6, cache_write: 7.5, cache_write_1h: 12 }]),
      env: { GATELOG_MASTER_KEY: MASTER },
    });
    const cli = await run(process.execPath, ['--disable-warning=ExperimentalWarning', join(ROOT, 'src', 'cli.ts'), 'reprice', '--from', dayStart.slice(0, 10), '--to', dayEnd.slice(0, 10), '--model', 'claude-sonnet-4-5', '--url', gl.url, '--json'],
      { env: { ...process.env, GATELOG_MASTER_KEY: MASTER } });
    const receipt = JSON.parse(cli.stdout) as { rows: number; changed: number; before_usd: number; after_usd: number; price_version: string };
    const claudeCalls = calls.filter((c) => c.model === 'claude-sonnet-4-5');
    expect(receipt).toMatchObject({ rows: claudeCalls.length, changed: claudeCalls.length, price_version: expect.stringMatching(/^genai-prices@[\d.]+\+custom:[0-9a-f]{12}$/) });
    expect(receipt.after_usd / receipt.before_usd).toBeCloseTo(2, 2);

    const after = await storedRows(calls.length);
    const t = totals(after, (m) => (m === 'claude-sonnet-4-5' ? doubled : PRICES[m]));
    for (const [k, [stored, provider]] of t) expect(Math.abs(stored - provider) / provider, k).toBeLessThanOrEqual(0.005);
    for (const c of calls) {
      const r = after.get(c.marker)!;
      if (c.model === 'claude-sonnet-4-5') expect(r).toMatchObject({ price_version: receipt.price_version, repriced_at: expect.any(String) });
      else expect(r).toMatchObject({ cost_usd: rows.get(c.marker)!.cost_usd, repriced_at: null });
    }
    // One audit row with the request and the receipt.
    const audit = (await (await fetch(`${gl.url}/admin/audit?action=calls.reprice`, { headers: auth })).json()) as { data: { action: string; actor: string; details: string }[] };
    expect(audit.data).toHaveLength(1);
    expect(audit.data[0]).toMatchObject({ action: 'calls.reprice', actor: 'master' });
    expect(JSON.stringify(audit.data[0]!.details)).toContain(receipt.price_version);
    // An admin (not owner) token, and a bad range, are refused in the admin API's error shape.
    const tok = (await (await fetch(`${gl.url}/admin/tokens`, { method: 'POST', headers: { ...auth, 'content-type': 'application/json' }, body: JSON.stringify({ name: `ops-${tag}`, role: 'admin' }) })).json()) as { secret: string };
    const asAdmin = await fetch(`${gl.url}/admin/reprice`, { method: 'POST', headers: { authorization: `Bearer ${tok.secret}`, 'content-type': 'application/json' }, body: JSON.stringify({ from: dayStart, to: dayEnd }) });
    expect(asAdmin.status).toBe(403);
    expect(((await asAdmin.json()) as { error: { code: string } }).error.code).toBe('owner_only');
    const bad = await fetch(`${gl.url}/admin/reprice`, { method: 'POST', headers: { ...auth, 'content-type': 'application/json' }, body: JSON.stringify({ from: dayEnd, to: dayStart }) });
    expect(bad.status).toBe(400);
    expect(((await bad.json()) as { error: { code: string } }).error.code).toBe('invalid_reprice_request');

    // The spend page (served by the same process) says the range was repriced, with which prices.
    const signIn = await fetch(`${gl.url}/login`, {
      method: 'POST', redirect: 'manual', headers: { origin: gl.url, 'content-type': 'application/x-www-form-urlencoded' },
      body: new URLSearchParams({ key: MASTER, next: '/spend' }).toString(),
    });
    const cookie = signIn.headers.getSetCookie().map((c) => c.split(';')[0]).join('; ');
    expect(cookie).not.toBe('');
    const page = await (await fetch(`${gl.url}/spend?${new URLSearchParams({ from: dayStart, to: dayEnd }).toString()}`, { headers: { cookie } })).text();
    expect(page).toContain('data-testid="repriced"');
    expect(page).toContain(`${claudeCalls.length} calls in this range were repriced`);
    expect(page).toContain(receipt.price_version);

    // The spend views read the rollups: the claude total doubled, the others did not move, and they can say so.
    await gl.stop();
    const spend = await spendByModel(dayStart, dayEnd);
    expect(spend['claude']! / before['claude']!).toBeCloseTo(2, 2);
    expect(spend['claude']).toBeCloseTo(receipt.after_usd, 9);
    expect(spend['mini']).toBeCloseTo(before['mini']!, 12);
    const store = await openStore(StorageConfig.parse({}), gl.dataDir);
    try {
      expect(await repricedSummary(store, new Date(dayStart), new Date(dayEnd))).toMatchObject({ rows: claudeCalls.length, versions: [receipt.price_version] });
    } finally {
      await store.close();
    }
  }, 180_000);
});
