// The UI's sign-in limits shared through a real redis-server (Debian's, installed by the test
// setup when missing): two UI processes' limiters (two instances, one Redis) see each other's
// failures and a success clears both; the Redis limiter answers as the memory one does; keys
// hold no email or IP and expire. And with Redis unreachable: `on_failure: open` falls back to
// the process's own limiter, `closed` refuses (and a success still signs in).
import { spawnSync } from 'node:child_process';
import { randomUUID } from 'node:crypto';
import { dirname, join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ACCOUNT_POLICY, IP_POLICY, SignInLimiter, type SignInLimits } from '../../ui/src/lib/server/signin-limit.server.ts';
import { RedisSignInLimiter } from '../../ui/src/lib/server/signin-limit-redis.server.ts';
import { SharedSignInLimits, SignInLimitsUnavailableError, signInLimitsFor } from '../../ui/src/lib/server/signin-limit-shared.server.ts';
import type { RedisTarget } from '../../core/src/state-config.ts';
import { ensureRedisServer, startRedis, startRedisCluster, type RedisCluster, type RedisServer } from '../support/redis-server.ts';
import { freePort } from '../e2e/compose-processes.ts';

let redis: RedisServer;
const opened: { close(): void }[] = [];

beforeAll(async () => {
  redis = await startRedis();
}, 120_000);

afterAll(async () => {
  for (const l of opened) l.close();
  await redis?.stop();
});

/** A UI process's limits as the sign-in route gets them, for a gatelog.yaml `state:`. */
function uiProcess(state: { redis?: RedisTarget; on_failure: 'open' | 'closed' }, masterKey: string): SignInLimits {
  const limits = signInLimitsFor({ store: {} as never, state }, masterKey);
  if (limits instanceof SharedSignInLimits) opened.push(limits);
  return limits;
}

/** redis-cli on database 1. */
function redisCli(...args: string[]): string {
  const r = spawnSync(join(dirname(ensureRedisServer()), 'redis-cli'), ['-p', String(redis.port), '-n', '1', ...args], { encoding: 'utf8' });
  if (r.status !== 0) throw new Error(`redis-cli ${args.join(' ')}: ${r.stderr}`);
  return r.stdout.trim();
}

describe('two UI processes, one Redis', () => {
  it('after the free failures on one, the other refuses; a success on either clears both', async () => {
    const master = `mk-${randomUUID()}`;
    const a = uiProcess({ redis: redis.url, on_failure: 'closed' }, master);
    const b = uiProcess({ redis: redis.url, on_failure: 'closed' }, master);
    const account = `account:${randomUUID()}@example.com`;
    const keys = [[account, ACCOUNT_POLICY]] as const;
    const locks: number[] = [];
    for (let i = 0; i < ACCOUNT_POLICY.free; i++) locks.push(await a.fail(keys));
    expect(locks).toEqual([0, 0, 0, 0, ACCOUNT_POLICY.baseMs]);
    const wait = await b.retryAfterMs([account]);
    expect(wait).toBeGreaterThan(ACCOUNT_POLICY.baseMs - 5000);
    expect(wait).toBeLessThanOrEqual(ACCOUNT_POLICY.baseMs);
    // B's next failure doubles the lock A set.
    expect(await b.fail(keys)).toBe(2 * ACCOUNT_POLICY.baseMs);
    expect(await a.retryAfterMs([account])).toBeGreaterThan(ACCOUNT_POLICY.baseMs);

    await b.succeed([account]);
    expect(await a.retryAfterMs([account])).toBe(0);
    expect(await b.retryAfterMs([account])).toBe(0);
    // The count starts again from zero on both.
    for (let i = 0; i < ACCOUNT_POLICY.free - 1; i++) expect(await (i % 2 ? a : b).fail(keys)).toBe(0);
  });

  it('spreading guesses over both processes does not multiply them', async () => {
    const master = `mk-${randomUUID()}`;
    const procs = [uiProcess({ redis: redis.url, on_failure: 'open' }, master), uiProcess({ redis: redis.url, on_failure: 'open' }, master)];
    const ip = `ip:198.51.100.${Math.floor(Math.random() * 250)}`;
    let refusedAt = -1;
    for (let i = 0; i < 2 * IP_POLICY.free && refusedAt < 0; i++) {
      const p = procs[i % 2]!;
      if ((await p.retryAfterMs([ip])) > 0) refusedAt = i;
      else await p.fail([[ip, IP_POLICY]]);
    }
    expect(refusedAt).toBe(IP_POLICY.free);
  });
});

describe('two UI processes, one Redis Cluster', () => {
  let cluster: RedisCluster;
  beforeAll(async () => {
    cluster = await startRedisCluster();
  }, 120_000);
  afterAll(async () => {
    await cluster?.stop();
  });

  it('share failures and lockouts; every key carries the hash tag, so all sit on one primary', async () => {
    const master = `mk-${randomUUID()}`;
    const a = uiProcess({ redis: { cluster: cluster.urls }, on_failure: 'closed' }, master);
    const b = uiProcess({ redis: { cluster: [cluster.urls[1]!] }, on_failure: 'closed' }, master);
    const subjects = Array.from({ length: 8 }, () => `account:${randomUUID()}@example.com`);
    for (const account of subjects) {
      // The account and the address in one script: one slot, or Redis refuses (CROSSSLOT).
      const keys = [[account, ACCOUNT_POLICY], [`ip:${randomUUID()}`, IP_POLICY]] as const;
      for (let i = 0; i < ACCOUNT_POLICY.free - 1; i++) expect(await a.fail(keys)).toBe(0);
      expect(await b.fail(keys)).toBe(ACCOUNT_POLICY.baseMs);
      expect(await a.retryAfterMs([account])).toBeGreaterThan(ACCOUNT_POLICY.baseMs - 5000);
    }
    const held = cluster.nodes.map((n) => {
      const r = spawnSync('redis-cli', ['-p', String(n.port), '--scan'], { encoding: 'utf8' });
      return r.stdout.split('\n').filter(Boolean);
    });
    expect(held.filter((keys) => keys.length > 0)).toHaveLength(1);
    const all = held.flat();
    expect(all.length).toBeGreaterThanOrEqual(subjects.length * 2);
    for (const k of all) expect(k).toMatch(/^\{gatelog\}:gl:signin:[0-9a-f]{32}:(fails|lock)$/);
    await b.succeed([subjects[0]!]);
    expect(await a.retryAfterMs([subjects[0]!])).toBe(0);
  });
});

describe('RedisSignInLimiter', () => {
  it('answers as the memory limiter: doubling, the cap, the IP policy apart', async () => {
    const r = new RedisSignInLimiter({ target: redis.url, secret: `mk-${randomUUID()}` });
    opened.push(r);
    const m = new SignInLimiter();
    const acct = `account:${randomUUID()}`;
    const ip = `ip:${randomUUID()}`;
    const both = [[acct, ACCOUNT_POLICY], [ip, IP_POLICY]] as const;
    for (let i = 0; i < 30; i++) expect(await r.fail(both), `failure ${i + 1}`).toBe(m.fail(both));
    expect(await r.fail(both)).toBe(ACCOUNT_POLICY.maxMs);
    expect(await r.retryAfterMs([acct, ip])).toBeGreaterThan(ACCOUNT_POLICY.maxMs - 5000);
    // An account's lock is not its IP's: five failures lock the account, not the address.
    const ip2 = `ip:${randomUUID()}`;
    for (let i = 0; i < ACCOUNT_POLICY.free; i++) await r.fail([[`account:${randomUUID()}`, ACCOUNT_POLICY], [ip2, IP_POLICY]]);
    expect(await r.retryAfterMs([ip2])).toBe(0);
  });

  it('names no email or address in Redis, keys under gl:signin: that expire', async () => {
    const master = `mk-${randomUUID()}`;
    // Database 1: only this test's keys.
    const r = new RedisSignInLimiter({ target: `${redis.url}/1`, secret: master });
    opened.push(r);
    const email = `${randomUUID()}@example.com`;
    const ip = '203.0.113.77';
    for (let i = 0; i < ACCOUNT_POLICY.free; i++) await r.fail([[`account:${email}`, ACCOUNT_POLICY], [`ip:${ip}`, IP_POLICY]]);
    const keys = redisCli('--scan', '--pattern', '*').split('\n').filter(Boolean);
    expect(keys).toHaveLength(3); // two fail counts, the account's lock
    for (const k of keys) {
      expect(k).toMatch(/^gl:signin:[0-9a-f]{32}:(fails|lock)$/);
      expect(k).not.toContain(email);
      expect(k).not.toContain(ip);
      const ttl = Number(redisCli('pttl', k));
      expect(ttl).toBeGreaterThan(0);
      expect(ttl).toBeLessThanOrEqual(ACCOUNT_POLICY.forgetMs);
      expect(redisCli('get', k)).not.toContain(email);
    }
    // Another master key names other keys: none of this account's failures are seen.
    const other = new RedisSignInLimiter({ target: `${redis.url}/1`, secret: `mk-${randomUUID()}` });
    opened.push(other);
    expect(await other.retryAfterMs([`account:${email}`])).toBe(0);
    expect(await r.retryAfterMs([`account:${email}`])).toBeGreaterThan(0);
  });
});

describe('Redis unreachable', () => {
  let deadUrl = '';
  beforeAll(async () => {
    deadUrl = `redis://127.0.0.1:${await freePort()}`;
  });

  it('closed: refuses with SignInLimitsUnavailableError, quickly; a success does not throw', async () => {
    const limits = uiProcess({ redis: deadUrl, on_failure: 'closed' }, 'mk-closed');
    const t0 = Date.now();
    const err = await limits.retryAfterMs(['account:x']).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(SignInLimitsUnavailableError);
    expect((err as SignInLimitsUnavailableError).code).toBe('GATELOG_ERR_STATE_UNAVAILABLE');
    expect(Date.now() - t0).toBeLessThan(3000);
    await expect(limits.fail([['account:x', ACCOUNT_POLICY]])).rejects.toBeInstanceOf(SignInLimitsUnavailableError);
    await expect(limits.succeed(['account:x'])).resolves.toBeUndefined();
  });

  it('open: this process keeps counting (with a warning); its lock still holds once Redis is back', async () => {
    let up = false;
    let t = 1_000_000;
    const warnings: string[] = [];
    const redisLimits = new RedisSignInLimiter({ target: redis.url, secret: `mk-${randomUUID()}` });
    opened.push(redisLimits);
    const flaky: SignInLimits = {
      retryAfterMs: (k) => (up ? redisLimits.retryAfterMs(k) : Promise.reject(new Error('connect ECONNREFUSED'))),
      fail: (k) => (up ? redisLimits.fail(k) : Promise.reject(new Error('connect ECONNREFUSED'))),
      succeed: (k) => (up ? redisLimits.succeed(k) : Promise.reject(new Error('connect ECONNREFUSED'))),
    };
    const limits = new SharedSignInLimits({ shared: flaky, onFailure: 'open', now: () => t, cooldownMs: 1000, warn: (op) => warnings.push(op) });
    const account = `account:${randomUUID()}`;
    const keys = [[account, ACCOUNT_POLICY]] as const;
    for (let i = 0; i < ACCOUNT_POLICY.free - 1; i++) expect(await limits.fail(keys)).toBe(0);
    expect(await limits.fail(keys)).toBe(ACCOUNT_POLICY.baseMs);
    expect(await limits.retryAfterMs([account])).toBe(ACCOUNT_POLICY.baseMs);
    // One failed call to Redis, then it is left alone for the cooldown.
    expect(warnings).toEqual(['fail']);
    up = true;
    t += 1001;
    expect(await limits.retryAfterMs([account])).toBe(ACCOUNT_POLICY.baseMs - 1001);
    await limits.succeed([account]);
    expect(await limits.retryAfterMs([account])).toBe(0);
  });
});
