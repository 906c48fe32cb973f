// Repricing against a real chDB store: the rows' costs, the minute and hour rollups (what the
// spend views read) and the stamps all follow; rows outside the range or model stay as they were.
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { StorageConfig } from '../config.ts';
import { newRequestId } from '../ids.ts';
import type { LlmCallEvent } from '../event.ts';
import { openStore, type Store } from './client.ts';
import { migrate } from './migrate.ts';
import { spendTop } from './dashboard-queries.ts';
import { RepriceRequest, repriceCalls, repricedSummary, type RepriceRow } from './reprice.ts';

function ev(i: number, over: Partial<LlmCallEvent> = {}): LlmCallEvent {
  return {
    schema_version: 1, gatelog_version: 't', request_id: newRequestId(), started_at: new Date(Date.UTC(2026, 2, 1, 10 + Math.floor(i / 40), i % 40)).toISOString(),
    trace_id: '', session_id: '', user: '', tags: {}, key_id: 'k1', key_name: 'key-one', team: 'red',
    endpoint: '/v1/chat/completions', client_api: 'openai.chat', upstream_api: 'openai.chat',
    requested_model: i % 2 ? 'm-a' : 'm-b', provider: 'p1', deployment_model: i % 2 ? 'm-a' : 'm-b', upstream_model: '',
    stream: false, status: 200, outcome: 'success', error_type: '', error_message: '', finish_reason: 'stop',
    input_tokens: 1000 + i, output_tokens: 100, cached_tokens: 0, cache_creation_tokens: 0, reasoning_tokens: 0,
    tokens_estimated: false, cost_usd: 0.001, cache_hit: false, ttft_ms: null, latency_ms: 100, overhead_ms: 1,
    attempts: [], request_body: '{}', response_body: '{}', request_bytes: 2, response_bytes: 2, truncated: false,
    ...over,
  };
}

let dir: string;
let store: Store;
const rows: LlmCallEvent[] = [];
const RANGE = { from: '2026-03-01T00:00:00Z', to: '2026-03-02T00:00:00Z' };

async function costs(): Promise<Map<string, { cost: number | null; version: string; at: string | null }>> {
  const rs = await store.client.query({ query: `SELECT toString(request_id) AS id, cost_usd, price_version, repriced_at FROM ${store.database}.llm_calls FINAL`, format: 'JSONEachRow' });
  const out = new Map<string, { cost: number | null; version: string; at: string | null }>();
  for (const r of await rs.json<{ id: string; cost_usd: number | null; price_version: string; repriced_at: string | null }>()) out.set(r.id, { cost: r.cost_usd, version: r.price_version, at: r.repriced_at });
  return out;
}

const total = async (): Promise<{ cost: number; unpriced: number }> => {
  const t = await spendTop(store, { ...RANGE, by: 'team' });
  return { cost: t.reduce((s, r) => s + r.cost_usd, 0), unpriced: t.reduce((s, r) => s + r.unpriced, 0) };
};

beforeAll(async () => {
  dir = mkdtempSync(join(tmpdir(), 'gatelog-reprice-'));
  store = await openStore(StorageConfig.parse({}), dir);
  await migrate(store);
  for (let i = 0; i < 100; i++) rows.push(ev(i, i === 5 ? { cost_usd: null } : {}));
  rows.push(ev(0, { started_at: '2026-03-03T10:00:00.000Z', requested_model: 'm-a', deployment_model: 'm-a' })); // outside the range
  await store.insertRaw('llm_calls', Buffer.from(rows.map((r) => JSON.stringify(r)).join('\n')));
});

afterAll(async () => {
  await store?.close();
  if (dir) rmSync(dir, { recursive: true, force: true });
});

describe('repriceCalls', () => {
  it('rejects a range whose end is not after its start', () => {
    expect(RepriceRequest.safeParse({ from: '2026-03-02', to: '2026-03-01' }).success).toBe(false);
    expect(RepriceRequest.safeParse({ from: '2026-03-01', to: '2026-03-02', extra: 1 }).success).toBe(false);
  });

  it('rewrites costs of the model in range, stamps them, and moves the rollups by the difference', async () => {
    expect(await total()).toEqual({ cost: expect.closeTo(99 * 0.001, 9), unpriced: 1 });
    // m-a at $2/M input and $10/M output; row 7 (m-a) has no price any more.
    const price = (r: RepriceRow): number | null => (r.request_id === rows[7]!.request_id ? null : (r.input_tokens * 2 + r.output_tokens * 10) / 1e6);
    const receipt = await repriceCalls(store, { ...RANGE, model: 'm-a' }, price, 'genai-prices@test+custom:abc', new Date('2026-03-05T00:00:00Z'));
    const ma = rows.slice(0, 100).filter((_, i) => i % 2 === 1);
    const expected = ma.reduce((s, r) => s + (r.request_id === rows[7]!.request_id ? 0 : (r.input_tokens * 2 + r.output_tokens * 10) / 1e6), 0);
    expect(receipt).toMatchObject({ rows: 50, changed: 50, unpriced: 1, price_version: 'genai-prices@test+custom:abc', after_usd: expect.closeTo(expected, 9) });
    const after = await costs();
    for (const [i, r] of rows.entries()) {
      const got = after.get(r.request_id)!;
      if (i < 100 && i % 2 === 1) {
        expect(got.version).toBe('genai-prices@test+custom:abc');
        expect(got.at).toMatch(/^2026-03-05 00:00:00/);
      } else {
        expect(got).toEqual({ cost: r.cost_usd, version: '', at: null });
      }
    }
    // m-b: 50 at 0.001; m-a: the new prices, row 5 priced now (its bucket's unpriced count goes
    // down: a negative difference) and row 7 unpriced now.
    expect(await total()).toEqual({ cost: expect.closeTo(50 * 0.001 + expected, 9), unpriced: 1 });
    // Hour rows (from llm_calls_1h) and minute rows agree: a 30-minute bucket reads minutes only.
    const byModel = await spendTop(store, { ...RANGE, by: 'model' });
    expect(byModel.find((r) => r.grp === 'm-a')).toMatchObject({ cost_usd: expect.closeTo(expected, 9), calls: 50, unpriced: 1 });
    expect(await repricedSummary(store, new Date(RANGE.from), new Date(RANGE.to))).toEqual({ rows: 50, last: expect.stringMatching(/^2026-03-05/), versions: ['genai-prices@test+custom:abc'] });
  });

  it('repricing again with the same prices changes nothing but the stamps', async () => {
    const price = (r: RepriceRow): number | null => (r.request_id === rows[7]!.request_id ? null : (r.input_tokens * 2 + r.output_tokens * 10) / 1e6);
    const before = await total();
    const receipt = await repriceCalls(store, { ...RANGE, model: 'm-a' }, price, 'v2');
    expect(receipt).toMatchObject({ rows: 50, changed: 0, buckets: 0 });
    expect(await total()).toEqual({ cost: expect.closeTo(before.cost, 12), unpriced: before.unpriced });
  });
});
