// Explorer pages at scale-shaped data: the keys-then-rows read, newest-first time windows
// (last day, last week, the rest; calls stamped in the future included), duplicates from a
// replayed insert shown once, and value sorts with their cut-off. Paging through must give
// every matching call exactly once, in order, whatever window or page boundary it sits on.
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { migrate, newRequestId, openStore, StorageConfig, type LlmCallEvent, type Store } from '@gatelog/core';
import { listExplorer, type ExplorerCursor, type SortKey } from '../../core/src/store/explorer-queries.ts';
import type { ExplorerFilter } from '../../core/src/store/call-filter.ts';

const NOW = Date.now();
const HOUR = 3_600_000;
// Ages in hours: the last day, the last week, older, and two ahead of this clock.
const ages = [...Array.from({ length: 45 }, (_, i) => i * 0.4), ...Array.from({ length: 40 }, (_, i) => 30 + i * 3), ...Array.from({ length: 50 }, (_, i) => 200 + i * 9), -0.1, -0.2];
const rows: LlmCallEvent[] = ages.map((h, i) => ({
  schema_version: 1, gatelog_version: 't', request_id: newRequestId(), started_at: new Date(NOW - h * HOUR - (i % 7) * 13).toISOString(),
  trace_id: '', session_id: '', user: '', tags: {}, key_id: 'k', key_name: 'k', team: 't', endpoint: '/v1/chat/completions',
  client_api: 'openai.chat', upstream_api: 'openai.chat', requested_model: i % 3 === 0 ? 'm-b' : 'm-a', provider: 'p', deployment_model: 'm',
  upstream_model: 'm', stream: false, status: 200, outcome: 'success', error_type: '', error_message: '', finish_reason: 'stop',
  input_tokens: 1, output_tokens: 1, cached_tokens: 0, cache_creation_tokens: 0, reasoning_tokens: 0, tokens_estimated: false,
  // Ties on cost and latency on purpose: the cursor must break them by request id.
  cost_usd: i % 11 === 0 ? null : (i % 9) * 0.01, cache_hit: false, ttft_ms: null, latency_ms: 100 + (i % 13) * 10, overhead_ms: 1,
  attempts: [], request_body: `{"n":${i}}`, response_body: '{}', request_bytes: 1, response_bytes: 1, truncated: false,
}));

let dir: string;
let store: Store;
beforeAll(async () => {
  dir = mkdtempSync(join(tmpdir(), 'gatelog-explorer-pages-'));
  store = await openStore(StorageConfig.parse({}), dir);
  await migrate(store);
  const body = (rs: LlmCallEvent[]): Buffer => Buffer.from(rs.map((r) => JSON.stringify(r)).join('\n'));
  await store.insertRaw('llm_calls', body(rows));
  // A replay of some calls (no dedup token): duplicates until a merge, never shown twice.
  await store.insertRaw('llm_calls', body(rows.filter((_, i) => i % 4 === 0)));
});
afterAll(async () => {
  await store?.close();
  if (dir) rmSync(dir, { recursive: true, force: true });
});

async function pageAll(filter: ExplorerFilter, sort: SortKey, dir: 'asc' | 'desc', limit: number): Promise<string[]> {
  const ids: string[] = [];
  let after: ExplorerCursor | undefined;
  for (let guard = 0; guard < 50; guard++) {
    const page = await listExplorer(store, filter, { sort, dir, after, limit });
    ids.push(...page.rows.map((r) => r.request_id));
    if (!page.next) return ids;
    after = page.next;
  }
  throw new Error('paging did not end');
}

const value = (sort: SortKey, r: LlmCallEvent): number => (sort === 'time' ? Date.parse(r.started_at) : sort === 'cost' ? (r.cost_usd ?? -1) : r.latency_ms);

/**
 * The ids in page order, checked against the seeded rows: each matching call exactly once,
 * sort values in order. Ties are broken by request id in ClickHouse's UUID order (not the
 * text order), so the comparison is on (value sequence, id set).
 */
function expectPaged(got: string[], pred: (r: LlmCallEvent) => boolean, sort: SortKey, dir: 'asc' | 'desc'): void {
  const byId = new Map(rows.map((r) => [r.request_id, r]));
  const want = rows.filter(pred).map((r) => value(sort, r)).sort((a, b) => (dir === 'asc' ? a - b : b - a));
  expect(new Set(got).size).toBe(got.length);
  expect(got.map((id) => value(sort, byId.get(id)!))).toEqual(want);
  expect(got.every((id) => pred(byId.get(id)!))).toBe(true);
}

describe('listExplorer paging', () => {
  it('newest first over all time: every call once, in order, across windows and pages', async () => {
    expectPaged(await pageAll({}, 'time', 'desc', 20), () => true, 'time', 'desc');
    expectPaged(await pageAll({}, 'time', 'desc', 50), () => true, 'time', 'desc');
  });

  it('with a filter and a range, and oldest first', async () => {
    const from = new Date(NOW - 100 * HOUR).toISOString();
    const inRange = (r: LlmCallEvent): boolean => r.requested_model === 'm-b' && Date.parse(r.started_at) >= Date.parse(from);
    expectPaged(await pageAll({ model: 'm-b', from }, 'time', 'desc', 7), inRange, 'time', 'desc');
    expectPaged(await pageAll({ model: 'm-b' }, 'time', 'asc', 9), (r) => r.requested_model === 'm-b', 'time', 'asc');
  });

  it('by cost and by latency, both directions, across ties at page boundaries', async () => {
    for (const sort of ['cost', 'latency'] as const) {
      for (const dir of ['desc', 'asc'] as const) {
        expectPaged(await pageAll({}, sort, dir, 25), () => true, sort, dir);
      }
    }
  });

  it('shows the displayed columns of each row', async () => {
    const page = await listExplorer(store, {}, { limit: 5 });
    const newest = [...rows].sort((a, b) => Date.parse(b.started_at) - Date.parse(a.started_at))[0]!;
    expect(page.rows[0]?.request_id).toBe(newest.request_id);
    expect(page.rows[0]?.preview).toBe(newest.request_body);
    expect(page.rows[0]?.requested_model).toBe(newest.requested_model);
  });
});
