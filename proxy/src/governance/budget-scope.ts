// What a budget applies to and what a refusal says: the scopes a call is charged to (its key's
// budget, its team's, an end user's), the most a request can cost, and the 429 a scope over its
// budget answers. The ledger that counts spend against them is budget.ts.
import type { VirtualKey } from './keys.ts';
import { describeReset, periodReset, type BudgetPeriod } from './period.ts';
import type { Refusal } from './refusal.ts';

/** `user`: one end user of a key (end-user.ts); its id is `<key id>:<hash of the user>`. */
export type ScopeKind = 'key' | 'team' | 'user';

export interface BudgetScope {
  kind: ScopeKind;
  /** key id, team name, or `<key id>:<user hash>` */
  id: string;
  /** For messages: the key's name, the team name or the end user (never a secret). */
  label: string;
  budgetUsd: number;
  period: BudgetPeriod;
  /**
   * The group whose floor applies when the baselines hold no row for this scope (`user`
   * scopes: their key's id). Baselines list a bounded number of a key's end users; when a key
   * has more, the smallest spend listed bounds every user left out (see `BaselineRow.floor`).
   */
  group?: string;
}

export interface TeamBudget {
  budget_usd: number;
  period: BudgetPeriod;
}

/** The scopes a request with `key` is charged to: the key's budget and its team's, if set. */
export function budgetScopes(key: VirtualKey, teamBudgets: ReadonlyMap<string, TeamBudget>): BudgetScope[] {
  const scopes: BudgetScope[] = [];
  if (key.budget_usd !== null) scopes.push({ kind: 'key', id: key.id, label: key.name, budgetUsd: key.budget_usd, period: key.budget_period });
  const team = key.team ? teamBudgets.get(key.team) : undefined;
  if (team) scopes.push({ kind: 'team', id: key.team, label: key.team, budgetUsd: team.budget_usd, period: team.period });
  return scopes;
}

export type PriceFn = (usage: { input_tokens: number; output_tokens: number }) => number | null;

/**
 * The most a request can cost: its (estimated) input tokens plus every output token it may
 * generate. Null when the price is unknown (the caller decides; see README of governance).
 */
export function worstCaseCostUsd(o: { inputTokens: number; maxTokens: number | null | undefined; defaultMaxTokens: number; price: PriceFn }): number | null {
  const output = o.maxTokens ?? o.defaultMaxTokens;
  return o.price({ input_tokens: Math.max(0, Math.ceil(o.inputTokens)), output_tokens: Math.max(0, Math.ceil(output)) });
}

const PERIOD_WORD: Record<BudgetPeriod, string> = { daily: 'today', weekly: 'this week', monthly: 'this month', none: 'in total' };

export function budgetRefusal(scope: BudgetScope, spentUsd: number, requestUsd: number, now: number): Refusal {
  const used = `$${spentUsd.toFixed(4)} of $${scope.budgetUsd.toFixed(2)} used ${PERIOD_WORD[scope.period]} and this request may cost up to $${requestUsd.toFixed(4)}; ${describeReset(scope.period, now)}.`;
  if (scope.kind === 'user') {
    // The other end users of the key are not affected: say when this one may call again.
    const reset = periodReset(scope.period, now);
    return {
      status: 429,
      type: 'budget_exceeded',
      code: 'user_budget_exceeded',
      message: `Budget exceeded for end user ${scope.label}: ${used}`,
      retryAfterSeconds: reset === null ? undefined : Math.max(1, Math.ceil((reset - now) / 1000)),
    };
  }
  return { status: 429, type: 'budget_exceeded', code: 'budget_exceeded', message: `Budget exceeded for ${scope.kind} "${scope.label}": ${used}` };
}
