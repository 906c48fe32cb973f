// `state:` in gatelog.yaml: the Redis every proxy and UI replica shares (rate limits, parallel
// limits, budget reservations, sign-in lockouts) and what happens while it is unreachable. The
// Redis is one server's URL, a Redis Cluster by its seed nodes, or a primary through Sentinel;
// core/src/redis.ts makes the clients.
import { z } from 'zod';

const RedisUrl = z.string().regex(/^rediss?:\/\//, 'a redis:// or rediss:// URL');

const HostPort = z.string().regex(/^(\[[0-9a-fA-F:.]+\]|[^\s:/[\]]+):\d{1,5}$/, 'host:port');

/** A cluster's seed nodes (credentials and TLS from its first URL), or sentinels and the primary's name. */
const RedisNodes = z.object({
  cluster: z.array(RedisUrl).min(1, 'at least one seed node').optional(),
  sentinels: z.array(HostPort).min(1, 'at least one sentinel').optional(),
  /** The primary's name the sentinels monitor (`sentinel monitor <name> …`). */
  name: z.string().min(1).optional(),
  username: z.string().min(1).optional(),
  password: z.string().min(1).optional(),
  sentinel_password: z.string().min(1).optional(),
  tls: z.boolean().optional(),
  db: z.number().int().min(0).max(15).optional(),
}).strict().superRefine((r, ctx) => {
  if (!r.cluster === !r.sentinels) {
    ctx.addIssue({ code: 'custom', message: 'either a redis:// URL, cluster: [seed URLs] or sentinels: [host:port] with name' });
    return;
  }
  if (r.cluster) {
    const extra = (['name', 'username', 'password', 'sentinel_password', 'tls', 'db'] as const).filter((k) => r[k] !== undefined);
    if (extra.length > 0) ctx.addIssue({ code: 'custom', message: `a cluster takes its credentials and TLS from its seed URLs, not ${extra.join(', ')}` });
    if (new Set(r.cluster.map((u) => u.split(':')[0])).size > 1) ctx.addIssue({ code: 'custom', path: ['cluster'], message: 'cluster seed URLs must all be redis:// or all rediss://' });
  } else if (!r.name) {
    ctx.addIssue({ code: 'custom', path: ['name'], message: 'the name of the primary the sentinels monitor' });
  }
});

export type RedisSentinelTarget = {
  sentinels: string[];
  name: string;
  username?: string | undefined;
  password?: string | undefined;
  sentinel_password?: string | undefined;
  tls: boolean;
  db: number;
};

/**
 * The Redis every proxy and UI shares (core/src/redis.ts): one server's URL, a Redis Cluster
 * by its seed nodes, or a primary through Sentinel.
 */
export const RedisTarget = z.union([
  RedisUrl,
  RedisNodes.transform((r): { cluster: string[] } | RedisSentinelTarget =>
    r.cluster
      ? { cluster: r.cluster }
      : { sentinels: r.sentinels ?? [], name: r.name ?? '', username: r.username, password: r.password, sentinel_password: r.sentinel_password, tls: r.tls ?? false, db: r.db ?? 0 },
  ),
]);
export type RedisTarget = z.infer<typeof RedisTarget>;

export const StateConfig = z.object({
  /**
   * Shared by every proxy for rate limits, parallel limits and budget reservations (and by the
   * UIs for sign-in lockouts): `redis://…`, `{cluster: [redis://…, …]}` or
   * `{sentinels: [host:port, …], name}`.
   */
  redis: RedisTarget.optional(),
  /** Redis unreachable: `open` = local counters (loud metric), `closed` = refuse with 503. */
  on_failure: z.enum(['open', 'closed']).default('open'),
}).strict();
export type StateConfig = z.infer<typeof StateConfig>;

