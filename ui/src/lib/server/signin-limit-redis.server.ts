// Sign-in failure counts and lockouts in Redis, shared by every UI process: the rules of
// signin-limit.server.ts (same policies, same answers as its memory limiter), each operation
// one Lua script, atomic in Redis. Per subject (`account:<email>`, `ip:<address>`) two keys,
// both expiring on their own, so Redis's clock is the only one and nothing outlives its use:
//   gl:signin:<id>:fails  failures in a row; TTL = the policy's forget window from the last one
//   gl:signin:<id>:lock   present while locked; TTL = what is left of the lock (PTTL = the wait)
// `gl:` as the proxies' rate-limit and budget keys. <id> is an HMAC of the subject keyed by the
// master key: no email or IP address is written to Redis, nor can one be found by hashing
// guesses without that key (a new master key therefore starts every count afresh).
// Never put the URL in an error or a log: it may hold a password.
import { createHmac } from 'node:crypto';
import type { RedisTarget } from '@gatelog/core/state-config';
import { connectRedis, type RedisClient } from '@gatelog/core/redis';
import type { LimitPolicy, SignInLimits } from './signin-limit.server.ts';

const PREFIX = 'gl:signin:';

// KEYS: fails, lock per subject; ARGV: free, baseMs, maxMs, forgetMs per subject.
// Returns the longest lock this call set, ms (SignInLimiter.fail's arithmetic).
const FAIL = `
local wait = 0
for i = 1, #KEYS / 2 do
  local free, base, max, forget = tonumber(ARGV[4 * i - 3]), tonumber(ARGV[4 * i - 2]), tonumber(ARGV[4 * i - 1]), tonumber(ARGV[4 * i])
  local n = redis.call('INCR', KEYS[2 * i - 1])
  redis.call('PEXPIRE', KEYS[2 * i - 1], forget)
  if n >= free then
    local lock = math.floor(math.min(base * 2 ^ math.min(n - free, 30), max))
    if lock > 0 then
      redis.call('SET', KEYS[2 * i], n, 'PX', lock)
      if lock > wait then wait = lock end
    end
  end
end
return wait`;

// KEYS: lock keys. The longest remaining lock, ms (PTTL is -2 for a missing key).
const RETRY_AFTER = `
local wait = 0
for i = 1, #KEYS do
  local t = redis.call('PTTL', KEYS[i])
  if t > wait then wait = t end
end
return wait`;

interface Scripts {
  glSigninFail(n: number, ...args: (string | number)[]): Promise<number>;
  glSigninRetryAfter(n: number, ...keys: string[]): Promise<number>;
}

export interface RedisSignInLimiterOptions {
  /** A server's URL, a cluster or sentinels (config's `state.redis`). */
  target: RedisTarget;
  /** Keys the subjects' HMAC (the master key). */
  secret: string;
  /** How long one command may take (waiting for a connection included) before it counts as a failure. */
  commandTimeoutMs?: number;
}

export class RedisSignInLimiter implements SignInLimits {
  readonly #redis: RedisClient;
  readonly #s: Scripts;
  readonly #secret: string;
  /** Why the connection last failed (connect ECONNREFUSED host:port…); cleared once ready. */
  #connectionError: Error | undefined;

  constructor(o: RedisSignInLimiterOptions) {
    this.#redis = connectRedis(o.target, {
      // Sign-ins are rare: a command may wait for the connection to open (bounded by
      // commandTimeout) instead of failing, so the first sign-in after a start uses Redis.
      // While Redis is down, each waiting command fails at the next failed reconnect.
      maxRetriesPerRequest: 0,
      connectTimeout: 2000,
      commandTimeout: o.commandTimeoutMs ?? 1000,
      retryStrategy: (times) => Math.min(times * 200, 2000),
    });
    // Failures surface through the failing commands (signin-limit-shared.server.ts logs them);
    // without a listener ioredis would print every reconnect error.
    this.#redis.on('error', (err: Error) => (this.#connectionError = err));
    this.#redis.on('ready', () => (this.#connectionError = undefined));
    this.#redis.defineCommand('glSigninFail', { lua: FAIL });
    this.#redis.defineCommand('glSigninRetryAfter', { lua: RETRY_AFTER });
    this.#s = this.#redis as unknown as Scripts;
    this.#secret = o.secret;
  }

  #key(subject: string, which: 'fails' | 'lock'): string {
    const id = createHmac('sha256', this.#secret).update(`gatelog sign-in limit\0${subject}`).digest('hex').slice(0, 32);
    return `${PREFIX}${id}:${which}`;
  }

  async retryAfterMs(keys: readonly string[]): Promise<number> {
    if (keys.length === 0) return 0;
    return Number(await this.#call(() => this.#s.glSigninRetryAfter(keys.length, ...keys.map((k) => this.#key(k, 'lock')))));
  }

  async fail(keys: readonly (readonly [string, LimitPolicy])[]): Promise<number> {
    if (keys.length === 0) return 0;
    const names = keys.flatMap(([k]) => [this.#key(k, 'fails'), this.#key(k, 'lock')]);
    const args = keys.flatMap(([, p]) => [p.free, p.baseMs, p.maxMs, p.forgetMs]);
    return Number(await this.#call(() => this.#s.glSigninFail(names.length, ...names, ...args)));
  }

  async succeed(keys: readonly string[]): Promise<void> {
    if (keys.length === 0) return;
    await this.#call(() => this.#redis.del(...keys.flatMap((k) => [this.#key(k, 'fails'), this.#key(k, 'lock')])));
  }

  /** A command that failed for want of a connection throws the connection's error: it says why. */
  async #call<T>(command: () => Promise<T>): Promise<T> {
    try {
      return await command();
    } catch (err) {
      throw this.#redis.status !== 'ready' && this.#connectionError ? this.#connectionError : err;
    }
  }

  close(): void {
    this.#redis.disconnect();
  }
}
