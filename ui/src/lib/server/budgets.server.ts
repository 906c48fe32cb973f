// Month-to-date spend and month-end forecast per key and per team against their budgets (keys:
// the keys table; teams: gatelog.yaml `teams:`), for the spend page. Method: core/src/spend-forecast.ts.
import { listKeys, type BudgetPeriod } from '@gatelog/core/store/keys';
import { monthSpend } from '@gatelog/core/store/spend-queries';
import { budgetState, forecastMonthEnd, monthlyBudget, monthWindow, type BudgetState, type MonthWindow } from '@gatelog/core/spend-forecast';
import type { Store } from '@gatelog/core/store/client';
import type { TeamConfig } from '@gatelog/core/config';
import { explorerQuery } from '#lib/explorer.ts';

export interface BudgetRow {
  id: string;
  name: string;
  team: string;
  budget: number | null;
  period: BudgetPeriod;
  /** The budget as a monthly amount. */
  monthly: number | null;
  mtd: number;
  ratePerDay: number;
  forecast: number;
  state: BudgetState;
  href: string;
}

export interface Budgets {
  monthStart: string;
  monthEnd: string;
  recentFrom: string;
  keys: BudgetRow[];
  teams: BudgetRow[];
}

const ORDER: Record<BudgetState, number> = { over: 0, 'at risk': 1, ok: 2, 'no budget': 3 };
const byUrgency = (a: BudgetRow, b: BudgetRow): number => ORDER[a.state] - ORDER[b.state] || b.forecast - a.forecast || a.name.localeCompare(b.name);

function row(w: MonthWindow, r: Omit<BudgetRow, 'monthly' | 'ratePerDay' | 'forecast' | 'state' | 'href' | 'mtd'>, spend: { mtd: number; recent: number } | undefined, filter: { key?: string; team?: string }): BudgetRow {
  const f = forecastMonthEnd(w, spend?.mtd ?? 0, spend?.recent ?? 0);
  const monthly = monthlyBudget(r.budget, r.period, w);
  const href = `/requests${explorerQuery({ from: new Date(w.monthStart).toISOString(), to: new Date(w.now).toISOString(), sort: 'cost', ...filter })}`;
  return { ...r, monthly, mtd: f.mtd, ratePerDay: f.ratePerDay, forecast: f.forecast, state: budgetState(f, monthly), href };
}

export async function budgets(store: Store, teamBudgets: Readonly<Record<string, TeamConfig>>, teams: readonly string[] | undefined, now = Date.now()): Promise<Budgets> {
  const w = monthWindow(now);
  const iso = (ms: number): string => new Date(ms).toISOString();
  const q = { monthStart: iso(w.monthStart), recentFrom: iso(w.recentFrom), now: iso(now), teams };
  const [keySpend, teamSpend, keys] = await Promise.all([monthSpend(store, { ...q, scope: 'key' }), monthSpend(store, { ...q, scope: 'team' }), listKeys(store)]);
  const inScope = (team: string): boolean => !teams?.length || teams.includes(team);
  const kSpend = new Map(keySpend.map((s) => [s.id, s]));
  const keyRows = keys
    .filter((k) => inScope(k.team) && (kSpend.has(k.id) || (k.budget_usd !== null && !k.revoked)))
    .map((k) => row(w, { id: k.id, name: k.name || k.id, team: k.team, budget: k.budget_usd, period: k.budget_period }, kSpend.get(k.id), { key: k.id }));
  const tSpend = new Map(teamSpend.map((s) => [s.id, s]));
  const teamNames = new Set([...Object.keys(teamBudgets), ...tSpend.keys()].filter(inScope));
  const teamRows = [...teamNames].map((t) => {
    const b = teamBudgets[t];
    return row(w, { id: t, name: t, team: t, budget: b?.budget_usd ?? null, period: b?.period ?? 'none' }, tSpend.get(t), { team: t });
  });
  return { monthStart: iso(w.monthStart), monthEnd: iso(w.monthEnd), recentFrom: iso(w.recentFrom), keys: keyRows.sort(byUrgency).slice(0, 50), teams: teamRows.sort(byUrgency).slice(0, 50) };
}
