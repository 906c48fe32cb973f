// Test fixture only: KafkaTestBroker against real kafkajs clients - idempotent GZIP and ZSTD
// (gatelog's codec) producers, read back through the fixture and through a consumer group with
// eachBatch.
import { randomBytes, randomUUID } from 'node:crypto';
import kafkajs, { CompressionTypes, type Producer } from 'kafkajs';
import { afterEach, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { registerKafkaCodecs } from '@gatelog/core';
import { KafkaTestBroker } from './broker.ts';
import { testConsumer, testKafka, waitUntil } from './test-clients.ts';

describe('KafkaTestBroker produce/consume', () => {
  let broker: KafkaTestBroker;
  const cleanups: (() => Promise<void>)[] = [];

  beforeAll(() => registerKafkaCodecs(kafkajs.CompressionCodecs));

  beforeEach(async () => {
    broker = new KafkaTestBroker({ defaultPartitions: 3 });
    await broker.start();
  });

  afterEach(async () => {
    for (const c of cleanups.splice(0).reverse()) await c();
    await broker.stop();
    expect(broker.errors).toEqual([]);
  });

  async function idempotentProducer(): Promise<Producer> {
    const producer = testKafka(broker).producer({ idempotent: true, maxInFlightRequests: 1 });
    await producer.connect();
    cleanups.push(() => producer.disconnect());
    return producer;
  }

  it('refuses a batch over maxMessageBytes with MESSAGE_TOO_LARGE and appends none of it', async () => {
    const topic = `t-${randomUUID()}`;
    broker.createTopic(topic, 1);
    broker.limitMessageBytes(4096);
    const producer = testKafka(broker, { retry: { retries: 0 } }).producer();
    await producer.connect();
    cleanups.push(() => producer.disconnect());
    await producer.send({ topic, acks: -1, messages: [{ value: 'x'.repeat(1000) }] });
    await expect(producer.send({ topic, acks: -1, messages: Array.from({ length: 5 }, () => ({ value: 'y'.repeat(1000) })) })).rejects.toMatchObject({ type: 'MESSAGE_TOO_LARGE' });
    expect(broker.records(topic).map((r) => r.value!.length)).toEqual([1000]);
  });

  it.each([
    ['GZIP', CompressionTypes.GZIP],
    ['ZSTD', CompressionTypes.ZSTD],
  ])('stores %s batches from an idempotent acks=-1 producer with keys and headers', async (_name, compression) => {
    const topic = `t-${randomUUID()}`;
    const producer = await idempotentProducer();
    const messages = Array.from({ length: 20 }, (_, i) => ({
      key: `req-${i}`,
      value: JSON.stringify({ i, pad: 'x'.repeat(200) }),
      headers: { 'schema-version': '1', trace: Buffer.from([i, 255]) },
    }));
    const acks = await producer.send({ topic, acks: -1, compression, messages });
    expect(acks.every((a) => a.errorCode === 0)).toBe(true);

    const stored = broker.records(topic);
    expect(stored).toHaveLength(20);
    expect(stored.every((r) => r.compression === Number(compression))).toBe(true);
    expect(new Set(stored.map((r) => r.partition)).size).toBeGreaterThan(1); // keys spread over 3 partitions
    const byKey = new Map(stored.map((r) => [r.key!.toString(), r]));
    for (const [i, m] of messages.entries()) {
      const r = byKey.get(m.key)!;
      expect(r.value!.toString()).toBe(m.value);
      expect(r.headers).toEqual([
        { key: 'schema-version', value: Buffer.from('1') },
        { key: 'trace', value: Buffer.from([i, 255]) },
      ]);
    }
    // Offsets are dense from 0 within each partition.
    for (let p = 0; p < 3; p++) {
      const offsets = stored.filter((r) => r.partition === p).map((r) => r.offset);
      expect(offsets).toEqual(offsets.map((_, i) => i));
    }
  });

  it('delivers the same records, GZIP and ZSTD batches alike, to a consumer group with eachBatch and commits offsets', async () => {
    const topic = `t-${randomUUID()}`;
    const groupId = `g-${randomUUID()}`;
    const producer = await idempotentProducer();
    const messages = Array.from({ length: 30 }, (_, i) => ({ key: `k${i}`, value: `v${i}`, headers: { h: `x${i}` } }));
    // One topic holding both codecs, as while proxies are switched from gzip to zstd.
    await producer.send({ topic, acks: -1, compression: CompressionTypes.GZIP, messages: messages.slice(0, 15) });
    await producer.send({ topic, acks: -1, compression: CompressionTypes.ZSTD, messages: messages.slice(15) });
    expect(new Set(broker.records(topic).map((r) => r.compression))).toEqual(new Set([1, 4]));

    const consumer = testConsumer(testKafka(broker), groupId);
    cleanups.push(() => consumer.disconnect());
    await consumer.connect();
    await consumer.subscribe({ topic, fromBeginning: true });
    const seen: { key: string; value: string; header: string; partition: number; offset: string }[] = [];
    await consumer.run({
      eachBatch: async ({ batch, resolveOffset, heartbeat }) => {
        for (const m of batch.messages) {
          seen.push({ key: m.key!.toString(), value: m.value!.toString(), header: String(m.headers!['h']), partition: batch.partition, offset: m.offset });
          resolveOffset(m.offset);
        }
        await heartbeat();
      },
    });
    await waitUntil('30 consumed records', () => seen.length >= 30);
    expect(seen).toHaveLength(30);
    const fromFixture = broker.records(topic);
    expect(seen.map((s) => `${s.partition}/${s.offset}/${s.key}/${s.value}`).sort()).toEqual(
      fromFixture.map((r) => `${r.partition}/${r.offset}/${r.key!.toString()}/${r.value!.toString()}`).sort(),
    );
    expect(seen.every((s) => s.header === s.value.replace('v', 'x'))).toBe(true);

    // Committed offsets reach the end of every non-empty partition.
    await waitUntil('offsets committed', () => broker.committedOffsets(groupId).length === 3);
    await consumer.stop();
    const ends = [0, 1, 2].map((p) => fromFixture.filter((r) => r.partition === p).length);
    expect(broker.committedOffsets(groupId).map((c) => c.offset)).toEqual(ends);
  });

  it('creates topics through the admin client with the requested partition count', async () => {
    const admin = testKafka(broker).admin();
    await admin.connect();
    cleanups.push(() => admin.disconnect());
    const topic = `t-${randomUUID()}`;
    expect(await admin.createTopics({ topics: [{ topic, numPartitions: 5 }] })).toBe(true);
    expect(await admin.createTopics({ topics: [{ topic, numPartitions: 5 }] })).toBe(false);
    const meta = await admin.fetchTopicMetadata({ topics: [topic] });
    expect(meta.topics[0]!.partitions).toHaveLength(5);
    const offsets = await admin.fetchTopicOffsets(topic);
    expect(offsets.map((o) => [o.partition, o.low, o.high])).toEqual([0, 1, 2, 3, 4].map((p) => [p, '0', '0']));
  });

  it('answers ListOffsets by timestamp with the first record at or after it', async () => {
    const topic = `t-${randomUUID()}`;
    broker.createTopic(topic, 1);
    const producer = await idempotentProducer();
    for (const ts of [1_000, 2_000, 3_000]) {
      await producer.send({ topic, acks: -1, messages: [0, 1].map((i) => ({ value: `${ts}-${i}`, timestamp: String(ts + i) })) });
    }
    const admin = testKafka(broker).admin();
    await admin.connect();
    cleanups.push(() => admin.disconnect());
    expect(await admin.fetchTopicOffsetsByTimestamp(topic, 2_001)).toEqual([{ partition: 0, offset: '3' }]);
    expect(await admin.fetchTopicOffsetsByTimestamp(topic, 1)).toEqual([{ partition: 0, offset: '0' }]);
    expect(await admin.fetchTopicOffsetsByTimestamp(topic, 9_999)).toEqual([{ partition: 0, offset: '6' }]); // none: high watermark
    expect(broker.records(topic).map((r) => r.timestamp)).toEqual([1_000, 1_001, 2_000, 2_001, 3_000, 3_001]);
  });

  it('still delivers batches larger than the consumer fetch limits', async () => {
    const topic = `t-${randomUUID()}`;
    broker.createTopic(topic, 1);
    const producer = await idempotentProducer();
    const big = Array.from({ length: 3 }, (_, i) => `${i}`.repeat(20_000));
    for (const value of big) await producer.send({ topic, acks: -1, messages: [{ value }] });
    const consumer = testConsumer(testKafka(broker), `g-${randomUUID()}`, { maxBytesPerPartition: 1_024, maxBytes: 4_096 });
    cleanups.push(() => consumer.disconnect());
    await consumer.connect();
    await consumer.subscribe({ topic, fromBeginning: true });
    const seen: string[] = [];
    await consumer.run({
      eachBatch: async ({ batch }) => {
        seen.push(...batch.messages.map((m) => m.value!.toString()));
      },
    });
    await waitUntil('three large records', () => seen.length >= 3);
    expect(seen).toEqual(big);
  });

  it('carries an event at the 16 MiB body cap (ZSTD, as gatelog publishes), whole', async () => {
    const topic = `t-${randomUUID()}`;
    broker.createTopic(topic, 1);
    const producer = await idempotentProducer();
    // Random base64: compression cannot shrink it, so the batch on the wire is ~22 MiB.
    const value = JSON.stringify({ request_body: randomBytes(16 << 20).toString('base64') });
    await producer.send({ topic, acks: -1, compression: CompressionTypes.ZSTD, messages: [{ key: 'req-big', value }] });
    const consumer = testConsumer(testKafka(broker), `g-${randomUUID()}`, { maxBytesPerPartition: 16 << 20, maxBytes: 64 << 20 });
    cleanups.push(() => consumer.disconnect());
    await consumer.connect();
    await consumer.subscribe({ topic, fromBeginning: true });
    let got = '';
    await consumer.run({ eachMessage: async ({ message }) => void (got = message.value!.toString()) });
    await waitUntil('the 16 MiB event', () => got.length > 0, 120_000);
    expect(got.length).toBe(value.length);
    expect(got === value).toBe(true);
  }, 240_000);
});

describe('KafkaTestBroker retention (retentionBytes)', () => {
  it('drops the oldest batches past the limit, moves the log start and refuses fetches below it', async () => {
    const broker = new KafkaTestBroker({ defaultPartitions: 1, retentionBytes: 4096 });
    await broker.start();
    const kafka = testKafka(broker);
    const producer = kafka.producer({ idempotent: true, maxInFlightRequests: 1 });
    try {
      await producer.connect();
      const topic = `t-${randomUUID()}`;
      // Incompressible values: each batch is ~1.1 KB on the wire.
      for (let i = 0; i < 12; i++) await producer.send({ topic, acks: -1, messages: [{ value: `${i}:${randomBytes(512).toString('hex')}` }] });
      const log = broker.extent(topic, 0);
      expect(log.nextOffset).toBe(12);
      expect(log.logStartOffset).toBeGreaterThan(0);
      expect(log.firstBaseOffset).toBe(log.logStartOffset);
      expect(log.bytes).toBeLessThanOrEqual(4096);
      // What is left is the newest records, in order.
      const kept = broker.records(topic).map((r) => Number(r.value!.toString().split(':')[0]));
      expect(kept).toEqual(Array.from({ length: 12 - log.logStartOffset }, (_, k) => log.logStartOffset + k));
      // A consumer from the beginning starts at the log start (ListOffsets earliest).
      const consumer = testConsumer(kafka, `g-${randomUUID()}`);
      const seen: number[] = [];
      await consumer.connect();
      await consumer.subscribe({ topic, fromBeginning: true });
      await consumer.run({ eachMessage: async ({ message }) => void seen.push(Number(message.offset)) });
      await waitUntil('the retained records', () => seen.length === kept.length);
      expect(seen[0]).toBe(log.logStartOffset);
      await consumer.disconnect();
    } finally {
      await producer.disconnect();
      await broker.stop();
    }
  });
});
