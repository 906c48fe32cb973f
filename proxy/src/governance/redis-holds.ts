// BudgetHolds on Redis (backend.ts documents the contract): what each proxy holds on the shared
// budget counters and max-parallel counters, in a journal per proxy beside them, so a proxy that
// dies does not leave its part counted (for the rest of a budget period, or — for parallel slots
// under steady traffic, which keeps renewing the counter's TTL — for good). Every step that moves
// an amount between a counter and a journal is one Lua script, so an amount leaves the counters
// exactly once, whoever gives it back. A lease runs out on Redis's clock (a key TTL), so the
// proxies' clocks do not matter. The key names still say "budget": proxies of earlier releases
// read these same keys, and take a gone proxy's parallel slots off as they do its reservations.
//
// Keys (under the backend's prefix): `gatelog:budget-holders` (set of proxy ids that have a
// journal), `gatelog:budget-lease:<id>` (expires unless the proxy renews it), and
// `gatelog:budget-held:<id>` (hash): `r:<counter>` = what is reserved in flight on that counter
// (micro-USD, or parallel slots), `c:<cost id>` = a settled cost waiting for the store (JSON, its
// counters prefixed).
import { randomUUID } from 'node:crypto';
import type { RedisClient } from '@gatelog/core/redis';
import type { BudgetHolds, CounterEntry, HeldCost, ReserveResult } from './backend.ts';

const HOLDERS = 'gatelog:budget-holders';
const LEASE = 'gatelog:budget-lease:';
const JOURNAL = 'gatelog:budget-held:';
/** Journals and the holder set live as long as a budget counter (a month + 1 day), renewed on use. */
const JOURNAL_TTL_MS = 32 * 86_400_000;
/** Costs given back per script: each script holds Redis for its run. */
const GIVE_BACK_CHUNK = 1000;

// Takes micro-USD off a counter, floored at 0 (as ADD does), keeping the counter's TTL.
const TAKE_OFF = `
local function takeOff(key, micro)
  local v = tonumber(redis.call('GET', key) or '0') - micro
  if v <= 0 then redis.call('DEL', key) else redis.call('SET', key, v, 'KEEPTTL') end
end`;

// KEYS: n counters, the holder's journal. ARGV: reserved (micro, on each counter), cost (micro),
// the cost's id ('' for none), the cost as journaled, n counter TTLs, the journal's TTL.
const SETTLE = `
local n = #KEYS - 1
local j = KEYS[n + 1]
local reserved, cost = tonumber(ARGV[1]), tonumber(ARGV[2])
for i = 1, n do
  local f = 'r:' .. KEYS[i]
  local held = tonumber(redis.call('HGET', j, f) or '0')
  -- Only what is still held: a proxy that took this one's journal over gave the rest back.
  local take = math.min(held, reserved)
  if held > take then redis.call('HSET', j, f, held - take) else redis.call('HDEL', j, f) end
  local v = tonumber(redis.call('GET', KEYS[i]) or '0') + cost - take
  if v < 0 then v = 0 end
  if v == 0 then redis.call('DEL', KEYS[i]) else redis.call('SET', KEYS[i], v, 'PX', ARGV[4 + i]) end
end
if ARGV[3] ~= '' then redis.call('HSET', j, 'c:' .. ARGV[3], ARGV[4]) end
redis.call('PEXPIRE', j, ARGV[5 + n])
return 1`;

// KEYS: the holder's journal, then each cost's counters in turn. ARGV: per cost its id, micro-USD
// and number of counters. A cost no longer in the journal (taken over, or given back) is skipped.
const GIVE_BACK = `${TAKE_OFF}
local j = KEYS[1]
local k, a, n = 2, 1, 0
while a <= #ARGV do
  local micro, nk = tonumber(ARGV[a + 1]), tonumber(ARGV[a + 2])
  if redis.call('HDEL', j, 'c:' .. ARGV[a]) == 1 then
    n = n + 1
    for i = k, k + nk - 1 do takeOff(KEYS[i], micro) end
  end
  k = k + nk
  a = a + 3
end
return n`;

// KEYS: the holder set, this proxy's lease, this proxy's journal. ARGV: this proxy's id, lease TTL,
// journal TTL, lease key prefix, journal key prefix, most costs to take over. Other proxies'
// leases and journals are named from their ids (one slot holds them all: on a cluster every
// gatelog key carries one hash tag, core/src/redis.ts, as every budget script needs since its
// counters are named in one script across scopes).
const LEASE_SCRIPT = `${TAKE_OFF}
local me, max = ARGV[1], tonumber(ARGV[6])
redis.call('SET', KEYS[2], '1', 'PX', ARGV[2])
redis.call('SADD', KEYS[1], me)
redis.call('PEXPIRE', KEYS[1], ARGV[3])
local ids, vals, more = {}, {}, 0
for _, id in ipairs(redis.call('SMEMBERS', KEYS[1])) do
  if #ids >= max then more = 1 break end
  if id ~= me and redis.call('EXISTS', ARGV[4] .. id) == 0 then
    local dead = ARGV[5] .. id
    -- At most max costs in all (a small hash answers HSCAN whole, whatever COUNT says).
    local fields, room, cursor = {}, max - #ids, '0'
    repeat
      local r = redis.call('HSCAN', dead, cursor, 'COUNT', 1000)
      cursor = r[1]
      for i = 1, #r[2], 2 do
        local f = r[2][i]
        if fields[f] == nil and (string.sub(f, 1, 2) == 'r:' or room > 0) then
          if string.sub(f, 1, 2) == 'c:' then room = room - 1 end
          fields[f] = r[2][i + 1]
        end
      end
    until cursor == '0' or room <= 0
    for f, v in pairs(fields) do
      if string.sub(f, 1, 2) == 'r:' then
        -- Its calls in flight died with it: their reservations go now.
        takeOff(string.sub(f, 3), tonumber(v))
      else
        redis.call('HSET', KEYS[3], f, v)
        ids[#ids + 1] = string.sub(f, 3)
        vals[#vals + 1] = v
      end
      redis.call('HDEL', dead, f)
    end
    if redis.call('EXISTS', dead) == 0 then redis.call('SREM', KEYS[1], id) else more = 1 end
  end
end
if redis.call('EXISTS', KEYS[3]) == 1 then redis.call('PEXPIRE', KEYS[3], ARGV[3]) end
return {more, ids, vals}`;

// KEYS: the holder set, this proxy's lease, its journal. ARGV: this proxy's id.
const LEAVE = `
redis.call('DEL', KEYS[2])
if redis.call('EXISTS', KEYS[3]) == 0 then redis.call('SREM', KEYS[1], ARGV[1]) end
return 1`;

interface Scripts {
  glHoldSettle(n: number, ...args: (string | number)[]): Promise<number>;
  glHoldGiveBack(n: number, ...args: (string | number)[]): Promise<number>;
  glHoldLease(n: number, ...args: (string | number)[]): Promise<[number, string[], string[]]>;
  glHoldLeave(n: number, ...args: (string | number)[]): Promise<number>;
}

/** A journaled cost: its counters with the key prefix (Lua sees them so), until null for never. */
interface Journaled {
  k: string[];
  m: number;
  a: number;
  u: number | null;
  r?: string;
  s?: string;
}

export interface RedisHoldsOptions {
  redis: RedisClient;
  /** The client's key prefix: journaled counter names carry it, as the scripts see them. */
  keyPrefix: string;
  /** The backend's reserve, holding the amounts in `journal` when it is given. */
  reserve: (entries: readonly CounterEntry[], journal?: { key: string; ttlMs: number }) => Promise<ReserveResult>;
  /** The TTL a counter is written with. */
  ttlFor: (key: string) => number;
}

export class RedisHolds implements BudgetHolds {
  readonly journaled = true;
  /** This process's id: its lease and journal are named after it. */
  readonly id = randomUUID();
  readonly #o: RedisHoldsOptions;
  readonly #s: Scripts;
  readonly #journal: string;

  constructor(o: RedisHoldsOptions) {
    this.#o = o;
    this.#journal = JOURNAL + this.id;
    o.redis.defineCommand('glHoldSettle', { lua: SETTLE });
    o.redis.defineCommand('glHoldGiveBack', { lua: GIVE_BACK });
    o.redis.defineCommand('glHoldLease', { lua: LEASE_SCRIPT });
    o.redis.defineCommand('glHoldLeave', { lua: LEAVE });
    this.#s = o.redis as unknown as Scripts;
  }

  reserve(entries: readonly CounterEntry[]): Promise<ReserveResult> {
    return this.#o.reserve(entries, { key: this.#journal, ttlMs: JOURNAL_TTL_MS });
  }

  async settle(counterKeys: readonly string[], reservedMicro: number, cost: HeldCost | undefined): Promise<void> {
    if (counterKeys.length === 0) return;
    const c = cost ? this.#encode(cost) : '';
    await this.#s.glHoldSettle(counterKeys.length + 1, ...counterKeys, this.#journal, Math.round(reservedMicro), Math.round(cost?.micro ?? 0), cost?.id ?? '', c, ...counterKeys.map((k) => this.#o.ttlFor(k)), JOURNAL_TTL_MS);
  }

  async giveBack(costs: readonly HeldCost[]): Promise<void> {
    for (let i = 0; i < costs.length; i += GIVE_BACK_CHUNK) {
      const chunk = costs.slice(i, i + GIVE_BACK_CHUNK);
      const keys = chunk.flatMap((c) => c.counterKeys);
      await this.#s.glHoldGiveBack(keys.length + 1, this.#journal, ...keys, ...chunk.flatMap((c) => [c.id, Math.round(c.micro), c.counterKeys.length]));
    }
  }

  async lease(ttlMs: number, max: number): Promise<{ adopted: HeldCost[]; more: boolean }> {
    const p = this.#o.keyPrefix;
    const [more, ids, vals] = await this.#s.glHoldLease(3, HOLDERS, LEASE + this.id, this.#journal, this.id, Math.ceil(ttlMs), JOURNAL_TTL_MS, p + LEASE, p + JOURNAL, max);
    const adopted: HeldCost[] = [];
    ids.forEach((id, i) => {
      const c = this.#decode(id, vals[i]!);
      if (c) adopted.push(c);
    });
    return { adopted, more: Number(more) === 1 };
  }

  async leave(): Promise<void> {
    await this.#s.glHoldLeave(3, HOLDERS, LEASE + this.id, this.#journal, this.id);
  }

  #encode(c: HeldCost): string {
    const j: Journaled = { k: c.counterKeys.map((k) => this.#o.keyPrefix + k), m: c.micro, a: c.at, u: Number.isFinite(c.until) ? c.until : null };
    if (c.call) Object.assign(j, { r: c.call.requestId, s: c.call.startedAt });
    return JSON.stringify(j);
  }

  /** Undefined for a value that is not a journaled cost (nothing else writes there). */
  #decode(id: string, raw: string): HeldCost | undefined {
    let j: Partial<Journaled>;
    try {
      j = JSON.parse(raw) as Partial<Journaled>;
    } catch {
      return undefined;
    }
    const p = this.#o.keyPrefix;
    if (!Array.isArray(j.k) || typeof j.m !== 'number' || typeof j.a !== 'number') return undefined;
    return {
      id,
      counterKeys: j.k.map((k) => (k.startsWith(p) ? k.slice(p.length) : k)),
      micro: j.m,
      at: j.a,
      until: typeof j.u === 'number' ? j.u : Infinity,
      call: typeof j.r === 'string' && typeof j.s === 'string' ? { requestId: j.r, startedAt: j.s } : undefined,
    };
  }
}
