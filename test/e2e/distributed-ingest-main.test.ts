// The real ingest worker (`ingest/src/main.ts`) as a child process, configured like a
// deployment (gatelog.yaml with bus.kind kafka and a ClickHouse url), against the Kafka broker
// fixture and the chDB-backed ClickHouse HTTP fixture: events land (ZSTD batches, as proxies
// send by default, then GZIP ones), /healthz answers anyone and /metrics only the master key
// (with the proxy's very 401 otherwise; open, and said at start, without a master key), and
// SIGTERM with a batch in hand (ClickHouse failing, the batch being retried) finishes that batch
// and commits it before the process exits. ingest.batch_rows / batch_ms from gatelog.yaml shape
// its inserts. /readyz turns 503 while Kafka is stopped or stalled, or ClickHouse refuses
// inserts, and 200 again when they are back (and after the coordinator forgot the member).
import { randomUUID } from 'node:crypto';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import kafkajs, { CompressionTypes, type Producer } from 'kafkajs';
import { afterEach, describe, expect, it } from 'vitest';
import { stringify } from 'yaml';
import { openStore, registerKafkaCodecs, type Store } from '@gatelog/core';
import { createAuthCheck } from '@gatelog/proxy/auth';
import { openAiErrorBody } from '@gatelog/proxy/errors';
import { ClickHouseHttpFixture } from '../support/clickhouse-http.ts';
import { KafkaTestBroker, testKafka } from '../support/kafka/index.ts';
import { sampleEvent } from './distributed-events.ts';
import { eventually } from './distributed-harness.ts';
import { startWorker, type Worker } from './distributed-worker-process.ts';

const MASTER = `mk-${randomUUID()}`;
const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

interface Stack {
  broker: KafkaTestBroker;
  ch: ClickHouseHttpFixture;
  topic: string;
  groupId: string;
  dlqTopic: string;
  worker: Worker;
  /** Rows in llm_calls, as readers see them (FINAL) or as inserted. */
  rows(final: boolean): Promise<number>;
  producer: Producer;
}

/** /metrics, with the master key when the worker was started with one. */
async function metricsText(url: string, key?: string): Promise<string> {
  const res = await fetch(`${url}/metrics`, key ? { headers: { authorization: `Bearer ${key}` } } : {});
  expect(res.status).toBe(200);
  return res.text();
}

/** What the proxy's /metrics answers to the same headers (proxy/src/auth.ts, errors.ts). */
function proxyRefusal(headers: Record<string, string>): string {
  const refused = createAuthCheck(MASTER)!(headers);
  expect(refused).not.toBeNull();
  return openAiErrorBody(refused!);
}

const metric = (text: string, series: string): number => {
  const line = text.split('\n').find((l) => l.startsWith(`${series} `));
  return line === undefined ? NaN : Number(line.slice(series.length + 1));
};

describe('ingest main.ts as a process', () => {
  const cleanup: (() => Promise<void> | void)[] = [];
  afterEach(async () => {
    for (const c of cleanup.reverse()) await c();
    cleanup.length = 0;
  });

  /**
   * The Kafka broker and ClickHouse fixtures, a worker process reading a one-partition topic of
   * its own (gatelog.yaml's ingest section from `ingest`, bus.request_timeout_ms), a store to count its rows and a producer.
   */
  async function stack(ingest: Record<string, number>, env: Record<string, string>, requestTimeoutMs = 2000): Promise<Stack> {
    const broker = new KafkaTestBroker();
    await broker.start();
    cleanup.push(() => broker.stop());
    const ch = new ClickHouseHttpFixture();
    await ch.start();
    cleanup.push(() => ch.close());
    const dir = mkdtempSync(join(tmpdir(), 'gatelog-ingest-main-'));
    cleanup.push(() => rmSync(dir, { recursive: true, force: true }));

    const database = `g_${randomUUID().replaceAll('-', '')}`;
    const topic = `events-${randomUUID()}`;
    const groupId = `ingest-${randomUUID()}`;
    const dlqTopic = `${topic}.dlq`;
    // One partition: one publish is one record batch, so it is exactly "the batch in hand".
    broker.createTopic(topic, 1);
    const configPath = join(dir, 'gatelog.yaml');
    writeFileSync(configPath, stringify({
      storage: { clickhouse: { url: ch.url, database } },
      ingest,
      bus: { kind: 'kafka', brokers: broker.brokers, topic, group_id: groupId, dead_letter_topic: dlqTopic, request_timeout_ms: requestTimeoutMs },
      logging: { level: 'info' },
    }));

    const worker = await startWorker(configPath, dir, env);
    cleanup.push(() => {
      if (worker.proc.exitCode === null && worker.proc.signalCode === null) worker.proc.kill('SIGKILL');
    });
    const store: Store = await openStore({ clickhouse: { url: ch.url, database, username: 'default', password: '' }, database }, dir);
    cleanup.push(() => store.close());
    const rows = async (final: boolean): Promise<number> => {
      const rs = await store.client.query({ query: `SELECT count() AS n FROM ${database}.llm_calls${final ? ' FINAL' : ''}`, format: 'JSONEachRow' });
      return Number((await rs.json<{ n: string }>())[0]?.n ?? 0);
    };

    registerKafkaCodecs(kafkajs.CompressionCodecs);
    const producer = testKafka(broker).producer({ idempotent: true, maxInFlightRequests: 1 });
    await producer.connect();
    cleanup.push(() => producer.disconnect());
    return { broker, ch, topic, groupId, dlqTopic, worker, rows, producer };
  }

  /** Runs the whole scenario; returns what the last assertions need. */
  async function scenario(): Promise<{ committed: { partition: number; offset: number }[]; end: number; output: string }> {
    const { broker, ch, topic, groupId, dlqTopic, worker, rows: count, producer } = await stack({ batch_ms: 50 }, { GATELOG_MASTER_KEY: MASTER });
    const rows = (): Promise<number> => count(true);
    const first = Array.from({ length: 50 }, () => sampleEvent({}, 2000));
    await producer.send({ topic, acks: -1, compression: CompressionTypes.ZSTD, messages: [...first.map((e) => ({ key: e.request_id, value: JSON.stringify(e) })), { key: 'poison', value: '{oops' }] });
    await eventually('first events in ClickHouse', async () => (await rows()) === first.length);
    await eventually('poison message dead-lettered', () => Promise.resolve(broker.records(dlqTopic).length === 1));

    const health = await fetch(`${worker.url}/healthz`);
    expect(health.status).toBe(200);
    expect(await health.json()).toEqual({ status: 'ok' });
    // /metrics takes the master key as the proxy's does, and refuses in the proxy's words.
    expect(worker.output()).not.toContain('GATELOG_WARN_OPEN_METRICS');
    for (const headers of [{}, { authorization: 'Bearer not-the-key' }, { 'x-api-key': `${MASTER}x` }, { authorization: `Basic ${MASTER}` }] as Record<string, string>[]) {
      const denied = await fetch(`${worker.url}/metrics`, { headers });
      expect(denied.status, JSON.stringify(headers)).toBe(401);
      expect(denied.headers.get('content-type')).toMatch(/^application\/json/);
      const body = await denied.text();
      expect(body).toBe(proxyRefusal(headers));
      expect(JSON.parse(body)).toMatchObject({ error: { type: 'authentication_error', code: 'invalid_api_key', param: null } });
      expect(body).not.toContain(MASTER);
    }
    const byHeader = await fetch(`${worker.url}/metrics`, { headers: { 'x-api-key': MASTER } });
    expect(byHeader.status).toBe(200);
    expect(await byHeader.text()).toContain('gatelog_ingest_rows_total');
    const m = await metricsText(worker.url, MASTER);
    expect(metric(m, 'gatelog_ingest_rows_total')).toBe(first.length);
    expect(metric(m, 'gatelog_ingest_dead_letter_total{code="GATELOG_DLQ_INVALID_JSON"}')).toBe(1);
    expect(metric(m, `gatelog_ingest_consumer_lag{topic="${topic}",partition="0"}`)).toBeGreaterThanOrEqual(0);
    expect(metric(m, 'gatelog_ingest_batch_rows_count')).toBeGreaterThanOrEqual(1);
    expect(metric(m, 'gatelog_ingest_batch_rows_sum')).toBe(first.length + 1);
    expect(metric(m, 'gatelog_ingest_insert_seconds_count')).toBeGreaterThanOrEqual(1);
    expect(m).toContain('# TYPE gatelog_ingest_insert_errors_total counter');

    // ClickHouse starts failing; a new batch arrives and is retried, uncommitted.
    ch.fail(true);
    const second = Array.from({ length: 40 }, () => sampleEvent({}, 2000));
    await producer.send({ topic, acks: -1, compression: CompressionTypes.GZIP, messages: second.map((e) => ({ key: e.request_id, value: JSON.stringify(e) })) });
    await eventually('the worker retrying the batch', async () => metric(await metricsText(worker.url, MASTER), 'gatelog_ingest_insert_errors_total{kind="transient"}') >= 1);
    const committedBefore = broker.committedOffsets(groupId).find((c) => c.topic === topic)?.offset;
    expect(committedBefore).toBe(first.length + 1);

    worker.proc.kill('SIGTERM');
    await sleep(300);
    expect(worker.proc.exitCode).toBeNull(); // still holding the batch, not given up
    ch.fail(false);
    const code = await Promise.race([worker.exited, new Promise<'timeout'>((r) => setTimeout(() => r('timeout'), 12_000))]);
    expect(code, worker.output()).toBe(0);
    expect(worker.output()).toContain('shutting down');
    // kafkajs 2.2.4 on Node 24 printed this on every connection until patched (patches/).
    expect(worker.output()).not.toContain('TimeoutNegativeWarning');

    const end = broker.records(topic).length;
    expect(end).toBe(first.length + 1 + second.length);
    expect(new Set(broker.records(topic).map((r) => r.compression))).toEqual(new Set([4, 1]));
    expect(await rows(), worker.output()).toBe(first.length + second.length);
    expect(broker.errors).toEqual([]);
    const committed = broker.committedOffsets(groupId).filter((c) => c.topic === topic).map((c) => ({ partition: c.partition, offset: c.offset }));
    return { committed, end, output: worker.output() };
  }

  it('writes events, serves /healthz and (to the master key) /metrics, and on SIGTERM writes the batch in hand and exits 0', { timeout: 45_000 }, async () => {
    const r = await scenario();
    expect(r.end).toBeGreaterThan(0);
  });

  // kafkajs' consumer.commitOffsets does nothing once the consumer has stopped; the worker
  // pauses fetching and writes and commits the batches in hand first (ingest/src/kafka-consumer.ts).
  it('commits the batch in hand before exiting on SIGTERM (committed offset == end)', { timeout: 45_000 }, async () => {
    const r = await scenario();
    expect(r.committed, r.output).toEqual([{ partition: 0, offset: r.end }]);
  });

  // ingest.batch_rows / ingest.batch_ms hold for Kafka ingest as for the embedded one: one fetch
  // larger than batch_rows leaves as several inserts, and a smaller remainder waits batch_ms.
  it('splits a fetch at batch_rows and holds a remainder for batch_ms (ingest settings from gatelog.yaml)', { timeout: 60_000 }, async () => {
    const BATCH_MS = 1500;
    // No master key: /metrics stays open (metricsText sends none), and the worker says so at start.
    const { worker, rows: count, producer, topic } = await stack({ batch_rows: 25, batch_ms: BATCH_MS }, { GATELOG_MASTER_KEY: '' });
    const rows = (): Promise<number> => count(false);
    expect(worker.output()).toMatch(/"batch_rows":25,"batch_ms":1500/);
    await eventually('the open /metrics said at start', () => Promise.resolve(worker.output().includes('GATELOG_WARN_OPEN_METRICS')));
    const events = Array.from({ length: 60 }, () => sampleEvent({}, 500));
    // One send, one record batch: one fetch brings all 60.
    const sentAt = Date.now();
    await producer.send({ topic, acks: -1, messages: events.map((e) => ({ key: e.request_id, value: JSON.stringify(e) })) });
    await eventually('the two full batches inserted', async () => (await rows()) >= 50, 20_000);
    await eventually('the remainder inserted', async () => (await rows()) === 60, 20_000);
    const remainderAfter = Date.now() - sentAt;
    // The 10 left over waited batch_ms (the worker's default linger would be 50 ms).
    expect(remainderAfter).toBeGreaterThanOrEqual(BATCH_MS - 100);

    // An insert's rows are readable before its batch is committed to Kafka, and the worker counts
    // the insert only after that commit: wait for the count.
    let m = '';
    await eventually('the third insert counted', async () => metric((m = await metricsText(worker.url)), 'gatelog_ingest_insert_rows_count') >= 3, 10_000);
    // Three inserts (25 + 25 + 10), not one of 60.
    expect(metric(m, 'gatelog_ingest_insert_rows_count')).toBe(3);
    expect(metric(m, 'gatelog_ingest_insert_rows_sum')).toBe(60);
    expect(metric(m, 'gatelog_ingest_insert_rows_bucket{le="10"}')).toBe(1);
    expect(metric(m, 'gatelog_ingest_rows_total')).toBe(60);
    console.log(`remainder of 10 rows inserted ${remainderAfter} ms after the send (batch_ms ${BATCH_MS})`);
  });

  // Liveness and readiness apart: an orchestrator restarts on /healthz and routes (or holds a
  // rollout) on /readyz. Kafka gone or silent, or ClickHouse refusing inserts, must show on
  // /readyz within a bounded time and never on /healthz; both come back on their own.
  it('/readyz follows Kafka (stopped, stalled) and ClickHouse (refusing inserts) within 15 s, /healthz stays 200', { timeout: 150_000 }, async () => {
    // A request timeout longer than the bound: a stalled broker must show by its silence alone.
    const { broker, ch, topic, worker, rows, producer } = await stack({ batch_ms: 50 }, { GATELOG_MASTER_KEY: MASTER }, 30_000);
    let sent = 0;
    const publish = async (n: number): Promise<void> => {
      const events = Array.from({ length: n }, () => sampleEvent());
      await producer.send({ topic, acks: -1, messages: events.map((e) => ({ key: e.request_id, value: JSON.stringify(e) })) });
      sent += n;
    };
    const ready = async (): Promise<{ status: number; body: { status: string; reasons?: string[]; checks: Record<string, boolean> } }> => {
      const res = await fetch(`${worker.url}/readyz`);
      return { status: res.status, body: await res.json() as { status: string; reasons?: string[]; checks: Record<string, boolean> } };
    };
    /** Polls /readyz until it answers `status`, checking /healthz stays 200 meanwhile; returns the wait in ms. */
    const readyzBecomes = async (status: number, timeoutMs: number): Promise<number> => {
      const from = Date.now();
      await eventually(`/readyz ${status}`, async () => {
        const live = await fetch(`${worker.url}/healthz`);
        expect(live.status, worker.output()).toBe(200);
        return (await ready()).status === status;
      }, timeoutMs);
      return Date.now() - from;
    };
    const gauges = async (): Promise<{ kafka: number; clickhouse: number }> => {
      const m = await metricsText(worker.url, MASTER);
      return { kafka: metric(m, 'gatelog_ingest_kafka_connected'), clickhouse: metric(m, 'gatelog_ingest_clickhouse_ok') };
    };

    // Ready once in the group, with nothing consumed yet (ClickHouse vouched for by its ping).
    await readyzBecomes(200, 20_000);
    expect((await ready()).body).toEqual({ status: 'ready', checks: { kafka: true, clickhouse: true } });
    expect(await gauges()).toEqual({ kafka: 1, clickhouse: 1 });
    await publish(20);
    await eventually('the first events stored', async () => (await rows(true)) === sent);
    // Idle for longer than the silence that means a broker is gone: its heartbeats and empty
    // fetches keep it ready.
    for (const until = Date.now() + 10_000; Date.now() < until; await sleep(250)) expect((await ready()).body.status).toBe('ready');

    // The broker goes away.
    await broker.stop();
    const downMs = await readyzBecomes(503, 15_000);
    const down = await ready();
    expect(down.body).toEqual({ status: 'unavailable', reasons: ['kafka'], checks: { kafka: false, clickhouse: true } });
    expect(JSON.stringify(down.body)).not.toContain(String(broker.port));
    expect(await gauges()).toEqual({ kafka: 0, clickhouse: 1 });
    await broker.start();
    const backMs = await readyzBecomes(200, 30_000);
    await publish(20);
    await eventually('events after the restart stored', async () => (await rows(true)) === sent, 15_000);

    // The broker stops answering without closing anything.
    broker.stall(true);
    const stallMs = await readyzBecomes(503, 15_000);
    expect((await ready()).body.reasons).toEqual(['kafka']);
    broker.stall(false);
    await readyzBecomes(200, 30_000);

    // ClickHouse refuses every query while its /ping still answers: the failed inserts decide.
    ch.fail(true);
    await publish(10);
    const chMs = await readyzBecomes(503, 15_000);
    expect((await ready()).body).toEqual({ status: 'unavailable', reasons: ['clickhouse'], checks: { kafka: true, clickhouse: false } });
    expect(await gauges()).toEqual({ kafka: 1, clickhouse: 0 });
    ch.fail(false);
    await readyzBecomes(200, 30_000);
    await eventually('the refused batch stored once ClickHouse is back', async () => (await rows(true)) === sent, 15_000);

    // The coordinator forgets the member (a failover): it rejoins, and is ready again as a member.
    broker.forgetMembers();
    await publish(10);
    await eventually('events after the rejoin stored', async () => (await rows(true)) === sent, 15_000);
    await readyzBecomes(200, 15_000);
    console.log(`/readyz 503 after: broker stopped ${downMs} ms, stalled ${stallMs} ms, ClickHouse failing ${chMs} ms; 200 again ${backMs} ms after the broker's restart`);
  });
});
