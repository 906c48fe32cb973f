// Budgets while the pipeline lags: governance as the proxy runs it (createGovernance) over a
// real store (chDB) that does not hold the calls yet — the bus holding them back, as in a
// Kafka outage or a consumer-group rebalance — for far longer than an ingest batch. A settled
// cost must keep counting until the store holds its call, then count once. Alone, and with
// two proxies sharing one real redis-server.
import { randomUUID } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import { Registry } from 'prom-client';
import { createLogger, newRequestId, parseConfig, type Store } from '@gatelog/core';
import { insertKeyVersion } from '@gatelog/core/store/keys';
import { testEvent } from '@gatelog/core/store/test-event';
import { tempEmbeddedStore, type TempStore } from '../../../test/support/embedded-store.ts';
import { startRedis, type RedisServer } from '../../../test/support/redis-server.ts';
import { createGovernance, type Governance } from './runtime.ts';
import { createGovernanceMetrics } from './metrics.ts';
import { RedisBackend } from './redis-backend.ts';
import { budgetScopes, type BudgetScope } from './budget-scope.ts';
import { createKey, type VirtualKey } from './keys.ts';

const T0 = Date.parse('2026-11-23T10:00:00Z');
/** Real milliseconds between budget refreshes in these tests. */
const REFRESH_MS = 40;
const config = parseConfig({ ingest: { batch_ms: 1000 } }, 'test', {});

let temp: TempStore;
let store: Store;

beforeAll(async () => {
  temp = await tempEmbeddedStore('gatelog-budget-lag');
  store = temp.store;
});

afterAll(async () => {
  await temp?.close();
});

/** A key with a $1 monthly budget, written to the store as the admin API would. */
async function budgetedKey(): Promise<VirtualKey> {
  const r = createKey({ name: `lag-${randomUUID().slice(0, 8)}`, budget_usd: 1 }, { now: T0, actor: 'test' });
  if (!r.ok) throw new Error(r.message);
  await insertKeyVersion(store, r.value.key);
  return r.value.key;
}

function governance(clock: { now: number }, shared?: RedisBackend): Promise<Governance> {
  return createGovernance({
    config,
    store,
    masterKey: undefined,
    logger: createLogger('silent'),
    metrics: createGovernanceMetrics(new Registry()),
    shared,
    now: () => clock.now,
    baselineMs: REFRESH_MS,
  });
}

/** Waits for several budget refreshes of every running governance. */
const refreshes = (): Promise<void> => new Promise((r) => setTimeout(r, REFRESH_MS * 8));

/** Polls until `check` holds (refreshes take longer on a loaded machine). */
async function eventually(what: string, check: () => Promise<boolean> | boolean): Promise<void> {
  for (const t0 = Date.now(); !(await check()); await refreshes()) {
    if (Date.now() - t0 > 20_000) throw new Error(`${what}: not within 20 s`);
  }
}

/** Waits until each of `gs` has completed two more spend refreshes (the first may have begun before). */
async function refreshed(...gs: Governance[]): Promise<void> {
  const counts = gs.map((g) => vi.spyOn(g.ledger, 'replaceBaselines'));
  await eventually('two spend refreshes', () => counts.every((c) => c.mock.calls.length >= 2));
  for (const c of counts) c.mockRestore();
}

/** How a reserve of `usd` ends: the refusal's code, or where it was admitted ('primary' is Redis, 'fallback' the local counters). */
async function reserveOutcome(g: Governance, scopes: BudgetScope[], usd: number, at: number): Promise<string> {
  const r = await g.ledger.reserve(scopes, usd, at);
  return r.ok ? `admitted (${r.value.via ?? 'no counter'})` : r.refusal.code;
}

const spent = async (g: Governance, scope: BudgetScope, now: number): Promise<number> => Math.round((await g.ledger.status(scope, now)).spentUsd * 1e6) / 1e6;

async function ready(g: Governance, key: VirtualKey): Promise<BudgetScope[]> {
  for (let i = 0; i < 200 && !g.ring.byId(key.id); i++) {
    await g.reloadKeys();
    await refreshes();
  }
  return budgetScopes(key, g.teamBudgets);
}

/** Spend $0.90 through `g`: reserved, answered, settled; its event not stored yet. */
async function spend(g: Governance, scopes: BudgetScope[], at: number): Promise<string> {
  const r = await g.ledger.reserve(scopes, 0.95, at);
  if (!r.ok) throw new Error(r.refusal.message);
  const requestId = newRequestId();
  await g.ledger.settle(r.value, 0.9, at, { requestId, startedAt: new Date(at).toISOString() });
  return requestId;
}

/** Ingest catches up: the call's row reaches the store. */
async function ingest(key: VirtualKey, requestId: string, at: number): Promise<void> {
  const e = testEvent({ request_id: requestId, started_at: new Date(at).toISOString(), key_id: key.id, key_name: key.name, team: '', cost_usd: 0.9 });
  await store.insertRaw('llm_calls', Buffer.from(`${JSON.stringify(e)}\n`));
}

describe('budget while ingest lags (one proxy, counters in memory)', () => {
  it('refuses past the budget for as long as the store lacks the calls, then counts them once', async () => {
    const clock = { now: T0 };
    const g = await governance(clock);
    try {
      const key = await budgetedKey();
      const scopes = await ready(g, key);
      expect(scopes).toHaveLength(1);
      const id = await spend(g, scopes, clock.now);
      // Ten minutes pass with the call still on the bus; the proxy refreshes spend all along.
      for (const step of [10_000, 60_000, 600_000]) {
        clock.now = T0 + step;
        await refreshed(g);
        expect((await g.ledger.status(scopes[0]!, clock.now)).spentUsd).toBeCloseTo(0.9, 9);
        expect(await reserveOutcome(g, scopes, 0.2, clock.now)).toBe('budget_exceeded');
      }
      await ingest(key, id, T0);
      await eventually('the stored call leaves the pending counters', () => g.ledger.awaitingStore().length === 0);
      expect((await g.ledger.status(scopes[0]!, clock.now)).spentUsd).toBeCloseTo(0.9, 9);
      expect((await g.ledger.reserve(scopes, 0.05, clock.now)).ok).toBe(true);
    } finally {
      await g.stop();
    }
  });
});

describe('budget while ingest lags (two proxies, one Redis)', () => {
  let redis: RedisServer;
  beforeAll(async () => {
    redis = await startRedis();
  }, 120_000);
  afterAll(async () => {
    await redis?.stop();
  });

  it('both proxies refuse while the store lacks the call; it is counted once after the grace', async () => {
    const clock = { now: T0 };
    const keyPrefix = `t${randomUUID()}:`;
    // Redis is up all along here: a command stalled past the default 1 s by a loaded machine
    // would count as Redis failing and admit on the local counters (fail-open), which is
    // another test's subject (backend.test.ts), not this one's.
    const shared = (): RedisBackend => new RedisBackend({ target: redis.url, keyPrefix, commandTimeoutMs: 15_000 });
    const [a, b] = await Promise.all([governance(clock, shared()), governance(clock, shared())]);
    try {
      const key = await budgetedKey();
      const scopes = await ready(a, key);
      await ready(b, key);
      const id = await spend(a, scopes, clock.now);
      clock.now = T0 + 60_000;
      await refreshed(a, b);
      for (const g of [a, b]) expect(await reserveOutcome(g, scopes, 0.2, clock.now)).toBe('budget_exceeded');
      await ingest(key, id, T0);
      // Seen in the store by a, but kept on the shared counter for the grace (two refresh
      // intervals), in case b's last spend read is older than a's: over-counted meanwhile.
      await eventually('a sees the call stored', () => a.ledger.awaitingStore().length === 0);
      await eventually('both read the stored spend', async () => (await spent(a, scopes[0]!, clock.now)) === 1.8 && (await spent(b, scopes[0]!, clock.now)) === 1.8);
      clock.now += 2 * REFRESH_MS + 1;
      await eventually('the grace ends: counted once', async () => (await spent(a, scopes[0]!, clock.now)) === 0.9 && (await spent(b, scopes[0]!, clock.now)) === 0.9);
    } finally {
      await Promise.all([a.stop(), b.stop()]);
    }
  }, 60_000);
});
