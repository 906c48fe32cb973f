// Max-parallel slots on shared (Redis) counters when a proxy is killed with calls in flight
// (SIGKILL, a real process): the slots it held must come back to the other proxies within a
// bounded time, even under steady traffic on the key, and never twice. Real redis-server;
// governance as the proxy runs it (createGovernance), its lease timer included. Also the slot
// operations themselves on Redis: MemoryBackend's answers, the limit in total, releases that
// give back at most what was taken, a lease that runs out, and a fleet mid-upgrade.
import type { ChildProcess } from 'node:child_process';
import { randomUUID } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Registry } from 'prom-client';
import { createLogger, parseConfig } from '@gatelog/core';
import { startRedis, type RedisServer } from '../../../test/support/redis-server.ts';
import { startGovernanceChild } from '../../../test/support/governance-child.ts';
import { createGovernance, type Governance } from './runtime.ts';
import { createGovernanceMetrics } from './metrics.ts';
import { RedisBackend } from './redis-backend.ts';
import { MemoryBackend, type BudgetHolds, type CounterBackend } from './backend.ts';
import { RateLimiter, type RateLimits, type RatePermit } from './rate-limit.ts';

const T0 = Date.parse('2026-11-23T10:00:00Z');
/** Real milliseconds between lease renewals (every proxy here). */
const REFRESH_MS = 100;
/**
 * When a killed proxy's slots are back at the latest: its lease runs out 3 intervals after its
 * last renewal, the next renewal of a live proxy (1 interval) takes them off; plus a loaded
 * machine's scheduling.
 */
const BOUND_MS = 4 * REFRESH_MS + 1500;
const limits = (maxParallel: number): RateLimits => ({ rpm: null, tpm: null, maxParallel });

let redis: RedisServer;

beforeAll(async () => {
  redis = await startRedis();
}, 120_000);

afterAll(async () => {
  await redis?.stop();
});

/** A live proxy: governance as buildProxy runs it, no store (slots need none). */
async function proxy(keyPrefix: string): Promise<Governance> {
  const shared = new RedisBackend({ target: redis.url, keyPrefix });
  expect(await shared.ready(5000)).toBe(true);
  return createGovernance({
    config: parseConfig({}, 'test', {}),
    store: undefined,
    masterKey: undefined,
    logger: createLogger('silent'),
    metrics: createGovernanceMetrics(new Registry()),
    shared,
    now: Date.now,
    baselineMs: REFRESH_MS,
  });
}

/**
 * Another proxy as its own process on the same Redis (test/support/governance-child.ts): it
 * takes `take` slots of `keyId` (limit `max`), gives `settle` of them back, and runs until killed.
 */
function holder(keyPrefix: string, keyId: string, max: number, take: number, settle: number): Promise<ChildProcess> {
  return startGovernanceChild({
    redisUrl: redis.url, keyPrefix, refreshMs: REFRESH_MS, params: { keyId, max, take, settle },
    body: `
      const { keyId, max, take, settle } = o.params;
      const permits = [];
      for (let i = 0; i < take; i++) {
        const r = await g.limiter.acquire(keyId, { rpm: null, tpm: null, maxParallel: max }, 0, Date.now());
        if (!r.ok) throw new Error(r.refusal.message);
        permits.push(r.permit);
      }
      for (const p of permits.slice(0, settle)) await g.limiter.settle(p, 0, Date.now());`,
  });
}

function killed(proc: ChildProcess): Promise<void> {
  const gone = new Promise<void>((r) => proc.once('exit', () => r()));
  proc.kill('SIGKILL');
  return gone;
}

const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

/** Takes every slot `g` is given now (at most `max + 1` tries). */
async function takeAll(g: Governance, keyId: string, max: number): Promise<RatePermit[]> {
  const permits: RatePermit[] = [];
  for (let i = 0; i <= max; i++) {
    const r = await g.limiter.acquire(keyId, limits(max), 0, T0);
    if (r.ok) permits.push(r.permit);
  }
  return permits;
}

describe('a proxy killed with calls in flight on a max-parallel key', () => {
  it('its slots come back to the live proxies within the bound, under steady traffic, and the limit still holds in total', async () => {
    const keyPrefix = `t${randomUUID()}:`;
    const keyId = `key-${randomUUID()}`;
    const g = await proxy(keyPrefix);
    try {
      // Two crashes: 8 slots taken, 3 of them given back, then killed; again with 3 taken.
      const a = await holder(keyPrefix, keyId, 8, 8, 3);
      const b = await holder(keyPrefix, keyId, 8, 3, 0);
      expect(await takeAll(g, keyId, 8)).toHaveLength(0);
      await Promise.all([killed(a), killed(b)]);
      const t = Date.now();
      // Steady traffic on the key meanwhile: short calls on the live proxy, as many as fit.
      let back = 0;
      for (;;) {
        const permits = await takeAll(g, keyId, 8);
        back = permits.length;
        await Promise.all(permits.map((p) => g.limiter.settle(p, 0, T0)));
        if (back === 8) break;
        if (Date.now() - t > 5 * BOUND_MS) break;
        await sleep(10);
      }
      const took = Date.now() - t;
      expect(back).toBe(8);
      expect(took).toBeLessThan(BOUND_MS);
      console.info(`a killed proxy's parallel slots came back ${took} ms after the kill (refresh ${REFRESH_MS} ms)`);
      // Nothing was given back twice: exactly the limit fits, once more after a release.
      const all = await takeAll(g, keyId, 8);
      expect(all).toHaveLength(8);
      await g.limiter.settle(all[0]!, 0, T0);
      await g.limiter.settle(all[0]!, 0, T0);
      expect(await takeAll(g, keyId, 8)).toHaveLength(1);
    } finally {
      await g.stop();
    }
  }, 60_000);
});

/** One proxy's backend and limiter on the Redis every proxy of `prefix` shares. */
async function limiterOn(prefix: string, open: RedisBackend[]): Promise<{ b: RedisBackend & { holds: BudgetHolds }; rl: RateLimiter }> {
  const b = new RedisBackend({ target: redis.url, keyPrefix: prefix });
  expect(await b.ready(5000)).toBe(true);
  open.push(b);
  return { b: b as RedisBackend & { holds: BudgetHolds }, rl: new RateLimiter({ backend: b }) };
}

const slotsOf = async (b: CounterBackend, keyId: string): Promise<number> => (await b.get([`gl:rl:par:${keyId}`]))[0]!;

async function acquired(rl: RateLimiter, keyId: string, max: number): Promise<RatePermit> {
  const r = await rl.acquire(keyId, limits(max), 0, T0);
  if (!r.ok) throw new Error(r.refusal.message);
  return r.permit;
}

describe('max-parallel slots on Redis', () => {
  const open: RedisBackend[] = [];
  afterAll(async () => {
    await Promise.all(open.map((b) => b.close()));
  });

  it('answers as on MemoryBackend: admitted up to the limit, refused past it, free again on release', async () => {
    const { b } = await limiterOn(`t${randomUUID()}:`, open);
    const m = new MemoryBackend();
    const [rr, rm] = [new RateLimiter({ backend: b }), new RateLimiter({ backend: m })];
    const held: [RatePermit, RatePermit][] = [];
    const step = async (op: 'take' | 'give'): Promise<void> => {
      if (op === 'take') {
        const [x, y] = await Promise.all([rr.acquire('k', limits(3), 0, T0), rm.acquire('k', limits(3), 0, T0)]);
        expect(x).toEqual(y);
        if (x.ok && y.ok) held.push([x.permit, y.permit]);
      } else {
        const [x, y] = held.shift()!;
        await Promise.all([rr.settle(x, 0, T0), rm.settle(y, 0, T0)]);
      }
      expect(await slotsOf(b, 'k')).toBe(await slotsOf(m, 'k'));
    };
    for (const op of ['take', 'take', 'take', 'take', 'give', 'take', 'take', 'give', 'give', 'give'] as const) await step(op);
    expect(await slotsOf(b, 'k')).toBe(0);
  });

  it('holds the limit in total across proxies, under concurrency', async () => {
    const prefix = `t${randomUUID()}:`;
    const proxies = await Promise.all([limiterOn(prefix, open), limiterOn(prefix, open), limiterOn(prefix, open)]);
    const rs = await Promise.all(proxies.flatMap(({ rl }) => Array.from({ length: 10 }, () => rl.acquire('k', limits(5), 0, T0))));
    expect(rs.filter((r) => r.ok)).toHaveLength(5);
    expect(rs.find((r) => !r.ok)).toMatchObject({ refusal: { status: 429, code: 'parallel_limit_exceeded' } });
    expect(await slotsOf(proxies[0]!.b, 'k')).toBe(5);
  });

  it('a release gives back only what this proxy holds: twice is once, and never a slot another proxy took back', async () => {
    const prefix = `t${randomUUID()}:`;
    const [a, c] = [await limiterOn(prefix, open), await limiterOn(prefix, open)];
    await a.b.holds.lease(100, 100);
    await c.b.holds.lease(60_000, 100);
    const p1 = await acquired(a.rl, 'k', 2);
    const p2 = await acquired(a.rl, 'k', 2);
    await a.rl.settle(p1, 0, T0);
    await a.rl.settle(p1, 0, T0);
    expect(await slotsOf(a.b, 'k')).toBe(1);
    // A release sent once more below the limiter changes nothing once this proxy holds no slot
    // of the key.
    await a.rl.settle(p2, 0, T0);
    await a.b.holds.settle(['gl:rl:par:k'], 1, undefined);
    expect(await slotsOf(a.b, 'k')).toBe(0);
    // a takes a slot, then is silent past its lease (paused, not dead): c takes it back.
    const p3 = await acquired(a.rl, 'k', 2);
    await sleep(150);
    await c.b.holds.lease(60_000, 100);
    expect(await slotsOf(c.b, 'k')).toBe(0);
    const held = [await acquired(c.rl, 'k', 2), await acquired(c.rl, 'k', 2)];
    // a wakes up and ends its call: the slot is no longer its to give, c's two stay counted.
    await a.rl.settle(p3, 0, T0);
    expect(await slotsOf(c.b, 'k')).toBe(2);
    expect(await c.rl.acquire('k', limits(2), 0, T0)).toMatchObject({ ok: false, refusal: { code: 'parallel_limit_exceeded' } });
    await Promise.all(held.map((p) => c.rl.settle(p, 0, T0)));
    expect(await slotsOf(c.b, 'k')).toBe(0);
  });

  it('a proxy whose lease ran out, or that left, has its slots taken off at the next renewal of a live one', async () => {
    const prefix = `t${randomUUID()}:`;
    const [a, b, c] = [await limiterOn(prefix, open), await limiterOn(prefix, open), await limiterOn(prefix, open)];
    await a.b.holds.lease(100, 100);
    await b.b.holds.lease(60_000, 100);
    await c.b.holds.lease(60_000, 100);
    for (let i = 0; i < 3; i++) await acquired(a.rl, 'k', 6);
    await acquired(a.rl, 'other', 1);
    for (let i = 0; i < 2; i++) await acquired(b.rl, 'k', 6);
    const mine = await acquired(c.rl, 'k', 6);
    // Before the lease runs out nothing moves.
    await c.b.holds.lease(60_000, 100);
    expect(await slotsOf(c.b, 'k')).toBe(6);
    await sleep(150);
    await c.b.holds.lease(60_000, 100);
    expect([await slotsOf(c.b, 'k'), await slotsOf(c.b, 'other')]).toEqual([3, 0]);
    // b stops (lets its lease go) with two calls in flight: taken off at once, not a lease later.
    await b.b.holds.leave();
    await c.b.holds.lease(60_000, 100);
    expect(await slotsOf(c.b, 'k')).toBe(1);
    await c.rl.settle(mine, 0, T0);
    expect(await slotsOf(c.b, 'k')).toBe(0);
  });

  it('a fleet mid-upgrade: proxies on the plain counter and on the journal count against one limit', async () => {
    const prefix = `t${randomUUID()}:`;
    const [old, a, c] = [await limiterOn(prefix, open), await limiterOn(prefix, open), await limiterOn(prefix, open)];
    await a.b.holds.lease(100, 100);
    await c.b.holds.lease(60_000, 100);
    const key = 'gl:rl:par:k';
    // What a proxy of the previous release sends: a plain reserve and add(-1) on the same key.
    expect((await old.b.reserve([{ key, amount: 1, limit: 3 }])).ok).toBe(true);
    await acquired(a.rl, 'k', 3);
    await acquired(a.rl, 'k', 3);
    expect(await c.rl.acquire('k', limits(3), 0, T0)).toMatchObject({ ok: false });
    expect((await old.b.reserve([{ key, amount: 1, limit: 3 }])).ok).toBe(false);
    // a is killed: only its two slots leave; the old proxy's call stays counted until it ends.
    await sleep(150);
    await c.b.holds.lease(60_000, 100);
    expect(await slotsOf(c.b, 'k')).toBe(1);
    await old.b.add(key, -1);
    expect(await slotsOf(c.b, 'k')).toBe(0);
  });
});
