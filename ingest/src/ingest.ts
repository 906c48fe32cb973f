// createIngest(deps): the ingest service's one factory, composed by ingest/src/main.ts (Kafka)
// and by the embedded launcher (the local event log). Both sources feed the same pipeline
// (pipeline.ts) with the same batching from config.ingest (batch_rows, batch_ms), the same
// metrics and the same backoff; only where records come from and how progress is committed
// differ.
import { join } from 'node:path';
import type { ConsumerConfig, Kafka } from 'kafkajs';
import type { Registry } from 'prom-client';
import { ConfigError, type GatelogConfig, type LogTail, type Logger, type Store } from '@gatelog/core';
import { startLocalIngest } from './local-consumer.ts';
import { batchSettings, type RetrySettings } from './pipeline.ts';
import { BlockWriter } from './body-blocks.ts';
import type { ReadinessChecks } from './readiness.ts';
import { wholeBodyTeams } from '@gatelog/core/store/retention';

export type IngestSource =
  | {
      kind: 'local';
      /** The embedded data directory: events/, ingest.offset, dead-letter.jsonl. */
      dataDir: string;
      /** The event log writer's onAppend, to wake up instead of polling. */
      notify?: ((listener: () => void) => () => void) | undefined;
      /** The event log writer's in-memory tail, when the writer is in this process. */
      tail?: LogTail | null | undefined;
    }
  | {
      kind: 'kafka';
      kafka: Kafka;
      /** Overrides for the kafkajs consumer (session timeout). */
      consumer?: Partial<ConsumerConfig> | undefined;
    };

export interface IngestDeps {
  config: GatelogConfig;
  store: Store;
  logger: Logger;
  registry: Registry;
  source: IngestSource;
  retry?: Partial<RetrySettings> | undefined;
  /** How long stop() lets the batch in hand retry before leaving it uncommitted; default 10 s. */
  stopTimeoutMs?: number | undefined;
}

export interface Ingest {
  /** Finish (or give up, uncommitted) the batches in hand, commit, stop. */
  stop(): Promise<void>;
  /** False once the source cannot make progress on its own (a crashed Kafka consumer being rebuilt). */
  healthy(): boolean;
  /**
   * For /readyz, by dependency (false: down). Kafka: `kafka` (connected, in its group) and
   * `clickhouse` (took the last write, or the ping of an idle worker). The local event log
   * reports nothing: the embedded /readyz checks the store itself.
   */
  readiness(): ReadinessChecks;
  stats(): { rows: number };
}

export async function createIngest(d: IngestDeps): Promise<Ingest> {
  const { config, source } = d;
  const batch = batchSettings(config.ingest);
  // Teams with a body retention period of their own keep their bodies whole (retention.ts).
  const blocks = new BlockWriter({ wholeTeams: wholeBodyTeams(config.retention) });
  if (source.kind === 'local') {
    const local = startLocalIngest({
      logDir: join(source.dataDir, 'events'),
      offsetPath: join(source.dataDir, 'ingest.offset'),
      deadLetterPath: join(source.dataDir, 'dead-letter.jsonl'),
      store: d.store,
      logger: d.logger,
      registry: d.registry,
      batchRows: batch.maxRows,
      batchMs: batch.lingerMs,
      notify: source.notify,
      tail: source.tail,
      retry: d.retry,
      stopTimeoutMs: d.stopTimeoutMs,
      blocks,
    });
    return { stop: () => local.stop(), healthy: () => true, readiness: () => ({}), stats: () => ({ rows: local.stats().rows }) };
  }
  const bus = config.bus;
  if (bus.kind !== 'kafka') throw new ConfigError('bus.kind: Kafka ingest needs bus.kind "kafka"');
  // The Kafka client loads only for a Kafka source (the embedded mode reads its local log).
  const { startKafkaIngest } = await import('./kafka-consumer.ts');
  const kafka = await startKafkaIngest({
    kafka: source.kafka,
    topic: bus.topic,
    groupId: bus.group_id,
    deadLetterTopic: bus.dead_letter_topic,
    store: d.store,
    logger: d.logger,
    registry: d.registry,
    batch,
    retry: d.retry,
    consumer: source.consumer,
    stopTimeoutMs: d.stopTimeoutMs,
    blocks,
  });
  return { stop: () => kafka.stop(), healthy: () => kafka.healthy(), readiness: () => kafka.readiness(), stats: () => ({ rows: kafka.stats().rows }) };
}
