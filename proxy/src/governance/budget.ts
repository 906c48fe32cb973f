// Spend caps per key and per team, per period. Spend = baseline (recorded calls in
// ClickHouse, refreshed periodically) + pending (this proxy's — or, with a shared backend,
// every proxy's — in-flight reservations and settled costs not yet covered by a baseline).
// Before forwarding, the request's worst-case cost is reserved on every scope in one atomic
// backend call (all scopes or none); after the response it is settled to the real cost.
// Amounts live in the backend as integer micro-USD so a Redis backend can use INCRBY.
// Counter keys embed the period start, so a new period starts at zero by construction.
import type { VirtualKey } from './keys.ts';
import type { CounterBackend, Via } from './backend.ts';
import { describeReset, periodReset, periodStart, type BudgetPeriod } from './period.ts';
import type { Admission, Refusal } from './refusal.ts';

export type ScopeKind = 'key' | 'team';

export interface BudgetScope {
  kind: ScopeKind;
  /** key id or team name */
  id: string;
  /** For messages: the key's name or the team name (never a secret). */
  label: string;
  budgetUsd: number;
  period: BudgetPeriod;
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

const MICRO = 1_000_000;
const toMicroCeil = (usd: number): number => Math.ceil(usd * MICRO - 1e-6);
const toMicro = (usd: number): number => Math.round(usd * MICRO);

export interface Reservation {
  readonly counterKeys: readonly string[];
  readonly micro: number;
  readonly via: Via | undefined;
  settled: boolean;
}

export interface BaselineRow {
  kind: ScopeKind;
  id: string;
  /** Period start (epoch ms) the spend was summed from. */
  periodStart: number;
  spentUsd: number;
}

interface SettledEntry {
  counterKeys: readonly string[];
  micro: number;
  at: number;
  via: Via | undefined;
}

export interface BudgetStatus {
  spentUsd: number;
  remainingUsd: number;
  resetsAt: number | null;
}

export class BudgetLedger {
  readonly #backend: CounterBackend;
  readonly #prefix: string;
  #baselines = new Map<string, number>();
  #settled: SettledEntry[] = [];
  #loaded = false;

  constructor(o: { backend: CounterBackend; prefix?: string }) {
    this.#backend = o.backend;
    this.#prefix = o.prefix ?? 'gl:budget';
  }

  /** False until the first baseline load: callers should not admit budgeted keys before it. */
  get ready(): boolean {
    return this.#loaded;
  }

  counterKey(kind: ScopeKind, id: string, start: number): string {
    return `${this.#prefix}:${kind}:${start}:${id}`;
  }

  #keyFor(s: BudgetScope, now: number): string {
    return this.counterKey(s.kind, s.id, periodStart(s.period, now));
  }

  /** Reserve `worstCaseUsd` on every scope, atomically, or refuse naming the scope that is full. */
  async reserve(scopes: readonly BudgetScope[], worstCaseUsd: number, now: number): Promise<Admission<Reservation>> {
    // At least 1 micro-USD, so a scope already at its cap refuses even a free-looking request.
    const micro = Math.max(1, toMicroCeil(worstCaseUsd));
    const keys = scopes.map((s) => this.#keyFor(s, now));
    if (scopes.length === 0) return { ok: true, value: { counterKeys: [], micro: 0, via: undefined, settled: false } };
    const baselines = keys.map((k) => this.#baselines.get(k) ?? 0);
    const r = await this.#backend.reserve(
      // The baseline is known locally, so the backend only has to guard the pending part.
      keys.map((key, i) => ({ key, amount: micro, limit: toMicro(scopes[i]!.budgetUsd) - baselines[i]! })),
    );
    if (r.ok) return { ok: true, value: { counterKeys: keys, micro, via: r.via, settled: false } };
    const scope = scopes[r.failed]!;
    const spent = (baselines[r.failed]! + r.values[r.failed]!) / MICRO;
    return { ok: false, refusal: budgetRefusal(scope, spent, worstCaseUsd, now) };
  }

  /** Replace the reservation by the real cost. Idempotent: a second settle does nothing. */
  async settle(res: Reservation, actualUsd: number, now: number): Promise<void> {
    if (res.settled) return;
    res.settled = true;
    if (res.counterKeys.length === 0) return;
    // A cost that is not a finite number (absurd upstream usage) keeps what was reserved.
    const actual = Number.isFinite(actualUsd) ? Math.max(0, toMicro(actualUsd)) : res.micro;
    await Promise.all(res.counterKeys.map((k) => this.#backend.add(k, actual - res.micro, { via: res.via })));
    if (actual > 0) this.#settled.push({ counterKeys: res.counterKeys, micro: actual, at: now, via: res.via });
  }

  /**
   * Replace every baseline with spend read from the store. Settled costs up to `coveredUntil`
   * (epoch ms: when the store's data is believed complete — query time minus ingest lag) are
   * now inside the baseline, so they leave the pending counters; in-flight reservations and
   * later settlements stay. The new baselines apply first, so a reserve racing this refresh
   * can only over-count for a moment, never under-count.
   */
  async replaceBaselines(rows: readonly BaselineRow[], coveredUntil: number): Promise<void> {
    const next = new Map<string, number>();
    for (const r of rows) next.set(this.counterKey(r.kind, r.id, r.periodStart), toMicro(r.spentUsd));
    this.#baselines = next;
    this.#loaded = true;
    const covered = this.#settled.filter((e) => e.at <= coveredUntil);
    this.#settled = this.#settled.filter((e) => e.at > coveredUntil);
    await Promise.all(covered.flatMap((e) => e.counterKeys.map((k) => this.#backend.add(k, -e.micro, { via: e.via }))));
  }

  /** Spend and room left on one scope (for admin views and headers). */
  async status(scope: BudgetScope, now: number): Promise<BudgetStatus> {
    const key = this.#keyFor(scope, now);
    const [pending] = await this.#backend.get([key]);
    const spentMicro = (this.#baselines.get(key) ?? 0) + (pending ?? 0);
    return {
      spentUsd: spentMicro / MICRO,
      remainingUsd: Math.max(0, toMicro(scope.budgetUsd) - spentMicro) / MICRO,
      resetsAt: periodReset(scope.period, now),
    };
  }
}

/** Spend rows the store is asked for: one query per (scope kind, period start). */
export async function loadBaselines(
  scopes: readonly BudgetScope[],
  now: number,
  spendSince: (q: { scope: ScopeKind; since: Date; ids: readonly string[] }) => Promise<readonly { id: string; spent_usd: number }[]>,
): Promise<BaselineRow[]> {
  const groups = new Map<string, { kind: ScopeKind; start: number; ids: Set<string> }>();
  for (const s of scopes) {
    const start = periodStart(s.period, now);
    const g = groups.get(`${s.kind}:${start}`) ?? { kind: s.kind, start, ids: new Set<string>() };
    g.ids.add(s.id);
    groups.set(`${s.kind}:${start}`, g);
  }
  const out: BaselineRow[] = [];
  for (const g of groups.values()) {
    const rows = await spendSince({ scope: g.kind, since: new Date(g.start), ids: [...g.ids] });
    for (const r of rows) out.push({ kind: g.kind, id: r.id, periodStart: g.start, spentUsd: r.spent_usd });
  }
  return out;
}

const PERIOD_WORD: Record<BudgetPeriod, string> = { daily: 'today', weekly: 'this week', monthly: 'this month', none: 'in total' };

export function budgetRefusal(scope: BudgetScope, spentUsd: number, requestUsd: number, now: number): Refusal {
  return {
    status: 429,
    type: 'budget_exceeded',
    code: 'budget_exceeded',
    message:
      `Budget exceeded for ${scope.kind} "${scope.label}": $${spentUsd.toFixed(4)} of $${scope.budgetUsd.toFixed(2)} used ${PERIOD_WORD[scope.period]}` +
      ` and this request may cost up to $${requestUsd.toFixed(4)}; ${describeReset(scope.period, now)}.`,
  };
}
