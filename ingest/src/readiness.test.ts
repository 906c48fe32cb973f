import { Kafka, type Consumer } from 'kafkajs';
import { Registry } from 'prom-client';
import { describe, expect, it } from 'vitest';
import { waitUntil } from '../../test/support/kafka/index.ts';
import { IngestReadiness } from './readiness.ts';

/** kafkajs' own event names; the test emits them as the consumer would. */
const { events } = new Kafka({ brokers: ['127.0.0.1:9'] }).consumer({ groupId: 'readiness-test' });
type EventName = (typeof events)[keyof typeof events];

function consumer(): { c: Pick<Consumer, 'on' | 'events'>; emit: (name: EventName) => void } {
  const listeners = new Map<string, (() => void)[]>();
  const on = (name: string, fn: () => void): (() => void) => {
    listeners.set(name, [...(listeners.get(name) ?? []), fn]);
    return () => {};
  };
  return { c: { events, on: on as Consumer['on'] }, emit: (name) => listeners.get(name)?.forEach((fn) => fn()) };
}

function clock(): { now: () => number; advance: (ms: number) => void } {
  let t = 1_000_000;
  return { now: () => t, advance: (ms) => void (t += ms) };
}

describe('ingest readiness', () => {
  it('Kafka: ready once connected and in the group, until the broker falls silent for staleMs', () => {
    const t = clock();
    const r = new IngestReadiness({ staleMs: 10_000, now: t.now });
    const { c, emit } = consumer();
    r.watch(c);
    expect(r.kafkaOk()).toBe(false);
    emit(events.CONNECT);
    expect(r.kafkaOk()).toBe(false); // connected, not yet a member
    emit(events.GROUP_JOIN);
    expect(r.kafkaOk()).toBe(true);
    // Heartbeats and fetches keep it ready however long it runs.
    for (let i = 0; i < 10; i++) {
      t.advance(3_000);
      emit(i % 2 ? events.HEARTBEAT : events.FETCH);
      expect(r.kafkaOk()).toBe(true);
    }
    // The broker stops answering: no event at all, not even a timeout yet.
    t.advance(10_001);
    expect(r.kafkaOk()).toBe(false);
    emit(events.HEARTBEAT);
    expect(r.kafkaOk()).toBe(true);
  });

  it('Kafka: a rebalance, a request timeout, a disconnect or a crash make it unready until it is back in the group', () => {
    const t = clock();
    const r = new IngestReadiness({ now: t.now });
    const { c, emit } = consumer();
    r.watch(c);
    emit(events.CONNECT);
    emit(events.GROUP_JOIN);
    emit(events.REBALANCING);
    expect(r.kafkaOk()).toBe(false);
    emit(events.HEARTBEAT);
    expect(r.kafkaOk()).toBe(false); // a heartbeat is not a completed rebalance
    emit(events.GROUP_JOIN);
    expect(r.kafkaOk()).toBe(true);

    t.advance(100);
    emit(events.REQUEST_TIMEOUT);
    expect(r.kafkaOk()).toBe(false);
    t.advance(100);
    emit(events.FETCH);
    expect(r.kafkaOk()).toBe(true);

    for (const down of [events.DISCONNECT, events.CRASH, events.STOP]) {
      emit(down);
      expect(r.kafkaOk(), down).toBe(false);
      emit(events.HEARTBEAT);
      expect(r.kafkaOk(), down).toBe(false);
      emit(events.CONNECT);
      expect(r.kafkaOk(), down).toBe(false);
      emit(events.GROUP_JOIN);
      expect(r.kafkaOk(), down).toBe(true);
    }
  });

  it('Kafka: a consumer built after a crash is followed too', () => {
    const r = new IngestReadiness();
    const first = consumer();
    r.watch(first.c);
    first.emit(events.CONNECT);
    first.emit(events.GROUP_JOIN);
    first.emit(events.CRASH);
    expect(r.kafkaOk()).toBe(false);
    const next = consumer();
    r.watch(next.c);
    next.emit(events.CONNECT);
    next.emit(events.GROUP_JOIN);
    expect(r.checks()).toMatchObject({ kafka: true });
  });

  it('ClickHouse: the last write decides while it is recent; a refused write is not outweighed by a ping', async () => {
    let up = true;
    const pings: number[] = [];
    const store = {
      client: {
        ping: () => {
          pings.push(Date.now());
          return Promise.resolve(up ? { success: true as const } : { success: false as const, error: new Error('connect ECONNREFUSED') });
        },
      },
    } as unknown as Parameters<IngestReadiness['startPinging']>[0];
    const r = new IngestReadiness({ staleMs: 300, pingMs: 40 });
    expect(r.clickhouseOk()).toBe(false); // nothing heard yet
    const stop = r.startPinging(store);
    try {
      await waitUntil('ping outcome', () => r.clickhouseOk());
      // An insert refused (disk full, too many parts) while /ping still answers.
      r.clickhouse(false);
      await sleep(120);
      expect(r.clickhouseOk()).toBe(false);
      r.clickhouse(true);
      expect(r.clickhouseOk()).toBe(true);
      // Busy with writes: no pings.
      const before = pings.length;
      for (let i = 0; i < 4; i++) {
        r.clickhouse(true);
        await sleep(20);
      }
      expect(pings.length).toBe(before);
      // Idle, and ClickHouse goes away: the pings notice.
      up = false;
      await waitUntil('ping outcome', () => !r.clickhouseOk());
      up = true;
      await waitUntil('ping outcome', () => r.clickhouseOk());
    } finally {
      stop();
    }
  });

  it('exposes both as gauges, computed at scrape time', async () => {
    const t = clock();
    const registry = new Registry();
    const r = new IngestReadiness({ now: t.now });
    r.register(registry);
    const { c, emit } = consumer();
    r.watch(c);
    expect(await registry.metrics()).toMatch(/gatelog_ingest_kafka_connected 0\n[\s\S]*gatelog_ingest_clickhouse_ok 0\n/);
    emit(events.CONNECT);
    emit(events.GROUP_JOIN);
    r.clickhouse(true);
    expect(await registry.metrics()).toMatch(/gatelog_ingest_kafka_connected 1\n[\s\S]*gatelog_ingest_clickhouse_ok 1\n/);
    t.advance(60_000);
    expect(await registry.metrics()).toMatch(/gatelog_ingest_kafka_connected 0\n[\s\S]*gatelog_ingest_clickhouse_ok 0\n/);
  });
});

const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));
