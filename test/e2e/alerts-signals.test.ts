// What each alert kind measures, on a real chDB store seeded here (and a real prom-client
// registry for the process kinds): key budgets, provider failures from attempts, p95 latency
// from the rollups, the spool backlog and ingest lag; scope narrows, min_calls guards rates.
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Gauge, Registry } from 'prom-client';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { insertKeyVersion, migrate, openStore, StorageConfig, type Store } from '@gatelog/core';
import { AlertRule, type AlertRuleInput } from '@gatelog/core/alerts/rule';
import { SIGNALS, type SignalDeps } from '@gatelog/core/alerts/signals';
import { testEvent } from '@gatelog/core/store/test-event';

let dir: string;
let store: Store;
let deps: SignalDeps;
const now = Date.now();
const at = new Date(now).toISOString();
const registry = new Registry();
const spool = new Gauge({ name: 'gatelog_spool_lag_bytes', help: 'spool', registers: [registry] });

const measure = (r: AlertRuleInput, d: SignalDeps = deps) => {
  const rule = AlertRule.parse(r);
  return SIGNALS[rule.kind](d, rule, now);
};
const attempt = (provider: string, status: number, error_class = '') => ({ provider, model: 'x', status, error_class, latency_ms: 5 });

beforeAll(async () => {
  dir = mkdtempSync(join(tmpdir(), 'gatelog-alert-signals-'));
  store = await openStore(StorageConfig.parse({}), dir);
  await migrate(store);
  const stamp = new Date(now).toISOString().replace('T', ' ').replace('Z', '');
  for (const [id, budget] of [['kb', 2], ['kn', null]] as const) {
    await insertKeyVersion(store, {
      id, version: 1, key_hash: 'a'.repeat(64), key_prefix: 'gl-x', name: `key ${id}`, team: 'red', owner: '', models: [], budget_usd: budget, budget_period: 'monthly',
      rpm: null, tpm: null, max_parallel: null, expires_at: null, metadata: {}, revoked: false, created_at: stamp, updated_at: stamp, updated_by: 'test',
    });
  }
  const rows = [
    // Key kb: $1.60 of its $2 budget.
    testEvent({ started_at: at, key_id: 'kb', cost_usd: 1.6 }),
    testEvent({ started_at: at, key_id: 'kn', cost_usd: 50 }),
    // Provider "flaky": 6 attempts, 4 failed (the calls fell back to "steady"); "steady": 3, none failed.
    ...[0, 1, 2].map(() => testEvent({ started_at: at, requested_model: 'm-fb', attempts: [attempt('flaky', 503, 'upstream_5xx'), attempt('steady', 200)] })),
    testEvent({ started_at: at, requested_model: 'm-fb', attempts: [attempt('flaky', 0, 'timeout')] }),
    ...[0, 1].map(() => testEvent({ started_at: at, requested_model: 'm-fb', attempts: [attempt('flaky', 200)] })),
    // Latency: 20 calls of m-slow at 100..2000 ms.
    ...Array.from({ length: 20 }, (_, i) => testEvent({ started_at: at, requested_model: 'm-slow', latency_ms: 100 * (i + 1) })),
  ];
  await store.insertRaw('llm_calls', Buffer.from(rows.map((r) => JSON.stringify(r)).join('\n')));
  deps = { store, teams: {}, metrics: registry, instance: 'test-host' };
}, 60_000);

afterAll(async () => {
  await store?.close();
  if (dir) rmSync(dir, { recursive: true, force: true });
});

describe('alert signals', () => {
  it('budget: each key with a budget, as % spent; keys without one are not measured', async () => {
    const obs = await measure({ id: 'b', kind: 'budget', threshold: 80 });
    expect(obs.map((o) => o.subject)).toEqual(['key=kb']);
    expect(obs[0]!.value).toBeCloseTo(80, 6);
    expect(obs[0]!.breached).toBe(true);
    expect((await measure({ id: 'b', kind: 'budget', threshold: 100 }))[0]!.breached).toBe(false);
    expect(await measure({ id: 'b', kind: 'budget', threshold: 50, scope: { team: 'blue' } })).toEqual([]);
  });

  it('provider_down: failed attempts per provider, retries and fallbacks included', async () => {
    const obs = await measure({ id: 'p', kind: 'provider_down', threshold: 0.5, min_calls: 3, scope: { model: 'm-fb' } });
    const by = new Map(obs.map((o) => [o.subject, o]));
    expect(by.get('provider=flaky')?.value).toBeCloseTo(4 / 6, 6);
    expect(by.get('provider=flaky')?.breached).toBe(true);
    expect(by.get('provider=steady')?.value).toBe(0);
    expect(by.get('provider=steady')?.breached).toBe(false);
    // Too few attempts for the rate to count.
    const few = await measure({ id: 'p', kind: 'provider_down', threshold: 0.5, min_calls: 10, scope: { model: 'm-fb' } });
    expect(few.every((o) => !o.breached)).toBe(true);
  });

  it('p95_latency: from the minute rollups, in the rule scope only', async () => {
    const [o] = await measure({ id: 'l', kind: 'p95_latency', threshold: 1500, min_calls: 5, window_s: 120, scope: { model: 'm-slow' } });
    expect(o!.value).toBeGreaterThan(1700);
    expect(o!.value).toBeLessThanOrEqual(2000);
    expect(o!.breached).toBe(true);
    expect(o!.subject).toBe('model=m-slow');
    expect(await measure({ id: 'l', kind: 'p95_latency', threshold: 1, scope: { model: 'm-none' } })).toEqual([]);
  });

  it('spool and ingest_lag: this process\'s own metrics; absent metrics are not measured', async () => {
    spool.set(5_000_000);
    const [o] = await measure({ id: 's', kind: 'spool', threshold: 1_000_000 });
    expect(o).toMatchObject({ subject: 'process=test-host', value: 5_000_000, breached: true });
    spool.set(0);
    expect((await measure({ id: 's', kind: 'spool', threshold: 1_000_000 }))[0]!.breached).toBe(false);
    expect(await measure({ id: 'i', kind: 'ingest_lag', threshold: 1 })).toEqual([]);
  });
});
