// Retention of the proxy service's spool (proxy/src/main.ts as a process, over the chDB-backed
// ClickHouse HTTP fixture, Kafka unreachable): the sweep it runs at start empties the bodies of
// spooled calls older than the body period, but not those of a call under a legal hold, which
// must reach ClickHouse whole once Kafka is back.
import { mkdtempSync, readFileSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { stringify } from 'yaml';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { LocalLogWriter, encodeEvent, migrate, openStore, spoolDirOf, spoolLogDir, writeHold, type Store } from '@gatelog/core';
import { ClickHouseHttpFixture } from '../support/clickhouse-http.ts';
import { sampleEvent } from './distributed-events.ts';
import { startProxyProcess, type ProxyProcess } from './distributed-proxy-process.ts';

const DAY = 86_400_000;

describe('proxy service: retention of its spool', () => {
  const ch = new ClickHouseHttpFixture();
  let store: Store;
  let dir: string;
  let proxy: ProxyProcess | undefined;

  beforeAll(async () => {
    await ch.start();
    dir = mkdtempSync(join(tmpdir(), 'gatelog-retention-proxy-'));
    const database = `g_${crypto.randomUUID().replaceAll('-', '')}`;
    store = await openStore({ clickhouse: { url: ch.url, database, username: 'default', password: '' }, database }, dir);
    await migrate(store);
    writeFileSync(join(dir, 'gatelog.yaml'), stringify({
      storage: { clickhouse: { url: ch.url, database } },
      // Nothing listens there: the spool keeps every event, as during a Kafka outage.
      bus: { kind: 'kafka', brokers: ['127.0.0.1:1'], topic: 'events', request_timeout_ms: 1000 },
      providers: { mock: { kind: 'mock' } },
      models: [{ name: 'mock-chat', deployments: [{ provider: 'mock', model: 'mock-chat' }] }],
      retention: { bodies: '30d' },
    }));
  }, 60_000);

  afterAll(async () => {
    proxy?.kill();
    await store?.close();
    await ch.close();
    rmSync(dir, { recursive: true, force: true });
  });

  it('empties expired bodies in the spool at start, except a held call’s', { timeout: 180_000 }, async () => {
    const held = `held-${crypto.randomUUID()}`;
    const at = new Date().toISOString();
    await writeHold(store, { id: `hold_${crypto.randomUUID()}`, version: 1, kind: 'user', value: held, reason: 'case 2026-17', active: true, created_at: at, updated_at: at, updated_by: 'test' });
    // Calls spooled by an earlier run of this proxy that Kafka never took.
    const dataDir = join(dir, 'proxy');
    const log = new LocalLogWriter({ dir: spoolLogDir(spoolDirOf(dataDir)), fsyncMs: 0 });
    const old = new Date(Date.now() - 40 * DAY).toISOString();
    const body = (secret: string): string => JSON.stringify({ messages: [{ role: 'user', content: secret }] });
    log.append(encodeEvent(sampleEvent({ user: held, started_at: old, request_body: body('secret-held') })));
    log.append(encodeEvent(sampleEvent({ user: 'bob', started_at: old, request_body: body('secret-expired') })));
    log.append(encodeEvent(sampleEvent({ user: 'bob', request_body: body('secret-recent') })));
    log.close();
    const spoolHas = (text: string): boolean => {
      const d = spoolLogDir(spoolDirOf(dataDir));
      return readdirSync(d).some((f) => readFileSync(join(d, f)).includes(text));
    };

    proxy = await startProxyProcess(join(dir, 'gatelog.yaml'), dataDir, { GATELOG_MASTER_KEY: `mk-${crypto.randomUUID()}` });
    const t0 = Date.now();
    while (spoolHas('secret-expired') && Date.now() - t0 < 30_000) await new Promise((r) => setTimeout(r, 100));
    expect(spoolHas('secret-expired')).toBe(false);
    expect(spoolHas('secret-held')).toBe(true);
    expect(spoolHas('secret-recent')).toBe(true);
  });
});
