// Kafka publisher for distributed mode. `publish(event)` is synchronous and never throws: the
// event is appended to the on-disk spool (spool.ts) and a relay ships the spool to Kafka in
// order, one batch at a time (from the spool's in-memory tail while it keeps up, from disk
// after a restart or a long outage), committing the spool offset only after Kafka acknowledged the
// batch (idempotent producer, acks -1, ZSTD unless bus.compression says otherwise, key =
// request id so one call's retries land in one partition). Kafka down, slow or refusing only
// makes the spool grow; nothing waits on it.
//
// A batch that failed (or timed out) is sent again from the spool by a fresh producer, so Kafka
// may hold a record twice after a fault; ingest removes duplicates by request id
// (ReplacingMergeTree + insert_deduplication_token), which is what makes at-least-once safe.
// kafkajs is CommonJS and Node's named-export detection stops before CompressionCodecs: default import.
import kafkajs, { type Kafka, type Message, type Producer, type RetryOptions } from 'kafkajs';
import { setTimeout as sleep } from 'node:timers/promises';
import type { Registry } from 'prom-client';
import { createWaker, KAFKA_CODEC_ID, registerKafkaCodecs, type KafkaCompression, type LlmCallEvent, type Logger } from '@gatelog/core';
import { createPublishMetrics, type PublishMetrics } from './metrics.ts';
import { keyPartitioner } from './partition.ts';
import { Spool, type SpoolOutcome } from './spool.ts';

export const SCHEMA_VERSION_HEADER = 'gatelog-schema-version';

export interface KafkaPublisherDeps {
  kafka: Kafka;
  topic: string;
  /** Record batch compression (bus.compression); default zstd. */
  compression?: KafkaCompression;
  /** Directory of the spool (`<dataDir>/spool`). */
  spoolDir: string;
  spoolMaxBytes: number;
  batchMs: number;
  batchRecords: number;
  /** Upper bound on one send, acks included; past it the batch is retried by a new producer. */
  sendTimeoutMs: number;
  logger: Logger;
  registry: Registry;
  /** Backoff between failed sends (capped exponential); default 100 ms doubling to 5 s. */
  backoff?: { baseMs?: number; maxMs?: number };
  /** kafkajs retries inside one send; kept small so failures reach our own loop quickly. */
  producerRetry?: RetryOptions;
  spoolFsyncMs?: number;
}

export interface KafkaPublisher {
  publish(event: LlmCallEvent): void;
  /** publish with the other events of this turn in one spool write; `written` once it is in the spool. */
  publishBatched(event: LlmCallEvent, written: () => void): void;
  /** For /readyz: false only when events can no longer be recorded in full. */
  readiness(): Record<string, boolean>;
  /** Resolves once everything published before the call is acknowledged by Kafka. */
  flush(timeoutMs: number): Promise<void>;
  stats(): { committed: number; lagBytes: number; producerUp: boolean };
  /** Try to drain the spool for up to drainMs, then stop; the rest is replayed on next start. */
  close(drainMs?: number): Promise<void>;
}

const IDLE_MS = 1000;
const HEAD = 512;
const ID_FIELD = Buffer.from('"request_id":"');
const VERSION_FIELD = Buffer.from('"schema_version":');

function publisherError(code: string, message: string): Error & { code: string } {
  return Object.assign(new Error(message), { code });
}

/**
 * Key and header from the record's first bytes: the relay never re-parses whole bodies. The key
 * is a view of the request id's bytes in the record (no string per record).
 */
export function toMessage(record: Buffer): Message {
  const head = record.length > HEAD ? record.subarray(0, HEAD) : record;
  const at = head.indexOf(ID_FIELD);
  let key: Buffer | null = null;
  if (at >= 0) {
    const from = at + ID_FIELD.length;
    const to = head.indexOf(0x22 /* " */, from);
    if (to > from && to - from <= 64) key = record.subarray(from, to);
  }
  return { key, value: record, headers: { [SCHEMA_VERSION_HEADER]: versionOf(head) } };
}

function versionOf(head: Buffer): string {
  const at = head.indexOf(VERSION_FIELD);
  if (at < 0) return '0';
  const from = at + VERSION_FIELD.length;
  let to = from;
  while (to < head.length && to - from < 6 && head[to]! >= 0x30 && head[to]! <= 0x39) to++;
  return to > from ? head.toString('latin1', from, to) : '0';
}

function errorCode(err: unknown): string {
  const e = err as { type?: unknown; name?: unknown; code?: unknown };
  if (typeof e.type === 'string') return e.type;
  if (typeof e.code === 'string') return e.code;
  return typeof e.name === 'string' ? e.name : 'UNKNOWN';
}

export function createKafkaPublisher(deps: KafkaPublisherDeps): KafkaPublisher {
  const { logger } = deps;
  registerKafkaCodecs(kafkajs.CompressionCodecs);
  const compression = KAFKA_CODEC_ID[deps.compression ?? 'zstd'];
  const spool = new Spool({ dir: deps.spoolDir, maxBytes: deps.spoolMaxBytes, logger, ...(deps.spoolFsyncMs !== undefined ? { fsyncMs: deps.spoolFsyncMs } : {}) });
  const baseMs = deps.backoff?.baseMs ?? 100;
  const maxMs = deps.backoff?.maxMs ?? 5000;
  let producer: Producer | undefined;
  let producerUp = false;
  let stopping = false;
  let failures = 0;
  let pendingSince = 0;
  const halt = new AbortController();
  const waker = createWaker();

  const metrics: PublishMetrics = createPublishMetrics(deps.registry, {
    lagBytes: () => spool.lagBytes,
    producerUp: () => producerUp,
    spoolFull: () => spool.full,
  });

  const wake = (): void => waker.wake();
  const wait = (ms: number): Promise<void> => waker.wait(ms);
  /** A partial batch is lingering: appends wake the relay only once they fill the batch. */
  let lingering = false;
  const unsubscribe = spool.writer.onAppend(() => {
    if (!lingering || spool.tailRecords(spool.committed) >= deps.batchRecords) wake();
  });

  const dropProducer = (): void => {
    const p = producer;
    producer = undefined;
    // A producer that failed may be mid-retry: let it go in the background.
    p?.disconnect().catch(() => {});
  };

  const send = async (messages: Message[]): Promise<void> => {
    if (!producer) {
      const p = deps.kafka.producer({
        createPartitioner: keyPartitioner,
        idempotent: true,
        maxInFlightRequests: 1,
        allowAutoTopicCreation: true,
        retry: deps.producerRetry ?? { retries: 2, initialRetryTime: 100, maxRetryTime: 1000 },
      });
      producer = p;
      await p.connect();
    }
    const p = producer;
    let timer: NodeJS.Timeout | undefined;
    const timeout = new Promise<never>((_resolve, reject) => {
      timer = setTimeout(() => reject(publisherError('GATELOG_ERR_KAFKA_TIMEOUT', `Kafka did not acknowledge within ${deps.sendTimeoutMs} ms`)), deps.sendTimeoutMs);
    });
    try {
      await Promise.race([p.send({ topic: deps.topic, acks: -1, compression, messages }), timeout]);
    } finally {
      clearTimeout(timer);
    }
  };

  /** One step of the relay; returns whether there may be more to send right away. */
  const step = async (): Promise<boolean> => {
    const from = spool.committed;
    const r = spool.read(from, deps.batchRecords);
    if (r.skippedBytes > 0) logger.error({ bytes: r.skippedBytes, offset: from }, 'spool: skipped bytes that failed their checksum');
    if (r.records.length === 0) {
      if (r.next !== from) await spool.commit(r.next);
      pendingSince = 0;
      return false;
    }
    const now = Date.now();
    if (pendingSince === 0) pendingSince = now;
    // Our own linger (kafkajs has none): a partial batch waits up to batchMs for company.
    if (r.records.length < deps.batchRecords && now - pendingSince < deps.batchMs && !stopping) {
      lingering = true;
      try {
        await wait(deps.batchMs - (now - pendingSince));
      } finally {
        lingering = false;
      }
      return true;
    }
    try {
      await send(r.records.map(toMessage));
    } catch (err) {
      const code = errorCode(err);
      metrics.produceErrors.inc({ code });
      dropProducer();
      if (producerUp || failures === 0) logger.warn({ code, error: String((err as Error).message), lag_bytes: spool.lagBytes }, 'kafka: produce failed; events stay in the spool and are retried');
      producerUp = false;
      const delay = Math.min(maxMs, baseMs * 2 ** Math.min(failures++, 20));
      await sleep(delay, undefined, { signal: halt.signal, ref: false }).catch(() => {});
      return true;
    }
    await spool.commit(r.next);
    metrics.produced.inc(r.records.length);
    if (!producerUp && failures > 0) logger.info({ lag_bytes: spool.lagBytes }, 'kafka: produce recovered; replaying the spool');
    producerUp = true;
    failures = 0;
    pendingSince = 0;
    return true;
  };

  const loop = async (): Promise<void> => {
    while (!halt.signal.aborted) {
      let more: boolean;
      try {
        more = await step();
      } catch (err) {
        logger.error({ err }, 'kafka relay: spool read or commit failed; retrying');
        more = false;
      }
      if (!more && !halt.signal.aborted) await wait(IDLE_MS);
    }
  };
  const running = loop();

  const counted = (outcome: SpoolOutcome): void => {
    if (outcome === 'dropped') metrics.dropped.inc();
    else {
      metrics.spooled.inc();
      if (outcome === 'stripped') metrics.stripped.inc();
    }
  };
  const publish = (event: LlmCallEvent): void => counted(spool.append(event));
  const publishBatched = (event: LlmCallEvent, written: () => void): void =>
    spool.appendBatched(event, (outcome) => {
      counted(outcome);
      written();
    });

  const flush = async (timeoutMs: number): Promise<void> => {
    const target = spool.writer.endOffset;
    const deadline = Date.now() + timeoutMs;
    while (spool.committed < target) {
      if (Date.now() > deadline) throw publisherError('GATELOG_ERR_KAFKA_FLUSH_TIMEOUT', `spool not drained within ${timeoutMs} ms (${spool.lagBytes} bytes left)`);
      wake();
      await sleep(10);
    }
  };

  let closing: Promise<void> | undefined;
  const close = (drainMs = 5000): Promise<void> => {
    closing ??= (async () => {
      stopping = true;
      await flush(drainMs).catch((err: unknown) => logger.warn({ err, lag_bytes: spool.lagBytes }, 'kafka: spool not drained before shutdown; it is replayed on the next start'));
      halt.abort();
      wake();
      await running;
      unsubscribe();
      dropProducer();
      spool.close();
    })();
    return closing;
  };

  return {
    publish,
    publishBatched,
    readiness: () => ({ event_spool: !spool.full }),
    flush,
    stats: () => ({ committed: spool.committed, lagBytes: spool.lagBytes, producerUp }),
    close,
  };
}
