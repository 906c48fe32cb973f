import { describe, expect, it, vi } from 'vitest';
import { MemoryBackend, counterHolds, type BudgetHolds, type CounterBackend } from './backend.ts';
import { BudgetLedger, loadBaselines, type SettledCall } from './budget.ts';
import { budgetScopes, worstCaseCostUsd, type BudgetScope } from './budget-scope.ts';
import { createKey } from './keys.ts';

const NOW = Date.parse('2026-11-23T10:00:00Z');
const NOV = Date.parse('2026-11-01T00:00:00Z');
const keyScope = (budgetUsd: number, id = 'k1'): BudgetScope => ({ kind: 'key', id, label: 'app-x', budgetUsd, period: 'monthly' });
const teamScope = (budgetUsd: number): BudgetScope => ({ kind: 'team', id: 'search', label: 'search', budgetUsd, period: 'monthly' });
/** A request id per test call name (request ids are UUIDs). */
const id = (name: string): string => `00000000-0000-4000-8000-${name.charCodeAt(0).toString(16).padStart(12, '0')}`;
const call = (name: string): SettledCall => ({ requestId: id(name), startedAt: new Date(NOW - 1000).toISOString() });
/** A refresh at `now` that found none (or the named) of the settled calls in the store. */
const seen = (now: number, ...ids: string[]): { stored: Set<string>; now: number } => ({ stored: new Set(ids), now });

/** Every call yields to the event loop a varying number of times before touching state. */
function slowBackend(inner: CounterBackend): CounterBackend {
  let n = 0;
  const hop = async (): Promise<void> => {
    const hops = n++ % 4;
    for (let i = 0; i < hops; i++) await new Promise((r) => setImmediate(r));
  };
  return {
    kind: 'slow',
    reserve: async (e) => (await hop(), inner.reserve(e)),
    add: async (k, d) => (await hop(), inner.add(k, d)),
    get: async (k) => (await hop(), inner.get(k)),
    rateAcquire: async (e, t) => (await hop(), inner.rateAcquire(e, t)),
    rateAdjust: async (e, t) => (await hop(), inner.rateAdjust(e, t)),
  };
}

describe('worstCaseCostUsd', () => {
  const price = (u: { input_tokens: number; output_tokens: number }): number => (u.input_tokens * 1 + u.output_tokens * 4) / 1e6;
  it.each([
    [{ inputTokens: 1000, maxTokens: 500 }, 0.003],
    [{ inputTokens: 1000, maxTokens: undefined }, 0.001 + 4096 * 4e-6],
    [{ inputTokens: 10.2, maxTokens: 0 }, 11e-6],
  ])('%j → %f', (o, usd) => {
    expect(worstCaseCostUsd({ ...o, defaultMaxTokens: 4096, price })).toBeCloseTo(usd, 12);
  });
  it('is null when the price is unknown', () => {
    expect(worstCaseCostUsd({ inputTokens: 1, maxTokens: 1, defaultMaxTokens: 1, price: () => null })).toBeNull();
  });
});

describe('budgetScopes', () => {
  it('charges the key and its team when each has a budget', () => {
    const r = createKey({ name: 'app-x', team: 'search', budget_usd: 50 }, { now: NOW, actor: 'm' });
    if (!r.ok) throw new Error(r.message);
    const teams = new Map([['search', { budget_usd: 200, period: 'weekly' as const }]]);
    expect(budgetScopes(r.value.key, teams)).toEqual([
      { kind: 'key', id: r.value.key.id, label: 'app-x', budgetUsd: 50, period: 'monthly' },
      { kind: 'team', id: 'search', label: 'search', budgetUsd: 200, period: 'weekly' },
    ]);
    expect(budgetScopes({ ...r.value.key, budget_usd: null, team: '' }, teams)).toEqual([]);
  });
});

describe('BudgetLedger', () => {
  it('reserves, refuses when the worst case does not fit, and frees room on settle', async () => {
    const ledger = new BudgetLedger({ backend: new MemoryBackend() });
    await ledger.replaceBaselines([{ kind: 'key', id: 'k1', periodStart: NOV, spentUsd: 0.5 }], seen(NOW));
    const a = await ledger.reserve([keyScope(1)], 0.3, NOW);
    expect(a.ok).toBe(true);
    const b = await ledger.reserve([keyScope(1)], 0.3, NOW);
    expect(b).toMatchObject({ ok: false, refusal: { status: 429, type: 'budget_exceeded', code: 'budget_exceeded' } });
    if (!b.ok) {
      expect(b.refusal.message).toBe(
        'Budget exceeded for key "app-x": $0.8000 of $1.00 used this month and this request may cost up to $0.3000; resets at 2026-12-01T00:00:00Z.',
      );
    }
    if (a.ok) await ledger.settle(a.value, 0.1, NOW);
    expect(await ledger.status(keyScope(1), NOW)).toEqual({ spentUsd: 0.6, remainingUsd: 0.4, resetsAt: Date.parse('2026-12-01T00:00:00Z') });
    expect((await ledger.reserve([keyScope(1)], 0.3, NOW)).ok).toBe(true);
  });

  it('is atomic across key and team: a full team reserves nothing on the key', async () => {
    const ledger = new BudgetLedger({ backend: new MemoryBackend() });
    await ledger.replaceBaselines([{ kind: 'team', id: 'search', periodStart: NOV, spentUsd: 9.99 }], seen(NOW));
    const r = await ledger.reserve([keyScope(5), teamScope(10)], 0.02, NOW);
    expect(r).toMatchObject({ ok: false, refusal: { code: 'budget_exceeded' } });
    if (!r.ok) expect(r.refusal.message).toMatch(/^Budget exceeded for team "search": \$9\.9900 of \$10\.00/);
    expect((await ledger.status(keyScope(5), NOW)).spentUsd).toBe(0);
  });

  it('a scope at its cap refuses even a zero-cost request', async () => {
    const ledger = new BudgetLedger({ backend: new MemoryBackend() });
    await ledger.replaceBaselines([{ kind: 'key', id: 'k1', periodStart: NOV, spentUsd: 1 }], seen(NOW));
    expect((await ledger.reserve([keyScope(1)], 0, NOW)).ok).toBe(false);
    expect((await ledger.reserve([], 100, NOW)).ok).toBe(true);
  });

  it('50 concurrent reservations against room for exactly one: exactly one is admitted', async () => {
    const ledger = new BudgetLedger({ backend: slowBackend(new MemoryBackend()) });
    await ledger.replaceBaselines([{ kind: 'key', id: 'k1', periodStart: NOV, spentUsd: 0.9 }], seen(NOW));
    const results = await Promise.all(Array.from({ length: 50 }, () => ledger.reserve([keyScope(1), teamScope(100)], 0.06, NOW)));
    expect(results.filter((r) => r.ok)).toHaveLength(1);
    expect(results.filter((r) => !r.ok)).toHaveLength(49);
    expect((await ledger.status(keyScope(1), NOW)).spentUsd).toBeCloseTo(0.96, 9);
    expect((await ledger.status(teamScope(100), NOW)).spentUsd).toBeCloseTo(0.06, 9);
  });

  it('settle is idempotent', async () => {
    const ledger = new BudgetLedger({ backend: new MemoryBackend() });
    const r = await ledger.reserve([keyScope(1)], 0.5, NOW);
    if (!r.ok) throw new Error('refused');
    await ledger.settle(r.value, 0.2, NOW);
    await ledger.settle(r.value, 0.2, NOW);
    expect((await ledger.status(keyScope(1), NOW)).spentUsd).toBeCloseTo(0.2, 9);
  });

  it('a baseline refresh absorbs the settlements the store holds and keeps in-flight reservations', async () => {
    const ledger = new BudgetLedger({ backend: new MemoryBackend() });
    expect(ledger.ready).toBe(false);
    await ledger.replaceBaselines([], seen(NOW));
    expect(ledger.ready).toBe(true);
    const done = await ledger.reserve([keyScope(10)], 1, NOW);
    const late = await ledger.reserve([keyScope(10)], 1, NOW);
    const inflight = await ledger.reserve([keyScope(10)], 2, NOW);
    if (!done.ok || !late.ok || !inflight.ok) throw new Error('refused');
    await ledger.settle(done.value, 0.25, NOW + 1000, call('a'));
    await ledger.settle(late.value, 0.5, NOW + 5000, call('b'));
    expect((await ledger.status(keyScope(10), NOW)).spentUsd).toBeCloseTo(2.75, 9);
    expect(ledger.awaitingStore().map((c) => c.requestId)).toEqual([id('a'), id('b')]);
    // The store now holds the first call (0.25) plus 3.00 spent elsewhere; the second is not ingested yet.
    await ledger.replaceBaselines([{ kind: 'key', id: 'k1', periodStart: NOV, spentUsd: 3.25 }], seen(NOW + 2000, id('a')));
    expect((await ledger.status(keyScope(10), NOW)).spentUsd).toBeCloseTo(3.25 + 0.5 + 2, 9);
    expect(ledger.awaitingStore().map((c) => c.requestId)).toEqual([id('b')]);
    await ledger.settle(inflight.value, 0, NOW + 6000);
    expect((await ledger.status(keyScope(10), NOW)).spentUsd).toBeCloseTo(3.75, 9);
  });

  it('a settled cost stays counted for as long as the store lacks its call, however old', async () => {
    const ledger = new BudgetLedger({ backend: new MemoryBackend() });
    await ledger.replaceBaselines([], seen(NOW));
    const r = await ledger.reserve([keyScope(1)], 0.9, NOW);
    if (!r.ok) throw new Error('refused');
    await ledger.settle(r.value, 0.9, NOW, call('c'));
    // Ten minutes of refreshes while the bus holds the call back (a Kafka outage, a rebalance).
    for (let t = NOW + 5000; t <= NOW + 600_000; t += 5000) await ledger.replaceBaselines([], seen(t));
    expect((await ledger.status(keyScope(1), NOW + 600_000)).spentUsd).toBeCloseTo(0.9, 9);
    expect((await ledger.reserve([keyScope(1)], 0.2, NOW + 600_000)).ok).toBe(false);
    // Ingest catches up: the cost moves into the baseline, counted once.
    await ledger.replaceBaselines([{ kind: 'key', id: 'k1', periodStart: NOV, spentUsd: 0.9 }], seen(NOW + 605_000, id('c')));
    expect((await ledger.status(keyScope(1), NOW + 605_000)).spentUsd).toBeCloseTo(0.9, 9);
    expect(ledger.awaitingStore()).toEqual([]);
  });

  it('on shared counters a stored call is given back only after the grace, for the other proxies to read it', async () => {
    const backend = new MemoryBackend();
    // Counters every proxy reads (as withFallback reports a Redis reservation).
    const shared: CounterBackend = {
      kind: 'shared',
      reserve: async (e) => ({ ...(await backend.reserve(e)), via: 'primary' as const }),
      add: (k, d) => backend.add(k, d),
      get: (k) => backend.get(k),
      rateAcquire: (e, t) => backend.rateAcquire(e, t),
      rateAdjust: (e, t) => backend.rateAdjust(e, t),
    };
    const ledger = new BudgetLedger({ backend: shared, sharedGraceMs: 10_000 });
    await ledger.replaceBaselines([], seen(NOW));
    const r = await ledger.reserve([keyScope(1)], 0.4, NOW);
    if (!r.ok) throw new Error('refused');
    await ledger.settle(r.value, 0.4, NOW, call('d'));
    const stored = [{ kind: 'key' as const, id: 'k1', periodStart: NOV, spentUsd: 0.4 }];
    await ledger.replaceBaselines(stored, seen(NOW + 5000, id('d')));
    expect(await backend.get([ledger.counterKey('key', 'k1', NOV)])).toEqual([400_000]);
    expect(ledger.awaitingStore()).toEqual([]); // not asked about again
    await ledger.replaceBaselines(stored, seen(NOW + 10_000));
    expect(await backend.get([ledger.counterKey('key', 'k1', NOV)])).toEqual([400_000]);
    await ledger.replaceBaselines(stored, seen(NOW + 15_000));
    expect(await backend.get([ledger.counterKey('key', 'k1', NOV)])).toEqual([0]);
  });

  it('gives up a cost unseen by the store only when its period ends or after maxPendingMs', async () => {
    const ledger = new BudgetLedger({ backend: new MemoryBackend(), maxPendingMs: 3_600_000 });
    await ledger.replaceBaselines([], seen(NOW));
    const daily = { ...keyScope(1), period: 'daily' as const };
    const a = await ledger.reserve([daily], 0.1, NOW);
    const b = await ledger.reserve([keyScope(1, 'k2')], 0.1, NOW);
    if (!a.ok || !b.ok) throw new Error('refused');
    await ledger.settle(a.value, 0.1, NOW, call('e'));
    await ledger.settle(b.value, 0.1, NOW, call('f'));
    await ledger.replaceBaselines([], seen(NOW + 3_599_000));
    expect(ledger.awaitingStore()).toHaveLength(2);
    await ledger.replaceBaselines([], seen(NOW + 3_600_000));
    expect(ledger.awaitingStore()).toEqual([]);
    const noon = Date.parse('2026-11-23T12:00:00Z');
    const c = await ledger.reserve([daily], 0.1, noon);
    if (!c.ok) throw new Error('refused');
    await ledger.settle(c.value, 0.1, noon, call('g'));
    await ledger.replaceBaselines([], seen(Date.parse('2026-11-24T00:00:00Z')));
    expect(ledger.awaitingStore()).toEqual([]);
  });

  it('asks about the oldest settled calls first, at most the limit', async () => {
    const ledger = new BudgetLedger({ backend: new MemoryBackend() });
    for (const name of ['h', 'i', 'j']) {
      const r = await ledger.reserve([keyScope(5)], 0.1, NOW);
      if (!r.ok) throw new Error('refused');
      await ledger.settle(r.value, 0.1, NOW, call(name));
    }
    expect(ledger.awaitingStore(2)).toEqual([
      { requestId: id('h'), startedAt: NOW - 1000 },
      { requestId: id('i'), startedAt: NOW - 1000 },
    ]);
  });

  it('keeps at most maxWaiting settled costs waiting: past it the oldest are given back, counted', async () => {
    const backend = new MemoryBackend();
    const ledger = new BudgetLedger({ backend, maxWaiting: 10 });
    await ledger.replaceBaselines([], seen(NOW));
    for (let i = 0; i < 11; i++) {
      const r = await ledger.reserve([keyScope(100)], 0.1, NOW);
      if (!r.ok) throw new Error('refused');
      await ledger.settle(r.value, 0.1, NOW, { requestId: `00000000-0000-4000-8000-${String(i).padStart(12, '0')}`, startedAt: new Date(NOW).toISOString() });
    }
    // The eleventh pushed the oldest tenth-and-one out: ten waiting would be over, so 2 go.
    expect(ledger.givenUpUnseen).toBe(2);
    expect(ledger.awaitingStore().map((c) => c.requestId.slice(-2))).toEqual(['02', '03', '04', '05', '06', '07', '08', '09', '10']);
    expect((await ledger.status(keyScope(100), NOW)).spentUsd).toBeCloseTo(0.9, 9);
  });

  it('moves its window on: calls the store never shows cannot keep newer ones from being asked about', async () => {
    const ledger = new BudgetLedger({ backend: new MemoryBackend() });
    await ledger.replaceBaselines([], seen(NOW));
    const ids: string[] = [];
    for (let i = 0; i < 5; i++) {
      const r = await ledger.reserve([keyScope(100)], 0.1, NOW);
      if (!r.ok) throw new Error('refused');
      ids.push(`00000000-0000-4000-8000-${String(i).padStart(12, '0')}`);
      await ledger.settle(r.value, 0.1, NOW, { requestId: ids[i]!, startedAt: new Date(NOW).toISOString() });
    }
    // The two oldest never reach the store (dead letters); the window still reaches the others.
    expect(ledger.awaitingStore(2).map((c) => c.requestId)).toEqual([ids[0], ids[1]]);
    await ledger.replaceBaselines([], seen(NOW + 5000));
    expect(ledger.awaitingStore(2).map((c) => c.requestId)).toEqual([ids[2], ids[3]]);
    await ledger.replaceBaselines([], seen(NOW + 10_000, ids[2]!, ids[3]!));
    expect(ledger.awaitingStore(2).map((c) => c.requestId)).toEqual([ids[4], ids[0]]);
  });

  it('release() gives back every waiting cost only this process counts (a proxy stopping)', async () => {
    const backend = new MemoryBackend();
    const ledger = new BudgetLedger({ backend });
    await ledger.replaceBaselines([], seen(NOW));
    const r = await ledger.reserve([keyScope(1)], 0.3, NOW);
    if (!r.ok) throw new Error('refused');
    await ledger.settle(r.value, 0.3, NOW, call('r'));
    expect(await backend.get([ledger.counterKey('key', 'k1', NOV)])).toEqual([300_000]);
    await ledger.release();
    expect(await backend.get([ledger.counterKey('key', 'k1', NOV)])).toEqual([0]);
    expect(ledger.awaitingStore()).toEqual([]);
  });

  it('on a journaled backend release() hands the costs over, and a give-back that failed is tried again', async () => {
    const counters = new MemoryBackend();
    const plain = counterHolds(counters);
    const journal = new Set<string>();
    let down = false;
    let left = false;
    // The journal's contract (redis-holds.ts): a cost leaves the counters only by leaving the journal.
    const holds: BudgetHolds = {
      journaled: true,
      reserve: (e) => plain.reserve(e),
      settle: async (keys, reserved, cost) => {
        await plain.settle(keys, reserved, cost);
        if (cost) journal.add(cost.id);
      },
      giveBack: async (costs) => {
        if (down) throw new Error('down');
        await plain.giveBack(costs.filter((c) => journal.delete(c.id)));
      },
      lease: () => Promise.resolve({ adopted: [], more: false }),
      leave: () => Promise.resolve(void (left = true)),
    };
    const backend: CounterBackend = {
      kind: 'journaled',
      reserve: (e) => counters.reserve(e),
      add: (k, d) => counters.add(k, d),
      get: (k) => counters.get(k),
      rateAcquire: (e, t) => counters.rateAcquire(e, t),
      rateAdjust: (e, t) => counters.rateAdjust(e, t),
      holds,
    };
    const ledger = new BudgetLedger({ backend, sharedGraceMs: 0 });
    const pending = async (): Promise<number> => (await counters.get([ledger.counterKey('key', 'k1', NOV)]))[0]!;
    await ledger.replaceBaselines([], seen(NOW));
    for (const [name, usd] of [['s', 0.3], ['t', 0.2]] as const) {
      const r = await ledger.reserve([keyScope(1)], usd, NOW);
      if (!r.ok) throw new Error('refused');
      await ledger.settle(r.value, usd, NOW, call(name));
    }
    down = true;
    await expect(ledger.replaceBaselines([], seen(NOW + 5000, id('s')))).rejects.toThrow('down');
    expect(await pending()).toBe(500_000);
    down = false;
    await ledger.replaceBaselines([], seen(NOW + 10_000));
    expect(await pending()).toBe(200_000);
    // t is not stored yet: it stays counted for the proxy that takes it over.
    await ledger.release();
    expect(left).toBe(true);
    expect(await pending()).toBe(200_000);
  });

  it('a new period starts from zero', async () => {
    const ledger = new BudgetLedger({ backend: new MemoryBackend() });
    await ledger.replaceBaselines([{ kind: 'key', id: 'k1', periodStart: NOV, spentUsd: 1 }], seen(NOW));
    expect((await ledger.reserve([keyScope(1)], 0.1, NOW)).ok).toBe(false);
    expect((await ledger.reserve([keyScope(1)], 0.1, Date.parse('2026-12-01T00:00:00Z'))).ok).toBe(true);
  });
});

describe('loadBaselines', () => {
  it('asks once per scope kind and period start, and maps rows back', async () => {
    const spendSince = vi.fn((q: { scope: 'key' | 'team'; since: Date; ids: readonly string[] }) =>
      Promise.resolve(q.ids.map((id) => ({ id, spent_usd: id.length }))),
    );
    const scopes: BudgetScope[] = [keyScope(1, 'a'), keyScope(1, 'bb'), { ...keyScope(1, 'ccc'), period: 'daily' }, teamScope(1)];
    const rows = await loadBaselines(scopes, NOW, spendSince);
    expect(spendSince).toHaveBeenCalledTimes(3);
    expect(spendSince).toHaveBeenCalledWith({ scope: 'key', since: new Date(NOV), ids: ['a', 'bb'] });
    expect(spendSince).toHaveBeenCalledWith({ scope: 'key', since: new Date('2026-11-23T00:00:00Z'), ids: ['ccc'] });
    expect(rows).toContainEqual({ kind: 'team', id: 'search', periodStart: NOV, spentUsd: 6 });
    expect(rows).toHaveLength(4);
  });
});
