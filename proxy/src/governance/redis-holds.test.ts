// The budget journal on a real redis-server — one server, a three-primary Redis Cluster, and a
// primary reached through Sentinel: the same counter values as the journal-less operations on
// MemoryBackend; a proxy whose lease ran out (or that left) has its reservations taken off and
// its settled costs moved to the proxy that renews next; and a cost leaves the counters once,
// whichever proxy gives it back — also a proxy that was only paused, not dead.
import { randomUUID } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { RedisTarget } from '@gatelog/core/state-config';
import { REDIS_TOPOLOGIES, startSharedRedis, type RedisTopology, type SharedRedis } from '../../../test/support/redis-server.ts';
import { MemoryBackend, counterHolds, type BudgetHolds, type CounterBackend, type HeldCost } from './backend.ts';
import { RedisBackend } from './redis-backend.ts';

const redises = new Map<RedisTopology, SharedRedis>();
const open: RedisBackend[] = [];

beforeAll(async () => {
  await Promise.all(REDIS_TOPOLOGIES.map(async (kind) => redises.set(kind, await startSharedRedis(kind))));
}, 120_000);

afterAll(async () => {
  await Promise.all(open.map((b) => b.close()));
  await Promise.all([...redises.values()].map((r) => r.stop()));
});

let target: RedisTarget;

/** One proxy's backend on the Redis every proxy of `prefix` shares. */
async function proxyOn(prefix: string): Promise<RedisBackend & { holds: BudgetHolds }> {
  const b = new RedisBackend({ target, keyPrefix: prefix });
  expect(await b.ready(5000)).toBe(true);
  open.push(b);
  return b as RedisBackend & { holds: BudgetHolds };
}

const cost = (id: string, micro: number, keys: readonly string[] = ['gl:budget:key:0:k1', 'gl:budget:team:0:t1']): HeldCost => ({
  id,
  counterKeys: keys,
  micro,
  at: 1_800_000_000_000,
  until: id.endsWith('forever') ? Infinity : 1_800_000_600_000,
  call: { requestId: randomUUID(), startedAt: '2027-01-15T08:00:00.000Z' },
});
const KEYS = ['gl:budget:key:0:k1', 'gl:budget:team:0:t1'];
const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));
const values = (b: CounterBackend): Promise<number[]> => b.get(KEYS);

describe.each(REDIS_TOPOLOGIES)('RedisHolds on %s', (topology) => {
  beforeAll(() => {
    target = redises.get(topology)!.target;
  });

  it('moves the counters exactly as the journal-less operations on MemoryBackend do', async () => {
    const r = await proxyOn(`t${randomUUID()}:`);
    const m = new MemoryBackend();
    const both = async (op: (h: BudgetHolds) => Promise<unknown>): Promise<void> => {
      expect(await op(r.holds)).toEqual(await op(counterHolds(m)));
      expect(await values(r)).toEqual(await values(m));
    };
    const entries = (amount: number, limit = 1000): { key: string; amount: number; limit: number }[] => KEYS.map((key) => ({ key, amount, limit }));
    await both((h) => h.reserve(entries(400)));
    await both((h) => h.reserve(entries(700)));
    await both((h) => h.reserve(entries(300)));
    await both((h) => h.settle(KEYS, 400, cost('a', 250)));
    await both((h) => h.settle(KEYS, 300, undefined));
    await both((h) => h.reserve(entries(100, Infinity)));
    await both((h) => h.settle(KEYS, 100, cost('b', 900)));
    await both((h) => h.giveBack([cost('a', 250)]));
    expect(await values(r)).toEqual([900, 900]);
  });

  it('a proxy whose lease ran out: its reservations leave the counters, its costs go to the next proxy to renew', async () => {
    const prefix = `t${randomUUID()}:`;
    const [a, b] = [await proxyOn(prefix), await proxyOn(prefix)];
    await a.holds.lease(100, 100);
    await b.holds.lease(60_000, 100);
    await a.holds.reserve(KEYS.map((key) => ({ key, amount: 500, limit: Infinity })));
    await a.holds.reserve(KEYS.map((key) => ({ key, amount: 300, limit: Infinity })));
    const held = [cost('c1', 200), cost('c2-forever', 100)];
    await a.holds.settle(KEYS, 500, held[0]);
    expect(await b.holds.lease(60_000, 100)).toEqual({ adopted: [], more: false });
    await a.holds.settle(KEYS, 0, held[1]);
    expect(await values(b)).toEqual([600, 600]);
    await sleep(150);
    // a is silent: b takes its costs over, and the 300 a had in flight leave the counters.
    const r = await b.holds.lease(60_000, 100);
    expect(r.more).toBe(false);
    expect(r.adopted.sort((x, y) => x.id.localeCompare(y.id))).toEqual(held);
    expect(await values(b)).toEqual([300, 300]);
    expect(await b.holds.lease(60_000, 100)).toEqual({ adopted: [], more: false });
    // a was only paused: what it gives back now is no longer its to give, and its call in flight
    // settles to its real cost without taking the reservation b already took off.
    await a.holds.giveBack(held);
    expect(await values(b)).toEqual([300, 300]);
    await a.holds.settle(KEYS, 300, cost('c3', 50));
    expect(await values(b)).toEqual([350, 350]);
    // b gives the costs back once; twice changes nothing.
    await b.holds.giveBack(held);
    await b.holds.giveBack(held);
    expect(await values(b)).toEqual([50, 50]);
  });

  it('a proxy that leaves is taken over at the next renewal, without waiting for its lease', async () => {
    const prefix = `t${randomUUID()}:`;
    const [a, b] = [await proxyOn(prefix), await proxyOn(prefix)];
    await a.holds.lease(60_000, 100);
    await a.holds.reserve(KEYS.map((key) => ({ key, amount: 100, limit: Infinity })));
    await a.holds.settle(KEYS, 100, cost('d', 100));
    await a.holds.leave();
    expect((await b.holds.lease(60_000, 100)).adopted.map((c) => c.id)).toEqual(['d']);
    expect(await values(b)).toEqual([100, 100]);
  });

  it('takes a large journal over in steps of at most `max` costs', async () => {
    const prefix = `t${randomUUID()}:`;
    const [a, b] = [await proxyOn(prefix), await proxyOn(prefix)];
    await a.holds.lease(60_000, 100);
    // 300: past Redis's compact encoding of small hashes, so the journal is scanned in steps.
    const all = Array.from({ length: 300 }, (_, i) => `e${i}`);
    for (const id of all) {
      await a.holds.reserve(KEYS.map((key) => ({ key, amount: 10, limit: Infinity })));
      await a.holds.settle(KEYS, 10, cost(id, 10));
    }
    await a.holds.leave();
    const ids: string[] = [];
    for (const [more, n] of [[true, 120], [true, 120], [false, 60]] as const) {
      const r = await b.holds.lease(60_000, 120);
      expect([r.more, r.adopted.length]).toEqual([more, n]);
      ids.push(...r.adopted.map((c) => c.id));
    }
    expect(ids.sort()).toEqual(all.sort());
    await b.holds.giveBack(ids.map((id) => cost(id, 10)));
    expect(await values(b)).toEqual([0, 0]);
  });
});
