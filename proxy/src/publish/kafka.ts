// Kafka publisher for distributed mode. `publish(event)` is synchronous and never throws: the
// event is appended to the on-disk spool (spool.ts) before the call's response ends, and a relay
// on a thread of its own (relay-worker.ts) ships the spool to Kafka in order, one batch at a
// time, committing the spool offset only after Kafka acknowledged the batch (idempotent
// producer, acks -1, ZSTD unless bus.compression says otherwise, key = request id so one call's
// retries land in one partition). Kafka down, slow or refusing only makes the spool grow;
// nothing on the event loop waits on it, and building, compressing and sending batches does not
// take the event loop's time.
//
// A batch that failed (or timed out) is sent again from the spool by a fresh producer, so Kafka
// may hold a record twice after a fault; ingest removes duplicates by request id
// (ReplacingMergeTree + insert_deduplication_token), which is what makes at-least-once safe.
import { setTimeout as sleep } from 'node:timers/promises';
import type { Registry } from 'prom-client';
import { Worker } from 'node:worker_threads';
import { BUS_BATCH_BYTES, type KafkaCompression, type LlmCallEvent, type Logger } from '@gatelog/core';
import { createPublishMetrics, type PublishMetrics } from './metrics.ts';
import { APPENDED, reached, SLOTS, STOPPING, WAITING, WAKE_AT, type RelayMessage, type RelayWorkerData } from './relay-shared.ts';
import { Spool, type SpoolOutcome } from './spool.ts';

export { recordMeta, SCHEMA_VERSION_HEADER } from './record-meta.ts';

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
  /** A batch leaves at this many bytes of events (before compression); default bus.batch_bytes' (4 MiB). */
  batchBytes?: number;
  /** Upper bound on one send, acks included; past it the batch is retried by a new producer. */
  sendTimeoutMs: number;
  logger: Logger;
  registry: Registry;
  /** Backoff between failed sends (capped exponential); default 100 ms doubling to 5 s. */
  backoff?: { baseMs?: number; maxMs?: number };
  /** Retries inside one send; kept small so failures reach our own loop quickly. */
  producerRetry?: { retries: number; delayMs: number };
  spoolFsyncMs?: number;
  /** How many nice levels the relay thread runs below the event loop; default 5. */
  relayNice?: number;
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

/** Restarts of a relay thread that died, at most this often. */
const RELAY_RESTART_MS = 1000;

function publisherError(code: string, message: string): Error & { code: string } {
  return Object.assign(new Error(message), { code });
}

export function createKafkaPublisher(deps: KafkaPublisherDeps): KafkaPublisher {
  const { logger } = deps;
  const spool = new Spool({ dir: deps.spoolDir, maxBytes: deps.spoolMaxBytes, logger, ...(deps.spoolFsyncMs !== undefined ? { fsyncMs: deps.spoolFsyncMs } : {}) });
  const shared = new SharedArrayBuffer(SLOTS * Int32Array.BYTES_PER_ELEMENT);
  const slots = new Int32Array(shared);
  let producerUp = false;
  let failures = 0;
  let closing: Promise<void> | undefined;

  const metrics: PublishMetrics = createPublishMetrics(deps.registry, {
    lagBytes: () => spool.lagBytes,
    producerUp: () => producerUp,
    spoolFull: () => spool.full,
  });

  // Two atomics per appended record; a futex wake only when the relay sleeps and asked for it.
  const unsubscribe = spool.writer.onAppend(() => {
    const appended = Atomics.add(slots, APPENDED, 1) + 1;
    if (Atomics.load(slots, WAITING) === 1 && reached(appended, Atomics.load(slots, WAKE_AT))) {
      Atomics.store(slots, WAITING, 0);
      Atomics.notify(slots, APPENDED);
    }
  });

  const workerData: RelayWorkerData = {
    spoolDir: deps.spoolDir,
    brokers: [...deps.brokers],
    clientId: deps.clientId ?? 'gatelog-proxy',
    topic: deps.topic,
    compression: deps.compression ?? 'zstd',
    requestTimeoutMs: deps.requestTimeoutMs,
    sendTimeoutMs: deps.sendTimeoutMs,
    batchMs: deps.batchMs,
    batchRecords: deps.batchRecords,
    batchBytes: deps.batchBytes ?? BUS_BATCH_BYTES,
    backoff: { baseMs: deps.backoff?.baseMs ?? 100, maxMs: deps.backoff?.maxMs ?? 5000 },
    producerRetry: deps.producerRetry ?? { retries: 2, delayMs: 100 },
    nice: deps.relayNice ?? 5,
    shared,
  };

  const onMessage = (m: RelayMessage): void => {
    switch (m.t) {
      case 'committed':
        spool.acknowledged(m.offset);
        metrics.produced.inc(m.records);
        if (!producerUp && failures > 0) logger.info({ lag_bytes: spool.lagBytes }, 'kafka: produce recovered; replaying the spool');
        producerUp = true;
        failures = 0;
        return;
      case 'failed':
        metrics.produceErrors.inc({ code: m.code });
        if (producerUp || failures === 0) logger.warn({ code: m.code, error: m.message, lag_bytes: spool.lagBytes }, 'kafka: produce failed; events stay in the spool and are retried');
        producerUp = false;
        failures++;
        return;
      case 'oversized':
        metrics.tooLarge.inc({ outcome: m.outcome });
        logger.error(
          { request_id: m.requestId, bytes: m.bytes, outcome: m.outcome, code: 'GATELOG_ERR_KAFKA_RECORD_TOO_LARGE' },
          m.outcome === 'stripped'
            ? "Kafka refused the call's event as too large: recorded without its bodies (raise the topic's max.message.bytes)"
            : "Kafka refused the call's event as too large even without its bodies: event dropped",
        );
        return;
      case 'log':
        logger[m.level]({ ...m.fields, lag_bytes: spool.lagBytes }, m.msg);
        return;
    }
  };

  let worker: Worker;
  let exited: Promise<void>;
  let lastStart = 0;
  const startRelay = (): void => {
    if (closing) return;
    lastStart = Date.now();
    const w = new Worker(new URL('./relay-worker.ts', import.meta.url), { workerData, name: 'gatelog-spool-relay' });
    w.on('message', onMessage);
    w.on('error', (err) => logger.error({ err }, 'kafka relay thread failed'));
    exited = new Promise((resolve) => w.once('exit', () => resolve()));
    w.once('exit', (code) => {
      if (closing || w !== worker) return;
      // Events stay in the spool; a new relay resumes from the committed offset.
      logger.error({ code, lag_bytes: spool.lagBytes }, 'kafka relay thread exited; restarting it');
      const t = setTimeout(startRelay, Math.max(0, RELAY_RESTART_MS - (Date.now() - lastStart)));
      t.unref();
    });
    // The relay never keeps the process alive on its own: shutdown goes through close().
    w.unref();
    worker = w;
  };
  startRelay();

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
      await sleep(10);
    }
  };

  const close = (drainMs = 5000): Promise<void> => {
    closing ??= (async () => {
      // No more lingering: what is in the spool goes out now.
      Atomics.store(slots, STOPPING, 1);
      worker.postMessage({ t: 'wake' });
      await flush(drainMs).catch((err: unknown) => logger.warn({ err, lag_bytes: spool.lagBytes }, 'kafka: spool not drained before shutdown; it is replayed on the next start'));
      worker.postMessage({ t: 'stop' });
      // A send stuck on a stalled broker is abandoned after a grace period.
      const grace = setTimeout(() => void worker.terminate(), Math.max(1000, deps.sendTimeoutMs));
      await exited;
      clearTimeout(grace);
      unsubscribe();
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
