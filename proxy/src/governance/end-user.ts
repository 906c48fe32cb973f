// Limits per end user of a virtual key: the `user` a call names (x-gatelog-user, Helicone's and
// Portkey's headers, the body's `user`/`safety_identifier` or Anthropic's `metadata.user_id`:
// capture/request-meta.ts) gets its own requests and tokens per minute and its own budget per
// period, so one abusive end user of an app cannot spend the whole key. The same machinery as
// the key's own limits (rate-limit.ts, budget.ts), on counters named by a hash of the user: an
// HMAC keyed by the key's hash (never in Redis), so end-user ids — personal data — never sit in
// the shared state in clear, and the same user of two keys has unrelated counters. Calls that
// name no end user are not limited per user (unless the key requires one); the key's own limits
// apply on top, and are taken after the user's, so a user cycling ids cannot dodge them.
import { createHmac } from 'node:crypto';
import type { UserSpend } from '@gatelog/core/store/user-spend';
import { defaultUserPeriod, type VirtualKey } from './keys.ts';
import type { BaselineRow } from './budget.ts';
import type { BudgetScope } from './budget-scope.ts';
import type { RateLimits, RateSubject } from './rate-limit.ts';
import { periodStart, type BudgetPeriod } from './period.ts';
import { quoteUserText, type Refusal } from './refusal.ts';

export const USER_SUBJECT: RateSubject = { who: 'this end user', code: 'user_rate_limit_exceeded' };

/**
 * End users' rate states one proxy holds in memory at most (the local counters; Redis keys
 * expire after their window): past it the least recently used go (~150 bytes each).
 */
export const MAX_USER_RATE_KEYS = 100_000;
/** End users per key whose spend a proxy reads as budget baselines; the rest share a bound. */
export const USER_BASELINES_PER_KEY = 10_000;
/** End users' baselines a proxy holds in all (~100 bytes each): many keys with user budgets read fewer each. */
export const MAX_USER_BASELINES = 200_000;

export const USER_REQUIRED: Refusal = {
  status: 400,
  type: 'invalid_request_error',
  code: 'user_required',
  message: 'This key requires every call to name its end user: send the x-gatelog-user header, or `user` in the body (Anthropic: metadata.user_id).',
};

/**
 * 128 bits of HMAC-SHA256(key hash, user): stable across proxies, meaningless without the keys
 * table. A rotated key keeps hashing with its first secret's hash (`counter_salt`), so its end
 * users' counters and budgets carry on.
 */
export function endUserHash(key: Pick<VirtualKey, 'key_hash' | 'counter_salt'>, user: string): string {
  return createHmac('sha256', key.counter_salt || key.key_hash).update(user, 'utf8').digest('hex').slice(0, 32);
}

/** The counters' id of `user` of `key`: `<key id>:<hash>`. */
export function endUserScopeId(key: Pick<VirtualKey, 'id' | 'key_hash' | 'counter_salt'>, user: string): string {
  return `${key.id}:${endUserHash(key, user)}`;
}

/** The period end users' budgets (and the spend listing) of `key` count in. */
export function userBudgetPeriod(key: VirtualKey): BudgetPeriod {
  return key.user_budget_usd !== null ? key.user_budget_period : defaultUserPeriod(key.budget_period);
}

export interface EndUserGate {
  /** Rate limiter id (end-user counters have a limiter of their own). */
  id: string;
  rate: RateLimits | null;
  scope: BudgetScope | null;
}

/** What `user` of `key` is limited by; undefined when nothing (no user named, no per-user limit). */
export function endUserGate(key: VirtualKey, user: string): EndUserGate | undefined {
  if (user === '') return undefined;
  const rate = key.user_rpm !== null || key.user_tpm !== null ? { rpm: key.user_rpm, tpm: key.user_tpm, maxParallel: null } : null;
  if (!rate && key.user_budget_usd === null) return undefined;
  const id = endUserScopeId(key, user);
  const scope: BudgetScope | null =
    key.user_budget_usd === null
      ? null
      : { kind: 'user', id, group: key.id, label: `${quoteUserText(user)} of key "${key.name}"`, budgetUsd: key.user_budget_usd, period: key.user_budget_period };
  return { id, rate, scope };
}

export type ReadUserSpend = (q: { keyIds: readonly string[]; since: number; perKey: number }) => Promise<readonly UserSpend[]>;

/**
 * Budget baselines of the end users of every key with a user budget: one query per period
 * start, at most `perKey` users a key (the biggest spenders; fewer when many keys have user
 * budgets, so all of them stay within `total`). When a key has more, the
 * smallest spend listed becomes that key's floor: a user left out has spent no more than it,
 * so counting it over-counts their spend, never under-counts it.
 */
export async function loadUserBaselines(keys: readonly VirtualKey[], now: number, read: ReadUserSpend, o: { perKey?: number; total?: number } = {}): Promise<BaselineRow[]> {
  const groups = new Map<number, VirtualKey[]>();
  let budgeted = 0;
  for (const k of keys) {
    if (k.user_budget_usd === null || k.revoked) continue;
    const start = periodStart(k.user_budget_period, now);
    const group = groups.get(start);
    if (group) group.push(k);
    else groups.set(start, [k]);
    budgeted++;
  }
  const perKey = Math.max(1, Math.min(o.perKey ?? USER_BASELINES_PER_KEY, Math.floor((o.total ?? MAX_USER_BASELINES) / Math.max(1, budgeted))));
  const out: BaselineRow[] = [];
  for (const [start, group] of groups) {
    const byId = new Map(group.map((k) => [k.id, k]));
    const rows = await read({ keyIds: [...byId.keys()], since: start, perKey });
    const listed = new Map<string, { n: number; least: number }>();
    for (const r of rows) {
      const k = byId.get(r.key_id);
      if (!k) continue;
      out.push({ kind: 'user', id: endUserScopeId(k, r.user), periodStart: start, spentUsd: r.spent_usd });
      const l = listed.get(k.id) ?? { n: 0, least: Infinity };
      listed.set(k.id, { n: l.n + 1, least: Math.min(l.least, r.spent_usd) });
    }
    for (const [id, l] of listed) if (l.n >= perKey) out.push({ kind: 'user', id, periodStart: start, spentUsd: l.least, floor: true });
  }
  return out;
}
