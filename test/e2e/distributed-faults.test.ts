// Fault tests of the distributed pipeline (publisher → Kafka test broker → ingest workers →
// ClickHouse over HTTP), in one process on loopback. Each ends with the same invariant:
// events accepted = rows in ClickHouse (as readers see them) + dead letters, no duplicate ids.
import { afterEach, describe, expect, it } from 'vitest';
import type { LlmCallEvent } from '@gatelog/core';
import type { KafkaPublisher } from '@gatelog/proxy/publish/kafka';
import { sampleEvent } from './distributed-events.ts';
import { eventually, startDistributed, type Distributed } from './distributed-harness.ts';

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

async function expectAllOnce(d: Distributed, sent: LlmCallEvent[], timeoutMs = 10_000): Promise<void> {
  await eventually('every accepted event in ClickHouse or the DLQ', async () => (await d.counts()).rows + d.dlqKeys().length >= sent.length, timeoutMs);
  const c = await d.counts();
  expect(c.rows + d.dlqKeys().length).toBe(sent.length);
  expect(c.distinct).toBe(c.rows);
  expect((await d.ids()).sort()).toEqual(sent.map((e) => e.request_id).sort());
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

  it('ingest dies after the insert and before the commit: the replay leaves no duplicate', { timeout: 20_000 }, async () => {
    d = await startDistributed({ partitions: 1 });
    let crashes = 0;
    // The worker fails between a written batch and its commit, as a kill there would; the
    // uncommitted batch is fetched and inserted again.
    const w = await d.worker({
      beforeCommit: () => {
        if (crashes++ === 0) throw Object.assign(new Error('simulated crash before commit'), { code: 'TEST_CRASH' });
      },
    });
    const pub = d.publisher();
    const sent: LlmCallEvent[] = [];
    await traffic(pub, 80, 200, sent);
    await pub.flush(5000);
    await expectAllOnce(d, sent);
    expect(crashes).toBeGreaterThan(1);
    expect(w.stats().rows).toBeGreaterThan(sent.length); // a batch was written twice
  });

  it('ClickHouse down for a while: nothing is committed past an unwritten batch', { timeout: 20_000 }, async () => {
    d = await startDistributed();
    await d.worker();
    const pub = d.publisher();
    const sent: LlmCallEvent[] = [];
    await traffic(pub, 40, 100, sent);
    await pub.flush(5000);
    await eventually('first rows', async () => (await d!.counts()).rows === 40);
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

  it('two ingest workers and a rebalance mid-stream', { timeout: 20_000 }, async () => {
    d = await startDistributed({ partitions: 4 });
    const a = await d.worker();
    const pub = d.publisher({ batchRecords: 20 });
    const sent: LlmCallEvent[] = [];
    await traffic(pub, 100, 300, sent);
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
