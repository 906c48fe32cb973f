// Rollups (migration 0003), the explorer, thread and export queries against a real chDB
// store seeded by this test; expected values are computed here from the seeded rows.
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { StorageConfig } from '../config.ts';
import type { LlmCallEvent } from '../event.ts';
import { testEvent } from './test-event.ts';
import { openStore, type Store } from './client.ts';
import { migrate } from './migrate.ts';
import { latencyTotals, spendSeries, spendTop } from './dashboard-queries.ts';
import { callsInThread, listExplorer } from './explorer-queries.ts';
import { exportPages } from './export-queries.ts';
import { likeContains } from './call-filter.ts';

const ev = testEvent;

let dir: string;
let store: Store;
const rows: LlmCallEvent[] = [];

beforeAll(async () => {
  dir = mkdtempSync(join(tmpdir(), 'gatelog-rollups-'));
  store = await openStore(StorageConfig.parse({}), dir);
  await migrate(store);
  for (let i = 0; i < 120; i++) {
    rows.push(ev({
      started_at: new Date(Date.UTC(2026, 2, 1, 10, Math.floor(i / 10), i % 10)).toISOString(),
      requested_model: i % 3 === 0 ? 'm-b' : 'm-a',
      provider: i % 3 === 0 ? 'p2' : 'p1',
      latency_ms: 50 + ((i * 37) % 200),
      ttft_ms: i % 2 ? 10 + (i % 40) : null,
      stream: i % 2 === 1,
      status: i % 12 === 0 ? 500 : 200,
      cost_usd: i === 7 ? null : 0.001 * (1 + (i % 5)),
      trace_id: i < 4 ? 'trace-x' : '',
      tags: i % 4 === 0 ? { env: 'prod' } : {},
      request_body: JSON.stringify({ messages: [{ role: 'user', content: i === 42 ? 'needle 100%_match' : `hay ${i}` }] }),
      team: i % 2 ? 'red' : 'blue',
    }));
  }
  await store.insertRaw('llm_calls', Buffer.from(rows.map((r) => JSON.stringify(r)).join('\n')));
});

afterAll(async () => {
  await store?.close();
  if (dir) rmSync(dir, { recursive: true, force: true });
});

const range = { from: '2026-03-01T00:00:00.000Z', to: '2026-03-02T00:00:00.000Z' };

describe('rollups', () => {
  it('sum cost and calls by model per bucket, matching the raw rows', async () => {
    const series = await spendSeries(store, { ...range, bucketSeconds: 3600, by: 'model' });
    for (const m of ['m-a', 'm-b']) {
      const mine = rows.filter((r) => r.requested_model === m);
      const point = series.find((p) => p.grp === m);
      expect(point?.calls).toBe(mine.length);
      expect(point?.cost_usd).toBeCloseTo(mine.reduce((s, r) => s + (r.cost_usd ?? 0), 0), 9);
    }
    const top = await spendTop(store, { ...range, by: 'team' });
    expect(top.map((t) => t.grp).sort()).toEqual(['blue', 'red']);
    expect(top.reduce((s, t) => s + t.unpriced, 0)).toBe(1);
  });

  it('merge latency percentiles close to the exact ones, and count errors', async () => {
    const totals = await latencyTotals(store, { ...range, by: 'provider' });
    const p1 = rows.filter((r) => r.provider === 'p1').map((r) => r.latency_ms).sort((a, b) => a - b);
    const exact = (q: number): number => p1[Math.min(p1.length - 1, Math.floor(q * p1.length))]!;
    const t = totals.find((r) => r.grp === 'p1');
    expect(t?.calls).toBe(p1.length);
    expect(t?.errors).toBe(rows.filter((r) => r.provider === 'p1' && r.status >= 400).length);
    for (const [i, q] of [0.5, 0.95].entries()) expect(Math.abs((t?.latency[i] ?? 0) - exact(q))).toBeLessThanOrEqual(12);
  });
});

describe('explorer', () => {
  it('filters by model, tag, stream, status and text, all as parameters', async () => {
    const page = await listExplorer(store, { ...range, model: 'm-b', tags: [['env', 'prod']], status: 'ok' }, { limit: 500 });
    const want = rows.filter((r) => r.requested_model === 'm-b' && r.tags['env'] === 'prod' && r.status < 400);
    expect(page.rows.map((r) => r.request_id).sort()).toEqual(want.map((r) => r.request_id).sort());
    const text = await listExplorer(store, { text: '100%_match' });
    expect(text.rows.map((r) => r.request_id)).toEqual([rows[42]!.request_id]);
    expect((await listExplorer(store, { text: "x' OR 1=1 --" })).rows).toEqual([]);
    expect(likeContains('a%b_c\\')).toBe('%a\\%b\\_c\\\\%');
  });

  it('pages by latency with a keyset cursor, no row twice', async () => {
    const seen: string[] = [];
    let after;
    for (let n = 0; n < 20; n++) {
      const page = await listExplorer(store, range, { sort: 'latency', dir: 'desc', after, limit: 25 });
      seen.push(...page.rows.map((r) => r.request_id));
      if (!page.next) break;
      after = page.next;
    }
    expect(seen.length).toBe(rows.length);
    expect(new Set(seen).size).toBe(rows.length);
    const lat = new Map(rows.map((r) => [r.request_id, r.latency_ms]));
    const order = seen.map((id) => lat.get(id)!);
    expect(order).toEqual([...order].sort((a, b) => b - a));
  });

  it('lists a trace oldest first and exports every row in pages', async () => {
    const trace = await callsInThread(store, 'trace', 'trace-x');
    expect(trace.map((r) => r.request_id)).toEqual(rows.slice(0, 4).map((r) => r.request_id));
    let total = 0;
    let pages = 0;
    for await (const page of exportPages(store, { ...range, model: 'm-a' }, 17)) {
      total += page.length;
      pages++;
      expect(page[0]?.started_at).toMatch(/^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z$/);
    }
    expect(total).toBe(rows.filter((r) => r.requested_model === 'm-a').length);
    expect(pages).toBe(Math.ceil(total / 17));
  });
});
