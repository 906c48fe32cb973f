// Spend caps per key and per team, per period. Spend = baseline (recorded calls in
// ClickHouse, refreshed periodically) + pending (this proxy's — or, with a shared backend,
// every proxy's — in-flight reservations and settled costs not yet covered by a baseline).
// A settled cost leaves the pending counters only once the store was seen holding its call
// (by request id, asked before the spend is read), never because it is old: the bus may hold
// calls back for minutes (a Kafka outage, a rebalance, an ingest backlog), and a cost in
// neither number would let a key spend past its budget for as long as that lasts.
// Before forwarding, the request's worst-case cost is reserved on every scope in one atomic
// backend call (all scopes or none); after the response it is settled to the real cost.
// Amounts live in the backend as integer micro-USD so a Redis backend can use INCRBY.
// Counter keys embed the period start, so a new period starts at zero by construction.
// On shared counters every proxy's part is journaled under a lease (backend.ts BudgetHolds): a
// proxy that dies or stops leaves its costs to the next live proxy instead of on the counters.
import { randomUUID } from 'node:crypto';
import { holdsOf, type BudgetHolds, type CounterBackend, type HeldCost, type Via } from './backend.ts';
import { periodReset, periodStart } from './period.ts';
import type { Admission } from './refusal.ts';
import { budgetRefusal, type BudgetScope, type ScopeKind } from './budget-scope.ts';

const MICRO = 1_000_000;
const toMicroCeil = (usd: number): number => Math.ceil(usd * MICRO - 1e-6);
const toMicro = (usd: number): number => Math.round(usd * MICRO);

export interface Reservation {
  readonly counterKeys: readonly string[];
  readonly micro: number;
  readonly via: Via | undefined;
  /** When the last of the counters' periods ends (epoch ms; Infinity for period none). */
  readonly until: number;
  settled: boolean;
}

/** The recorded call a settled cost belongs to (from its event). */
export interface SettledCall {
  requestId: string;
  /** The event's started_at (ISO): parsed only when the store is asked, off the request path. */
  startedAt: string;
}

/** A settled call the store has not been seen holding yet. */
export interface AwaitedCall {
  requestId: string;
  startedAt: number;
}

export interface BaselineRow {
  kind: ScopeKind;
  id: string;
  /** Period start (epoch ms) the spend was summed from. */
  periodStart: number;
  spentUsd: number;
  /**
   * Not one scope's spend but the most any scope of group `id` left out of the rows may have
   * spent (a truncated listing's smallest spend): used for scopes with no row of their own.
   */
  floor?: boolean;
}

interface SettledEntry extends HeldCost {
  via: Via | undefined;
  /** When a refresh first found the call in the store (shared counters wait a grace after it). */
  storedAt: number | undefined;
}

/** Which settled calls the store holds, as learnt before the spend rows were read. */
export interface StoreCoverage {
  /** Request ids found in the store. */
  stored: ReadonlySet<string>;
  now: number;
}

/** Costs whose call the store has not shown for this long are given up (the only under-count). */
const DEFAULT_MAX_PENDING_MS = 86_400_000;
/** Calls the store is asked about per refresh, oldest first (the rest wait, still counted). */
export const MAX_AWAITED_PER_REFRESH = 20_000;
/**
 * Settled costs kept waiting for the store, at most (~250 bytes each: ~50 MB). Past it (a long
 * Kafka outage at thousands of budgeted calls a second) the oldest tenth are given back
 * unseen, as an age-based rule would, and counted (`givenUpUnseen`): memory stays bounded and
 * the ledger under-counts only calls older than the newest ~200,000.
 */
export const MAX_SETTLED_WAITING = 200_000;
/** Costs taken over from proxies that are gone, per lease renewal step (each one Redis script). */
const ADOPT_CHUNK = 5000;

export interface BudgetStatus {
  spentUsd: number;
  remainingUsd: number;
  resetsAt: number | null;
}

export class BudgetLedger {
  readonly #backend: CounterBackend;
  readonly #holds: BudgetHolds;
  readonly #prefix: string;
  #baselines = new Map<string, number>();
  /** Per group (counterKey(kind, group, start)): the baseline of a scope that has no row. */
  #floors = new Map<string, number>();
  #settled: SettledEntry[] = [];
  #loaded = false;
  readonly #sharedGraceMs: number;
  readonly #maxPendingMs: number;
  readonly #maxWaiting: number;
  readonly #leaseMs: number;
  /** Settled costs are named `<tag>.<n>`: unique across proxies, as costs move between them. */
  readonly #tag = randomUUID();
  #seq = 0;
  #givenUpUnseen = 0;
  /** Where the next awaitingStore() starts: the window moves on, so calls the store never shows cannot hold it. */
  #cursor = 0;

  /**
   * `sharedGraceMs`: how long a settled cost stays on the shared counters after this proxy saw
   * the store holding its call — long enough for every other proxy to have read spend since
   * (two of their refresh intervals). `maxPendingMs`: a cost whose call the store never shows
   * (an event lost, which the publisher logs and counts) is given up after this (default 24 h).
   * `leaseMs`: how long this proxy's lease on its shared costs lasts unless renewed (renewLease).
   */
  constructor(o: { backend: CounterBackend; prefix?: string; sharedGraceMs?: number; maxPendingMs?: number; maxWaiting?: number; leaseMs?: number }) {
    this.#backend = o.backend;
    this.#holds = holdsOf(o.backend);
    this.#prefix = o.prefix ?? 'gl:budget';
    this.#sharedGraceMs = o.sharedGraceMs ?? 10_000;
    this.#maxPendingMs = o.maxPendingMs ?? DEFAULT_MAX_PENDING_MS;
    this.#maxWaiting = Math.max(1, o.maxWaiting ?? MAX_SETTLED_WAITING);
    this.#leaseMs = o.leaseMs ?? 15_000;
  }

  /** Settled costs given back before the store was seen holding their call (the cap above). */
  get givenUpUnseen(): number {
    return this.#givenUpUnseen;
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

  #baselineOf(s: BudgetScope, key: string, now: number): number {
    const b = this.#baselines.get(key);
    if (b !== undefined || s.group === undefined) return b ?? 0;
    return this.#floors.get(this.counterKey(s.kind, s.group, periodStart(s.period, now))) ?? 0;
  }

  /** Reserve `worstCaseUsd` on every scope, atomically, or refuse naming the scope that is full. */
  async reserve(scopes: readonly BudgetScope[], worstCaseUsd: number, now: number): Promise<Admission<Reservation>> {
    // At least 1 micro-USD, so a scope already at its cap refuses even a free-looking request.
    const micro = Math.max(1, toMicroCeil(worstCaseUsd));
    const keys = scopes.map((s) => this.#keyFor(s, now));
    if (scopes.length === 0) return { ok: true, value: { counterKeys: [], micro: 0, via: undefined, until: 0, settled: false } };
    const baselines = keys.map((k, i) => this.#baselineOf(scopes[i]!, k, now));
    const r = await this.#holds.reserve(
      // The baseline is known locally, so the backend only has to guard the pending part.
      keys.map((key, i) => ({ key, amount: micro, limit: toMicro(scopes[i]!.budgetUsd) - baselines[i]! })),
    );
    if (r.ok) {
      const until = Math.max(...scopes.map((s) => periodReset(s.period, now) ?? Infinity));
      return { ok: true, value: { counterKeys: keys, micro, via: r.via, until, settled: false } };
    }
    const scope = scopes[r.failed]!;
    const spent = (baselines[r.failed]! + r.values[r.failed]!) / MICRO;
    return { ok: false, refusal: budgetRefusal(scope, spent, worstCaseUsd, now) };
  }

  /**
   * Replace the reservation by the real cost. Idempotent: a second settle does nothing. `call`
   * names the recorded call: its cost stays pending until the store is seen holding it.
   */
  async settle(res: Reservation, actualUsd: number, now: number, call?: SettledCall): Promise<void> {
    if (res.settled) return;
    res.settled = true;
    if (res.counterKeys.length === 0) return;
    // A cost that is not a finite number (absurd upstream usage) keeps what was reserved.
    const actual = Number.isFinite(actualUsd) ? Math.max(0, toMicro(actualUsd)) : res.micro;
    const cost: HeldCost | undefined = actual > 0 ? { id: `${this.#tag}.${++this.#seq}`, counterKeys: res.counterKeys, micro: actual, at: now, until: res.until, call } : undefined;
    await this.#holds.settle(res.counterKeys, res.micro, cost, { via: res.via });
    if (cost) this.#settled.push({ ...cost, via: res.via, storedAt: undefined });
    await this.#trim();
  }

  /** Past `maxWaiting`, the oldest are given back unseen (the likeliest to be stored by now); a tenth at once keeps this rare. */
  async #trim(): Promise<void> {
    if (this.#settled.length <= this.#maxWaiting) return;
    const old = this.#settled.splice(0, this.#settled.length - this.#maxWaiting + Math.ceil(this.#maxWaiting / 10));
    this.#givenUpUnseen += old.length;
    this.#cursor = Math.max(0, this.#cursor - old.length);
    await this.#giveBack(old);
  }

  /**
   * Renews this proxy's lease on its shared costs (call every refresh interval, off the request
   * path, apart from the store's health: a slow store must not let the lease run out) and takes
   * over the costs of proxies whose lease ran out: they wait here for the store like this
   * proxy's own. Their reservations in flight leave the counters in the same step. Returns how
   * many settled costs were taken over.
   */
  async renewLease(): Promise<number> {
    let taken = 0;
    for (let more = true; more; ) {
      const r = await this.#holds.lease(this.#leaseMs, ADOPT_CHUNK);
      for (const c of r.adopted) this.#settled.push({ ...c, via: 'primary', storedAt: undefined });
      taken += r.adopted.length;
      // Never more than the cap at once: the rest stay journaled for the next renewal.
      more = r.more && taken < this.#maxWaiting;
    }
    await this.#trim();
    return taken;
  }

  /**
   * Settled calls to ask the store about, oldest first (at most `limit`): ask before reading
   * spend, so the spend read afterwards includes every call the store was found holding.
   */
  awaitingStore(limit = MAX_AWAITED_PER_REFRESH): AwaitedCall[] {
    const out: AwaitedCall[] = [];
    const n = this.#settled.length;
    // Oldest first, from where the last window stopped: calls that never reach the store (dead
    // letters) would otherwise fill every window until they are given up.
    const from = this.#cursor < n ? this.#cursor : 0;
    let i = 0;
    for (; i < n && out.length < limit; i++) {
      const e = this.#settled[(from + i) % n]!;
      if (e.storedAt !== undefined || !e.call) continue;
      const startedAt = Date.parse(e.call.startedAt);
      if (Number.isFinite(startedAt)) out.push({ requestId: e.call.requestId, startedAt });
    }
    this.#cursor = i >= n ? 0 : (from + i) % n;
    return out;
  }

  /**
   * A proxy stopping. Journaled costs stay counted and the lease goes: the next live proxy to
   * renew its lease takes them over and gives each back once the store holds its call (or, if
   * none is running, the next to start). Every other waiting cost is given back now: only this
   * process reads those counters. A lease that cannot be let go (Redis down) runs out instead.
   */
  async release(): Promise<void> {
    const all = this.#settled;
    this.#settled = [];
    this.#cursor = 0;
    try {
      await this.#giveBack(all.filter((e) => !this.#journaled(e)));
    } finally {
      if (this.#holds.journaled) await this.#holds.leave();
    }
  }

  /**
   * Replace every baseline with spend read from the store, then give back the settled costs
   * that baseline now includes: calls in `coverage.stored` (looked up before the spend read).
   * On counters only this proxy reads (in memory, or the local fallback) they go at once; on
   * shared counters after `sharedGraceMs`, so a proxy whose spend read is older than this
   * one's never sees the cost in neither number. Every other settled cost stays counted, so a
   * lagging pipeline over-counts until it catches up and never under-counts; only costs whose
   * period ended (their counters are read no more) or that waited `maxPendingMs` are dropped
   * unseen. The new baselines apply first, so a reserve racing this refresh can only
   * over-count for a moment.
   */
  async replaceBaselines(rows: readonly BaselineRow[], coverage: StoreCoverage): Promise<void> {
    const next = new Map<string, number>();
    const floors = new Map<string, number>();
    for (const r of rows) (r.floor ? floors : next).set(this.counterKey(r.kind, r.id, r.periodStart), toMicro(r.spentUsd));
    this.#baselines = next;
    this.#floors = floors;
    this.#loaded = true;
    const { stored, now } = coverage;
    const release: SettledEntry[] = [];
    const keep: SettledEntry[] = [];
    // The window's next start stays on the same entry as the ones before it leave.
    let cursor = this.#cursor;
    for (const [i, e] of this.#settled.entries()) {
      if (e.storedAt === undefined && e.call && stored.has(e.call.requestId.toLowerCase())) e.storedAt = now;
      const gone = e.storedAt !== undefined && (!this.#shared(e) || now - e.storedAt >= this.#sharedGraceMs);
      if (gone || now >= e.until || now - e.at >= this.#maxPendingMs) {
        release.push(e);
        if (i < this.#cursor) cursor--;
      } else keep.push(e);
    }
    this.#settled = keep;
    this.#cursor = cursor;
    await this.#giveBack(release);
  }

  /** On counters other proxies read. */
  #shared(e: SettledEntry): boolean {
    return e.via === 'primary' || this.#journaled(e);
  }

  /** In a journal another proxy takes over after this one goes (the shared backend served it). */
  #journaled(e: SettledEntry): boolean {
    return this.#holds.journaled && e.via !== 'fallback';
  }

  /**
   * Takes settled costs off the pending counters they were added to. Journaled costs that could
   * not be (Redis unreachable) wait to be tried again: the journal takes each off once.
   */
  async #giveBack(entries: readonly SettledEntry[]): Promise<void> {
    if (entries.length === 0) return;
    const byVia = Map.groupBy(entries, (e) => e.via);
    await Promise.all(
      [...byVia].map(([via, es]) =>
        this.#holds.giveBack(es, { via }).catch((err: unknown) => {
          this.#settled.push(...es.filter((e) => this.#journaled(e)));
          throw err;
        }),
      ),
    );
  }

  /** Spend and room left on one scope (for admin views and headers). */
  async status(scope: BudgetScope, now: number): Promise<BudgetStatus> {
    const key = this.#keyFor(scope, now);
    const [pending] = await this.#backend.get([key]);
    const spentMicro = this.#baselineOf(scope, key, now) + (pending ?? 0);
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
  spendSince: (q: { scope: 'key' | 'team'; since: Date; ids: readonly string[] }) => Promise<readonly { id: string; spent_usd: number }[]>,
): Promise<BaselineRow[]> {
  const groups = new Map<string, { kind: 'key' | 'team'; start: number; ids: Set<string> }>();
  for (const s of scopes) {
    // End users' spend is read per key (end-user.ts loadUserBaselines).
    if (s.kind === 'user') continue;
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
