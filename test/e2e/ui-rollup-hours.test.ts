// The dashboards read whole hours from llm_calls_1h (migration 0007, fed by a view cascaded
// from the minute rollup) and the partial hours at a range's ends from llm_calls_1m: totals
// and hourly series must equal what the seeded rows say, whatever the range's edges.
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { migrate, newRequestId, openStore, StorageConfig, type LlmCallEvent, type Store } from '@gatelog/core';
import { latencySeries, latencyTotals, spendSeries, spendTop } from '../../core/src/store/dashboard-queries.ts';

const T0 = Date.UTC(2026, 2, 1, 10, 17, 0);
const rows: LlmCallEvent[] = Array.from({ length: 600 }, (_, i) => ({
  schema_version: 1, gatelog_version: 't', request_id: newRequestId(),
  // every 29 s from 10:17: about five hours, crossing hour boundaries at odd minutes
  started_at: new Date(T0 + i * 29_000).toISOString(),
  trace_id: '', session_id: '', user: '', tags: {}, key_id: `k${i % 3}`, key_name: `key-${i % 3}`, team: i % 2 ? 'red' : 'blue',
  endpoint: '/v1/chat/completions', client_api: 'openai.chat', upstream_api: 'openai.chat',
  requested_model: i % 4 === 0 ? 'm-b' : 'm-a', provider: i % 4 === 0 ? 'p2' : 'p1', deployment_model: 'm', upstream_model: 'm',
  stream: i % 2 === 0, status: i % 25 === 0 ? 500 : 200, outcome: i % 25 === 0 ? 'error' : 'success', error_type: '', error_message: '',
  finish_reason: 'stop', input_tokens: 10 + i, output_tokens: 5, cached_tokens: 0, cache_creation_tokens: 0, reasoning_tokens: 0,
  tokens_estimated: false, cost_usd: 0.001 * (1 + (i % 7)), cache_hit: false, ttft_ms: i % 2 === 0 ? 20 + (i % 30) : null,
  latency_ms: 100 + ((i * 37) % 400), overhead_ms: 1, attempts: [], request_body: '{}', response_body: '{}',
  request_bytes: 2, response_bytes: 2, truncated: false,
}));

let dir: string;
let store: Store;
beforeAll(async () => {
  dir = mkdtempSync(join(tmpdir(), 'gatelog-rollup-hours-'));
  store = await openStore(StorageConfig.parse({}), dir);
  await migrate(store);
  // Two inserts, so the hourly view aggregates each insert's minute rows on its own.
  for (const part of [rows.slice(0, 250), rows.slice(250)]) await store.insertRaw('llm_calls', Buffer.from(part.map((r) => JSON.stringify(r)).join('\n')));
});
afterAll(async () => {
  await store?.close();
  if (dir) rmSync(dir, { recursive: true, force: true });
});

const within = (from: number, to: number): LlmCallEvent[] => rows.filter((r) => Date.parse(r.started_at) >= from && Date.parse(r.started_at) < to);
const sum = (rs: LlmCallEvent[], f: (r: LlmCallEvent) => number): number => rs.reduce((a, r) => a + f(r), 0);

describe('dashboards over hourly and minute rollups', () => {
  it('fills both hourly rollups through the cascaded views', async () => {
    const rs = await store.client.query({ query: `SELECT sum(calls) AS n, count() AS hours FROM ${store.database}.llm_calls_1h UNION ALL SELECT sum(calls), count() FROM ${store.database}.llm_calls_latency_1h`, format: 'JSONEachRow' });
    const both = (await rs.json()) as { n: string; hours: string }[];
    expect(both.length).toBe(2);
    for (const r of both) {
      expect(Number(r.n)).toBe(rows.length);
      expect(Number(r.hours)).toBeGreaterThan(0);
    }
  });

  it('totals over a range with partial hours at both ends equal the seeded rows', async () => {
    const from = Date.UTC(2026, 2, 1, 10, 41, 30);
    const to = Date.UTC(2026, 2, 1, 14, 9, 0);
    const top = await spendTop(store, { from: new Date(from).toISOString(), to: new Date(to).toISOString(), by: 'model', limit: 10 });
    // The rollups work per minute: a range starting mid-minute counts that whole minute.
    const expected = within(Math.floor(from / 60_000) * 60_000, to);
    for (const model of ['m-a', 'm-b']) {
      const mine = expected.filter((r) => r.requested_model === model);
      const got = top.find((t) => t.grp === model);
      expect(got?.calls).toBe(mine.length);
      expect(got?.errors).toBe(mine.filter((r) => r.status >= 400).length);
      expect(got?.cost_usd).toBeCloseTo(sum(mine, (r) => r.cost_usd ?? 0), 9);
      expect(got?.input_tokens).toBe(sum(mine, (r) => r.input_tokens));
    }
    const lat = await latencyTotals(store, { from: new Date(from).toISOString(), to: new Date(to).toISOString(), by: 'provider' });
    expect(lat.find((l) => l.grp === 'p1')?.calls).toBe(expected.filter((r) => r.provider === 'p1').length);
    const sorted = expected.filter((r) => r.provider === 'p1').map((r) => r.latency_ms).sort((a, b) => a - b);
    expect(Math.abs((lat.find((l) => l.grp === 'p1')?.latency[0] ?? 0) - sorted[Math.floor(sorted.length / 2)]!)).toBeLessThan(15);
  });

  it('hourly series (from llm_calls_1h inside, llm_calls_1m at the ends) match per bucket', async () => {
    const from = Date.UTC(2026, 2, 1, 10, 0, 0);
    const to = Date.UTC(2026, 2, 1, 15, 30, 0);
    const points = await spendSeries(store, { from: new Date(from).toISOString(), to: new Date(to).toISOString(), bucketSeconds: 3600, by: 'team' });
    for (let h = from; h < to; h += 3_600_000) {
      for (const team of ['red', 'blue']) {
        const mine = within(h, Math.min(h + 3_600_000, to)).filter((r) => r.team === team);
        const got = points.find((p) => Date.parse(p.bucket) === h && p.grp === team);
        expect(got?.calls ?? 0).toBe(mine.length);
        expect(got?.cost_usd ?? 0).toBeCloseTo(sum(mine, (r) => r.cost_usd ?? 0), 9);
      }
    }
    const lat = await latencySeries(store, { from: new Date(from).toISOString(), to: new Date(to).toISOString(), bucketSeconds: 3600, by: 'model' });
    expect(sum(rows, () => 1)).toBe(lat.reduce((a, p) => a + p.calls, 0));
  });
});
