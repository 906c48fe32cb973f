// Spent back-channel logout tokens shared through a real redis-server: a token spent by one UI
// process is refused by another; a released one (its logout could not be carried out) is taken
// again; the key names no jti and expires with the token. With Redis unreachable each process
// still refuses what it spent itself, and warns.
import { randomUUID } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { memoryReplayGuard } from '../../core/src/auth/oidc-logout-token.ts';
import { connectRedis, type RedisClient } from '../../core/src/redis.ts';
import { redisReplayGuard, replayGuardFor } from '../../ui/src/lib/server/oidc-logout-replay.server.ts';
import { startRedis, type RedisServer } from '../support/redis-server.ts';

const ISS = 'https://idp.example.com';
let redis: RedisServer;
const clients: RedisClient[] = [];

beforeAll(async () => {
  redis = await startRedis();
}, 120_000);

afterAll(async () => {
  for (const c of clients) c.disconnect();
  await redis?.stop();
});

function client(url: string): RedisClient {
  const c = connectRedis(url, { maxRetriesPerRequest: 0, commandTimeout: 500, connectTimeout: 500, retryStrategy: () => 200 });
  c.on('error', () => undefined);
  clients.push(c);
  return c;
}

describe('spent logout tokens in Redis', () => {
  it('one UI process spends a jti, another refuses it; a release frees it everywhere', async () => {
    const warn = (): void => undefined;
    const [a, b] = [redisReplayGuard(client(redis.url), memoryReplayGuard(), warn), redisReplayGuard(client(redis.url), memoryReplayGuard(), warn)];
    const jti = randomUUID();
    const until = Date.now() + 60_000;
    expect(await a.firstUse(ISS, jti, until)).toBe(true);
    expect(await b.firstUse(ISS, jti, until)).toBe(false);
    expect(await a.firstUse(ISS, jti, until)).toBe(false);
    await a.release(ISS, jti);
    expect(await b.firstUse(ISS, jti, until)).toBe(true);
    // Per issuer.
    expect(await a.firstUse('https://other.example.com', jti, until)).toBe(true);
  });

  it('keys name no jti and expire when the token could no longer be accepted', async () => {
    const c = client(redis.url);
    const guard = redisReplayGuard(c, memoryReplayGuard(), () => undefined);
    const jti = `visible-${randomUUID()}`;
    expect(await guard.firstUse(ISS, jti, Date.now() + 30_000)).toBe(true);
    const keys = await c.keys('gl:bclogout:*');
    expect(keys.length).toBeGreaterThan(0);
    expect(keys.join(' ')).not.toContain('visible-');
    const ttl = Math.max(...(await Promise.all(keys.map((k) => c.pttl(k)))));
    expect(ttl).toBeGreaterThan(0);
    expect(ttl).toBeLessThanOrEqual(60_000);
  });

  it('with Redis unreachable, a process still refuses what it spent itself, and warns', async () => {
    const warnings: string[] = [];
    const guard = redisReplayGuard(client('redis://127.0.0.1:1'), memoryReplayGuard(), (op) => warnings.push(op));
    const jti = randomUUID();
    expect(await guard.firstUse(ISS, jti, Date.now() + 60_000)).toBe(true);
    expect(await guard.firstUse(ISS, jti, Date.now() + 60_000)).toBe(false);
    expect(warnings).toContain('firstUse');
  });

  it('a UI context with state.redis gets a shared guard; without, its own memory', async () => {
    const shared = [replayGuardFor({ store: {} as never, state: { redis: redis.url, on_failure: 'open' } as never }), replayGuardFor({ store: {} as never, state: { redis: redis.url, on_failure: 'open' } as never })];
    const jti = randomUUID();
    expect(await shared[0]!.firstUse(ISS, jti, Date.now() + 60_000)).toBe(true);
    expect(await shared[1]!.firstUse(ISS, jti, Date.now() + 60_000)).toBe(false);
    const apart = [replayGuardFor({ store: {} as never }), replayGuardFor({ store: {} as never })];
    expect(await apart[0]!.firstUse(ISS, jti, Date.now() + 60_000)).toBe(true);
    expect(await apart[1]!.firstUse(ISS, jti, Date.now() + 60_000)).toBe(true);
  });
});
