// Per-key RPM, TPM and max-parallel limits.
//
// RPM/TPM use GCRA (see backend.ts): `limit` units per minute, a whole minute's worth usable
// as a burst, then refilling continuously at limit/60 s. We chose it over sliding windows
// because its state is one number per key (cheap and atomic in one Lua script), it gives
// exact `remaining`/`reset` values for OpenAI's x-ratelimit-* headers, and a settlement is a
// plain shift of that number. Tokens are reserved from an estimate (input + max output) before
// forwarding and settled to the real count after the response; over-use then delays later
// requests. Max-parallel is a counter taken before forwarding and given back at the end,
// through the backend's holds (backend.ts BudgetHolds): on shared counters each proxy's slots
// in flight are journaled under its lease, so the slots of a proxy that is killed go back to
// the others when its lease runs out instead of staying taken (one script either way).
import { holdsOf, type BudgetHolds, type CounterBackend, type RateEntry, type RateState, type Via } from './backend.ts';
import type { VirtualKey } from './keys.ts';
import type { Refusal } from './refusal.ts';

export interface RateLimits {
  rpm: number | null;
  tpm: number | null;
  maxParallel: number | null;
}

export function keyRateLimits(key: VirtualKey): RateLimits {
  return { rpm: key.rpm, tpm: key.tpm, maxParallel: key.max_parallel };
}

export interface RatePermit {
  readonly keyId: string;
  readonly limits: RateLimits;
  readonly tokensReserved: number;
  readonly rateVia: Via | undefined;
  readonly parallelVia: Via | undefined;
  settled: boolean;
}

/** Where a limiter stands per dimension after one admission (absent: no such limit). */
export interface RateStates {
  rpm?: RateState | undefined;
  tpm?: RateState | undefined;
}

export type RateAdmission =
  | { ok: true; permit: RatePermit; states: RateStates }
  | { ok: false; refusal: Refusal };

const WINDOW_MS = 60_000;

/** Whose limit a refusal names: the key's own, or one end user's of the key (end-user.ts). */
export interface RateSubject {
  /** `this key`, `this end user` — in messages. */
  who: string;
  /** Code of a refusal for going over the rate: `rate_limit_exceeded`, `user_rate_limit_exceeded`. */
  code: string;
}

export const KEY_SUBJECT: RateSubject = { who: 'this key', code: 'rate_limit_exceeded' };

export class RateLimiter {
  readonly #backend: CounterBackend;
  readonly #holds: BudgetHolds;
  readonly #prefix: string;

  constructor(o: { backend: CounterBackend; prefix?: string }) {
    this.#backend = o.backend;
    this.#holds = holdsOf(o.backend);
    this.#prefix = o.prefix ?? 'gl:rl';
  }

  #entries(keyId: string, l: RateLimits, tokens: number): { rpm?: RateEntry; tpm?: RateEntry } {
    return {
      ...(l.rpm !== null ? { rpm: { key: `${this.#prefix}:rpm:${keyId}`, cost: 1, limit: l.rpm, windowMs: WINDOW_MS } } : {}),
      ...(l.tpm !== null ? { tpm: { key: `${this.#prefix}:tpm:${keyId}`, cost: tokens, limit: l.tpm, windowMs: WINDOW_MS } } : {}),
    };
  }

  #parallelKey(keyId: string): string {
    return `${this.#prefix}:par:${keyId}`;
  }

  /**
   * Gives one slot back. On shared counters only a slot this proxy still holds: once its lease
   * ran out (a proxy paused for that long) another proxy has already given them back.
   */
  #releaseSlot(keyId: string, via: Via | undefined): Promise<void> {
    return this.#holds.settle([this.#parallelKey(keyId)], 1, undefined, { via });
  }

  /** Take a parallel slot, one request and `estimatedTokens`, or refuse with Retry-After. */
  async acquire(keyId: string, limits: RateLimits, estimatedTokens: number, now: number, subject: RateSubject = KEY_SUBJECT): Promise<RateAdmission> {
    const tokens = Math.max(0, Math.ceil(estimatedTokens));
    let parallelVia: Via | undefined;
    if (limits.maxParallel !== null) {
      const p = await this.#holds.reserve([{ key: this.#parallelKey(keyId), amount: 1, limit: limits.maxParallel }]);
      if (!p.ok) {
        return {
          ok: false,
          refusal: {
            status: 429,
            type: 'requests',
            code: 'parallel_limit_exceeded',
            message: `Too many parallel requests for this key: the limit is ${limits.maxParallel} at a time.`,
            retryAfterSeconds: 1,
          },
        };
      }
      parallelVia = p.via;
    }
    const { rpm, tpm } = this.#entries(keyId, limits, tokens);
    const entries = [rpm, tpm].filter((e): e is RateEntry => e !== undefined);
    if (entries.length === 0) {
      return { ok: true, permit: { keyId, limits, tokensReserved: tokens, rateVia: undefined, parallelVia, settled: false }, states: {} };
    }
    let r: Awaited<ReturnType<CounterBackend['rateAcquire']>>;
    try {
      r = await this.#backend.rateAcquire(entries, now);
    } catch (err) {
      // Never leak a parallel slot when the limiter itself fails (e.g. fail-closed backend).
      if (limits.maxParallel !== null) await this.#releaseSlot(keyId, parallelVia).catch(() => undefined);
      throw err;
    }
    const states = { rpm: rpm ? r.states[0] : undefined, tpm: tpm ? r.states[rpm ? 1 : 0] : undefined };
    if (r.ok) {
      // The caller names the tightest of every limiter a call passes (admit.ts): states, not headers.
      return { ok: true, permit: { keyId, limits, tokensReserved: tokens, rateVia: r.via, parallelVia, settled: false }, states };
    }
    const headers = rateLimitHeaders(states);
    if (limits.maxParallel !== null) await this.#releaseSlot(keyId, parallelVia);
    const failed = entries[r.failed]!;
    const dimension = failed === rpm ? 'requests' : 'tokens';
    if (r.retryAfterMs === null) {
      return {
        ok: false,
        refusal: {
          status: 429,
          type: 'tokens',
          code: 'request_too_large',
          message: `Request too large: it may use up to ${tokens} tokens but the limit of ${subject.who} is ${failed.limit} tokens per minute. Lower max_tokens or shorten the input.`,
          headers,
        },
      };
    }
    return {
      ok: false,
      refusal: {
        status: 429,
        type: dimension,
        code: subject.code,
        message:
          dimension === 'requests'
            ? `Rate limit reached: ${failed.limit} requests per minute for ${subject.who}. Retry after ${formatRateDuration(r.retryAfterMs)}.`
            : `Rate limit reached: ${failed.limit} tokens per minute for ${subject.who} (this request may use up to ${tokens}). Retry after ${formatRateDuration(r.retryAfterMs)}.`,
        retryAfterSeconds: retryAfterSeconds(r.retryAfterMs),
        headers,
      },
    };
  }

  /**
   * After the response (or failure): charge the real token count instead of the estimate and
   * give the parallel slot back. Idempotent. The request itself stays counted for RPM.
   */
  async settle(permit: RatePermit, actualTokens: number, now: number): Promise<void> {
    if (permit.settled) return;
    permit.settled = true;
    const work: Promise<unknown>[] = [];
    const { tpm } = this.#entries(permit.keyId, permit.limits, 0);
    const delta = Math.max(0, Math.ceil(actualTokens)) - permit.tokensReserved;
    if (tpm && delta !== 0) work.push(this.#backend.rateAdjust({ ...tpm, cost: delta }, now, { via: permit.rateVia }));
    if (permit.limits.maxParallel !== null) work.push(this.#releaseSlot(permit.keyId, permit.parallelVia));
    await Promise.all(work);
  }
}

/**
 * Per dimension, the limit that binds first among those a call passed (its end user's, its
 * key's, its team's): the fewest units left, and of equals the one that takes longer to refill.
 * What a client paces itself by, as with one limit.
 */
export function tightest(all: readonly RateStates[]): RateStates {
  const pick = (a: RateState | undefined, b: RateState | undefined): RateState | undefined =>
    !a ? b : !b ? a : b.remaining < a.remaining || (b.remaining === a.remaining && b.resetMs > a.resetMs) ? b : a;
  let out: RateStates = {};
  for (const s of all) out = { rpm: pick(out.rpm, s.rpm), tpm: pick(out.tpm, s.tpm) };
  return out;
}

/** OpenAI's header set; a dimension without a limit sends no headers. */
export function rateLimitHeaders(s: RateStates): Record<string, string> {
  const h: Record<string, string> = {};
  if (s.rpm) {
    h['x-ratelimit-limit-requests'] = String(s.rpm.limit);
    h['x-ratelimit-remaining-requests'] = String(s.rpm.remaining);
    h['x-ratelimit-reset-requests'] = formatRateDuration(s.rpm.resetMs);
  }
  if (s.tpm) {
    h['x-ratelimit-limit-tokens'] = String(s.tpm.limit);
    h['x-ratelimit-remaining-tokens'] = String(s.tpm.remaining);
    h['x-ratelimit-reset-tokens'] = formatRateDuration(s.tpm.resetMs);
  }
  return h;
}

/** OpenAI's reset format: `0s`, `20ms`, `1s`, `8.64s`, `6m0s`, `1h2m3s`. */
export function formatRateDuration(ms: number): string {
  const total = Math.max(0, Math.ceil(ms));
  if (total === 0) return '0s';
  if (total < 1000) return `${total}ms`;
  const h = Math.floor(total / 3_600_000);
  const m = Math.floor((total % 3_600_000) / 60_000);
  const s = Number(((total % 60_000) / 1000).toFixed(3));
  if (h > 0) return `${h}h${m}m${s}s`;
  if (m > 0) return `${m}m${s}s`;
  return `${s}s`;
}

/** Whole seconds for `Retry-After`, at least 1. */
export function retryAfterSeconds(ms: number): number {
  return Math.max(1, Math.ceil(ms / 1000));
}
