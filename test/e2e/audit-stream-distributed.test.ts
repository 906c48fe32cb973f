// Audit streaming in the distributed shape: two real proxy services (proxy/src/main.ts) on one
// ClickHouse server (the chDB-backed HTTP fixture), each writing its own audit chain, one
// webhook sink. While both run, one of them forwards (a lease in ClickHouse, or in a real
// redis-server when state.redis is set) and every row arrives exactly once; when that one is
// killed while the sink refuses, the other takes the sink over after lease_ms and sends the
// rest — the dead one's unsent row included — with no gap. Both proxies' GET /admin/audit/sinks
// say the same (failing, since when, the error, the lease's holder) while the holder fails, and
// the survivor says ok with nothing behind once it has sent the rest.
import { randomUUID } from 'node:crypto';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { stringify } from 'yaml';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { AuditVerifier, migrate, openStore, type AuditRow, type Store } from '@gatelog/core';
import type { SinkStatus } from '@gatelog/core/audit-stream/status';
import { ClickHouseHttpFixture } from '../support/clickhouse-http.ts';
import { KafkaTestBroker } from '../support/kafka/index.ts';
import { startWebhookReceiver, verifySignature, type Received, type WebhookReceiver } from '../support/webhook-receiver.ts';
import { startRedis, type RedisServer } from '../support/redis-server.ts';
import { startTogether } from '../support/start-together.ts';
import { startProxyProcess, type ProxyProcess } from './distributed-proxy-process.ts';

const MASTER = `mk-${randomUUID()}`;
const SECRET = 'distributed-audit-sink-secret';

type Streamed = AuditRow & { idempotency_id: string };

describe.each(['clickhouse', 'redis'] as const)('audit streaming with several proxies on one ClickHouse, sink lease in %s', (leaseHome) => {
  let redis: RedisServer | undefined;
  let broker: KafkaTestBroker;
  let ch: ClickHouseHttpFixture;
  let store: Store;
  let hook: WebhookReceiver;
  let dir: string;
  let proxies: ProxyProcess[] = [];
  const accepted = new Set<Received>();

  beforeAll(async () => {
    broker = new KafkaTestBroker();
    ch = new ClickHouseHttpFixture();
    [, , hook, redis] = await startTogether(
      [broker.start()], [ch.start()], [startWebhookReceiver(), (h) => h.close()],
      [leaseHome === 'redis' ? startRedis() : Promise.resolve(undefined), (r) => r?.stop()],
    );
    hook.respond = (r) => {
      accepted.add(r);
      return 200;
    };
    dir = mkdtempSync(join(tmpdir(), 'gatelog-dist-audit-stream-'));
    const database = `g_${randomUUID().replaceAll('-', '')}`;
    const topic = `events-${randomUUID()}`;
    broker.createTopic(topic, 1);
    store = await openStore({ clickhouse: { url: ch.url, database, username: 'default', password: '' }, database }, dir);
    await migrate(store);
    const config = join(dir, 'gatelog.yaml');
    writeFileSync(config, stringify({
      storage: { clickhouse: { url: ch.url, database } },
      ...(redis ? { state: { redis: redis.url } } : {}),
      bus: { kind: 'kafka', brokers: broker.brokers, topic, request_timeout_ms: 2000 },
      providers: { mock: { kind: 'mock' } },
      models: [{ name: 'mock-chat', deployments: [{ provider: 'mock', model: 'mock-chat' }] }],
      audit: {
        sinks: [{ kind: 'webhook', name: 'siem', url: `${hook.url}/audit`, secret: SECRET, batch_rows: 5 }],
        stream: { poll_ms: 100, attempts: 2, base_ms: 50, max_ms: 300, lease_ms: 2000 },
      },
    }));
    proxies = [await startProxyProcess(config, join(dir, 'p1'), { GATELOG_MASTER_KEY: MASTER })];
    proxies.push(await startProxyProcess(config, join(dir, 'p2'), { GATELOG_MASTER_KEY: MASTER }));
  }, 240_000);

  afterAll(async () => {
    for (const p of proxies) p.kill();
    await store?.close();
    await hook?.close();
    await ch?.close();
    await broker?.stop();
    await redis?.stop();
    if (dir) rmSync(dir, { recursive: true, force: true });
  });

  async function createKey(p: ProxyProcess, name: string): Promise<void> {
    const r = await fetch(`${p.url}/admin/keys`, { method: 'POST', headers: { authorization: `Bearer ${MASTER}`, 'content-type': 'application/json' }, body: JSON.stringify({ name }) });
    expect(r.status).toBe(201);
  }

  function rows(): Streamed[] {
    return hook.received.filter((r) => accepted.has(r)).flatMap((r) => {
      expect(verifySignature(SECRET, r.headers['x-gatelog-signature'] as string, r.body, Number(/t=(\d+)/.exec(String(r.headers['x-gatelog-signature']))?.[1]))).toBe(true);
      return (JSON.parse(r.body) as { rows: Streamed[] }).rows;
    });
  }

  async function until(what: string, pred: () => boolean, ms = 30_000): Promise<void> {
    const t0 = Date.now();
    while (!pred()) {
      if (Date.now() - t0 > ms) throw new Error(`${what}: not within ${ms} ms\n${proxies.map((p) => p.output().slice(-3000)).join('\n----\n')}`);
      await new Promise((r) => setTimeout(r, 50));
    }
  }

  async function siem(p: ProxyProcess): Promise<SinkStatus> {
    const r = await fetch(`${p.url}/admin/audit/sinks`, { headers: { authorization: `Bearer ${MASTER}` } });
    expect(r.status).toBe(200);
    return ((await r.json()) as { data: SinkStatus[] }).data[0]!;
  }

  async function siemUntil(p: ProxyProcess, what: string, pred: (s: SinkStatus) => boolean, ms = 30_000): Promise<SinkStatus> {
    const t0 = Date.now();
    for (;;) {
      const s = await siem(p);
      if (pred(s)) return s;
      if (Date.now() - t0 > ms) throw new Error(`${what}: not within ${ms} ms\n${JSON.stringify(s)}`);
      await new Promise((r) => setTimeout(r, 100));
    }
  }

  const named = (n: string) => (r: Streamed): boolean => r.action === 'key.create' && r.details.includes(`"${n}"`);

  it('one forwarder at a time sends each row once; a killed forwarder\'s sink is taken over with no gap', { timeout: 180_000 }, async () => {
    const [p1, p2] = proxies as [ProxyProcess, ProxyProcess];
    for (let i = 0; i < 4; i++) {
      await createKey(p1, `one-${i}`);
      await createKey(p2, `two-${i}`);
    }
    await until('both chains arrive', () => [0, 1, 2, 3].every((i) => rows().some(named(`one-${i}`)) && rows().some(named(`two-${i}`))));
    await new Promise((r) => setTimeout(r, 1000));
    const ids = rows().map((r) => r.idempotency_id);
    expect(new Set(ids).size, 'no row sent twice while one forwarder holds the sink').toBe(ids.length);

    const leading = proxies.filter((p) => p.output().includes('audit sink forwarded by this process'));
    expect(leading).toHaveLength(1);
    const holder = leading[0]!;
    const other = holder === p1 ? p2 : p1;
    // The sink refuses for a while: the holder's newest row is tried, not accepted, when it dies.
    let up = false;
    hook.respond = (r) => {
      if (!up) return 503;
      accepted.add(r);
      return 200;
    };
    await createKey(holder, 'pending-on-holder');
    await until('the holder tried its newest row', () => hook.received.some((r) => r.body.includes('pending-on-holder')));
    // Either proxy tells the same story: only the holder knows it from its own attempts.
    const seen = await siemUntil(other, 'failing, seen from the proxy that does not forward', (s) => s.status === 'failing');
    const fromHolder = await siem(holder);
    for (const s of [seen, fromHolder]) {
      expect(s).toMatchObject({ status: 'failing', failing_since: seen.failing_since, last_error: { http_status: 503, code: 'http_503' }, lease: { store: leaseHome, holder: seen.lease?.holder } });
      expect(s.rows_behind).toBeGreaterThan(0);
    }
    expect(seen.lease?.holder).toMatch(/:\d+:[0-9a-f]{8}$/);
    holder.kill();
    await holder.exited;
    up = true;
    await createKey(other, 'after-kill');
    await until('the survivor takes the sink over', () => rows().some(named('after-kill')) && rows().some(named('pending-on-holder')), 60_000);
    expect(other.output()).toContain('audit sink forwarded by this process');
    const after = await siemUntil(other, 'the survivor ok with nothing behind', (s) => s.status === 'ok' && s.rows_behind === 0);
    expect(after.lease?.holder).not.toBe(seen.lease?.holder);
    expect(after.last_error).toMatchObject({ code: 'http_503' });

    const byId = new Map(rows().map((r) => [r.idempotency_id, r]));
    const v = new AuditVerifier({ full: true });
    const chains = [...new Set([...byId.values()].map((r) => r.chain_id))];
    v.feed(chains.flatMap((c) => [...byId.values()].filter((r) => r.chain_id === c).sort((a, b) => a.seq - b.seq)).map(({ idempotency_id: _i, ...r }) => r));
    const result = v.result();
    expect(result.ok, JSON.stringify(result.problem)).toBe(true);
    expect(result.chains).toHaveLength(2);
    // Everything stored was sent: the store's chains and the sink's copy end at the same heads.
    const rs = await store.client.query({ query: `SELECT chain_id, max(seq) AS head FROM ${store.database}.admin_audit GROUP BY chain_id`, format: 'JSONEachRow' });
    const heads = (await rs.json<{ chain_id: string; head: string | number }>()).map((h) => [h.chain_id, Number(h.head)]).sort();
    expect(result.chains.map((c) => [c.chain_id, c.last_seq]).sort()).toEqual(heads);
    // The lease lived where configured.
    const claims = await store.client.query({ query: `SELECT count() AS n FROM ${store.database}.job_lease WHERE job = 'audit-stream:siem'`, format: 'JSONEachRow' });
    const n = Number((await claims.json<{ n: string | number }>())[0]?.n);
    if (leaseHome === 'redis') expect(n).toBe(0);
    else expect(n).toBeGreaterThan(0);
  });
});
