// Spend per end user (the call's `user`) of virtual keys since a period start, from recorded
// calls: the per-user budgets' baselines (the proxy's ledger) and the admin listing of a key's
// top end users. Refused calls cost nothing; a null (unknown) cost counts as 0. Calls naming
// no end user are not listed. At most `perKey` users per key, the biggest spenders first, so
// an app with millions of end users (or an attacker naming a new one on every call) cannot
// make the answer, or what a proxy keeps of it, grow without bound.
import { z } from 'zod';
import { Num } from './row-types.ts';
import type { Store } from './client.ts';
import { readQuery } from './read-query.ts';

export const UserSpend = z.object({ key_id: z.string(), user: z.string(), spent_usd: Num, calls: Num });
export type UserSpend = z.infer<typeof UserSpend>;

/** Most users read per key (and per request of the admin listing). */
export const MAX_USERS_PER_KEY = 50_000;

function toChTime(ms: number): string {
  return new Date(ms).toISOString().replace('T', ' ').replace('Z', '');
}

/** The top `perKey` end users of each of `keyIds` by spend since `since` (epoch ms), biggest first. */
export async function userSpendByKey(store: Store, q: { keyIds: readonly string[]; since: number; perKey: number }): Promise<UserSpend[]> {
  if (q.keyIds.length === 0) return [];
  const perKey = Math.min(Math.max(1, Math.floor(q.perKey)), MAX_USERS_PER_KEY);
  const rs = await readQuery(store, {
    query: `SELECT key_id, user, sum(ifNull(cost_usd, 0)) AS spent_usd, count() AS calls
            FROM ${store.database}.llm_calls FINAL
            WHERE started_at >= {since:DateTime64(3, 'UTC')} AND outcome != 'refused' AND user != '' AND key_id IN {ids:Array(String)}
            GROUP BY key_id, user
            ORDER BY key_id, spent_usd DESC, user
            LIMIT {per_key:UInt32} BY key_id`,
    query_params: { since: toChTime(q.since), ids: [...q.keyIds], per_key: perKey },
  }, { kind: 'keys' });
  return z.array(UserSpend).parse(await rs.json());
}
