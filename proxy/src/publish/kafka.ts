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
import { setTimeout as sleep } from 'node:timers/promises';
import type { Registry } from 'prom-client';
import { createWaker, type KafkaCompression, type LlmCallEvent, type Logger } from '@gatelog/core';
import { createPublishMetrics, type PublishMetrics } from './metrics.ts';
import { createEventProducer, type EventProducer } from './producer.ts';
import { Spool, type SpoolOutcome } from './spool.ts';

export { recordMeta, SCHEMA_VERSION_HEADER } from './producer.ts';

export interface KafkaPublisherDeps {
  /** Bootstrap brokers, host:port. */
  brokers: readonly string[];
  clientId?: string;
  /** One Kafka request's deadline (bus.request_timeout_ms). */
  requestTimeoutMs: number;
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
  /** Retries inside one send; kept small so failures reach our own loop quickly. */
  producerRetry?: { retries: number; delayMs: number };
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

function publisherError(code: string, message: string): Error & { code: string } {
  return Object.assign(new Error(message), { code });
}

/**
 * A short, bounded label for a failed send: the Kafka error name (NOT_LEADER_OR_FOLLOWER…) or the
 * socket's (ECONNREFUSED…) where the client wraps one, else the client's own code.
 */
export function errorCode(err: unknown, depth = 0): string {
  const e = (err ?? {}) as { errors?: unknown; cause?: unknown; apiId?: unknown; code?: unknown; name?: unknown };
  if (depth < 4) {
    if (typeof e.apiId === 'string') return e.apiId;
    if (Array.isArray(e.errors) && e.errors.length > 0) return errorCode(e.errors[0], depth + 1);
    const cause = e.cause as { code?: unknown } | undefined;
    if (cause && typeof cause === 'object' && (typeof cause.code === 'string' || 'errors' in cause || 'cause' in cause)) return errorCode(cause, depth + 1);
  }
  if (typeof e.code === 'string') return e.code;
  return typeof e.name === 'string' ? e.name : 'UNKNOWN';
}

export function createKafkaPublisher(deps: KafkaPublisherDeps): KafkaPublisher {
  const { logger } = deps;
  const spool = new Spool({ dir: deps.spoolDir, maxBytes: deps.spoolMaxBytes, logger, ...(deps.spoolFsyncMs !== undefined ? { fsyncMs: deps.spoolFsyncMs } : {}) });
  const baseMs = deps.backoff?.baseMs ?? 100;
  const maxMs = deps.backoff?.maxMs ?? 5000;
  let producer: EventProducer | undefined;
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
    p?.close().catch(() => {});
  };

  const send = async (records: Buffer[]): Promise<void> => {
    producer ??= createEventProducer({
      brokers: deps.brokers,
      clientId: deps.clientId ?? 'gatelog-proxy',
      topic: deps.topic,
      compression: deps.compression ?? 'zstd',
      requestTimeoutMs: deps.requestTimeoutMs,
      retries: deps.producerRetry?.retries ?? 2,
      retryDelayMs: deps.producerRetry?.delayMs ?? 100,
    });
    const p = producer;
    let timer: NodeJS.Timeout | undefined;
    const timeout = new Promise<never>((_resolve, reject) => {
      timer = setTimeout(() => reject(publisherError('GATELOG_ERR_KAFKA_TIMEOUT', `Kafka did not acknowledge within ${deps.sendTimeoutMs} ms`)), deps.sendTimeoutMs);
    });
    try {
      await Promise.race([p.send(records), timeout]);
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
      await send(r.records);
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
