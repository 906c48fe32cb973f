// The Redis that proxies and UIs share (`state.redis`): one server by URL, a Redis Cluster by
// its seed nodes (ElastiCache or MemoryDB in cluster mode, Azure Cache clustered, a self-run
// cluster), or a primary found through Redis Sentinel. Every gatelog Redis client is made here,
// so the three kinds behave alike wherever one is used.
//
// In a cluster, every gatelog key carries one hash tag (`{gatelog}`): the scripts that change
// several counters at once (a reservation covers the key's, its team's and its end user's
// budgets and limits; a sign-in failure counts the account and the address) need all their
// keys in one slot, and a budget must never be split across shards. So a cluster gives gatelog
// its failover and managed operation, not more throughput than one shard: one primary serves
// every gatelog key.
import { createRequire } from 'node:module';
import type { Cluster, Redis, RedisOptions } from 'ioredis';
import type { RedisTarget } from './state-config.ts';

export type RedisClient = Redis | Cluster;

// ioredis (~55 ms to load) is required on the first connection: a gatelog without
// `state.redis` or an audit-stream lease never loads it.
let ioredis: typeof import('ioredis') | undefined;
const client = (): typeof import('ioredis') => (ioredis ??= createRequire(import.meta.url)('ioredis') as typeof import('ioredis'));

/** The hash tag every key gets in a cluster (see above). */
export const CLUSTER_KEY_TAG = '{gatelog}:';

/** What a client's keys start with: the caller's prefix, behind the cluster's hash tag in a cluster. */
export function redisKeyPrefix(target: RedisTarget, prefix = ''): string {
  return typeof target === 'object' && 'cluster' in target ? CLUSTER_KEY_TAG + prefix : prefix;
}

/** The kind of Redis, for log lines: never a host's password (URLs may carry one). */
export function describeRedis(target: RedisTarget): string {
  if (typeof target === 'string') return 'redis';
  if ('cluster' in target) return `redis cluster (${target.cluster.length} seed node${target.cluster.length === 1 ? '' : 's'})`;
  return `redis sentinel (primary "${target.name}", ${target.sentinels.length} sentinel${target.sentinels.length === 1 ? '' : 's'})`;
}

/** Managed clusters name their nodes by address behind TLS certificates issued for the configured host names: keep the names (AWS's documented setting for ElastiCache). */
function keepName(address: string, cb: (err: null, address: string) => void): void {
  cb(null, address);
}

function hostPort(hp: string, defaultPort: number): { host: string; port: number } {
  const at = hp.lastIndexOf(':');
  return at === -1 ? { host: hp, port: defaultPort } : { host: hp.slice(0, at).replace(/^\[|\]$/g, ''), port: Number(hp.slice(at + 1)) };
}

/**
 * A client for `target` with `o`'s behaviour (timeouts, offline queue, retries, key prefix),
 * whatever its kind. A cluster's nodes all take the credentials and TLS of its first seed URL.
 */
export function connectRedis(target: RedisTarget, o: RedisOptions = {}): RedisClient {
  const { Cluster, Redis } = client();
  if (typeof target === 'string') return new Redis(target, o);
  if ('cluster' in target) {
    const seeds = target.cluster.map((u) => new URL(u));
    const first = seeds[0]!;
    const tls = first.protocol === 'rediss:';
    const { keyPrefix, enableOfflineQueue, retryStrategy, ...node } = o;
    return new Cluster(
      seeds.map((u) => ({ host: u.hostname.replace(/^\[|\]$/g, ''), port: Number(u.port || 6379) })),
      {
        keyPrefix: redisKeyPrefix(target, keyPrefix),
        enableOfflineQueue: enableOfflineQueue ?? true,
        ...(retryStrategy ? { clusterRetryStrategy: retryStrategy } : {}),
        ...(tls ? { dnsLookup: keepName } : {}),
        redisOptions: {
          ...node,
          ...(first.username ? { username: decodeURIComponent(first.username) } : {}),
          ...(first.password ? { password: decodeURIComponent(first.password) } : {}),
          ...(tls ? { tls: {} } : {}),
        },
      },
    );
  }
  return new Redis({
    ...o,
    sentinels: target.sentinels.map((s) => hostPort(s, 26379)),
    name: target.name,
    db: target.db,
    ...(target.username ? { username: target.username } : {}),
    ...(target.password ? { password: target.password } : {}),
    ...(target.sentinel_password ? { sentinelPassword: target.sentinel_password } : {}),
    ...(target.tls ? { tls: {}, enableTLSForSentinelMode: true } : {}),
    ...(o.retryStrategy ? { sentinelRetryStrategy: o.retryStrategy } : {}),
  });
}
