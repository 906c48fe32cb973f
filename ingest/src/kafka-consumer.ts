// Distributed-mode ingest: a Kafka consumer group writing batches into ClickHouse.
//
// Contract per batch (one partition): validate every message (invalid → dead-letter topic with
// the reason), insert the valid ones with a batch-derived insert_deduplication_token and
// async_insert=0 (rows ClickHouse rejects → dead-letter topic), and only then commit the
// offset past the batch. ClickHouse down → the batch is retried with backoff while the worker
// keeps heartbeating (the partition is effectively paused); nothing is committed past an
// unwritten batch. A worker dying between insert and commit makes the next owner insert the
// same batch again: same bytes, same token (deduplicated by a Replicated table), and
// llm_calls is a ReplacingMergeTree read with FINAL, so readers never see the duplicate.
import { crc32 } from 'node:zlib';
import { setTimeout as sleep } from 'node:timers/promises';
import type { Consumer, ConsumerConfig, EachBatchPayload, Kafka, KafkaMessage, Producer } from 'kafkajs';
import type { Registry } from 'prom-client';
import type { Logger, Store } from '@gatelog/core';
import { insertIsolating, type InsertErrorInfo } from './insert-batch.ts';
import { createKafkaIngestMetrics } from './kafka-metrics.ts';
import { validateMessage } from './kafka-validate.ts';

export const DLQ_REASON_HEADER = 'gatelog-dlq-reason';
export const DLQ_SOURCE_HEADER = 'gatelog-dlq-source';

export interface KafkaIngestDeps {
  kafka: Kafka;
  topic: string;
  groupId: string;
  deadLetterTopic: string;
  store: Store;
  logger: Logger;
  registry: Registry;
  /** Insert retry backoff (capped exponential); default 200 ms doubling to 10 s. */
  retry?: { baseMs?: number; maxMs?: number };
  /** Overrides for the kafkajs consumer (timeouts in tests). */
  consumer?: Partial<ConsumerConfig>;
  /** How long stop() lets the batch in hand retry before giving it up uncommitted; default 10 s. */
  stopTimeoutMs?: number;
  /** Test seam: runs after a batch is written and before its offset is committed. */
  beforeCommit?: (info: { partition: number; firstOffset: string; lastOffset: string }) => Promise<void> | void;
}

export interface KafkaIngest {
  /** Finish (or give up) the batch in hand, commit it, leave the group. */
  stop(): Promise<void>;
  healthy(): boolean;
  stats(): { rows: number; deadLetters: number; batches: number };
}

interface DeadLetterMessage {
  message: KafkaMessage;
  reason: { code: string; message: string };
}

function ingestError(code: string, message: string): Error & { code: string } {
  return Object.assign(new Error(message), { code });
}

export async function startKafkaIngest(deps: KafkaIngestDeps): Promise<KafkaIngest> {
  const { logger, store } = deps;
  const metrics = createKafkaIngestMetrics(deps.registry);
  const baseMs = deps.retry?.baseMs ?? 200;
  const maxMs = deps.retry?.maxMs ?? 10_000;
  const halt = new AbortController();
  let stopDeadline = Infinity;
  let crashed = false;
  const totals = { rows: 0, deadLetters: 0, batches: 0 };

  const dlq: Producer = deps.kafka.producer({ allowAutoTopicCreation: true, idempotent: true, maxInFlightRequests: 1 });
  let consumer: Consumer;
  let stopRequested = false;
  let restarts = 0;

  const sendDeadLetters = async (batch: EachBatchPayload['batch'], letters: DeadLetterMessage[]): Promise<void> => {
    if (letters.length === 0) return;
    await dlq.send({
      topic: deps.deadLetterTopic,
      acks: -1,
      messages: letters.map((l) => ({
        key: l.message.key,
        value: l.message.value,
        headers: {
          [DLQ_REASON_HEADER]: JSON.stringify(l.reason),
          [DLQ_SOURCE_HEADER]: `${batch.topic}/${batch.partition}/${l.message.offset}`,
        },
      })),
    });
    for (const l of letters) metrics.deadLetters.inc({ code: l.reason.code });
    totals.deadLetters += letters.length;
    logger.error({ count: letters.length, codes: [...new Set(letters.map((l) => l.reason.code))], topic: deps.deadLetterTopic }, 'ingest: messages sent to the dead-letter topic');
  };

  /** Validate, insert and dead-letter one batch; throws only on a transient failure. */
  const writeBatch = async (batch: EachBatchPayload['batch']): Promise<void> => {
    const valid: Buffer[] = [];
    const validMsgs: KafkaMessage[] = [];
    const dead: DeadLetterMessage[] = [];
    for (const m of batch.messages) {
      const v = validateMessage(m.value, m.headers);
      if (v.ok) {
        valid.push(m.value!);
        validMsgs.push(m);
      } else dead.push({ message: m, reason: v.reason });
    }
    const base = `${batch.topic}-${batch.partition}-${batch.firstOffset()}-${batch.lastOffset()}`;
    const insert = async (rows: Buffer): Promise<void> => {
      const end = metrics.insertSeconds.startTimer();
      try {
        // Derived from the bytes too: a bisected part must not share a token with its batch.
        await store.insertRaw('llm_calls', rows, { insert_deduplication_token: `${base}-${rows.length}-${crc32(rows)}`, async_insert: 0 });
      } finally {
        end();
      }
    };
    const onError = (info: InsertErrorInfo): void => {
      metrics.insertErrors.inc({ kind: info.data ? 'data' : 'transient' });
    };
    const res = await insertIsolating(valid, insert, onError);
    for (const d of res.dead) {
      const idx = valid.indexOf(d.record);
      const message = validMsgs[idx];
      if (message) dead.push({ message, reason: { code: `CLICKHOUSE_${d.reason.type || d.reason.code}`, message: d.reason.message.slice(0, 500) } });
    }
    await sendDeadLetters(batch, dead);
    metrics.rows.inc(res.inserted);
    totals.rows += res.inserted;
  };

  const eachBatch = async (payload: EachBatchPayload): Promise<void> => {
    const { batch, heartbeat, isRunning, isStale, resolveOffset } = payload;
    if (batch.isEmpty()) return;
    metrics.lag.set({ topic: batch.topic, partition: String(batch.partition) }, Number(batch.offsetLag()));
    for (let attempt = 0; ; attempt++) {
      try {
        await writeBatch(batch);
        break;
      } catch (err) {
        const e = err as { code?: unknown; message?: unknown };
        const delay = Math.min(maxMs, baseMs * 2 ** Math.min(attempt, 20));
        logger.warn({ code: e.code, error: String(e.message), attempt: attempt + 1, partition: batch.partition, rows: batch.messages.length, retry_in_ms: delay }, 'ingest: batch write failed; keeping it uncommitted and retrying');
        if (Date.now() + delay > stopDeadline || isStale()) {
          throw ingestError('GATELOG_INGEST_BATCH_ABANDONED', 'batch not written; left uncommitted for the next owner of the partition');
        }
        await sleep(delay, undefined, { ref: false, signal: halt.signal }).catch(() => {});
        await heartbeat().catch(() => {});
        if (!isRunning() && Date.now() > stopDeadline) throw ingestError('GATELOG_INGEST_STOPPED', 'stopped with the batch unwritten');
      }
    }
    const lastOffset = batch.lastOffset();
    await deps.beforeCommit?.({ partition: batch.partition, firstOffset: batch.firstOffset() ?? '', lastOffset });
    resolveOffset(lastOffset);
    const next = (BigInt(lastOffset) + 1n).toString();
    if (isRunning()) {
      await consumer.commitOffsets([{ topic: batch.topic, partition: batch.partition, offset: next }]);
    } else {
      // Shutting down: consumer.commitOffsets silently does nothing once the consumer stops
      // running; the batch's own commit still goes through (a failure only means a replay).
      await payload.commitOffsetsIfNecessary({ topics: [{ topic: batch.topic, partitions: [{ partition: batch.partition, offset: next }] }] });
    }
    metrics.batches.inc();
    metrics.batchRows.observe(batch.messages.length);
    totals.batches++;
  };

  /**
   * kafkajs gives up on a consumer after a non-retriable error (e.g. the coordinator forgot the
   * member after a broker restart); the worker then builds a new one and rejoins the group
   * rather than sitting idle. Uncommitted batches are simply fetched again.
   */
  const runConsumer = async (): Promise<void> => {
    const c = deps.kafka.consumer({ groupId: deps.groupId, allowAutoTopicCreation: true, ...deps.consumer });
    consumer = c;
    c.on(c.events.CRASH, (e) => {
      logger.error({ error: String(e.payload.error), restart: e.payload.restart }, 'kafka consumer crashed');
      if (!e.payload.restart && !stopRequested) {
        crashed = true;
        void restart(c);
      }
    });
    await c.connect();
    await c.subscribe({ topics: [deps.topic], fromBeginning: true });
    await c.run({ autoCommit: false, eachBatchAutoResolve: false, partitionsConsumedConcurrently: 1, eachBatch });
  };
  const restart = async (old: Consumer): Promise<void> => {
    await old.disconnect().catch(() => {});
    while (!stopRequested) {
      const delay = Math.min(maxMs, baseMs * 2 ** Math.min(restarts++, 20));
      await sleep(delay, undefined, { ref: false, signal: halt.signal }).catch(() => {});
      if (stopRequested) return;
      try {
        await runConsumer();
        crashed = false;
        restarts = 0;
        logger.info('kafka consumer restarted');
        return;
      } catch (err) {
        logger.warn({ error: String((err as Error).message) }, 'kafka consumer restart failed; retrying');
      }
    }
  };

  await dlq.connect();
  await runConsumer();

  let stopping: Promise<void> | undefined;
  return {
    stop() {
      stopping ??= (async () => {
        stopRequested = true;
        stopDeadline = Date.now() + (deps.stopTimeoutMs ?? 10_000);
        // kafkajs' stop waits for the batch in hand; the deadline bounds its retries.
        const timer = setTimeout(() => halt.abort(), deps.stopTimeoutMs ?? 10_000);
        try {
          await consumer.disconnect();
        } finally {
          clearTimeout(timer);
          await dlq.disconnect().catch(() => {});
        }
      })();
      return stopping;
    },
    healthy: () => !crashed,
    stats: () => ({ ...totals }),
  };
}
