import { describe, expect, it } from 'vitest';
import { MemoryBackend } from './backend.ts';
import { BudgetLedger } from './budget.ts';
import { budgetScopes } from './budget-scope.ts';
import { createKey, updateKey, type VirtualKey } from './keys.ts';
import { RateLimiter } from './rate-limit.ts';
import { endUserGate, endUserHash, endUserScopeId, loadUserBaselines, USER_SUBJECT, userBudgetPeriod } from './end-user.ts';

const NOW = Date.parse('2026-11-23T10:00:00Z');
const NOV = Date.parse('2026-11-01T00:00:00Z');
const author = { now: NOW, actor: 'master' };

function mk(input: Record<string, unknown> = {}): VirtualKey {
  const r = createKey({ name: 'app-x', ...input }, author);
  if (!r.ok) throw new Error(r.message);
  return r.value.key;
}

describe('end-user key fields', () => {
  it('are stored as given, the user budget defaulting to the key budget period, else monthly', () => {
    const k = mk({ user_rpm: 10, user_tpm: '5000', user_budget_usd: 0.5, require_user: true });
    expect(k).toMatchObject({ user_rpm: 10, user_tpm: 5000, user_budget_usd: 0.5, user_budget_period: 'monthly', require_user: true });
    expect(mk({ budget_usd: 5, budget_period: 'weekly', user_budget_usd: 1 }).user_budget_period).toBe('weekly');
    expect(mk({ user_budget_usd: 1, user_budget_period: 'daily' }).user_budget_period).toBe('daily');
    expect(mk()).toMatchObject({ user_rpm: null, user_tpm: null, user_budget_usd: null, user_budget_period: 'none', require_user: false });
    // The CLI and the UI form send text.
    expect(mk({ require_user: 'true' }).require_user).toBe(true);
  });

  it.each([
    [{ user_rpm: 0 }, 'user_rpm: greater than 0'],
    [{ user_tpm: 1.5 }, 'user_tpm: a whole number'],
    [{ user_budget_usd: -1 }, 'user_budget_usd: greater than 0'],
    [{ user_budget_period: 'hourly' }, 'user_budget_period:'],
    [{ require_user: 'yes' }, 'require_user:'],
  ])('refuses %j naming the field', (input, msg) => {
    const r = createKey({ name: 'x', ...input }, author);
    expect(r.ok).toBe(false);
    if (!r.ok) expect(r.message).toContain(msg);
  });

  it('update: a user budget added later gets the default period; removed, the period goes', () => {
    const k = mk({ budget_usd: 3, budget_period: 'daily' });
    const a = updateKey(k, { user_budget_usd: 0.25, user_rpm: 3 }, author);
    if (!a.ok) throw new Error(a.message);
    expect(a.value).toMatchObject({ user_budget_usd: 0.25, user_budget_period: 'daily', user_rpm: 3, version: 2 });
    const b = updateKey(a.value, { user_budget_usd: null, user_rpm: null, require_user: false }, author);
    if (!b.ok) throw new Error(b.message);
    expect(b.value).toMatchObject({ user_budget_usd: null, user_budget_period: 'none', user_rpm: null, require_user: false });
    expect(updateKey(k, { user_rpm: 'many' }, author)).toMatchObject({ ok: false, message: expect.stringContaining('user_rpm') as unknown });
  });
});

describe('endUserGate', () => {
  it('limits nothing without a user or without per-user limits', () => {
    expect(endUserGate(mk({ user_rpm: 5 }), '')).toBeUndefined();
    expect(endUserGate(mk({ rpm: 5, budget_usd: 1 }), 'alice')).toBeUndefined();
  });

  it('names counters by an HMAC of the user keyed by the key hash: never the user in clear, unrelated across keys', () => {
    const k1 = mk({ user_rpm: 5, user_budget_usd: 1 });
    const k2 = mk({ user_rpm: 5 });
    const g = endUserGate(k1, 'alice@example.com')!;
    expect(g.id).toBe(`${k1.id}:${endUserHash(k1, 'alice@example.com')}`);
    expect(g.id).toMatch(/^key_[0-9a-f-]+:[0-9a-f]{32}$/);
    expect(g.id).not.toContain('alice');
    expect(endUserHash(k1, 'alice@example.com')).not.toBe(endUserHash(k2, 'alice@example.com'));
    expect(endUserHash(k1, 'alice@example.com')).not.toBe(endUserHash(k1, 'bob@example.com'));
    expect(g.rate).toEqual({ rpm: 5, tpm: null, maxParallel: null });
    expect(g.scope).toMatchObject({ kind: 'user', id: g.id, group: k1.id, budgetUsd: 1, period: 'monthly' });
    expect(endUserGate(k2, 'alice')!.scope).toBeNull();
  });

  it('the listing period follows the user budget, else the default', () => {
    expect(userBudgetPeriod(mk({ user_budget_usd: 1, user_budget_period: 'daily' }))).toBe('daily');
    expect(userBudgetPeriod(mk({ budget_usd: 1, budget_period: 'weekly' }))).toBe('weekly');
    expect(userBudgetPeriod(mk())).toBe('monthly');
  });
});

describe('rate limits per end user', () => {
  it('user A over its RPM is refused with user_rate_limit_exceeded and Retry-After; user B is not', async () => {
    const key = mk({ user_rpm: 2 });
    const limiter = new RateLimiter({ backend: new MemoryBackend(), prefix: 'gl:rl:user' });
    const acquire = (user: string) => {
      const g = endUserGate(key, user)!;
      return limiter.acquire(g.id, g.rate!, 10, NOW, USER_SUBJECT);
    };
    expect((await acquire('a')).ok).toBe(true);
    expect((await acquire('a')).ok).toBe(true);
    const refused = await acquire('a');
    expect(refused.ok).toBe(false);
    if (!refused.ok) {
      expect(refused.refusal).toMatchObject({ status: 429, type: 'requests', code: 'user_rate_limit_exceeded', retryAfterSeconds: 30 });
      expect(refused.refusal.message).toContain('2 requests per minute for this end user');
    }
    expect((await acquire('b')).ok).toBe(true);
  });
});

describe('MemoryBackend maxRateKeys', () => {
  it('holds at most the cap, dropping the least recently used', async () => {
    const b = new MemoryBackend({ maxRateKeys: 100 });
    const e = (key: string) => ({ key, cost: 1, limit: 1, windowMs: 60_000 });
    expect((await b.rateAcquire([e('victim')], NOW)).ok).toBe(true);
    for (let i = 0; i < 50; i++) await b.rateAcquire([e(`u${i}`)], NOW);
    // Touched again (refused, so unchanged): still limited.
    expect((await b.rateAcquire([e('victim')], NOW)).ok).toBe(false);
    expect((await b.rateAcquire([{ ...e('victim'), cost: 0 }], NOW)).ok).toBe(true);
    for (let i = 50; i < 10_000; i++) await b.rateAcquire([e(`u${i}`)], NOW);
    expect(b.rateKeys).toBe(100);
  });

  it('has no cap by default', async () => {
    const b = new MemoryBackend();
    for (let i = 0; i < 500; i++) await b.rateAcquire([{ key: `k${i}`, cost: 1, limit: 1, windowMs: 60_000 }], NOW);
    expect(b.rateKeys).toBe(500);
  });
});

describe('budgets per end user', () => {
  const key = mk({ budget_usd: 10, user_budget_usd: 0.01 });
  const scopes = (user: string) => [...budgetScopes(key, new Map()), endUserGate(key, user)!.scope!];

  it('one user over its budget is refused with user_budget_exceeded and Retry-After; another user, and the key, go on', async () => {
    const ledger = new BudgetLedger({ backend: new MemoryBackend() });
    await ledger.replaceBaselines([], { stored: new Set(), now: NOW });
    const a1 = await ledger.reserve(scopes('alice'), 0.008, NOW);
    expect(a1.ok).toBe(true);
    const a2 = await ledger.reserve(scopes('alice'), 0.008, NOW);
    expect(a2.ok).toBe(false);
    if (!a2.ok) {
      expect(a2.refusal).toMatchObject({ status: 429, type: 'budget_exceeded', code: 'user_budget_exceeded' });
      expect(a2.refusal.retryAfterSeconds).toBe((Date.parse('2026-12-01T00:00:00Z') - NOW) / 1000);
      expect(a2.refusal.message).toMatch(/^Budget exceeded for end user "alice" of key "app-x": \$0\.0080 of \$0\.01 used this month/);
    }
    expect((await ledger.reserve(scopes('bob'), 0.008, NOW)).ok).toBe(true);
    // Settled to the real cost, alice has room again for a smaller call.
    if (a1.ok) await ledger.settle(a1.value, 0.001, NOW);
    expect((await ledger.reserve(scopes('alice'), 0.008, NOW)).ok).toBe(true);
    const st = await ledger.status(endUserGate(key, 'alice')!.scope!, NOW);
    expect(st.spentUsd).toBeCloseTo(0.009, 9);
  });

  it('baselines: listed users have their own spend; users left out of a truncated listing get its smallest', async () => {
    const k = { ...key, id: 'k1' };
    const rows = [
      { key_id: 'k1', user: 'big', spent_usd: 0.009, calls: 3 },
      { key_id: 'k1', user: 'small', spent_usd: 0.004, calls: 1 },
    ];
    const asked: unknown[] = [];
    const baselines = await loadUserBaselines([k, mk({ name: 'no-user-budget' })], NOW, async (q) => (asked.push(q), rows), { perKey: 2 });
    expect(asked).toEqual([{ keyIds: ['k1'], since: NOV, perKey: 2 }]);
    expect(baselines).toEqual([
      { kind: 'user', id: endUserScopeId(k, 'big'), periodStart: NOV, spentUsd: 0.009 },
      { kind: 'user', id: endUserScopeId(k, 'small'), periodStart: NOV, spentUsd: 0.004 },
      { kind: 'user', id: 'k1', periodStart: NOV, spentUsd: 0.004, floor: true },
    ]);
    const ledger = new BudgetLedger({ backend: new MemoryBackend() });
    await ledger.replaceBaselines(baselines, { stored: new Set(), now: NOW });
    const scope = (u: string) => endUserGate(k, u)!.scope!;
    expect((await ledger.status(scope('big'), NOW)).spentUsd).toBeCloseTo(0.009, 9);
    expect((await ledger.status(scope('unlisted'), NOW)).spentUsd).toBeCloseTo(0.004, 9);
    expect((await ledger.reserve([scope('big')], 0.002, NOW)).ok).toBe(false);
    expect((await ledger.reserve([scope('unlisted')], 0.002, NOW)).ok).toBe(true);
    // Not truncated: no floor, an unlisted user starts at 0.
    expect(await loadUserBaselines([k], NOW, async () => rows.slice(0, 1), { perKey: 2 })).toHaveLength(1);
    // Many keys with user budgets share the total: each reads fewer.
    const many = Array.from({ length: 4 }, () => mk({ user_budget_usd: 1 }));
    const perKeyAsked: number[] = [];
    await loadUserBaselines(many, NOW, async (q) => (perKeyAsked.push(q.perKey), []), { perKey: 10, total: 20 });
    expect(perKeyAsked).toEqual([5]);
  });
});
