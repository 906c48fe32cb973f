// Test fixture only: consumer groups on KafkaTestBroker with real kafkajs consumers -
// partitions shared between members, rebalance when one leaves, resume from commits.
import { randomUUID } from 'node:crypto';
import type { Consumer, Kafka } from 'kafkajs';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { KafkaTestBroker } from './broker.ts';
import { testConsumer, testKafka, waitUntil } from './test-clients.ts';

describe('KafkaTestBroker consumer groups', () => {
  let broker: KafkaTestBroker;
  let kafka: Kafka;
  const cleanups: (() => Promise<void>)[] = [];

  beforeEach(async () => {
    broker = new KafkaTestBroker({ defaultPartitions: 4 });
    await broker.start();
    kafka = testKafka(broker);
  });

  afterEach(async () => {
    for (const c of cleanups.splice(0).reverse()) await c();
    await broker.stop();
    expect(broker.errors).toEqual([]);
  });

  async function produce(topic: string, values: string[]): Promise<void> {
    const producer = kafka.producer({ idempotent: true, maxInFlightRequests: 1 });
    await producer.connect();
    await producer.send({ topic, acks: -1, messages: values.map((v) => ({ key: v, value: v })) });
    await producer.disconnect();
  }

  interface Tracked {
    consumer: Consumer;
    seen: string[];
    assignment: () => number[];
  }

  async function startConsumer(topic: string, groupId: string): Promise<Tracked> {
    const consumer = testConsumer(kafka, groupId);
    let assigned: number[] = [];
    consumer.on(consumer.events.GROUP_JOIN, (e) => {
      assigned = [...(e.payload.memberAssignment[topic] ?? [])].sort();
    });
    const seen: string[] = [];
    await consumer.connect();
    cleanups.push(() => consumer.disconnect());
    await consumer.subscribe({ topic, fromBeginning: true });
    await consumer.run({
      eachBatch: async ({ batch, resolveOffset }) => {
        for (const m of batch.messages) {
          seen.push(m.value!.toString());
          resolveOffset(m.offset);
        }
      },
    });
    return { consumer, seen, assignment: () => assigned };
  }

  it('splits partitions between two members and hands all of them to the survivor', async () => {
    const topic = `t-${randomUUID()}`;
    const groupId = `g-${randomUUID()}`;
    await produce(topic, Array.from({ length: 40 }, (_, i) => `a${i}`));

    const one = await startConsumer(topic, groupId);
    await waitUntil('first member owns all partitions', () => one.assignment().length === 4);
    const two = await startConsumer(topic, groupId);
    await waitUntil('partitions split 2/2', () => one.assignment().length === 2 && two.assignment().length === 2);
    expect([...one.assignment(), ...two.assignment()].sort()).toEqual([0, 1, 2, 3]);

    await waitUntil('first 40 consumed', () => new Set([...one.seen, ...two.seen]).size === 40);
    await produce(topic, Array.from({ length: 40 }, (_, i) => `b${i}`));
    await waitUntil('second 40 consumed', () => new Set([...one.seen, ...two.seen]).size === 80);
    expect(two.seen.length).toBeGreaterThan(0); // both members really fetched

    await one.consumer.disconnect(); // LeaveGroup
    await waitUntil('survivor owns all partitions', () => two.assignment().length === 4);
    const before = two.seen.length;
    await produce(topic, Array.from({ length: 40 }, (_, i) => `c${i}`));
    await waitUntil('third 40 consumed by the survivor', () => two.seen.filter((v) => v.startsWith('c')).length === 40);
    expect(two.seen.length - before).toBeGreaterThanOrEqual(40);
  });

  it('resumes from committed offsets after a consumer restart', async () => {
    const topic = `t-${randomUUID()}`;
    const groupId = `g-${randomUUID()}`;
    await produce(topic, Array.from({ length: 25 }, (_, i) => `old${i}`));

    const first = await startConsumer(topic, groupId);
    await waitUntil('old records consumed', () => first.seen.length === 25);
    await waitUntil('offsets committed', () => broker.committedOffsets(groupId).reduce((n, c) => n + c.offset, 0) === 25);
    await first.consumer.disconnect();

    await produce(topic, Array.from({ length: 15 }, (_, i) => `new${i}`));
    const second = await startConsumer(topic, groupId); // fromBeginning: only commits stop a replay
    await waitUntil('new records consumed', () => second.seen.length >= 15);
    await new Promise((r) => setTimeout(r, 300)); // room for any wrongly replayed old record to show up
    expect(second.seen.sort()).toEqual(Array.from({ length: 15 }, (_, i) => `new${i}`).sort());
  });
});
