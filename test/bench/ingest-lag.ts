// End-to-end lag for `pnpm bench --ingest`: the proxy's Kafka publisher (disk spool, its own
// batching) driven at a fixed calls/s, one ingest worker writing to ClickHouse over HTTP.
// Per event: from its publish() call to the acknowledgement of the insert that carried it.
// With async_insert=0 ClickHouse acknowledges an insert once its part is committed, so that
// moment is when the row becomes visible to readers; measuring it there avoids a poller's
// sampling error and its CPU. Every event is also checked to be in the table at the end.
import { join } from 'node:path';
import { Registry } from 'prom-client';
import type { Kafka } from 'kafkajs';
import { BusConfig, GatelogConfig, createLogger, migrate, openStore, type LlmCallEvent, type Store } from '@gatelog/core';
import { startKafkaIngest } from '@gatelog/ingest/kafka-consumer';
import { batchSettings } from '@gatelog/ingest/pipeline';
import { createKafkaPublisher } from '@gatelog/proxy/publish/kafka';
import { realisticEvent, rng } from './ingest-events.ts';
import type { LagRow } from './ingest-report.ts';

const ID_RE = /"request_id":"([^"]{1,64})"/;

function percentile(sorted: number[], p: number): number {
  if (sorted.length === 0) return NaN;
  return sorted[Math.min(sorted.length - 1, Math.ceil((p / 100) * sorted.length) - 1)]!;
}

/** A store that notes, per request id, when the insert carrying it was acknowledged. */
function timedStore(store: Store, visible: Map<string, number>): Store {
  return {
    ...store,
    async insertRaw(table, rows, settings) {
      await store.insertRaw(table, rows, settings);
      const at = performance.now();
      for (const line of rows.toString('latin1').split('\n')) {
        const id = ID_RE.exec(line.slice(0, 512))?.[1];
        if (id && !visible.has(id)) visible.set(id, at);
      }
    },
  };
}

/** Batches committed, inserts made and seconds spent inserting, from the worker's /metrics registry. */
async function workerFigures(registry: Registry): Promise<{ batches: number; inserts: number; insertS: number }> {
  const text = await registry.metrics();
  const num = (name: string): number => Number(new RegExp(`^${name} ([0-9.e+-]+)$`, 'm').exec(text)?.[1] ?? 0);
  return { batches: num('gatelog_ingest_batches_total'), inserts: num('gatelog_ingest_insert_seconds_count'), insertS: num('gatelog_ingest_insert_seconds_sum') };
}

async function until(check: () => boolean, timeoutMs: number): Promise<boolean> {
  const deadline = Date.now() + timeoutMs;
  while (!check()) {
    if (Date.now() > deadline) return false;
    await new Promise((r) => setTimeout(r, 20));
  }
  return true;
}

export async function measureLag(o: { kafka: Kafka; brokers: string[]; clickhouseUrl: string; rate: number; durationS: number; dir: string }): Promise<LagRow> {
  const database = 'bench_lag';
  const topic = 'bench.lag';
  const store = await openStore({ clickhouse: { url: o.clickhouseUrl, database, username: 'default', password: '' }, database }, o.dir);
  await migrate(store);
  const logger = createLogger('silent');
  const visible = new Map<string, number>();
  const published = new Map<string, number>();
  // What a deployment runs with its defaults: the proxy's bus.batch_ms / batch_records /
  // batch_bytes / request_timeout_ms, the worker's ingest.batch_rows / batch_ms.
  const bus = BusConfig.parse({ kind: 'kafka', brokers: o.brokers });
  if (bus.kind !== 'kafka') throw new Error('unreachable: a kafka bus config');
  const batch = batchSettings(GatelogConfig.shape.ingest.parse(undefined));
  const publisher = createKafkaPublisher({
    brokers: o.brokers, requestTimeoutMs: bus.request_timeout_ms, topic, spoolDir: join(o.dir, 'spool'), spoolMaxBytes: bus.spool_max_bytes,
    batchMs: bus.batch_ms, batchRecords: bus.batch_records, batchBytes: bus.batch_bytes, sendTimeoutMs: bus.request_timeout_ms * 2, logger, registry: new Registry(),
  });
  const registry = new Registry();
  const worker = await startKafkaIngest({ kafka: o.kafka, topic, groupId: 'bench-lag', deadLetterTopic: `${topic}.dlq`, store: timedStore(store, visible), logger, registry, batch });
  const r = rng(7);
  const publish = (): void => {
    const at = Date.now();
    const e = realisticEvent(r, at) as unknown as LlmCallEvent;
    published.set(e.request_id, performance.now());
    publisher.publish(e);
  };
  try {
    // Warm-up: the worker has joined the group and written once before the clock runs.
    publish();
    if (!(await until(() => visible.size >= 1, 30_000))) throw new Error('warm-up event never reached ClickHouse');
    published.clear();
    visible.clear();
    const before = await workerFigures(registry);
    const total = o.rate * o.durationS;
    const t0 = performance.now();
    let sent = 0;
    await new Promise<void>((resolve) => {
      const tick = setInterval(() => {
        const due = Math.min(total, Math.floor(((performance.now() - t0) * o.rate) / 1000));
        while (sent < due) {
          publish();
          sent++;
        }
        if (sent >= total) {
          clearInterval(tick);
          resolve();
        }
      }, 5);
    });
    const sendS = (performance.now() - t0) / 1000;
    const ids = [...published.keys()];
    const done = await until(() => ids.every((id) => visible.has(id)), 30_000);
    if (!done) throw new Error(`only ${ids.filter((id) => visible.has(id)).length}/${ids.length} events reached ClickHouse within 30 s`);
    const rs = await store.client.query({ query: `SELECT count() AS n FROM ${database}.llm_calls FINAL`, format: 'JSONEachRow' });
    const n = Number((await rs.json<{ n: string }>())[0]?.n ?? 0);
    if (n !== ids.length + 1) throw new Error(`table holds ${n} rows, expected ${ids.length + 1}`);
    const after = await workerFigures(registry);
    const inserts = after.inserts - before.inserts;
    const lags = ids.map((id) => visible.get(id)! - published.get(id)!).sort((a, b) => a - b);
    return { targetRate: o.rate, achievedRate: ids.length / sendS, events: ids.length, p50: percentile(lags, 50), p95: percentile(lags, 95), p99: percentile(lags, 99), max: lags.at(-1) ?? NaN,
      batchRows: inserts ? ids.length / inserts : 0, insertMs: inserts ? ((after.insertS - before.insertS) * 1000) / inserts : 0,
      publisherBatchMs: bus.batch_ms, workerLingerMs: batch.lingerMs, workerBatchRows: batch.maxRows };
  } finally {
    await worker.stop().catch(() => {});
    await publisher.close(0).catch(() => {});
    await store.close().catch(() => {});
  }
}
