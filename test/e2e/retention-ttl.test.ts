// Retention on the real engine (chDB) and a real data dir: after the body period no body older
// than the cutoff remains in ClickHouse or in the event log / dead letters, a legal hold keeps
// what it covers, spend and latency totals are unchanged, and a changed policy is applied to
// the existing tables once.
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { openStore, type Store } from '../../core/src/store/client.ts';
import { migrate } from '../../core/src/store/migrate.ts';
import { LocalLogWriter } from '../../core/src/bus/local-log.ts';
import { encodeEvent, type LlmCallEvent } from '../../core/src/event.ts';
import { applyRetention, enforceRetentionNow, RetentionConfig, writeHold } from '../../core/src/store/retention.ts';
import { startRetention } from '../../core/src/store/retention-sweep.ts';
import { listErasures, recordErasure } from '../../core/src/store/erasure.ts';
import { createLogger } from '../../core/src/logger.ts';
import { filesHaving, seedEvent } from './privacy-support.ts';

const DAY = 86_400_000;
const iso = (daysAgo: number): string => new Date(Date.now() - daysAgo * DAY).toISOString();
const logger = createLogger('silent');

let dir: string;
let store: Store;
const events: LlmCallEvent[] = [];

interface Totals { calls: number; cost: number; latency: number; rollup_calls: number; rollup_cost: number }
async function totals(): Promise<Totals> {
  const db = store.database;
  const rs = await store.client.query({
    query: `SELECT (SELECT count() FROM ${db}.llm_calls FINAL) AS calls, (SELECT round(sum(cost_usd), 6) FROM ${db}.llm_calls FINAL) AS cost,
                   (SELECT round(sum(latency_ms), 3) FROM ${db}.llm_calls FINAL) AS latency,
                   (SELECT sum(calls) FROM ${db}.llm_calls_1m) AS rollup_calls, (SELECT round(sum(cost_usd), 6) FROM ${db}.llm_calls_1m) AS rollup_cost`,
    format: 'JSONEachRow',
  });
  const [r] = await rs.json<Record<string, string | number>>();
  return Object.fromEntries(Object.entries(r ?? {}).map(([k, v]) => [k, Number(v)])) as unknown as Totals;
}

async function bodiesOlderThan(days: number): Promise<{ user: string; request_body: string }[]> {
  const rs = await store.client.query({
    query: `SELECT user, request_body FROM ${store.database}.llm_calls FINAL
            WHERE started_at < now64(3) - toIntervalDay({d:UInt32}) AND (request_body != '' OR response_body != '' OR error_message != '')`,
    query_params: { d: days },
    format: 'JSONEachRow',
  });
  return rs.json();
}

beforeAll(async () => {
  dir = mkdtempSync(join(tmpdir(), 'gatelog-retention-'));
  store = await openStore({ clickhouse: 'embedded', database: 'gatelog' }, dir);
  await migrate(store);
  // Old calls (past the 30-day body period), one of them held by user, and recent ones.
  for (const [daysAgo, user] of [[60, 'u-old'], [45, 'u-old'], [40, 'u-held'], [10, 'u-new'], [1, 'u-new']] as const) {
    events.push(seedEvent({ started_at: iso(daysAgo), user }, `body-secret-${daysAgo}d`));
  }
  await store.insertRaw('llm_calls', Buffer.from(events.map((e) => encodeEvent(e).toString()).join('\n')));
  const log = new LocalLogWriter({ dir: join(dir, 'events'), fsyncMs: 0 });
  for (const e of events) log.append(encodeEvent(e));
  log.close();
  writeFileSync(join(dir, 'dead-letter.jsonl'), `${JSON.stringify({ at: iso(0), table: 'llm_calls', reason: { code: '1', type: 'X', message: 'bad' }, record: encodeEvent(events[0]!).toString() })}\n`);
  const at = new Date().toISOString();
  await writeHold(store, { id: 'hold_t', version: 1, kind: 'user', value: 'u-held', reason: 'litigation', active: true, created_at: at, updated_at: at, updated_by: 'test' });
}, 60_000);

afterAll(async () => {
  await store?.close();
});

describe('retention', () => {
  it('removes bodies past the body period everywhere, keeps held ones, and keeps totals', async () => {
    const before = await totals();
    expect(await bodiesOlderThan(30)).toHaveLength(3);
    expect(filesHaving(dir, 'body-secret-60d').length).toBeGreaterThan(0);

    const sweep = await startRetention({ store, retention: RetentionConfig.parse({ bodies: '30d', calls: '400d', rollups: 'forever' }), dataDir: dir, logger });
    // The sweep ran once at start; a second run finds nothing left to do.
    await sweep.run();
    expect((await sweep.run()).records).toBe(0);
    sweep.stop();
    await enforceRetentionNow(store);

    expect(await bodiesOlderThan(30)).toEqual([expect.objectContaining({ user: 'u-held' })]);
    // The event log and the dead letter (which held the 60-day call) are scrubbed too.
    for (const d of [60, 45]) expect(filesHaving(dir, `body-secret-${d}d`)).toEqual([]);
    // Held and recent bodies stay, in ClickHouse and in the event log.
    expect(filesHaving(dir, 'body-secret-40d').length).toBeGreaterThan(0);
    expect(filesHaving(dir, 'body-secret-1d').length).toBeGreaterThan(0);
    expect(await totals()).toEqual(before);
  }, 120_000);

  it('applies a changed policy to existing tables once, and row TTLs spare held calls', async () => {
    // Erasure requests (selectors naming users) go once no call they cover can still be stored.
    const oldErasure = await recordErasure(store, { user: 'u-gone', rows: false }, Date.now() - 52 * DAY);
    const newErasure = await recordErasure(store, { user: 'u-recent', rows: false }, Date.now() - 50 * DAY);
    const cfg = RetentionConfig.parse({ bodies: '30d', calls: '50d', rollups: '3650d' });
    expect(await applyRetention(store, cfg)).toEqual(['llm_calls.rows', 'batch_objects.rows', 'erasure_requests.rows', 'llm_calls_1m.rows', 'llm_calls_1h.rows', 'llm_calls_latency_1h.rows']);
    expect(await applyRetention(store, cfg)).toEqual([]);
    const batches = await store.client.query({ query: `SELECT create_table_query AS q FROM system.tables WHERE database = 'gatelog' AND name = 'batch_objects'`, format: 'JSONEachRow' });
    expect((await batches.json<{ q: string }>())[0]?.q ?? '').toContain('toDateTime(updated_at) + toIntervalDay(50)');
    const rs = await store.client.query({ query: `SELECT create_table_query AS q FROM system.tables WHERE database = 'gatelog' AND name = 'llm_calls'`, format: 'JSONEachRow' });
    const q = (await rs.json<{ q: string }>())[0]?.q ?? '';
    expect(q).toContain('toIntervalDay(50)');
    expect(q).toMatch(/request_body`? String.{0,40}TTL if\(legal_hold/);
    await enforceRetentionNow(store);
    const left = await store.client.query({ query: `SELECT user FROM gatelog.llm_calls FINAL ORDER BY started_at`, format: 'JSONEachRow' });
    // The 60-day call is gone; everything else (held or younger than 50 days) stays.
    expect((await left.json<{ user: string }>()).map((r) => r.user)).toEqual(['u-old', 'u-held', 'u-new', 'u-new']);
    // The longest calls period (50 days) and a day: the 52-day-old request is gone, the 50-day-old one kept.
    const ids = (await listErasures(store, 0)).erasures.map((e) => e.id);
    expect(ids).toContain(newErasure.id);
    expect(ids).not.toContain(oldErasure.id);
    // A team keeping calls longer keeps requests as long.
    expect(await applyRetention(store, RetentionConfig.parse({ bodies: '30d', calls: '50d', rollups: '3650d', teams: { legal: { calls: '90d' } } }))).toContain('erasure_requests.rows');
    const er = await store.client.query({ query: `SELECT create_table_query AS q FROM system.tables WHERE database = 'gatelog' AND name = 'erasure_requests'`, format: 'JSONEachRow' });
    expect((await er.json<{ q: string }>())[0]?.q ?? '').toContain('toIntervalDay(90)');
  }, 120_000);
});
