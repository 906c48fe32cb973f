// Which sign-in limits a UI process uses (the rules: signin-limit.server.ts). Without
// `state.redis`: this process's memory, as ever. With it: Redis, shared by every UI process,
// and `state.on_failure` (the proxies' setting for their shared rate limits) decides what
// happens while Redis cannot be reached:
//   open (default)  this process's own limiter takes over, so guesses are still slowed, per
//                   process; a warning is logged (at most every 10 s). A lock it sets still
//                   holds once Redis is back.
//   closed          sign-in is refused (503, SignInLimitsUnavailableError) until Redis answers:
//                   no guess goes uncounted. A success that cannot clear its counts in Redis
//                   still signs in (the counts expire by themselves).
// After a failure Redis is left alone for COOLDOWN_MS, so an outage costs one command timeout
// per cooldown, not one per attempt.
import type { UiContext } from '@gatelog/core/ui-context';
import { localSignInLimits, SignInLimiter, type LimitPolicy, type SignInLimits } from './signin-limit.server.ts';
import { RedisSignInLimiter } from './signin-limit-redis.server.ts';

const COOLDOWN_MS = 5000;
const WARN_EVERY_MS = 10_000;

export class SignInLimitsUnavailableError extends Error {
  override readonly name = 'SignInLimitsUnavailableError';
  readonly code = 'GATELOG_ERR_STATE_UNAVAILABLE';
}

export interface SharedSignInLimitsOptions {
  shared: SignInLimits & { close?(): void };
  onFailure: 'open' | 'closed';
  /** Called for every failed Redis operation (default: a throttled console warning). */
  warn?: (op: string, err: unknown) => void;
  now?: () => number;
  cooldownMs?: number;
}

export class SharedSignInLimits implements SignInLimits {
  readonly #shared: SignInLimits & { close?(): void };
  readonly #local: SignInLimiter;
  readonly #onFailure: 'open' | 'closed';
  readonly #warn: (op: string, err: unknown) => void;
  readonly #now: () => number;
  readonly #cooldownMs: number;
  #downUntil = -Infinity;

  constructor(o: SharedSignInLimitsOptions) {
    this.#shared = o.shared;
    this.#onFailure = o.onFailure;
    this.#now = o.now ?? Date.now;
    this.#local = new SignInLimiter(this.#now);
    this.#warn = o.warn ?? throttledWarn(o.onFailure, this.#now);
    this.#cooldownMs = o.cooldownMs ?? COOLDOWN_MS;
  }

  async retryAfterMs(keys: readonly string[]): Promise<number> {
    const local = this.#local.retryAfterMs(keys);
    return this.#run('retryAfterMs', async (s) => Math.max(await s.retryAfterMs(keys), local), () => local);
  }

  async fail(keys: readonly (readonly [string, LimitPolicy])[]): Promise<number> {
    return this.#run('fail', (s) => s.fail(keys), () => this.#local.fail(keys));
  }

  async succeed(keys: readonly string[]): Promise<void> {
    this.#local.succeed(keys);
    if (this.#now() < this.#downUntil) return;
    try {
      await this.#shared.succeed(keys);
    } catch (err) {
      this.#failed('succeed', err);
    }
  }

  close(): void {
    this.#shared.close?.();
  }

  async #run<T>(op: string, shared: (s: SignInLimits) => Promise<T>, local: () => T): Promise<T> {
    let cause: unknown = new Error('Redis failed within the last few seconds; not asked again yet');
    if (this.#now() >= this.#downUntil) {
      try {
        return await shared(this.#shared);
      } catch (err) {
        this.#failed(op, err);
        cause = err;
      }
    }
    if (this.#onFailure === 'closed') throw new SignInLimitsUnavailableError(`shared sign-in limits unavailable during ${op}`, { cause });
    return local();
  }

  #failed(op: string, err: unknown): void {
    this.#downUntil = this.#now() + this.#cooldownMs;
    this.#warn(op, err);
  }
}

function throttledWarn(onFailure: 'open' | 'closed', now: () => number): (op: string, err: unknown) => void {
  let last = -Infinity;
  let suppressed = 0;
  return (op, err) => {
    if (now() - last < WARN_EVERY_MS) {
      suppressed++;
      return;
    }
    last = now();
    // The error's code and message only: never the URL (it may hold a password).
    const error = { code: (err as { code?: unknown } | null)?.code, message: err instanceof Error ? err.message : String(err) };
    console.warn(
      onFailure === 'open'
        ? 'gatelog ui: Redis (state.redis) unreachable: sign-in lockouts now hold per UI process only (state.on_failure: open)'
        : 'gatelog ui: Redis (state.redis) unreachable: refusing sign-ins (state.on_failure: closed)',
      { code: 'GATELOG_ERR_STATE_UNAVAILABLE', op, error, suppressed },
    );
    suppressed = 0;
  };
}

const byStore = new WeakMap<object, SignInLimits>();

/**
 * This process's sign-in limits for a UI context, made once (one Redis connection per
 * process). `masterKey` keys the HMAC that names a subject in Redis.
 */
export function signInLimitsFor(ctx: Pick<UiContext, 'store' | 'state'>, masterKey: string): SignInLimits {
  let limits = byStore.get(ctx.store);
  if (!limits) {
    const state = ctx.state;
    limits = state?.redis
      ? new SharedSignInLimits({ shared: new RedisSignInLimiter({ target: state.redis, secret: masterKey }), onFailure: state.on_failure })
      : localSignInLimits();
    byStore.set(ctx.store, limits);
  }
  return limits;
}
