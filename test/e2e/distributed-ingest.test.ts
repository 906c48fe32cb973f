// Proxy publisher → Kafka (test broker) → ingest worker → ClickHouse over HTTP (chDB fixture):
// the happy path (with proxies on different bus.compression settings, as mid-rollout) and a
// poison message. Each ends with: accepted = rows + dead letters, no duplicate request ids.
import { afterEach, describe, expect, it } from 'vitest';
import { testKafka } from '../support/kafka/index.ts';
import { sampleEvent } from './distributed-events.ts';
import { eventually, startDistributed, type Distributed } from './distributed-harness.ts';

describe('distributed ingest', () => {
  let d: Distributed | undefined;
  afterEach(async () => {
    await d?.close();
    d = undefined;
  });

  it('moves every published event into ClickHouse exactly once, from zstd and gzip proxies alike', { timeout: 30_000 }, async () => {
    d = await startDistributed();
    const worker = await d.worker();
    const pubs = [d.publisher(), d.publisher({ compression: 'gzip' })];
    const events = Array.from({ length: 300 }, () => sampleEvent());
    events.forEach((e, i) => pubs[i % 2]!.publish(e));
    // Each publisher's relay thread starts cold (imports, broker connection): on a busy 2-core
    // runner that alone has taken over 5 s.
    await Promise.all(pubs.map((p) => p.flush(15_000)));
    expect(new Set(d.broker.records(d.topic).map((r) => r.compression))).toEqual(new Set([1, 4]));
    await eventually('all rows', async () => (await d!.counts()).rows === events.length);
    expect((await d.ids()).sort()).toEqual(events.map((e) => e.request_id).sort());
    // The worker counts an insert once ClickHouse acknowledged it and commits the offsets after
    // that: both a moment behind the rows being readable.
    await eventually('the worker to count every row', () => Promise.resolve(worker.stats().rows === events.length));
    expect(worker.stats().rows).toBe(events.length);
    const committed = (): number => d!.broker.committedOffsets(d!.groupId).reduce((s, c) => s + c.offset, 0);
    await eventually('every offset committed', () => Promise.resolve(committed() >= events.length));
    expect(committed()).toBe(events.length);
  });

  it('dead-letters a poison message with its reason and carries on with the batch', { timeout: 20_000 }, async () => {
    d = await startDistributed({ partitions: 1 });
    await d.worker();
    const good = Array.from({ length: 20 }, () => sampleEvent());
    const producer = testKafka(d.broker).producer();
    await producer.connect();
    const bad = [
      { key: 'not-json', value: '{oops' },
      // A bad number alone is repaired (event-numbers.ts); a wrong shape is not.
      { key: 'bad-schema', value: JSON.stringify({ ...sampleEvent(), attempts: 'two attempts' }) },
      { key: 'bad-uuid', value: JSON.stringify({ ...sampleEvent(), request_id: 'nope' }) },
    ];
    const messages = [...good.slice(0, 10).map((e) => ({ key: e.request_id, value: JSON.stringify(e) })), ...bad, ...good.slice(10).map((e) => ({ key: e.request_id, value: JSON.stringify(e) }))];
    await producer.send({ topic: d.topic, acks: -1, messages });
    await producer.disconnect();
    await eventually('rows and dead letters', async () => (await d!.counts()).rows === good.length && d!.dlqKeys().length === bad.length);
    expect(d.dlqKeys().sort()).toEqual(bad.map((b) => b.key).sort());
    const reasons = d.broker.records(d.dlqTopic).map((r) => JSON.parse(r.headers.find((h) => h.key === 'gatelog-dlq-reason')!.value!.toString()) as { code: string });
    expect(reasons.map((r) => r.code).sort()).toEqual(['GATELOG_DLQ_INVALID_EVENT', 'GATELOG_DLQ_INVALID_EVENT', 'GATELOG_DLQ_INVALID_JSON']);
    const c = await d.counts();
    expect(c.rows + d.dlqKeys().length).toBe(messages.length);
    expect(c.distinct).toBe(c.rows);
  });
});
