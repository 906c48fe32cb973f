// The admin listing of a key's end users by spend in the current period (GET
// /admin/keys/:id/users): recorded spend from the store, and — when the key has a per-user
// budget — what each has left as the proxy enforces it (the store's spend plus calls in flight
// or not yet stored, ledger.status).
import type { Store } from '@gatelog/core';
import { userSpendByKey } from '@gatelog/core/store/user-spend';
import type { VirtualKey } from './keys.ts';
import type { BudgetLedger } from './budget.ts';
import { endUserGate, userBudgetPeriod } from './end-user.ts';
import { periodReset, periodStart, type BudgetPeriod } from './period.ts';

export interface EndUserSpendRow {
  user: string;
  spent_usd: number;
  calls: number;
  /** Null when the key has no per-user budget. */
  remaining_usd: number | null;
}

export interface EndUserSpend {
  period: BudgetPeriod;
  since: string;
  resets_at: string | null;
  user_budget_usd: number | null;
  data: EndUserSpendRow[];
}

export async function endUserSpend(store: Store, gov: { ledger: BudgetLedger; now: () => number }, key: VirtualKey, limit: number): Promise<EndUserSpend> {
  const now = gov.now();
  const period = userBudgetPeriod(key);
  const since = periodStart(period, now);
  const reset = periodReset(period, now);
  const rows = await userSpendByKey(store, { keyIds: [key.id], since, perKey: limit });
  const data = await Promise.all(
    rows.map(async (r): Promise<EndUserSpendRow> => {
      const scope = endUserGate(key, r.user)?.scope;
      const remaining = scope ? (await gov.ledger.status(scope, now)).remainingUsd : null;
      return { user: r.user, spent_usd: r.spent_usd, calls: r.calls, remaining_usd: remaining };
    }),
  );
  return { period, since: new Date(since).toISOString(), resets_at: reset === null ? null : new Date(reset).toISOString(), user_budget_usd: key.user_budget_usd, data };
}
