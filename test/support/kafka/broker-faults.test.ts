// Test fixture only: KafkaTestBroker fault injection with real kafkajs clients - lost
// produce responses, stop()/restart() mid-traffic, refused and stalled connections, and
// corrupted batches (a bad checksum, a ZSTD payload that does not inflate) sent on a raw socket.
import { randomUUID } from 'node:crypto';
import { CompressionTypes, type Producer } from 'kafkajs';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { KafkaTestBroker } from './broker.ts';
import { ERROR } from './errors.ts';
import { batchInProduceBody, COMPRESSION, damagePayload, decodeProduceResponse, kafkajsProduceFrame, rawExchange } from './kafkajs-wire.ts';
import { testKafka, waitUntil } from './test-clients.ts';

describe('KafkaTestBroker faults', () => {
  let broker: KafkaTestBroker;
  const cleanups: (() => Promise<void>)[] = [];

  beforeEach(async () => {
    broker = new KafkaTestBroker({ defaultPartitions: 2 });
    await broker.start();
  });

  afterEach(async () => {
    for (const c of cleanups.splice(0).reverse()) await c();
    await broker.stop();
    expect(broker.errors).toEqual([]);
  });

  async function idempotentProducer(requestTimeout = 2_000): Promise<Producer> {
    const producer = testKafka(broker, { requestTimeout }).producer({ idempotent: true, maxInFlightRequests: 1 });
    await producer.connect();
    cleanups.push(() => producer.disconnect());
    return producer;
  }

  function expectEachOnce(topic: string, values: string[]): void {
    const stored = broker.records(topic).map((r) => r.value!.toString());
    expect(stored.sort()).toEqual([...values].sort());
  }

  it('acknowledges a retried batch whose first response was lost without appending it again', async () => {
    const topic = `t-${randomUUID()}`;
    const producer = await idempotentProducer();
    await producer.send({ topic, acks: -1, messages: [{ key: 'warm', value: 'warm' }] });
    broker.loseNextProduceResponses(1);
    const values = Array.from({ length: 10 }, (_, i) => `v${i}`);
    const acks = await producer.send({ topic, acks: -1, compression: CompressionTypes.GZIP, messages: values.map((v) => ({ key: v, value: v })) });
    expect(acks.every((a) => a.errorCode === 0)).toBe(true);
    expectEachOnce(topic, ['warm', ...values]);
    // The lost response covered one batch per partition in that request; each retry was a duplicate.
    const partitions = new Set(broker.records(topic).filter((r) => r.value!.toString() !== 'warm').map((r) => r.partition));
    expect(broker.duplicateBatches).toBe(partitions.size);
  });

  it('delivers every record exactly once when the broker stops and restarts mid-traffic', async () => {
    const topic = `t-${randomUUID()}`;
    const producer = await idempotentProducer();
    const port = broker.port;
    const values = Array.from({ length: 120 }, (_, i) => `r${i}`);
    // Once a retry was deduplicated, the next send waits for the broker to be down: the stop
    // always lands mid-traffic, however fast the first sends went.
    let stopped = (): void => undefined;
    const down = new Promise<void>((resolve) => {
      stopped = resolve;
    });
    const sending = (async () => {
      for (let i = 0; i < values.length; i += 3) {
        if (broker.duplicateBatches >= 1) await down;
        const chunk = values.slice(i, i + 3);
        await producer.send({ topic, acks: -1, compression: CompressionTypes.GZIP, messages: chunk.map((v) => ({ key: v, value: v })) });
      }
    })();
    await waitUntil('traffic flowing', () => broker.records(topic).length >= 9);
    broker.loseNextProduceResponses(1); // make sure at least one retry is a real duplicate
    await waitUntil('a response lost and the retry deduplicated', () => broker.duplicateBatches >= 1);
    await broker.stop();
    stopped();
    const storedWhileDown = broker.records(topic).length;
    expect(storedWhileDown).toBeLessThan(values.length);
    await new Promise((r) => setTimeout(r, 300));
    expect(broker.records(topic).length).toBe(storedWhileDown);
    await broker.restart();
    expect(broker.port).toBe(port);
    await sending;
    expectEachOnce(topic, values);
    expect(broker.duplicateBatches).toBeGreaterThanOrEqual(1);
  });

  it('refuses connections while refusing and serves again afterwards', async () => {
    broker.refuse(true);
    const refused = testKafka(broker, { retry: { retries: 1, initialRetryTime: 20 } }).producer();
    await expect(refused.connect()).rejects.toThrow();
    broker.refuse(false);
    const producer = await idempotentProducer();
    const topic = `t-${randomUUID()}`;
    await producer.send({ topic, acks: -1, messages: [{ value: 'after-refusal' }] });
    expectEachOnce(topic, ['after-refusal']);
  });

  it('holds requests while stalled and answers them in order once unstalled', async () => {
    const topic = `t-${randomUUID()}`;
    const producer = await idempotentProducer(300);
    await producer.send({ topic, acks: -1, messages: [{ key: 'k', value: 'before' }] });
    broker.stall(true);
    let settled = false;
    const sending = producer.send({ topic, acks: -1, messages: [{ key: 'k', value: 'during' }] }).finally(() => {
      settled = true;
    });
    await new Promise((r) => setTimeout(r, 600)); // past the 300 ms request timeout: kafkajs retries
    expect(settled).toBe(false);
    expectEachOnce(topic, ['before']);
    broker.stall(false);
    await sending;
    expectEachOnce(topic, ['before', 'during']);
    expect(broker.duplicateBatches).toBeGreaterThanOrEqual(1); // the timed-out attempt and its retry both arrived
  });

  it.each([
    ['whose CRC-32C does not match', COMPRESSION.None, (body: Buffer) => {
      body[body.length - 5]! ^= 0x20; // inside the last record's value
    }],
    ['whose ZSTD payload does not inflate (CRC valid)', COMPRESSION.ZSTD, (body: Buffer, topic: string) => damagePayload(batchInProduceBody(body, topic))],
  ])('rejects a batch %s with CORRUPT_MESSAGE and stores nothing', async (_what, compression, damage) => {
    const topic = `t-${randomUUID()}`;
    broker.createTopic(topic, 1);
    const messages = [{ key: 'k', value: 'payload-under-crc' }];
    const corrupt = await kafkajsProduceFrame({ correlationId: 1, topic, partition: 0, messages, compression, tamper: (body) => damage(body, topic) });
    const valid = await kafkajsProduceFrame({ correlationId: 2, topic, partition: 0, messages, compression });
    const responses = await rawExchange(broker.port, [corrupt, valid]);
    const [bad, good] = await Promise.all(responses.map((r) => decodeProduceResponse(r.body)));
    expect(responses.map((r) => r.correlationId)).toEqual([1, 2]);
    expect(bad!.topics[0]!.partitions[0]).toMatchObject({ errorCode: ERROR.CORRUPT_MESSAGE, baseOffset: '-1' });
    expect(good!.topics[0]!.partitions[0]).toMatchObject({ errorCode: ERROR.NONE, baseOffset: '0' });
    expectEachOnce(topic, ['payload-under-crc']);
  });
});
