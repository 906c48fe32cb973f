// Spend by user and tag, the spike breakdown and month-to-date spend against a real chDB store
// seeded with two spikes of known cause (test/support/spend-scenario.ts): the decomposition
// must name key-x / model mix for one and user looper / call volume for the other.
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { StorageConfig } from '../config.ts';
import { openStore, type Store } from './client.ts';
import { migrate } from './migrate.ts';
import { monthSpend, rawSpendSeries, rawSpendTop, spikeBreakdown, tagKeys } from './spend-queries.ts';
import { spendTop } from './dashboard-queries.ts';
import { contributors, decompose } from '../spend-decompose.ts';
import { LOOP_BUCKET, spendEvent, spendScenario, STEP_MS, SWITCH_BUCKET } from '../../../test/support/spend-scenario.ts';

const A = Date.UTC(2026, 4, 1, 0, 0, 0);
const sc = spendScenario(A, 'sq');
const iso = (ms: number): string => new Date(ms).toISOString();
let dir: string;
let store: Store;

beforeAll(async () => {
  dir = mkdtempSync(join(tmpdir(), 'gatelog-spend-'));
  store = await openStore(StorageConfig.parse({}), dir);
  await migrate(store);
  await store.insertRaw('llm_calls', Buffer.from(sc.events.map((e) => JSON.stringify(e)).join('\n')));
});

afterAll(async () => {
  await store?.close();
  if (dir) rmSync(dir, { recursive: true, force: true });
});

async function explain(bucket: number, teams?: string[]): Promise<{ d: ReturnType<typeof decompose>; top: (dim: string) => ReturnType<typeof contributors> }> {
  const base = Math.min(12, bucket);
  const rows = await spikeBreakdown(store, { baseFrom: iso(A + (bucket - base) * STEP_MS), at: iso(A + bucket * STEP_MS), to: iso(A + (bucket + 1) * STEP_MS), teams, tagKey: 'app' });
  const model = rows.filter((r) => r.dim === 'model');
  const d = decompose(model.filter((r) => r.side === 'before'), model.filter((r) => r.side === 'after'), base);
  return { d, top: (dim) => contributors(rows.filter((r) => r.dim === dim), base, d.delta) };
}

describe('spike decomposition over the store', () => {
  it('explains a key switching to a pricier model as model mix, key-x first', async () => {
    const { d, top } = await explain(SWITCH_BUCKET);
    expect(d.after.calls).toBe(8);
    // 12 baseline buckets of 8 calls, plus the lonely call.
    expect(d.before.calls).toBeCloseTo(8 + 1 / 12, 9);
    expect(d.factors[0]!.factor).toBe('model_mix');
    expect(d.factors[0]!.share).toBeGreaterThan(0.95);
    expect(d.factors.reduce((s, f) => s + f.usd, 0)).toBeCloseTo(d.delta, 9);
    const keys = top('key');
    expect(keys[0]).toMatchObject({ value: sc.keyX, driver: 'model_mix' });
    expect(keys[0]!.share).toBeCloseTo(1, 6);
    expect(top('model')[0]!.value).toBe(sc.large);
  });

  it('explains a looping user as call volume, looper first, with its tag and retries', async () => {
    const { d, top } = await explain(LOOP_BUCKET);
    expect(d.after.calls).toBe(68);
    expect(d.factors[0]!.factor).toBe('volume');
    expect(d.factors[0]!.share).toBeGreaterThan(0.95);
    expect(top('user')[0]).toMatchObject({ value: sc.looper, driver: 'volume' });
    expect(top('user')[0]!.share).toBeCloseTo(60 / 60, 6);
    expect(top('tag')[0]).toMatchObject({ value: 'agent', driver: 'volume' });
    expect(d.signals.find((s) => s.signal === 'retries')!.rateAfter).toBeCloseTo(12 / 68, 9);
  });

  it('explains one series of the chart when asked: key-a\'s spike is its looping user', async () => {
    const bucket = LOOP_BUCKET;
    const rows = await spikeBreakdown(store, { baseFrom: iso(A), at: iso(A + bucket * STEP_MS), to: iso(A + (bucket + 1) * STEP_MS), focus: { dim: 'key', value: 'key-a-sq' } });
    const model = rows.filter((r) => r.dim === 'model');
    const d = decompose(model.filter((r) => r.side === 'before'), model.filter((r) => r.side === 'after'), bucket);
    expect(d.after.calls).toBe(62);
    expect(d.factors[0]!.factor).toBe('volume');
    expect(rows.filter((r) => r.dim === 'key').map((r) => r.value)).toEqual(expect.arrayContaining(['key-a-sq']));
    expect(new Set(rows.filter((r) => r.dim === 'key').map((r) => r.value))).toEqual(new Set(['key-a-sq']));
  });

  it('sees only the reader\'s teams', async () => {
    const { d, top } = await explain(LOOP_BUCKET, ['beta-sq']);
    expect(d.after.calls).toBe(4);
    expect(top('user').map((c) => c.value)).not.toContain(sc.looper);
  });
});

describe('spend by user and tag', () => {
  const range = { from: iso(sc.a), to: iso(sc.b) };
  it('totals by user and by a tag\'s value, and lists the tag keys', async () => {
    const users = await rawSpendTop(store, { ...range, by: 'user' });
    expect(users.find((u) => u.grp === sc.looper)).toMatchObject({ calls: 60, cost_usd: expect.closeTo(60 * 1200 * 1e-4, 9) });
    expect(users.length).toBe(5);
    const tags = await rawSpendTop(store, { ...range, by: 'tag', tagKey: 'app' });
    expect(Object.fromEntries(tags.map((t) => [t.grp, t.calls]))).toEqual({ batch: 96, web: 96, agent: 60, '': 1 });
    expect(await tagKeys(store, range)).toEqual(['app']);
    // Same totals whether summed from the raw table or the rollups.
    const byModel = await spendTop(store, { ...range, by: 'model' });
    const rawTotal = users.reduce((s, u) => s + u.cost_usd, 0);
    expect(byModel.reduce((s, m) => s + m.cost_usd, 0)).toBeCloseTo(rawTotal, 9);
  });

  it('draws the top users and sums the rest as (other), per bucket', async () => {
    const points = await rawSpendSeries(store, { ...range, by: 'user', bucketSeconds: 300 });
    const loop = points.filter((p) => p.grp === sc.looper);
    expect(loop.map((p) => Date.parse(p.bucket))).toEqual([A + LOOP_BUCKET * STEP_MS]);
    expect(points.reduce((s, p) => s + p.calls, 0)).toBe(sc.events.length);
  });
});

describe('month-to-date spend', () => {
  it('sums per key and per team since the month began, and over the run rate\'s window', async () => {
    const now = Date.UTC(2026, 5, 20, 12, 30);
    const monthStart = Date.UTC(2026, 5, 1);
    const recentFrom = now - 7 * 86_400_000;
    const rows = [
      spendEvent({ started_at: iso(Date.UTC(2026, 4, 31, 23)), key_id: 'k-mtd', key_name: 'mtd', team: 'gold', cost_usd: 100 }),
      spendEvent({ started_at: iso(Date.UTC(2026, 5, 2, 10)), key_id: 'k-mtd', key_name: 'mtd', team: 'gold', cost_usd: 3 }),
      spendEvent({ started_at: iso(Date.UTC(2026, 5, 19, 10, 15)), key_id: 'k-mtd', key_name: 'mtd-renamed', team: 'gold', cost_usd: 2 }),
      spendEvent({ started_at: iso(Date.UTC(2026, 5, 20, 12, 10)), key_id: 'k-mtd', key_name: 'mtd-renamed', team: 'gold', cost_usd: 0.5 }),
      spendEvent({ started_at: iso(Date.UTC(2026, 5, 20, 12, 40)), key_id: 'k-mtd', key_name: 'mtd-renamed', team: 'gold', cost_usd: 1000 }),
    ];
    await store.insertRaw('llm_calls', Buffer.from(rows.map((e) => JSON.stringify(e)).join('\n')));
    const q = { monthStart: iso(monthStart), recentFrom: iso(recentFrom), now: iso(now) };
    const keys = await monthSpend(store, { ...q, scope: 'key' });
    const k = keys.find((r) => r.id === 'k-mtd')!;
    expect(k).toMatchObject({ name: 'mtd-renamed', owner_team: 'gold' });
    expect(k.mtd).toBeCloseTo(5.5, 9);
    expect(k.recent).toBeCloseTo(2.5, 9);
    const teams = await monthSpend(store, { ...q, scope: 'team' });
    expect(teams.find((r) => r.id === 'gold')!.mtd).toBeCloseTo(5.5, 9);
    expect(await monthSpend(store, { ...q, scope: 'team', teams: ['nobody'] })).toEqual([]);
  });
});
