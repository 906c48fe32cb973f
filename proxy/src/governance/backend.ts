// Counters that budgets and rate limits are enforced with. Every operation that can refuse is
// one atomic check-and-add across all the keys it names — never "read, decide, write" across
// an await — so concurrent requests cannot slip past a limit. MemoryBackend (this file) holds
// the counters in-process; a Redis backend implements the same contract with one Lua script
// per operation (each script is atomic in Redis), shared by every proxy.
//
// Failure policy when a shared backend is unreachable — `withFallback(primary, local, …)`:
//   - `open` (default): the operation is retried on the local in-memory backend, so limits keep
//     holding per proxy (N proxies → up to N × the limit) until the shared one is back;
//     `onFailure` fires on every failed call so the caller can log loudly and bump a metric.
//   - `closed`: the operation throws BackendUnavailableError; callers refuse the request
//     (503, code `state_unavailable`) rather than admit it unlimited.
// After a failure the primary is skipped for `cooldownMs`, so requests do not each pay a
// connect timeout. Results say which backend served them (`via`); settle/release calls pass
// it back so a reservation is always returned to the counters it was taken from.
//
// Budgets and max-parallel slots go through `holds` (BudgetHolds): the same counters, plus — on
// a shared backend — a journal of what each proxy holds on them, so a proxy that dies does not
// leave its part counted.

export type Via = 'primary' | 'fallback';

/** Add `amount` to `key` only if the result stays <= `limit` (use Infinity for no limit). */
export interface CounterEntry {
  key: string;
  amount: number;
  limit: number;
}

export type ReserveResult =
  | { ok: true; values: number[]; via?: Via }
  /** `failed`: index of the first entry that would exceed its limit; values are unchanged. */
  | { ok: false; failed: number; values: number[]; via?: Via };

/**
 * A windowed rate limit, enforced as GCRA (generic cell rate algorithm): `limit` units per
 * `windowMs`, a full window's worth available as a burst. State is one number per key (the
 * theoretical arrival time), so it is cheap, exact and easy to make atomic in Lua.
 */
export interface RateEntry {
  key: string;
  /** Units to take now (requests or tokens); may be 0. */
  cost: number;
  limit: number;
  windowMs: number;
}

export interface RateState {
  limit: number;
  /** Units still available right now (after this call's cost, if admitted). */
  remaining: number;
  /** Milliseconds until the limit is fully restored. */
  resetMs: number;
}

export type RateResult =
  | { ok: true; states: RateState[]; via?: Via }
  /** `retryAfterMs` null: the cost exceeds the limit itself and will never be admitted. */
  | { ok: false; failed: number; retryAfterMs: number | null; states: RateState[]; via?: Via };

export interface OpOptions {
  /** Which backend the reservation being settled came from (see withFallback). */
  via?: Via | undefined;
}

export interface CounterBackend {
  readonly kind: string;
  /** All-or-none: add every amount iff every entry stays within its limit. */
  reserve(entries: readonly CounterEntry[], opts?: OpOptions): Promise<ReserveResult>;
  /** Unconditional add (negative to release or settle); floors at 0; returns the new value. */
  add(key: string, delta: number, opts?: OpOptions): Promise<number>;
  get(keys: readonly string[], opts?: OpOptions): Promise<number[]>;
  /** All-or-none GCRA acquisition across entries (e.g. RPM and TPM of one key). */
  rateAcquire(entries: readonly RateEntry[], now: number, opts?: OpOptions): Promise<RateResult>;
  /** Unconditional GCRA adjustment by `entry.cost` (negative gives units back), e.g. to settle tokens. */
  rateAdjust(entry: RateEntry, now: number, opts?: OpOptions): Promise<RateState>;
  /** Budget operations with a journal (shared backends); absent: `counterHolds(this)`. */
  readonly holds?: BudgetHolds;
  close?(): Promise<void>;
}

/**
 * A settled budget cost waiting for the store (budget.ts). A shared backend keeps it in the
 * journal of the proxy holding it, beside the counters it was added to, until it is given back.
 */
export interface HeldCost {
  /** Unique across proxies: a dead proxy's costs move to the journal of the one taking them over. */
  id: string;
  counterKeys: readonly string[];
  micro: number;
  /** When it was settled (epoch ms). */
  at: number;
  /** When the last of its counters' periods ends (epoch ms; Infinity for period none). */
  until: number;
  /** The recorded call: the cost leaves once the store holds it. */
  call: { requestId: string; startedAt: string } | undefined;
}

/**
 * The budget ledger's counter operations, and the rate limiter's max-parallel slots (a
 * reservation of 1, settled to nothing). On a shared backend (`journaled`) every amount a proxy
 * adds stays in that proxy's journal — reservations in flight summed per counter, settled costs
 * one by one — until it is taken off again, and the proxy keeps a lease on its journal. When a
 * lease runs out (the proxy was killed, lost its node, or stopped), the next live proxy to renew
 * its own takes the journal over: the reservations at once (their calls died with the proxy),
 * the settled costs into its own journal, to give back once the store holds their calls. A cost
 * leaves the counters only by leaving a journal, in the same atomic step, so it is taken off once
 * whichever proxies try. Without a journal (memory, one process) these are plain counter ops.
 * Amounts in flight are journaled per counter, not per call: a proxy paused past its lease that
 * then settles gives back only what its journal still holds, never more than it took.
 */
export interface BudgetHolds {
  /** True when costs are journaled and another proxy takes them over after this one goes. */
  readonly journaled: boolean;
  /** As CounterBackend.reserve; a journaled backend also holds the amounts in flight for this proxy. */
  reserve(entries: readonly CounterEntry[], opts?: OpOptions): Promise<ReserveResult>;
  /** Replaces `reservedMicro` in flight on each of `counterKeys` by `cost` (none: a call that cost nothing). */
  settle(counterKeys: readonly string[], reservedMicro: number, cost: HeldCost | undefined, opts?: OpOptions): Promise<void>;
  /** Takes costs off their counters: on a journaled backend only those still in this proxy's journal. */
  giveBack(costs: readonly HeldCost[], opts?: OpOptions): Promise<void>;
  /**
   * Renews this proxy's lease for `ttlMs` and takes over up to `max` settled costs of proxies
   * whose lease ran out (and all their reservations in flight). `more`: some are left for the
   * next call.
   */
  lease(ttlMs: number, max: number): Promise<{ adopted: HeldCost[]; more: boolean }>;
  /** Lets the lease go (a proxy stopping): the next live proxy's renewal takes its costs over. */
  leave(): Promise<void>;
}

/** Budget operations as plain counter operations: nothing journaled (counters one process reads). */
export function counterHolds(b: CounterBackend): BudgetHolds {
  return {
    journaled: false,
    reserve: (entries, opts) => b.reserve(entries, opts),
    async settle(counterKeys, reservedMicro, cost, opts) {
      await Promise.all(counterKeys.map((k) => b.add(k, (cost?.micro ?? 0) - reservedMicro, opts)));
    },
    async giveBack(costs, opts) {
      await Promise.all(costs.flatMap((c) => c.counterKeys.map((k) => b.add(k, -c.micro, opts))));
    },
    lease: () => Promise.resolve({ adopted: [], more: false }),
    leave: () => Promise.resolve(),
  };
}

export const holdsOf = (b: CounterBackend): BudgetHolds => b.holds ?? counterHolds(b);

/** GCRA arithmetic shared by every backend (the Redis Lua script mirrors it). */
export function gcraStep(tat: number | undefined, e: RateEntry, now: number): { ok: boolean; newTat: number; state: RateState; retryAfterMs: number | null } {
  const interval = e.windowMs / e.limit;
  const base = Math.max(tat ?? now, now);
  const newTat = base + e.cost * interval;
  const allowAt = newTat - e.windowMs;
  if (e.cost > e.limit) {
    return { ok: false, newTat: base, state: gcraState(base, e, now), retryAfterMs: null };
  }
  if (allowAt > now) {
    return { ok: false, newTat: base, state: gcraState(base, e, now), retryAfterMs: allowAt - now };
  }
  return { ok: true, newTat, state: gcraState(newTat, e, now), retryAfterMs: 0 };
}

export function gcraState(tat: number, e: RateEntry, now: number): RateState {
  const interval = e.windowMs / e.limit;
  const used = Math.max(0, tat - now);
  // Small epsilon: float division must not turn an exact "1 left" into 0.
  const remaining = Math.max(0, Math.min(e.limit, Math.floor((e.windowMs - used) / interval + 1e-9)));
  return { limit: e.limit, remaining, resetMs: used };
}

/**
 * In-process counters. Each method's critical section is synchronous, so it is atomic with
 * respect to every other call on the event loop.
 */
export class MemoryBackend implements CounterBackend {
  readonly kind = 'memory';
  readonly #counters = new Map<string, number>();
  readonly #tats = new Map<string, number>();
  readonly #maxRateKeys: number;

  /**
   * `maxRateKeys`: most rate-limit states held (default: no cap). Past it, the least recently
   * used goes (by then usually fully decayed): for counters keyed by something a
   * caller chooses (an end user's id), where a cap on memory matters more than an exact limit
   * for a state nobody touched for longest. Keys' own counters live in a backend without a cap.
   */
  constructor(o: { maxRateKeys?: number } = {}) {
    this.#maxRateKeys = Math.max(1, o.maxRateKeys ?? Infinity);
  }

  /** How many rate-limit states are held (for tests and metrics). */
  get rateKeys(): number {
    return this.#tats.size;
  }

  async reserve(entries: readonly CounterEntry[]): Promise<ReserveResult> {
    await Promise.resolve();
    const values = entries.map((e) => this.#counters.get(e.key) ?? 0);
    const failed = entries.findIndex((e, i) => e.amount >= 0 && values[i]! + e.amount > e.limit);
    if (failed >= 0) return { ok: false, failed, values };
    entries.forEach((e, i) => {
      values[i] = Math.max(0, values[i]! + e.amount);
      this.#set(e.key, values[i]);
    });
    return { ok: true, values };
  }

  async add(key: string, delta: number): Promise<number> {
    await Promise.resolve();
    const v = Math.max(0, (this.#counters.get(key) ?? 0) + delta);
    this.#set(key, v);
    return v;
  }

  async get(keys: readonly string[]): Promise<number[]> {
    await Promise.resolve();
    return keys.map((k) => this.#counters.get(k) ?? 0);
  }

  async rateAcquire(entries: readonly RateEntry[], now: number): Promise<RateResult> {
    await Promise.resolve();
    const steps = entries.map((e) => gcraStep(this.#tats.get(e.key), e, now));
    const failed = steps.findIndex((s) => !s.ok);
    if (failed >= 0) {
      const states = entries.map((e) => gcraState(Math.max(this.#tats.get(e.key) ?? now, now), e, now));
      return { ok: false, failed, retryAfterMs: steps[failed]!.retryAfterMs, states };
    }
    entries.forEach((e, i) => this.#setTat(e.key, steps[i]!.newTat));
    return { ok: true, states: steps.map((s) => s.state) };
  }

  async rateAdjust(entry: RateEntry, now: number): Promise<RateState> {
    await Promise.resolve();
    const interval = entry.windowMs / entry.limit;
    const tat = Math.max(now, Math.max(this.#tats.get(entry.key) ?? now, now) + entry.cost * interval);
    if (tat <= now) this.#tats.delete(entry.key);
    else this.#setTat(entry.key, tat);
    return gcraState(tat, entry, now);
  }

  /** Drop rate state that has fully decayed (call now and then; Redis uses key TTLs). */
  sweep(now: number): void {
    for (const [k, tat] of this.#tats) if (tat <= now) this.#tats.delete(k);
  }

  /** Most recently used last (Map order), so eviction past the cap takes the least recently used. */
  #setTat(key: string, tat: number): void {
    this.#tats.delete(key);
    this.#tats.set(key, tat);
    if (this.#tats.size <= this.#maxRateKeys) return;
    // The head is the least recently used (most likely decayed too); never a full sweep per call.
    for (const k of this.#tats.keys()) {
      if (this.#tats.size <= this.#maxRateKeys) break;
      this.#tats.delete(k);
    }
  }

  #set(key: string, v: number): void {
    if (v === 0) this.#counters.delete(key);
    else this.#counters.set(key, v);
  }
}

export class BackendUnavailableError extends Error {
  override readonly name = 'BackendUnavailableError';
  readonly code = 'GATELOG_ERR_STATE_UNAVAILABLE';
}

export type FailurePolicy = 'open' | 'closed';

export interface FallbackOptions {
  policy: FailurePolicy;
  /** Called on every primary failure: log loudly and increment a metric here. */
  onFailure: (err: unknown, op: string) => void;
  /** Skip the primary for this long after a failure. */
  cooldownMs: number;
  now: () => number;
}

/** A backend that uses `primary` and falls back to `local` (or refuses) as documented above. */
export function withFallback(primary: CounterBackend, local: CounterBackend, o: FallbackOptions): CounterBackend {
  let downUntil = -Infinity;

  async function run<T extends object>(op: string, via: Via | undefined, call: (b: CounterBackend) => Promise<T>): Promise<T & { via: Via }> {
    if (via === 'fallback') return { ...(await call(local)), via: 'fallback' };
    if (via === undefined && o.now() < downUntil) return degraded(op, new Error('shared state backend cooling down'));
    try {
      return { ...(await call(primary)), via: 'primary' };
    } catch (err) {
      downUntil = o.now() + o.cooldownMs;
      o.onFailure(err, op);
      if (via === 'primary') {
        // Settling a reservation taken on the primary: applying it locally would corrupt the
        // local counters; the primary's keys expire on their own (Redis TTLs).
        throw new BackendUnavailableError(`shared state backend unavailable during ${op}`, { cause: err });
      }
      return degraded(op, err);
    }
    async function degraded(name: string, cause: unknown): Promise<T & { via: Via }> {
      if (o.policy === 'closed') throw new BackendUnavailableError(`shared state backend unavailable during ${name}`, { cause });
      return { ...(await call(local)), via: 'fallback' };
    }
  }

  const primaryHolds = holdsOf(primary);
  const localHolds = holdsOf(local);
  const holdsOn = (b: CounterBackend): BudgetHolds => (b === primary ? primaryHolds : localHolds);
  const done = async (p: Promise<void>): Promise<object> => (await p, {});

  const wrapNum = async (op: string, via: Via | undefined, call: (b: CounterBackend) => Promise<number>): Promise<number> =>
    (await run(op, via, async (b) => ({ n: await call(b) }))).n;
  const wrapArr = async (op: string, via: Via | undefined, call: (b: CounterBackend) => Promise<number[]>): Promise<number[]> =>
    (await run(op, via, async (b) => ({ a: await call(b) }))).a;

  return {
    kind: `${primary.kind}+${local.kind}`,
    reserve: (entries, opts) => run('reserve', opts?.via, (b) => b.reserve(entries)),
    add: (key, delta, opts) => wrapNum('add', opts?.via, (b) => b.add(key, delta)),
    get: (keys, opts) => wrapArr('get', opts?.via, (b) => b.get(keys)),
    rateAcquire: (entries, now, opts) => run('rateAcquire', opts?.via, (b) => b.rateAcquire(entries, now)),
    rateAdjust: async (entry, now, opts) => {
      const { via: _via, ...state } = await run('rateAdjust', opts?.via, (b) => b.rateAdjust(entry, now));
      return state;
    },
    holds: {
      journaled: primaryHolds.journaled,
      reserve: (entries, opts) => run('reserve', opts?.via, (b) => holdsOn(b).reserve(entries)),
      settle: async (keys, reserved, cost, opts) => void (await run('settle', opts?.via, (b) => done(holdsOn(b).settle(keys, reserved, cost)))),
      giveBack: async (costs, opts) => void (await run('giveBack', opts?.via, (b) => done(holdsOn(b).giveBack(costs)))),
      // Down (open): the local counters have no journal, so nothing is taken over until it is back.
      lease: async (ttlMs, max) => {
        const { via: _via, ...r } = await run('lease', undefined, (b) => holdsOn(b).lease(ttlMs, max));
        return r;
      },
      leave: () => primaryHolds.leave(),
    },
    async close() {
      await primary.close?.();
      await local.close?.();
    },
  };
}
