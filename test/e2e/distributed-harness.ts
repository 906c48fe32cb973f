// Shared setup of the distributed-mode fault tests, all in one process on loopback: the Kafka
// test broker, the chDB-backed ClickHouse HTTP fixture (a url store, as in production), Kafka
// publishers with their spools, and ingest workers. Each test gets its own topic, group and
// database, so tests share nothing.
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { randomUUID } from 'node:crypto';
import { Registry } from 'prom-client';
import { createLogger, migrate, openStore, type Store } from '@gatelog/core';
import { startKafkaIngest, type KafkaIngest, type KafkaIngestDeps } from '@gatelog/ingest/kafka-consumer';
import { createKafkaPublisher, type KafkaPublisher, type KafkaPublisherDeps } from '@gatelog/proxy/publish/kafka';
import { ClickHouseHttpFixture } from '../support/clickhouse-http.ts';
import { KafkaTestBroker, testKafka } from '../support/kafka/index.ts';

export interface Distributed {
  broker: KafkaTestBroker;
  ch: ClickHouseHttpFixture;
  store: Store;
  topic: string;
  dlqTopic: string;
  groupId: string;
  dir: string;
  publisher(over?: Partial<KafkaPublisherDeps>): KafkaPublisher;
  worker(over?: Partial<KafkaIngestDeps>): Promise<KafkaIngest>;
  /** Rows as readers see them (FINAL) and raw distinct ids. */
  counts(): Promise<{ rows: number; distinct: number }>;
  /** Rows as inserted (no FINAL) and calls as the minute rollup counted them: what dashboards sum. */
  inserted(): Promise<{ raw: number; rolled: number }>;
  ids(): Promise<string[]>;
  dlqKeys(): string[];
  close(): Promise<void>;
}

const silent = createLogger(process.env['DIST_LOG'] ?? 'silent');

export async function startDistributed(opts: { partitions?: number } = {}): Promise<Distributed> {
  const broker = new KafkaTestBroker({ defaultPartitions: opts.partitions ?? 2 });
  await broker.start();
  const ch = new ClickHouseHttpFixture();
  await ch.start();
  const database = `g_${randomUUID().replaceAll('-', '')}`;
  const storage = { clickhouse: { url: ch.url, database, username: 'default', password: '' }, database };
  const store = await openStore(storage, ch.dir);
  await migrate(store);
  const dir = mkdtempSync(join(tmpdir(), 'gatelog-dist-'));
  const topic = `events-${randomUUID()}`;
  const dlqTopic = `${topic}.dlq`;
  const groupId = `ingest-${randomUUID()}`;
  broker.createTopic(topic, opts.partitions ?? 2);
  const publishers: KafkaPublisher[] = [];
  const workers: KafkaIngest[] = [];
  const stores: Store[] = [store];

  return {
    broker,
    ch,
    store,
    topic,
    dlqTopic,
    groupId,
    dir,
    publisher(over = {}) {
      const p = createKafkaPublisher({
        brokers: broker.brokers,
        requestTimeoutMs: 1000,
        topic,
        spoolDir: join(dir, `spool-${publishers.length}`),
        spoolMaxBytes: 64 << 20,
        batchMs: 20,
        batchRecords: 100,
        sendTimeoutMs: 1500,
        logger: silent,
        registry: new Registry(),
        backoff: { baseMs: 20, maxMs: 300 },
        ...over,
      });
      publishers.push(p);
      return p;
    },
    async worker(over = {}) {
      // Each worker has its own HTTP client, as separate processes would.
      const own = await openStore(storage, ch.dir);
      stores.push(own);
      const w = await startKafkaIngest({
        kafka: testKafka(broker),
        topic,
        groupId,
        deadLetterTopic: dlqTopic,
        store: own,
        logger: silent,
        registry: new Registry(),
        retry: { baseMs: 50, maxMs: 400 },
        consumer: { sessionTimeout: 3_000, rebalanceTimeout: 2_000, heartbeatInterval: 100, maxWaitTimeInMs: 100, retry: { initialRetryTime: 50, maxRetryTime: 300, retries: 8 } },
        stopTimeoutMs: 3_000,
        ...over,
      });
      workers.push(w);
      return w;
    },
    async counts() {
      const rs = await store.client.query({ query: `SELECT count() AS rows, uniqExact(request_id) AS distinct FROM ${database}.llm_calls FINAL`, format: 'JSONEachRow' });
      const [r] = await rs.json<{ rows: string | number; distinct: string | number }>();
      return { rows: Number(r?.rows ?? 0), distinct: Number(r?.distinct ?? 0) };
    },
    async inserted() {
      const rs = await store.client.query({
        query: `SELECT (SELECT count() FROM ${database}.llm_calls) AS raw, (SELECT sum(calls) FROM ${database}.llm_calls_1m) AS rolled`,
        format: 'JSONEachRow',
      });
      const [r] = await rs.json<{ raw: string | number; rolled: string | number }>();
      return { raw: Number(r?.raw ?? 0), rolled: Number(r?.rolled ?? 0) };
    },
    async ids() {
      const rs = await store.client.query({ query: `SELECT toString(request_id) AS id FROM ${database}.llm_calls FINAL`, format: 'JSONEachRow' });
      return (await rs.json<{ id: string }>()).map((r) => r.id);
    },
    dlqKeys: () => broker.records(dlqTopic).map((r) => r.key?.toString() ?? ''),
    async close() {
      for (const w of workers) await w.stop().catch(() => {});
      for (const p of publishers) await p.close(0).catch(() => {});
      for (const s of stores) await s.close().catch(() => {});
      await broker.stop();
      await ch.close();
      rmSync(dir, { recursive: true, force: true });
    },
  };
}

/** Poll an async check until it holds or the time is up. */
export async function eventually(what: string, check: () => Promise<boolean>, timeoutMs = 10_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    if (await check()) return;
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 50));
  }
}
