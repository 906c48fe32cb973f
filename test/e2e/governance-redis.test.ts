// Limits that hold across replicas: three gatelog processes sharing one real redis-server
// (Debian's, installed by the test setup when missing) — or a three-primary Redis Cluster of
// them — and one ClickHouse (the HTTP fixture, standing in for the server a distributed
// deployment uses). An RPM limit and a budget hold in total, not per proxy. Also: RedisBackend
// keeps MemoryBackend's exact semantics on one server, a cluster and through Sentinel, and a
// Redis outage fails open with a loud metric.
import { randomUUID } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { MemoryBackend, type CounterBackend } from '../../proxy/src/governance/backend.ts';
import { RedisBackend } from '../../proxy/src/governance/redis-backend.ts';
import { REDIS_TOPOLOGIES, startSharedRedis, type SharedRedis } from '../support/redis-server.ts';
import { ClickHouseHttpFixture } from '../support/clickhouse-http.ts';
import { startGatelog, type GatelogProcess } from '../support/gatelog-process.ts';

const MASTER = 'master-key-redis-e2e';
describe.each(REDIS_TOPOLOGIES)('RedisBackend on %s', (topology) => {
  let redis: SharedRedis;
  beforeAll(async () => {
    redis = await startSharedRedis(topology);
  }, 120_000);
  afterAll(async () => {
    await redis?.stop();
  });

  it('gives the same answers as MemoryBackend for the same operations', async () => {
    const r = new RedisBackend({ target: redis.target, keyPrefix: `t${randomUUID()}:` });
    expect(await r.ready(5000)).toBe(true);
    const m = new MemoryBackend();
    const both = async <T>(op: (b: CounterBackend) => Promise<T>): Promise<void> => {
      expect(await op(r)).toEqual(await op(m));
    };
    try {
      await both((b) => b.reserve([{ key: 'a', amount: 3, limit: 5 }, { key: 'b', amount: 1, limit: 1 }]));
      await both((b) => b.reserve([{ key: 'a', amount: 3, limit: 5 }, { key: 'b', amount: 1, limit: 9 }]));
      await both((b) => b.reserve([{ key: 'b', amount: 1, limit: 1 }]));
      await both((b) => b.reserve([{ key: 'c', amount: 7, limit: Infinity }]));
      await both((b) => b.add('a', -10));
      await both((b) => b.add('c', 5));
      await both((b) => b.get(['a', 'b', 'c', 'missing']));
      const now = 1_800_000_000_000;
      const rpm = { key: 'r', cost: 1, limit: 3, windowMs: 60_000 };
      const tpm = { key: 't', cost: 40, limit: 100, windowMs: 60_000 };
      for (let i = 0; i < 4; i++) await both((b) => b.rateAcquire([rpm, tpm], now + i * 10));
      await both((b) => b.rateAcquire([{ ...tpm, cost: 500 }], now + 50));
      await both((b) => b.rateAdjust({ ...tpm, cost: -30 }, now + 60));
      await both((b) => b.rateAcquire([tpm], now + 70));
      await both((b) => b.rateAcquire([rpm], now + 20_001));
    } finally {
      await r.close();
    }
  });
});

// One ClickHouse for the file (chDB allows one per process); each group of proxies its own database.
const ch = new ClickHouseHttpFixture();
afterAll(async () => {
  await ch.close();
});

describe.each(['one server', 'a cluster'] as const)('three proxies sharing %s', (topology) => {
  const proxies: GatelogProcess[] = [];
  let redis: SharedRedis;

  beforeAll(async () => {
    redis = await startSharedRedis(topology);
    if (!ch.running) await ch.start();
    const config = {
      storage: { clickhouse: { url: ch.url, database: topology === 'a cluster' ? 'gl_cluster' : 'gl_server' } },
      state: { redis: redis.target },
      providers: { mock: { kind: 'mock', latency_ms: 100 } },
      models: [
        { name: 'fast', deployments: [{ provider: 'mock', model: 'mock-chat' }] },
        { name: 'other', deployments: [{ provider: 'mock', model: 'mock-chat' }] },
      ],
      // Output only: a "hi" call reports 5 output tokens = $0.005; max_tokens 10 reserves $0.01.
      pricing: [{ provider: 'mock', model: 'mock-chat', input: 0, output: 1000 }],
      ingest: { batch_ms: 50 },
      keys: { refresh_ms: 300 },
      ui: { enabled: false },
    };
    // One at a time: each runs the (idempotent) migrations on the shared ClickHouse.
    for (let i = 0; i < 3; i++) proxies.push(await startGatelog({ config, env: { GATELOG_MASTER_KEY: MASTER } }));
  }, 120_000);

  afterAll(async () => {
    await Promise.all(proxies.map((p) => p.stop()));
    await redis?.stop();
  });

  it('says which kind of Redis it shares, never its address', () => {
    for (const p of proxies) {
      expect(p.logs()).toContain('shared state: connected to Redis');
      expect(p.logs()).toContain(topology === 'a cluster' ? '"redis":"redis cluster (3 seed nodes)"' : '"redis":"redis"');
      for (const s of redis.secrets) expect(p.logs()).not.toContain(s);
    }
  });

  async function createKey(fields: Record<string, unknown>): Promise<string> {
    const res = await fetch(`${proxies[0]!.url}/admin/keys`, {
      method: 'POST',
      headers: { authorization: `Bearer ${MASTER}`, 'content-type': 'application/json' },
      body: JSON.stringify({ models: ['fast'], ...fields }),
    });
    expect(res.status).toBe(201);
    const { secret } = (await res.json()) as { secret: string };
    // Known everywhere once every proxy answers 403 for a model it may not use (refused
    // before any limit is touched).
    for (const p of proxies) {
      for (let i = 0; ; i++) {
        const r = await chat(p, secret, 'other');
        if (r.status === 403) break;
        if (i > 100) throw new Error(`key never reached ${p.url} (last status ${r.status})`);
        await new Promise((s) => setTimeout(s, 100));
      }
    }
    return secret;
  }

  function chat(p: GatelogProcess, secret: string, model = 'fast'): Promise<Response> {
    return fetch(`${p.url}/v1/chat/completions`, {
      method: 'POST',
      headers: { authorization: `Bearer ${secret}`, 'content-type': 'application/json' },
      body: JSON.stringify({ model, max_tokens: 10, messages: [{ role: 'user', content: 'hi' }] }),
    });
  }

  /** Three calls on each proxy, all at once. */
  async function burst(secret: string): Promise<number[]> {
    const res = await Promise.all(proxies.flatMap((p) => [chat(p, secret), chat(p, secret), chat(p, secret)]));
    return res.map((r) => r.status);
  }

  it('an RPM limit holds in total across the proxies', async () => {
    const secret = await createKey({ name: 'shared-rpm', rpm: 3 });
    const statuses = await burst(secret);
    expect(statuses.filter((s) => s === 200)).toHaveLength(3);
    expect(statuses.filter((s) => s === 429)).toHaveLength(6);
  });

  it('a budget holds in total across the proxies', async () => {
    // Room for one worst case ($0.01); after it settles at $0.005 the rest cannot fit.
    const secret = await createKey({ name: 'shared-budget', budget_usd: 0.012 });
    const statuses = await burst(secret);
    expect(statuses.filter((s) => s === 200)).toHaveLength(1);
    expect(statuses.filter((s) => s === 429)).toHaveLength(8);
    const again = await Promise.all(proxies.map((p) => chat(p, secret)));
    expect(again.map((r) => r.status)).toEqual([429, 429, 429]);
  });

  it('a revocation on one proxy applies on every proxy within 5 s', async () => {
    const secret = await createKey({ name: 'revoke-me' });
    const list = (await (await fetch(`${proxies[0]!.url}/admin/keys`, { headers: { authorization: `Bearer ${MASTER}` } })).json()) as {
      data: { id: string; name: string }[];
    };
    const id = list.data.find((k) => k.name === 'revoke-me')!.id;
    const t0 = Date.now();
    expect((await fetch(`${proxies[1]!.url}/admin/keys/${id}`, { method: 'DELETE', headers: { authorization: `Bearer ${MASTER}` } })).status).toBe(200);
    for (const p of proxies) {
      while ((await chat(p, secret, 'other')).status !== 401) {
        expect(Date.now() - t0).toBeLessThan(5000);
        await new Promise((s) => setTimeout(s, 50));
      }
    }
  });

  it('Redis down: fails open (local counters) with a loud metric and log line', async () => {
    const secret = await createKey({ name: 'redis-down', rpm: 100 });
    await redis.stop();
    const r = await chat(proxies[0]!, secret);
    expect(r.status).toBe(200);
    const metrics = await (await fetch(`${proxies[0]!.url}/metrics`, { headers: { authorization: `Bearer ${MASTER}` } })).text();
    const line = metrics.split('\n').find((l) => l.startsWith('gatelog_state_backend_failures_total{'));
    expect(Number(line?.split(' ').pop())).toBeGreaterThan(0);
    expect(proxies[0]!.logs()).toContain('shared state backend unavailable');
    for (const s of redis.secrets) expect(proxies[0]!.logs()).not.toContain(s);
  });
});
