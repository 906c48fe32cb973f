// CounterBackend on Redis (ioredis), shared by every proxy: each operation is one Lua script,
// so it is atomic in Redis exactly as MemoryBackend's synchronous sections are in-process
// (same semantics, tested against each other). Lua numbers come back from Redis truncated to
// integers, so GCRA times travel as strings. Keys carry TTLs so nothing outlives its use:
// budget counters a period + 1 day, parallel counters 10 minutes, GCRA keys their window.
// Budgets and parallel slots also keep a journal per proxy (`holds`, redis-holds.ts): a TTL that
// every write renews would never give back the slots of a proxy killed under steady traffic.
// Never wrap the URL in an error or log: it may hold a password.
import type { RedisTarget } from '@gatelog/core/state-config';
import { connectRedis, redisKeyPrefix, type RedisClient } from '@gatelog/core/redis';
import { gcraState, type BudgetHolds, type CounterBackend, type CounterEntry, type RateEntry, type RateResult, type RateState, type ReserveResult } from './backend.ts';
import { RedisHolds } from './redis-holds.ts';

// KEYS: n counters, then (budgets) the journal the amounts are held in for this proxy.
// ARGV: n amounts, n limits, n TTLs, then (with a journal) the journal's TTL.
const RESERVE = `
local n = math.floor(#ARGV / 3)
local j = KEYS[n + 1]
local vals = {}
for i = 1, n do vals[i] = tonumber(redis.call('GET', KEYS[i]) or '0') end
for i = 1, n do
  local amt = tonumber(ARGV[i])
  if amt >= 0 and vals[i] + amt > tonumber(ARGV[n + i]) then
    local out = {0, i - 1}
    for j = 1, n do out[j + 2] = vals[j] end
    return out
  end
end
local out = {1, -1}
for i = 1, n do
  local v = vals[i] + tonumber(ARGV[i])
  if v < 0 then v = 0 end
  out[i + 2] = v
  if v == 0 then redis.call('DEL', KEYS[i]) else redis.call('SET', KEYS[i], v, 'PX', ARGV[2 * n + i]) end
  if j and tonumber(ARGV[i]) > 0 then redis.call('HINCRBY', j, 'r:' .. KEYS[i], ARGV[i]) end
end
if j then redis.call('PEXPIRE', j, ARGV[3 * n + 1]) end
return out`;

const ADD = `
local v = tonumber(redis.call('GET', KEYS[1]) or '0') + tonumber(ARGV[1])
if v < 0 then v = 0 end
if v == 0 then redis.call('DEL', KEYS[1]) else redis.call('SET', KEYS[1], v, 'PX', ARGV[2]) end
return v`;

// ARGV: now, then (cost, limit, windowMs) per key. Mirrors gcraStep in backend.ts.
const RATE_ACQUIRE = `
local now = tonumber(ARGV[1])
local n = #KEYS
local bases, news = {}, {}
local failed, retry = -1, '0'
for i = 1, n do
  local cost = tonumber(ARGV[2 + (i - 1) * 3])
  local limit = tonumber(ARGV[3 + (i - 1) * 3])
  local win = tonumber(ARGV[4 + (i - 1) * 3])
  local tat = tonumber(redis.call('GET', KEYS[i]) or ARGV[1])
  local base = math.max(tat, now)
  local newTat = base + cost * (win / limit)
  bases[i] = base
  news[i] = newTat
  if failed < 0 then
    if cost > limit then failed = i - 1; retry = 'null'
    elseif newTat - win > now then failed = i - 1; retry = tostring(newTat - win - now) end
  end
end
local out = {}
if failed >= 0 then
  out[1] = 0; out[2] = failed; out[3] = retry
  for i = 1, n do out[i + 3] = tostring(bases[i]) end
  return out
end
out[1] = 1; out[2] = -1; out[3] = '0'
for i = 1, n do
  redis.call('SET', KEYS[i], tostring(news[i]), 'PX', math.ceil(news[i] - now) + 1000)
  out[i + 3] = tostring(news[i])
end
return out`;

// ARGV: now, cost, limit, windowMs.
const RATE_ADJUST = `
local now = tonumber(ARGV[1])
local tat = tonumber(redis.call('GET', KEYS[1]) or ARGV[1])
local t = math.max(tat, now) + tonumber(ARGV[2]) * (tonumber(ARGV[4]) / tonumber(ARGV[3]))
if t <= now then
  redis.call('DEL', KEYS[1])
  return ARGV[1]
end
redis.call('SET', KEYS[1], tostring(t), 'PX', math.ceil(t - now) + 1000)
return tostring(t)`;

interface Scripts {
  glReserve(n: number, ...args: (string | number)[]): Promise<number[]>;
  glAdd(n: number, ...args: (string | number)[]): Promise<number>;
  glRateAcquire(n: number, ...args: (string | number)[]): Promise<(number | string)[]>;
  glRateAdjust(n: number, ...args: (string | number)[]): Promise<string>;
}

const DAY_MS = 86_400_000;
/** A budget counter lives its (longest) period plus a day; anything else 10 minutes. */
function ttlFor(key: string): number {
  return key.includes(':budget:') ? 32 * DAY_MS : 10 * 60_000;
}
/** Redis integers: an unlimited entry is a very large limit. */
const limitArg = (l: number): number => (Number.isFinite(l) ? Math.floor(l) : Number.MAX_SAFE_INTEGER);

export interface RedisBackendOptions {
  /** A server's URL, a cluster or sentinels (config's `state.redis`). */
  target: RedisTarget;
  /** Prefix for every key (several deployments on one Redis). */
  keyPrefix?: string;
  /** How long one command may take before it counts as a failure. */
  commandTimeoutMs?: number;
}

export class RedisBackend implements CounterBackend {
  readonly kind = 'redis';
  readonly #redis: RedisClient;
  readonly #s: Scripts;
  readonly holds: BudgetHolds;

  constructor(o: RedisBackendOptions) {
    this.#redis = connectRedis(o.target, {
      keyPrefix: o.keyPrefix ?? '',
      // Fail fast while disconnected: the caller falls back (open) or refuses (closed).
      enableOfflineQueue: false,
      maxRetriesPerRequest: 0,
      connectTimeout: 2000,
      commandTimeout: o.commandTimeoutMs ?? 1000,
      retryStrategy: (times) => Math.min(times * 200, 2000),
    });
    // Failures surface through the failing commands (withFallback counts them); without a
    // listener ioredis would print every reconnect error to stderr.
    this.#redis.on('error', () => undefined);
    this.#redis.defineCommand('glReserve', { lua: RESERVE });
    this.#redis.defineCommand('glAdd', { lua: ADD });
    this.#redis.defineCommand('glRateAcquire', { lua: RATE_ACQUIRE });
    this.#redis.defineCommand('glRateAdjust', { lua: RATE_ADJUST });
    this.#s = this.#redis as unknown as Scripts;
    this.holds = new RedisHolds({ redis: this.#redis, keyPrefix: redisKeyPrefix(o.target, o.keyPrefix), reserve: (e, journal) => this.#reserve(e, journal), ttlFor });
  }

  /** Resolves once connected, or after `timeoutMs` (the backend then keeps reconnecting). */
  async ready(timeoutMs: number): Promise<boolean> {
    if (this.#redis.status === 'ready') return true;
    return new Promise((resolve) => {
      const t = setTimeout(() => {
        this.#redis.off('ready', onReady);
        resolve(false);
      }, timeoutMs);
      const onReady = (): void => {
        clearTimeout(t);
        resolve(true);
      };
      this.#redis.once('ready', onReady);
    });
  }

  reserve(entries: readonly CounterEntry[]): Promise<ReserveResult> {
    return this.#reserve(entries);
  }

  async #reserve(entries: readonly CounterEntry[], journal?: { key: string; ttlMs: number }): Promise<ReserveResult> {
    if (entries.length === 0) return { ok: true, values: [] };
    const args = [
      ...entries.map((e) => e.key),
      ...(journal ? [journal.key] : []),
      ...entries.map((e) => Math.round(e.amount)),
      ...entries.map((e) => limitArg(e.limit)),
      ...entries.map((e) => ttlFor(e.key)),
      ...(journal ? [journal.ttlMs] : []),
    ];
    const r = await this.#s.glReserve(entries.length + (journal ? 1 : 0), ...args);
    const values = r.slice(2).map(Number);
    return r[0] === 1 ? { ok: true, values } : { ok: false, failed: Number(r[1]), values };
  }

  async add(key: string, delta: number): Promise<number> {
    return Number(await this.#s.glAdd(1, key, Math.round(delta), ttlFor(key)));
  }

  async get(keys: readonly string[]): Promise<number[]> {
    if (keys.length === 0) return [];
    const r = await this.#redis.mget(...keys);
    return r.map((v) => (v === null ? 0 : Number(v)));
  }

  async rateAcquire(entries: readonly RateEntry[], now: number): Promise<RateResult> {
    const args: (string | number)[] = [...entries.map((e) => e.key), String(now)];
    for (const e of entries) args.push(String(e.cost), String(e.limit), String(e.windowMs));
    const r = await this.#s.glRateAcquire(entries.length, ...args);
    const tats = r.slice(3).map(Number);
    const states: RateState[] = entries.map((e, i) => gcraState(tats[i]!, e, now));
    if (Number(r[0]) === 1) return { ok: true, states };
    return { ok: false, failed: Number(r[1]), retryAfterMs: r[2] === 'null' ? null : Number(r[2]), states };
  }

  async rateAdjust(entry: RateEntry, now: number): Promise<RateState> {
    const tat = Number(await this.#s.glRateAdjust(1, entry.key, String(now), String(entry.cost), String(entry.limit), String(entry.windowMs)));
    return gcraState(tat, entry, now);
  }

  async close(): Promise<void> {
    this.#redis.disconnect();
    await Promise.resolve();
  }
}

/** The channel proxies announce key-ring changes on (a key created, updated or revoked). */
export const KEY_CHANGES_CHANNEL = 'gatelog:keys-changed';

/**
 * Key-ring change notices between proxies over Redis pub/sub: the proxy that wrote a key
 * publishes, every subscribed proxy reloads its ring at once. Polling (keys.refresh_ms) stays
 * the guarantee; this only makes a revocation apply everywhere in about one ClickHouse read.
 * Its own two connections (a subscribed connection can do nothing else).
 */
export class RedisKeyChanges {
  readonly #sub: RedisClient;
  readonly #pub: RedisClient;
  readonly #channel: string;

  constructor(target: RedisTarget, onChange: () => void, channel = KEY_CHANGES_CHANNEL) {
    const common = { connectTimeout: 2000, retryStrategy: (times: number) => Math.min(times * 200, 2000) };
    // The subscription is re-sent by ioredis after every reconnect.
    this.#sub = connectRedis(target, { ...common, maxRetriesPerRequest: null });
    this.#pub = connectRedis(target, { ...common, enableOfflineQueue: false, maxRetriesPerRequest: 0, commandTimeout: 1000 });
    // Failures cost only speed (polling still applies changes); the backend reports Redis down.
    this.#sub.on('error', () => undefined);
    this.#pub.on('error', () => undefined);
    this.#sub.on('message', (ch: string) => {
      if (ch === channel) onChange();
    });
    this.#channel = channel;
    this.#sub.subscribe(channel).catch(() => undefined);
  }

  /** Tell the other proxies; never throws. */
  async announce(): Promise<void> {
    await this.#pub.publish(this.#channel, String(Date.now())).catch(() => undefined);
  }

  close(): void {
    this.#sub.disconnect();
    this.#pub.disconnect();
  }
}
