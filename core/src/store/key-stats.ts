// The keys page's read model: every key's latest version, without its hash, joined with its
// spend in the current budget period and its last use, from recorded calls. All values are
// typed parameters; period starts follow the proxy's budget periods (UTC; weekly = ISO week).
import { z } from 'zod';
import { ChTime, Num } from './row-types.ts';
import type { Store } from './client.ts';
import { readQuery } from './read-query.ts';
import { listKeys, type BudgetPeriod, type KeyRecord } from './keys.ts';

const DAY_MS = 86_400_000;

/** Start of the budget period containing `now` (epoch ms); 0 for `none` (all time). */
export function budgetPeriodStart(period: BudgetPeriod, now: number): number {
  const d = new Date(now);
  const day = Date.UTC(d.getUTCFullYear(), d.getUTCMonth(), d.getUTCDate());
  switch (period) {
    case 'daily':
      return day;
    case 'weekly':
      return day - ((d.getUTCDay() + 6) % 7) * DAY_MS;
    case 'monthly':
      return Date.UTC(d.getUTCFullYear(), d.getUTCMonth(), 1);
    case 'none':
      return 0;
  }
}

/** What the UI may show of a key: everything but the hashes (and there is no secret to show). */
export type KeyView = Omit<KeyRecord, 'key_hash' | 'previous_key_hash' | 'counter_salt' | 'metadata'> & {
  /** Spend since `period_start` (null cost counts 0, refused calls cost nothing). */
  spent_usd: number;
  period_start: string;
  /** ISO time of the newest recorded call with this key, or null if never used. */
  last_used_at: string | null;
  calls_in_period: number;
};

const KeyUse = z.object({
  id: z.string(),
  last_used_at: ChTime,
  spent_daily: Num,
  spent_weekly: Num,
  spent_monthly: Num,
  spent_none: Num,
  calls_daily: Num,
  calls_weekly: Num,
  calls_monthly: Num,
  calls_none: Num,
});
type KeyUse = z.infer<typeof KeyUse>;

function chTime(ms: number): string {
  return new Date(ms).toISOString().replace('T', ' ').replace('Z', '');
}

/** Spend per period kind and last use for the given key ids, one scan of llm_calls. */
export async function keyUsage(store: Store, ids: readonly string[], now: number): Promise<Map<string, KeyUse>> {
  if (ids.length === 0) return new Map();
  const spent = (p: string): string => `sumIf(ifNull(cost_usd, 0), outcome != 'refused' AND started_at >= {${p}:DateTime64(3, 'UTC')})`;
  const calls = (p: string): string => `countIf(started_at >= {${p}:DateTime64(3, 'UTC')})`;
  const rs = await readQuery(store, {
    query: `SELECT key_id AS id, max(started_at) AS last_used_at,
              ${spent('p_daily')} AS spent_daily, ${spent('p_weekly')} AS spent_weekly,
              ${spent('p_monthly')} AS spent_monthly, ${spent('p_none')} AS spent_none,
              ${calls('p_daily')} AS calls_daily, ${calls('p_weekly')} AS calls_weekly,
              ${calls('p_monthly')} AS calls_monthly, ${calls('p_none')} AS calls_none
            FROM ${store.database}.llm_calls FINAL
            WHERE key_id IN {ids:Array(String)}
            GROUP BY key_id`,
    query_params: {
      ids: [...ids],
      p_daily: chTime(budgetPeriodStart('daily', now)),
      p_weekly: chTime(budgetPeriodStart('weekly', now)),
      p_monthly: chTime(budgetPeriodStart('monthly', now)),
      p_none: chTime(0),
    },
  });
  const rows = z.array(KeyUse).parse(await rs.json());
  return new Map(rows.map((r) => [r.id, r]));
}

/** Every key (revoked included), oldest first, with current-period spend and last use. */
export async function listKeyViews(store: Store, now = Date.now()): Promise<KeyView[]> {
  const keys = await listKeys(store);
  const usage = await keyUsage(store, keys.map((k) => k.id), now);
  return keys.map((k) => {
    // Named fields only: a hash (or anything added to KeyRecord later) never reaches a page.
    const u = usage.get(k.id);
    const period = k.budget_period;
    return {
      id: k.id, version: k.version, key_prefix: k.key_prefix, previous_key_prefix: k.previous_key_prefix, previous_valid_until: k.previous_valid_until,
      rotated_at: k.rotated_at, name: k.name, team: k.team, owner: k.owner,
      models: k.models, budget_usd: k.budget_usd, budget_period: period, rpm: k.rpm, tpm: k.tpm,
      max_parallel: k.max_parallel, user_rpm: k.user_rpm, user_tpm: k.user_tpm, user_budget_usd: k.user_budget_usd,
      user_budget_period: k.user_budget_period, require_user: k.require_user, expires_at: k.expires_at, revoked: k.revoked, created_at: k.created_at,
      updated_at: k.updated_at, updated_by: k.updated_by,
      spent_usd: u ? u[`spent_${period}`] : 0,
      calls_in_period: u ? u[`calls_${period}`] : 0,
      period_start: new Date(budgetPeriodStart(period, now)).toISOString(),
      last_used_at: u ? u.last_used_at : null,
    };
  });
}
