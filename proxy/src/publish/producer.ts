// The Kafka producer behind the publisher's relay: one idempotent producer (acks -1) that sends a
// batch of spool records to the events topic and resolves once Kafka acknowledged all of them.
//
// It is @platformatic/kafka's Producer rather than kafkajs': kafkajs (even patched) copies
// records into its encoders and again into the batch and computes CRC-32C in JS, ~44 µs of CPU
// per 2.3 KB event with ZSTD and ~30 without at batches of 100; platformatic's batch is a chain
// of the records' own buffers and CRC-32C is WASM: ~19 and ~9 µs (BENCHMARKS.md, "Eighth
// round"). It compresses synchronously on the calling thread, which is why it runs on the relay
// thread (relay-worker.ts), never on the event loop. Ingest keeps kafkajs for its consumer
// group; both speak the same Kafka wire format, and the topic is the contract between them.
import { Producer, type MessageToProduce } from '@platformatic/kafka';
import type { KafkaCompression } from '@gatelog/core';
import { keyPartitioner } from './partition.ts';
import { recordMeta, SCHEMA_VERSION_HEADER } from './record-meta.ts';

export interface EventProducerOptions {
  brokers: readonly string[];
  clientId: string;
  topic: string;
  compression: KafkaCompression;
  /** One request's deadline (metadata, produce); kept well under the relay's send timeout. */
  requestTimeoutMs: number;
  connectTimeoutMs?: number;
  /** Retries inside one send; kept small so failures reach the relay's own loop quickly. */
  retries: number;
  retryDelayMs: number;
}

export interface EventProducer {
  /** Sends the records as one batch per partition; resolves once every one is acknowledged. */
  send(records: readonly Buffer[]): Promise<void>;
  close(): Promise<void>;
}

type Message = MessageToProduce<Buffer, Buffer, Buffer, Buffer>;

const HEADER_KEY = Buffer.from(SCHEMA_VERSION_HEADER);
const COMPRESSION = { none: 'none', gzip: 'gzip', zstd: 'zstd' } as const;

/** One header map per schema version: the records of a batch share it. */
const headersByVersion = new Map<string, Map<Buffer, Buffer>>();
function headersFor(version: string): Map<Buffer, Buffer> {
  let headers = headersByVersion.get(version);
  if (!headers) {
    headers = new Map([[HEADER_KEY, Buffer.from(version)]]);
    if (headersByVersion.size < 64) headersByVersion.set(version, headers);
  }
  return headers;
}

export function toMessage(topic: string, record: Buffer): Message {
  const { key, version } = recordMeta(record);
  const headers = headersFor(version);
  return key ? { topic, key, value: record, headers } : { topic, value: record, headers };
}

export function createEventProducer(o: EventProducerOptions): EventProducer {
  const producer = new Producer<Buffer, Buffer, Buffer, Buffer>({
    clientId: o.clientId,
    bootstrapBrokers: [...o.brokers],
    idempotent: true,
    acks: -1,
    compression: COMPRESSION[o.compression],
    autocreateTopics: true,
    partitioner: keyPartitioner(),
    timeout: o.requestTimeoutMs,
    connectTimeout: o.connectTimeoutMs ?? 3000,
    retries: o.retries,
    retryDelay: o.retryDelayMs,
  });
  return {
    async send(records) {
      const messages = new Array<Message>(records.length);
      for (let i = 0; i < records.length; i++) messages[i] = toMessage(o.topic, records[i]!);
      await producer.send({ messages });
    },
    close: () => producer.close(),
  };
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

const TOO_LARGE = new Set(['MESSAGE_TOO_LARGE', 'RECORD_LIST_TOO_LARGE']);

/** Kafka refused (part of) the send as too large: sending it again as it is cannot succeed. */
export function isTooLarge(err: unknown, depth = 0): boolean {
  const e = (err ?? {}) as { errors?: unknown; cause?: unknown; apiId?: unknown };
  if (typeof e.apiId === 'string' && TOO_LARGE.has(e.apiId)) return true;
  if (depth >= 4) return false;
  if (Array.isArray(e.errors) && e.errors.some((x) => isTooLarge(x, depth + 1))) return true;
  return e.cause !== undefined && isTooLarge(e.cause, depth + 1);
}
