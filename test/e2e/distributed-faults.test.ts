// Fault tests of the distributed pipeline (publisher → Kafka test broker → ingest workers →
// ClickHouse over HTTP), in one process on loopback. Each ends with the same invariant:
// events accepted = rows in ClickHouse (as readers see them) + dead letters, no duplicate ids.
import { writeFileSync } from 'node:fs';
import { Writable } from 'node:stream';
import { join } from 'node:path';
import { Registry } from 'prom-client';
import { afterEach, describe, expect, it } from 'vitest';
import { stringify } from 'yaml';
import { createLogger, openStore, type LlmCallEvent } from '@gatelog/core';
import { EraseRequest, eraseCalls } from '../../core/src/store/erasure.ts';
import type { KafkaPublisher } from '@gatelog/proxy/publish/kafka';
import { sampleEvent } from './distributed-events.ts';
import { eventually, startDistributed, type Distributed } from './distributed-harness.ts';
import { startWorker, type Worker } from './distributed-worker-process.ts';
import { startInsertGate } from '../support/insert-gate.ts';

const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

/** Publish `n` events spread over `ms`, as traffic would arrive. */
async function traffic(pub: KafkaPublisher, n: number, ms: number, sent: LlmCallEvent[]): Promise<void> {
  const chunk = Math.max(1, Math.round(n / Math.max(1, ms / 20)));
  for (let i = 0; i < n; i += chunk) {
    for (let j = i; j < Math.min(n, i + chunk); j++) {
      const e = sampleEvent();
      pub.publish(e);
      sent.push(e);
    }
    await sleep(20);
  }
}

/** Rows a worker left out of its inserts as stored already (its registry's counter). */
async function skipped(registry: Registry): Promise<number> {
  return (await registry.getSingleMetric('gatelog_ingest_duplicates_skipped_total')?.get())?.values[0]?.value ?? 0;
}

async function expectAllOnce(d: Distributed, sent: LlmCallEvent[], timeoutMs = 10_000): Promise<void> {
  await eventually('every accepted event in ClickHouse or the DLQ', async () => (await d.counts()).rows + d.dlqKeys().length >= sent.length, timeoutMs);
  const c = await d.counts();
  expect(c.rows + d.dlqKeys().length).toBe(sent.length);
  expect(c.distinct).toBe(c.rows);
  expect((await d.ids()).sort()).toEqual(sent.map((e) => e.request_id).sort());
  // Once as inserted too, not only as readers see it (FINAL): the rollup views count each insert.
  expect(await d.inserted()).toEqual({ raw: c.rows, rolled: c.rows });
}

describe('distributed pipeline faults', () => {
  let d: Distributed | undefined;
  afterEach(async () => {
    await d?.close();
    d = undefined;
  });

  it('Kafka down during traffic, then back: the spool replays everything', { timeout: 20_000 }, async () => {
    d = await startDistributed();
    await d.worker();
    const pub = d.publisher();
    const sent: LlmCallEvent[] = [];
    await traffic(pub, 50, 200, sent);
    await d.broker.stop();
    await traffic(pub, 100, 600, sent);
    expect(pub.stats().lagBytes).toBeGreaterThan(0);
    await d.broker.restart();
    await traffic(pub, 50, 200, sent);
    await pub.flush(10_000);
    await expectAllOnce(d, sent);
  });

  // kafkajs gives a consumer up when its own retries run out (a long broker outage); the worker
  // rebuilds it with a backoff. Liveness must not follow Kafka: an orchestrator restarting the
  // worker in a loop while the broker is away helps nothing.
  it('Kafka away longer than the consumer\'s retries: the worker rebuilds its consumer, stays live, and stores everything once', { timeout: 30_000 }, async () => {
    d = await startDistributed();
    const lines: string[] = [];
    const logger = createLogger('info', new Writable({
      write(chunk: Buffer, _enc, done) {
        lines.push(chunk.toString());
        done();
      },
    }));
    const worker = await d.worker({
      logger,
      consumer: { sessionTimeout: 3_000, rebalanceTimeout: 2_000, heartbeatInterval: 100, maxWaitTimeInMs: 100, retry: { initialRetryTime: 50, maxRetryTime: 100, retries: 1, restartOnFailure: () => Promise.resolve(false) } },
    });
    const pub = d.publisher();
    const sent: LlmCallEvent[] = [];
    await traffic(pub, 30, 100, sent);
    await eventually('the first events stored', async () => (await d!.counts()).rows === sent.length);
    await d.broker.stop();
    let unhealthy = 0;
    await eventually('the consumer given up and being rebuilt', async () => {
      if (!worker.healthy()) unhealthy++;
      return lines.some((l) => l.includes('kafka consumer crashed') && l.includes('"restart":false')) && lines.some((l) => l.includes('restart failed'));
    }, 15_000);
    for (const until = Date.now() + 1_500; Date.now() < until; await sleep(50)) if (!worker.healthy()) unhealthy++;
    expect(unhealthy).toBe(0);
    expect(worker.readiness()['kafka']).toBe(false);
    await traffic(pub, 30, 100, sent);
    await d.broker.restart();
    await pub.flush(10_000);
    await expectAllOnce(d, sent);
    expect(lines.some((l) => l.includes('kafka consumer restarted'))).toBe(true);
    expect(worker.healthy()).toBe(true);
  });

  it('Kafka stalls past the producer timeout: the batch is resent and deduplicated', { timeout: 20_000 }, async () => {
    d = await startDistributed();
    await d.worker();
    const pub = d.publisher({ sendTimeoutMs: 600 });
    const sent: LlmCallEvent[] = [];
    await traffic(pub, 30, 100, sent);
    await pub.flush(5000);
    d.broker.stall(true);
    await traffic(pub, 60, 300, sent);
    await sleep(1500); // several producer timeouts
    expect(pub.stats().producerUp).toBe(false);
    d.broker.stall(false);
    await pub.flush(10_000);
    await expectAllOnce(d, sent);
  });

  it('records Kafka holds twice (a re-send, a proxy killed before its spool commit) are inserted once, however far apart', { timeout: 20_000 }, async () => {
    d = await startDistributed();
    const dist = d;
    const registry = new Registry();
    await dist.worker({ registry });
    const pub = dist.publisher();
    const first = Array.from({ length: 30 }, () => sampleEvent());
    for (const e of first) pub.publish(e);
    await pub.flush(5000);
    await eventually('the first events inserted', async () => (await dist.inserted()).raw === first.length);
    // The same bytes again, some of them twice in one batch, among new events.
    const next = Array.from({ length: 20 }, () => sampleEvent());
    for (const e of [...first.slice(0, 10), ...next.slice(0, 10), ...first.slice(0, 5), ...next.slice(0, 3), ...next.slice(10)]) pub.publish(e);
    await pub.flush(5000);
    expect(dist.broker.records(dist.topic)).toHaveLength(first.length + 38);
    const sent = [...first, ...next];
    await eventually('the second events inserted', async () => (await dist.counts()).rows === sent.length);
    await eventually('every record handled', async () => (await skipped(registry)) === 18);
    await expectAllOnce(dist, sent);
  });

  it('a call whose bodies were erased stays erased when Kafka delivers it again', { timeout: 20_000 }, async () => {
    d = await startDistributed();
    const dist = d;
    const registry = new Registry();
    await dist.worker({ registry });
    const pub = dist.publisher();
    const user = `u-${crypto.randomUUID()}`;
    const e = sampleEvent({ user }, 512);
    pub.publish(e);
    await pub.flush(5000);
    await eventually('the call inserted', async () => (await dist.counts()).rows === 1);
    const receipt = await eraseCalls(dist.store, EraseRequest.parse({ user }), {});
    expect(receipt.rows).toBe(1);
    pub.publish(e); // the same record again: a re-send from a spool that had not seen its ack
    await pub.flush(5000);
    await eventually('the repeat seen', async () => (await skipped(registry)) === 1);
    const rs = await dist.store.client.query({ query: `SELECT request_body, response_body FROM ${dist.store.database}.llm_calls FINAL`, format: 'JSONEachRow' });
    expect(await rs.json()).toEqual([{ request_body: '', response_body: '' }]);
    expect(await dist.inserted()).toEqual({ raw: 1, rolled: 1 });
  });

  it('calls in flight when an erasure is asked (a proxy spool during a Kafka outage) are stored erased; later calls are not', { timeout: 20_000 }, async () => {
    d = await startDistributed();
    const dist = d;
    const registry = new Registry();
    await dist.worker({ registry });
    const pub = dist.publisher();
    const [alice, bob, leaked] = [`alice-${crypto.randomUUID()}`, `bob-${crypto.randomUUID()}`, `key-${crypto.randomUUID()}`];
    await dist.broker.stop();
    // Waiting in the publisher's spool (not the data dir the erasure scrubs): another host's proxy.
    const aliceBefore = Array.from({ length: 3 }, () => sampleEvent({ user: alice }, 512));
    const bobs = Array.from({ length: 2 }, () => sampleEvent({ user: bob }, 512));
    const leakedKey = Array.from({ length: 2 }, () => sampleEvent({ key_id: leaked, user: bob }, 512));
    for (const e of [...aliceBefore, ...bobs, ...leakedKey]) pub.publish(e);
    await sleep(300);
    expect(pub.stats().lagBytes).toBeGreaterThan(0);
    // Nothing of theirs is stored yet: the receipts count no rows.
    expect((await eraseCalls(dist.store, EraseRequest.parse({ user: alice }), {})).rows).toBe(0);
    expect((await eraseCalls(dist.store, EraseRequest.parse({ key: leaked, rows: true }), {})).rows).toBe(0);
    await sleep(5);
    const aliceAfter = sampleEvent({ user: alice }, 512); // started after the erasure: kept whole
    pub.publish(aliceAfter);
    await dist.broker.restart();
    await pub.flush(10_000);
    const kept = [...aliceBefore, ...bobs, aliceAfter];
    await eventually('the kept calls inserted', async () => (await dist.counts()).rows === kept.length);
    expect((await dist.ids()).sort()).toEqual(kept.map((e) => e.request_id).sort());
    const rs = await dist.store.client.query({
      query: `SELECT toString(request_id) AS id, user, request_body, response_body FROM ${dist.store.database}.llm_calls FINAL`,
      format: 'JSONEachRow',
    });
    const rows = new Map((await rs.json<{ id: string; user: string; request_body: string; response_body: string }>()).map((r) => [r.id, r]));
    for (const e of aliceBefore) expect(rows.get(e.request_id)).toEqual({ id: e.request_id, user: '', request_body: '', response_body: '' });
    for (const e of [...bobs, aliceAfter]) expect(rows.get(e.request_id)).toEqual({ id: e.request_id, user: e.user, request_body: e.request_body, response_body: e.response_body });
    const erased = (await registry.getSingleMetric('gatelog_ingest_erased_rows_total')?.get())?.values ?? [];
    expect(Object.fromEntries(erased.map((v) => [v.labels['mode'], v.value]))).toEqual({ bodies: 3, rows: 2 });
    expect(await dist.inserted()).toEqual({ raw: kept.length, rolled: kept.length });
  });

  it('a call erased as a row stays gone when Kafka delivers it again', { timeout: 20_000 }, async () => {
    d = await startDistributed();
    const dist = d;
    await dist.worker();
    const pub = dist.publisher();
    const [gone, other] = [sampleEvent({ trace_id: `t-${crypto.randomUUID()}` }), sampleEvent()];
    pub.publish(gone);
    pub.publish(other);
    await pub.flush(5000);
    await eventually('both inserted', async () => (await dist.counts()).rows === 2);
    expect((await eraseCalls(dist.store, EraseRequest.parse({ trace: gone.trace_id, rows: true }), {})).rows).toBe(1);
    pub.publish(gone); // a re-send from a spool that had not seen its ack
    const later = sampleEvent();
    pub.publish(later);
    await pub.flush(5000);
    await eventually('the later call inserted', async () => (await dist.counts()).rows === 2);
    expect((await dist.ids()).sort()).toEqual([other.request_id, later.request_id].sort());
  });

  it('the group coordinator forgets the worker while its batch waits to be written: the batch fetched again is not queued twice', { timeout: 20_000 }, async () => {
    d = await startDistributed({ partitions: 1 });
    const dist = d;
    // A long linger: the fetched batch is still waiting in the queue when the worker rejoins and
    // fetches it again from the committed offset (none yet: the beginning).
    // Short fetch waits and heartbeats: the worker learns within ~0.5 s that it was forgotten.
    const worker = await dist.worker({ batch: { lingerMs: 2500 }, consumer: { heartbeatInterval: 100, maxWaitTimeInMs: 200 } });
    const pub = dist.publisher();
    const sent: LlmCallEvent[] = Array.from({ length: 60 }, () => sampleEvent());
    for (const e of sent) pub.publish(e);
    await pub.flush(5000);
    await sleep(400); // fetched and queued, the linger running
    const inserts = (): number => dist.ch.requests.filter((r) => r.query.includes('.llm_calls FORMAT')).length;
    expect(inserts()).toBe(0);
    dist.broker.forgetMembers();
    await eventually('offsets committed', () => Promise.resolve(dist.broker.committedOffsets(dist.groupId).reduce((n, c) => n + c.offset, 0) === sent.length), 10_000);
    await expectAllOnce(dist, sent);
    // Every row once in the insert itself, not only as readers see it (FINAL): the rollup views
    // count what each insert carries.
    const raw = await dist.store.client.query({ query: `SELECT count() AS n FROM ${dist.store.database}.llm_calls`, format: 'JSONEachRow' });
    expect(Number((await raw.json<{ n: string }>())[0]?.n)).toBe(sent.length);
    const rolled = await dist.store.client.query({ query: `SELECT sum(calls) AS n FROM ${dist.store.database}.llm_calls_1m`, format: 'JSONEachRow' });
    expect(Number((await rolled.json<{ n: string }>())[0]?.n)).toBe(sent.length);
    expect(worker.stats().rows).toBe(sent.length);
  });

  it('a commit refused after the insert (the coordinator forgot the worker): the rows fetched again are committed, not inserted again', { timeout: 20_000 }, async () => {
    d = await startDistributed({ partitions: 1 });
    const dist = d;
    await dist.worker({ consumer: { maxWaitTimeInMs: 200 } });
    dist.ch.holdInserts(true);
    const pub = dist.publisher();
    const sent: LlmCallEvent[] = Array.from({ length: 40 }, () => sampleEvent());
    for (const e of sent) pub.publish(e);
    await pub.flush(5000);
    await eventually('the insert written and held', async () => dist.ch.heldInserts >= 1 && (await dist.counts()).rows === sent.length);
    // Forgotten while its insert is answered: the commit that follows is refused, and the
    // worker learns at its next heartbeat, rejoins and fetches the same rows again.
    dist.broker.forgetMembers();
    dist.ch.holdInserts(false);
    await eventually('offsets committed', () => Promise.resolve(dist.broker.committedOffsets(dist.groupId).reduce((n, c) => n + c.offset, 0) === sent.length), 15_000);
    await expectAllOnce(dist, sent);
    expect(dist.ch.requests.filter((r) => r.query.includes('.llm_calls FORMAT')).length).toBe(1);
  });

  it('ingest SIGKILLed after its insert landed and before its commit: the restarted worker replays it, no duplicate', { timeout: 60_000 }, async () => {
    d = await startDistributed({ partitions: 1 });
    const dist = d;
    const configPath = join(dist.dir, 'gatelog.yaml');
    writeFileSync(configPath, stringify({
      storage: { clickhouse: { url: dist.ch.url, database: dist.store.database } },
      bus: { kind: 'kafka', brokers: dist.broker.brokers, topic: dist.topic, group_id: dist.groupId, dead_letter_topic: dist.dlqTopic, request_timeout_ms: 2000 },
      ingest: { batch_ms: 50 },
      logging: { level: 'info' },
    }));
    // A short session so the group hands the dead worker's partition on within the test.
    const env = { GATELOG_INGEST_SESSION_TIMEOUT_MS: '1500' };
    const committed = (): number => dist.broker.committedOffsets(dist.groupId).reduce((n, c) => n + c.offset, 0);
    const workers: Worker[] = [];
    try {
      workers.push(await startWorker(configPath, join(dist.dir, 'w1'), env));
      // The insert is written, its response withheld: the worker is killed inside that window.
      dist.ch.holdInserts(true);
      // The relay lingers long enough that the 60 events leave as one record batch even if this
      // process stalls mid-loop on a busy runner: both workers fetch that batch whole, so the
      // replay is the same insert, with the same deduplication token.
      const pub = dist.publisher({ batchMs: 1000 });
      const sent: LlmCallEvent[] = Array.from({ length: 60 }, () => sampleEvent());
      for (const e of sent) pub.publish(e);
      await pub.flush(5000);
      await eventually('the insert written and held', async () => dist.ch.heldInserts >= 1 && (await dist.counts()).rows === sent.length);
      workers[0]!.proc.kill('SIGKILL');
      expect(await workers[0]!.exited).toBeNull();
      expect(committed()).toBe(0);
      dist.ch.holdInserts(false);

      workers.push(await startWorker(configPath, join(dist.dir, 'w2'), env));
      await eventually('offsets committed by the second worker', () => Promise.resolve(committed() === sent.length), 15_000);
      await expectAllOnce(dist, sent);
      // Same batch, same insert_deduplication_token: ClickHouse dropped the replay at insert
      // time, so even without FINAL (and in the rollups) every call is there once.
      const rs = await dist.store.client.query({ query: `SELECT count() AS n FROM ${dist.store.database}.llm_calls`, format: 'JSONEachRow' });
      expect(Number((await rs.json<{ n: string }>())[0]?.n)).toBe(sent.length);
      expect(workers[1]!.output()).toContain('gatelog ingest listening');
    } finally {
      dist.ch.holdInserts(false);
      for (const w of workers) if (w.proc.exitCode === null && w.proc.signalCode === null) w.proc.kill('SIGKILL');
      await Promise.all(workers.map((w) => w.exited));
    }
  });

  it('ClickHouse down for a while: nothing is committed past an unwritten batch', { timeout: 20_000 }, async () => {
    d = await startDistributed();
    await d.worker();
    const pub = d.publisher();
    const sent: LlmCallEvent[] = [];
    await traffic(pub, 40, 100, sent);
    await pub.flush(5000);
    await eventually('first rows', async () => (await d!.counts()).rows === 40);
    // Committed once the write is done, which ends with a read of the erasure requests after the insert.
    await eventually('first rows committed', async () => d!.broker.committedOffsets(d!.groupId).reduce((s, c) => s + c.offset, 0) === 40);
    await d.ch.stop();
    await traffic(pub, 100, 500, sent);
    await pub.flush(5000);
    await sleep(800);
    const committed = d.broker.committedOffsets(d.groupId).reduce((s, c) => s + c.offset, 0);
    expect(committed).toBe(40);
    await d.ch.restart();
    await expectAllOnce(d, sent);
    await eventually('offsets committed', async () => d!.broker.committedOffsets(d!.groupId).reduce((s, c) => s + c.offset, 0) === sent.length);
  });

  it('a worker whose insert is in flight when the group rebalances writes it before rejoining: the partitions it loses are not inserted twice', { timeout: 40_000 }, async () => {
    d = await startDistributed({ partitions: 4 });
    // Worker a reaches ClickHouse through a gate that can hold its inserts before they arrive.
    const gate = await startInsertGate(d.ch.url);
    const database = d.store.database;
    const gated = await openStore({ clickhouse: { url: gate.url, database, username: 'default', password: '' }, database }, d.dir);
    // Long enough that the held insert below does not get a dropped from the group.
    const consumer = { sessionTimeout: 15_000, rebalanceTimeout: 15_000, heartbeatInterval: 100, maxWaitTimeInMs: 100, retry: { initialRetryTime: 50, maxRetryTime: 300, retries: 8 } };
    try {
      const a = await d.worker({ store: gated, consumer, rejoinDrainMs: 300 });
      const pub = d.publisher({ batchRecords: 20 });
      const sent: LlmCallEvent[] = [];
      await traffic(pub, 60, 200, sent);
      await eventually('worker a writing', async () => a.stats().rows > 0);
      gate.close();
      await traffic(pub, 80, 200, sent);
      await pub.flush(8000);
      await eventually('an insert of worker a held in flight', async () => gate.held() > 0);
      // b joins: a rebalance gives it partitions whose rows a's held insert carries, uncommitted.
      const joining = d.worker({ consumer });
      await sleep(1500);
      gate.open();
      const b = await joining;
      await traffic(pub, 60, 200, sent);
      await pub.flush(8000);
      await expectAllOnce(d, sent, 15_000);
      expect(b.stats().rows).toBeGreaterThan(0);
    } finally {
      await gated.close().catch(() => {});
      await gate.stop();
    }
  });

  it('two ingest workers and a rebalance mid-stream', { timeout: 30_000 }, async () => {
    d = await startDistributed({ partitions: 4 });
    const a = await d.worker();
    const pub = d.publisher({ batchRecords: 20 });
    const sent: LlmCallEvent[] = [];
    await traffic(pub, 100, 300, sent);
    // a has joined and written before b arrives (on a loaded machine the first join can take
    // longer than the traffic above), so the rebalance below moves partitions a already serves.
    await eventually('worker a writing', async () => a.stats().rows > 0);
    const b = await d.worker();
    await traffic(pub, 100, 600, sent);
    await a.stop(); // a leaves: b takes every partition
    await traffic(pub, 100, 300, sent);
    await pub.flush(8000);
    await expectAllOnce(d, sent, 15_000);
    expect(a.stats().rows).toBeGreaterThan(0);
    expect(b.stats().rows).toBeGreaterThan(0);
  });
});
