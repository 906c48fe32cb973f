// Which back-channel logout tokens were spent (their `jti`), as oidc-logout.server.ts asks. With
// `state.redis`: in Redis, shared by every UI process, so a token replayed to another replica
// behind the load balancer is refused too: one key per token (`gl:bclogout:<SHA-256 of iss and
// jti>`, SET NX), expiring when the token could no longer be accepted anyway. While Redis cannot
// be reached this process's memory takes over (a warning is logged, at most every 10 s): a
// logout is never refused for want of Redis, and a replay could at worst end again sessions
// opened before the token was issued (session match: `openedBy`). Without `state.redis`: memory.
import { createHash } from 'node:crypto';
import type { RedisTarget } from '@gatelog/core/state-config';
import { memoryReplayGuard, type ReplayGuard } from '@gatelog/core/auth/oidc-logout-token';
import { connectRedis, type RedisClient } from '@gatelog/core/redis';
import type { UiContext } from '@gatelog/core/ui-context';

const PREFIX = 'gl:bclogout:';
const WARN_EVERY_MS = 10_000;

const keyOf = (iss: string, jti: string): string => PREFIX + createHash('sha256').update(`${iss} ${jti}`).digest('hex');

/** A guard over `redis` that falls back to `local` (and `warn`s) whenever Redis fails. */
export function redisReplayGuard(redis: RedisClient, local: ReplayGuard, warn: (op: string, err: unknown) => void): ReplayGuard {
  const firstUse = async (iss: string, jti: string, until: number): Promise<boolean> => {
    let first: boolean;
    try {
      first = (await redis.set(keyOf(iss, jti), '1', 'PX', Math.max(1, until - Date.now()), 'NX')) === 'OK';
    } catch (err) {
      warn('firstUse', err);
      return local.firstUse(iss, jti, until);
    }
    // Memory too, so that during an outage this process still knows what it spent before.
    if (first) await local.firstUse(iss, jti, until);
    return first;
  };
  const release = async (iss: string, jti: string): Promise<void> => {
    await local.release(iss, jti);
    try {
      await redis.del(keyOf(iss, jti));
    } catch (err) {
      warn('release', err);
    }
  };
  return { firstUse, release };
}

function throttledWarn(): (op: string, err: unknown) => void {
  let last = -Infinity;
  return (op, err) => {
    if (Date.now() - last < WARN_EVERY_MS) return;
    last = Date.now();
    // The error's code only: never the URL (it may hold a password).
    const code = (err as { code?: unknown } | null)?.code;
    console.warn(`gatelog ui: Redis (state.redis) unreachable: spent back-channel logout tokens are remembered per UI process only (${op}${typeof code === 'string' ? `, ${code}` : ''})`);
  };
}

function connect(target: RedisTarget): RedisClient {
  const redis = connectRedis(target, { maxRetriesPerRequest: 0, connectTimeout: 2000, commandTimeout: 1000, retryStrategy: (times) => Math.min(times * 200, 2000) });
  // Failures surface through the failing commands; without a listener ioredis prints every reconnect error.
  redis.on('error', () => undefined);
  return redis;
}

const guards = new WeakMap<object, ReplayGuard>();

/** This process's guard for a UI context, made once (one Redis connection per process). */
export function replayGuardFor(ctx: Pick<UiContext, 'store' | 'state'>): ReplayGuard {
  let g = guards.get(ctx.store);
  if (!g) {
    const target = ctx.state?.redis;
    g = target ? redisReplayGuard(connect(target), memoryReplayGuard(), throttledWarn()) : memoryReplayGuard();
    guards.set(ctx.store, g);
  }
  return g;
}
