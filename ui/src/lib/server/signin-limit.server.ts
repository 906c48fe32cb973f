// Sign-in rate limit with lockout, per account and per client IP. After FREE failures the
// key is locked for BASE_MS, doubling with each further failure up to MAX_MS; a success
// clears the account's and the IP's count. While locked, the credential is not even checked
// (a guess inside a lock learns nothing). Failures are forgotten FORGET_MS after the last.
// Where the counts live: with `state.redis` in gatelog.yaml (the Redis the proxies share their
// rate limits through), in Redis, shared by every UI process and kept across restarts
// (signin-limit-redis.server.ts, same rules; signin-limit-shared.server.ts chooses, and applies
// `state.on_failure` while Redis is unreachable). Without it, in this process's memory
// (SignInLimiter below): with several UI processes each then enforces it on its own (an attacker
// spread over N processes gets N times the guesses, still exponentially slowed) and a restart
// forgets them.

export interface LimitPolicy {
  free: number;
  baseMs: number;
  maxMs: number;
  forgetMs: number;
}

/** Per account: 5 free guesses, then 30 s, 60 s, … up to an hour. */
export const ACCOUNT_POLICY: LimitPolicy = { free: 5, baseMs: 30_000, maxMs: 3_600_000, forgetMs: 3_600_000 };
/** Per IP: more room (several people behind one address), same doubling. */
export const IP_POLICY: LimitPolicy = { free: 20, baseMs: 30_000, maxMs: 3_600_000, forgetMs: 3_600_000 };

/** The limiter as the sign-in route uses it: in memory, or shared through Redis. */
export interface SignInLimits {
  /** Milliseconds until these keys may try again; 0 = now. */
  retryAfterMs(keys: readonly string[]): Promise<number>;
  /** Records a failed attempt for each key (with its policy); returns the longest lock now in force, ms. */
  fail(keys: readonly (readonly [string, LimitPolicy])[]): Promise<number>;
  succeed(keys: readonly string[]): Promise<void>;
}

const MAX_ENTRIES = 50_000;

interface Entry {
  failures: number;
  lastFailure: number;
  lockedUntil: number;
}

/** In this process's memory (no `state.redis`, or its stand-in while Redis is unreachable). */
export class SignInLimiter {
  readonly #entries = new Map<string, Entry>();
  readonly #now: () => number;

  constructor(now: () => number = Date.now) {
    this.#now = now;
  }

  /** Milliseconds until these keys may try again; 0 = now. */
  retryAfterMs(keys: readonly string[]): number {
    const t = this.#now();
    let wait = 0;
    for (const k of keys) {
      const e = this.#entries.get(k);
      if (e) wait = Math.max(wait, e.lockedUntil - t);
    }
    return Math.max(0, wait);
  }

  /** Records a failed attempt for each key (with its policy); returns the longest lock now in force, ms. */
  fail(keys: readonly (readonly [string, LimitPolicy])[]): number {
    const t = this.#now();
    let wait = 0;
    for (const [k, policy] of keys) {
      let e = this.#entries.get(k);
      if (!e || t - e.lastFailure > policy.forgetMs) e = { failures: 0, lastFailure: t, lockedUntil: 0 };
      e.failures++;
      e.lastFailure = t;
      if (e.failures >= policy.free) {
        const lock = Math.min(policy.baseMs * 2 ** Math.min(e.failures - policy.free, 30), policy.maxMs);
        e.lockedUntil = t + lock;
        wait = Math.max(wait, lock);
      }
      this.#entries.delete(k);
      this.#entries.set(k, e);
    }
    this.#prune(t);
    return wait;
  }

  succeed(keys: readonly string[]): void {
    for (const k of keys) this.#entries.delete(k);
  }

  /** Oldest entries go first once the map is full (insertion order = last failure order). */
  #prune(t: number): void {
    for (const [k, e] of this.#entries) {
      if (this.#entries.size <= MAX_ENTRIES && t - e.lastFailure <= IP_POLICY.forgetMs) break;
      if (e.lockedUntil <= t || this.#entries.size > MAX_ENTRIES) this.#entries.delete(k);
      else break;
    }
  }
}

/** This process's memory only (no `state.redis`). */
export function localSignInLimits(limiter = new SignInLimiter()): SignInLimits {
  return {
    retryAfterMs: (keys) => Promise.resolve(limiter.retryAfterMs(keys)),
    fail: (keys) => Promise.resolve(limiter.fail(keys)),
    succeed: (keys) => Promise.resolve(limiter.succeed(keys)),
  };
}
