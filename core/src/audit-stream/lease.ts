// Which of several gatelogs forwards an audit sink: a lease per sink, claimed by every forwarder
// each lease_ms/4 (a claim both asks for the sink and, while held, keeps it). On ClickHouse by
// default (job-lease.ts: the earliest live claimant holds it); on Redis when `state.redis` is
// configured: one key per sink, set only when free or already the claimant's, expiring on
// Redis's clock after lease_ms unless renewed, so exactly one holder at a time and a dead one's
// sink is free lease_ms after its last claim.
import type { Store } from '../store/client.ts';
import { claimJob, jobHolder } from '../store/job-lease.ts';
import { connectRedis, type RedisClient } from '../redis.ts';
import type { RedisTarget } from '../state-config.ts';

export interface SinkLease {
  /** True while `holder` holds `sink`'s lease (claimed now, held for `ms`). */
  claim(sink: string, holder: string, ms: number): Promise<boolean>;
  /** Who holds `sink`'s lease now (null: nobody), asked without claiming it. */
  holder(sink: string, ms: number): Promise<string | null>;
  /** Where the lease lives, for the status API. */
  readonly where: 'clickhouse' | 'redis';
  close(): Promise<void>;
}

export function storeLease(store: Store): SinkLease {
  const job = (sink: string): string => `audit-stream:${sink}`;
  const claim = (sink: string, holder: string, ms: number): Promise<boolean> => claimJob(store, job(sink), holder, ms);
  const holder = (sink: string, ms: number): Promise<string | null> => jobHolder(store, job(sink), ms);
  const close = (): Promise<void> => Promise.resolve();
  return { claim, holder, where: 'clickhouse', close };
}

// KEYS: the sink's lease. ARGV: the claimant, the lease's length (ms).
const CLAIM = `
local v = redis.call('GET', KEYS[1])
if v and v ~= ARGV[1] then return 0 end
redis.call('SET', KEYS[1], ARGV[1], 'PX', ARGV[2])
return 1`;

export function redisLease(target: RedisTarget): SinkLease {
  const redis: RedisClient = connectRedis(target, {
    keyPrefix: 'gatelog:audit-stream-lease:',
    // A claim that cannot be answered now fails: the forwarder stops sending until one is.
    enableOfflineQueue: false,
    maxRetriesPerRequest: 0,
    connectTimeout: 2000,
    commandTimeout: 2000,
    retryStrategy: (times) => Math.min(times * 200, 2000),
  });
  // Failures surface through the failing claims; without a listener ioredis prints every reconnect error.
  redis.on('error', () => undefined);
  const claim = async (sink: string, holder: string, ms: number): Promise<boolean> => (await redis.eval(CLAIM, 1, sink, holder, String(ms))) === 1;
  const holder = (sink: string): Promise<string | null> => redis.get(sink);
  const close = (): Promise<void> => {
    redis.disconnect();
    return Promise.resolve();
  };
  return { claim, holder, where: 'redis', close };
}
