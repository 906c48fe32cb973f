// Kafka publisher against the protocol-faithful test broker: order, keys, headers, and the
// spool carrying events through a Kafka outage without blocking publish().
import { mkdtempSync, readFileSync, readdirSync, rmSync } from 'node:fs';
import { getPriority, tmpdir } from 'node:os';
import { Writable } from 'node:stream';
import { join } from 'node:path';
import { randomUUID } from 'node:crypto';
import { Registry } from 'prom-client';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { createLogger } from '@gatelog/core';
import { scrubDataDir } from '@gatelog/core/store/erasure-files';
import { KafkaTestBroker } from '../../../test/support/kafka/index.ts';
import { sampleEvent } from '../../../test/e2e/distributed-events.ts';
import { createKafkaPublisher, SCHEMA_VERSION_HEADER, type KafkaPublisher, type KafkaPublisherDeps } from './kafka.ts';

describe('Kafka publisher', () => {
  let broker: KafkaTestBroker;
  let dir: string;
  let publisher: KafkaPublisher | undefined;
  let registry: Registry;

  beforeEach(async () => {
    broker = new KafkaTestBroker({ defaultPartitions: 2 });
    await broker.start();
    dir = mkdtempSync(join(tmpdir(), 'gatelog-pub-'));
    registry = new Registry();
  });

  afterEach(async () => {
    await publisher?.close(0);
    publisher = undefined;
    await broker.stop();
    rmSync(dir, { recursive: true, force: true });
  });

  function start(over: Partial<KafkaPublisherDeps> = {}): { publisher: KafkaPublisher; topic: string } {
    const topic = `events-${randomUUID()}`;
    publisher = createKafkaPublisher({
      brokers: broker.brokers,
      requestTimeoutMs: 1000,
      topic,
      spoolDir: join(dir, 'spool'),
      spoolMaxBytes: 1 << 20,
      batchMs: 20,
      batchRecords: 50,
      sendTimeoutMs: 1500,
      logger: createLogger('silent'),
      registry,
      backoff: { baseMs: 20, maxMs: 200 },
      ...over,
    });
    return { publisher, topic };
  }

  /** A metric's value summed over its series, or over those with these labels. */
  const metric = async (name: string, labels: Record<string, string> = {}): Promise<number> => {
    const m = (await registry.getMetricsAsJSON()).find((x) => x.name === name);
    const matching = (m?.values ?? []).filter((v) => Object.entries(labels).every(([k, want]) => v.labels[k] === want));
    return matching.reduce((s, v) => s + v.value, 0);
  };

  it('delivers each event once, keyed by request id, with the schema header', async () => {
    const { publisher: p, topic } = start();
    const events = Array.from({ length: 120 }, () => sampleEvent());
    for (const e of events) p.publish(e);
    await p.flush(5000);
    const recs = broker.records(topic);
    expect(recs.map((r) => r.key?.toString()).sort()).toEqual(events.map((e) => e.request_id).sort());
    for (const r of recs) {
      expect(JSON.parse(r.value!.toString()).request_id).toBe(r.key?.toString());
      expect(r.headers.find((h) => h.key === SCHEMA_VERSION_HEADER)?.value?.toString()).toBe('1');
    }
    expect(await metric('gatelog_events_spooled_total')).toBe(120);
    expect(await metric('gatelog_spool_lag_bytes')).toBe(0);
  });

  it.each([
    ['unset (zstd)', {}, 4],
    ['zstd', { compression: 'zstd' }, 4],
    ['gzip', { compression: 'gzip' }, 1],
    ['none', { compression: 'none' }, 0],
  ] as const)('compresses its batches as bus.compression says: %s', async (_name, over, codecId) => {
    const { publisher: p, topic } = start(over);
    const events = Array.from({ length: 60 }, () => sampleEvent({}, 2048));
    for (const e of events) p.publish(e);
    await p.flush(5000);
    const recs = broker.records(topic);
    expect(recs.map((r) => r.key?.toString()).sort()).toEqual(events.map((e) => e.request_id).sort());
    expect(new Set(recs.map((r) => r.compression))).toEqual(new Set([codecId]));
  });

  it('keeps accepting while Kafka is down and replays in order when it is back', async () => {
    const { publisher: p, topic } = start();
    const before = Array.from({ length: 5 }, () => sampleEvent());
    for (const e of before) p.publish(e);
    await p.flush(5000);
    await broker.stop();
    const during = Array.from({ length: 40 }, () => sampleEvent());
    const t0 = performance.now();
    for (const e of during) p.publish(e);
    expect(performance.now() - t0).toBeLessThan(200); // never waits on Kafka
    expect(p.stats().lagBytes).toBeGreaterThan(0);
    for (let i = 0; i < 100 && (await metric('gatelog_kafka_produce_errors_total')) === 0; i++) await new Promise((r) => setTimeout(r, 50));
    expect(await metric('gatelog_kafka_produce_errors_total')).toBeGreaterThan(0);
    expect(p.stats().producerUp).toBe(false);
    await broker.restart();
    await p.flush(8000);
    const keys = broker.records(topic).filter((r) => r.partition === 0 || r.partition === 1).map((r) => r.key!.toString());
    expect(new Set(keys)).toEqual(new Set([...before, ...during].map((e) => e.request_id)));
    // Per partition, records are in publish order.
    const order = new Map([...before, ...during].map((e, i) => [e.request_id, i]));
    for (const part of [0, 1]) {
      const idx = broker.records(topic).filter((r) => r.partition === part).map((r) => order.get(r.key!.toString())!);
      const firstSeen = idx.filter((v, i) => idx.indexOf(v) === i);
      expect(firstSeen).toEqual([...firstSeen].sort((a, b) => a - b));
    }
    expect(p.stats().producerUp).toBe(true);
  });

  it('records events without bodies once the spool is over its cap, and says so', async () => {
    const { publisher: p, topic } = start({ spoolMaxBytes: 8 * 1024 });
    await broker.stop();
    const events = Array.from({ length: 10 }, () => sampleEvent({}, 2048));
    for (const e of events) p.publish(e);
    expect(await metric('gatelog_events_stripped_total')).toBeGreaterThan(0);
    expect(await metric('gatelog_spool_full')).toBe(1);
    expect(p.readiness()).toEqual({ event_spool: false });
    await broker.restart();
    await p.flush(8000);
    const got = broker.records(topic).map((r) => JSON.parse(r.value!.toString()) as { request_id: string; request_body: string; truncated: boolean });
    expect(new Set(got.map((g) => g.request_id))).toEqual(new Set(events.map((e) => e.request_id)));
    expect(got.some((g) => g.request_body === '' && g.truncated)).toBe(true);
    expect(got.some((g) => g.request_body !== '')).toBe(true);
  });

  it.runIf(process.platform === 'linux')('relays on a thread of its own, a few nice levels below the event loop', async () => {
    const base = getPriority(process.pid);
    const { publisher: p, topic } = start({ relayNice: 3 });
    const event = sampleEvent();
    p.publish(event);
    await p.flush(5000);
    expect(broker.records(topic).map((r) => r.key?.toString())).toEqual([event.request_id]);
    const relay = readdirSync('/proc/self/task').filter((t) => readFileSync(`/proc/self/task/${t}/comm`, 'utf8').trim() === 'gatelog-spool-r');
    expect(relay).toHaveLength(1);
    expect(Number(relay[0])).not.toBe(process.pid);
    expect(getPriority(Number(relay[0]))).toBe(Math.min(19, base + 3));
    expect(getPriority(process.pid)).toBe(base);
  });

  it('sends what erasure left of a record still in the spool, not the record as it was appended', async () => {
    const { publisher: p, topic } = start();
    await broker.stop();
    const events = Array.from({ length: 6 }, () => sampleEvent({}, 512));
    for (const e of events) p.publish(e);
    // What POST /admin/erase does to this proxy's data dir, while Kafka is away.
    const erased = events[2]!.request_id;
    const res = await scrubDataDir(dir, [{ match: (e) => e['request_id'] === erased, needle: erased }]);
    expect(res.records).toBe(1);
    await broker.restart();
    await p.flush(8000);
    const got = broker.records(topic).map((r) => JSON.parse(r.value!.toString()) as { request_id: string; request_body: string; response_body: string });
    expect(new Set(got.map((g) => g.request_id))).toEqual(new Set(events.map((e) => e.request_id)));
    for (const g of got) {
      if (g.request_id === erased) expect([g.request_body, g.response_body]).toEqual(['', '']);
      else expect(g.request_body.length).toBeGreaterThan(100);
    }
  });

  describe('a broker whose max.message.bytes is smaller than a batch', () => {
    // A send whose batch for one partition is refused is sent again whole: Kafka may then hold a
    // record twice, as after any failed send (ingest removes duplicates by request id).
    type Sent = { request_id: string; request_body: string; response_body: string; truncated: boolean };
    const sent = (topic: string): Sent[] => broker.records(topic).map((r) => JSON.parse(r.value!.toString()) as Sent);
    const ids = (xs: { request_id: string }[]): Set<string> => new Set(xs.map((x) => x.request_id));
    const tooLarge = (outcome: string): Promise<number> => metric('gatelog_kafka_records_too_large_total', { outcome });
    const refusals = (): Promise<number> => metric('gatelog_kafka_produce_errors_total', { code: 'MESSAGE_TOO_LARGE' });
    function logLines(): { logger: ReturnType<typeof createLogger>; lines: string[] } {
      const lines: string[] = [];
      const sink = new Writable({ write(chunk: Buffer, _enc, done) { lines.push(...chunk.toString().split('\n').filter(Boolean)); done(); } });
      return { logger: createLogger('info', sink), lines };
    }

    it('splits the batches it refuses and delivers every event, in order, with its bodies', async () => {
      broker.limitMessageBytes(16 * 1024);
      const { logger, lines } = logLines();
      const { publisher: p, topic } = start({ compression: 'none', batchRecords: 500, batchMs: 50, logger });
      const events = Array.from({ length: 60 }, () => sampleEvent({}, 2048));
      for (const e of events) p.publish(e);
      await p.flush(10_000);
      const got = sent(topic);
      expect(ids(got)).toEqual(ids(events));
      for (const g of got) expect(g.request_body.length).toBeGreaterThan(2000);
      const order = new Map(events.map((e, i) => [e.request_id, i]));
      for (const part of [0, 1]) {
        const idx = broker.records(topic).filter((r) => r.partition === part).map((r) => order.get(r.key!.toString())!);
        const firstSeen = idx.filter((v, i) => idx.indexOf(v) === i);
        expect(firstSeen).toEqual([...firstSeen].sort((a, b) => a - b));
      }
      expect(await refusals()).toBeGreaterThan(0);
      expect(await tooLarge('stripped') + await tooLarge('dropped')).toBe(0);
      expect(lines.some((l) => l.includes('refused as too large') && l.includes('"batch_bytes"'))).toBe(true);
    });

    it('never builds a batch over bus.batch_bytes', async () => {
      broker.limitMessageBytes(12 * 1024);
      const { publisher: p, topic } = start({ compression: 'none', batchRecords: 500, batchMs: 50, batchBytes: 8 * 1024 });
      const events = Array.from({ length: 40 }, () => sampleEvent({}, 2048));
      for (const e of events) p.publish(e);
      await p.flush(10_000);
      // Exactly once: no send was refused, so none was repeated.
      expect(sent(topic).map((g) => g.request_id).sort()).toEqual(events.map((e) => e.request_id).sort());
      expect(await metric('gatelog_kafka_produce_errors_total')).toBe(0);
    });

    it('sends an event it refuses on its own without its bodies, and the events after it in full', async () => {
      broker.limitMessageBytes(16 * 1024);
      const { logger, lines } = logLines();
      const { publisher: p, topic } = start({ compression: 'none', logger });
      const secret = 'do-not-log-this-prompt';
      const big = sampleEvent({}, 64 * 1024);
      big.request_body = big.request_body.replace('xxxx', secret);
      const before = Array.from({ length: 3 }, () => sampleEvent({}, 1024));
      const after = Array.from({ length: 3 }, () => sampleEvent({}, 1024));
      for (const e of [...before, big, ...after]) p.publish(e);
      await p.flush(10_000);
      const got = sent(topic);
      expect(ids(got)).toEqual(ids([...before, big, ...after]));
      for (const g of got) {
        if (g.request_id === big.request_id) expect([g.request_body, g.response_body, g.truncated]).toEqual(['', '', true]);
        else expect(g.request_body.length).toBeGreaterThan(900);
      }
      expect(await tooLarge('stripped')).toBe(1);
      expect(await tooLarge('dropped')).toBe(0);
      const logged = lines.map((l) => JSON.parse(l) as Record<string, unknown>).filter((l) => l['code'] === 'GATELOG_ERR_KAFKA_RECORD_TOO_LARGE');
      expect(logged).toMatchObject([{ request_id: big.request_id, outcome: 'stripped', level: 50 }]);
      expect(lines.join('\n')).not.toContain(secret);
      expect(p.stats().lagBytes).toBe(0);
    });

    it('drops an event refused even without its bodies rather than hold up the ones after it', async () => {
      broker.limitMessageBytes(200);
      const { publisher: p, topic } = start({ compression: 'none' });
      const events = Array.from({ length: 3 }, () => sampleEvent({}, 512));
      for (const e of events) p.publish(e);
      await p.flush(10_000);
      expect(sent(topic)).toEqual([]);
      expect(await tooLarge('dropped')).toBe(3);
      expect(p.stats().lagBytes).toBe(0);
      // Once the topic takes them again, events flow as before.
      broker.limitMessageBytes(Number.POSITIVE_INFINITY);
      const later = sampleEvent({}, 512);
      p.publish(later);
      await p.flush(5000);
      expect(sent(topic).map((g) => g.request_id)).toEqual([later.request_id]);
    });
  });

  it('resumes from the spool after a restart of the publisher', async () => {
    const first = start();
    await broker.stop();
    const events = Array.from({ length: 15 }, () => sampleEvent());
    for (const e of events) first.publisher.publish(e);
    await first.publisher.close(0);
    await broker.restart();
    publisher = createKafkaPublisher({
      brokers: broker.brokers,
      requestTimeoutMs: 1000,
      topic: first.topic,
      spoolDir: join(dir, 'spool'),
      spoolMaxBytes: 1 << 20,
      batchMs: 20,
      batchRecords: 50,
      sendTimeoutMs: 1500,
      logger: createLogger('silent'),
      registry,
    });
    await publisher.flush(5000);
    expect(broker.records(first.topic).map((r) => r.key!.toString()).sort()).toEqual(events.map((e) => e.request_id).sort());
  });
});
