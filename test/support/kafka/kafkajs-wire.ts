// Test fixture only (docker-compose runs the real Kafka in production): kafkajs's own wire
// encoders/decoders (CommonJS internals, untyped) behind small typed wrappers, so fixture
// tests check our decoding against bytes kafkajs really produces rather than against our
// own encoder, and can hand-craft requests kafkajs would never send (a corrupted batch).
// Also a raw socket exchange for those hand-built requests.
import { createRequire } from 'node:module';
import { connect } from 'node:net';
import { registerKafkaCodecs, type KafkaCodecTable } from '@gatelog/core';
import { crc32c } from './crc32c.ts';

const require = createRequire(import.meta.url);

export interface WireMessage {
  key?: string | Buffer | null;
  value: string | Buffer | null;
  headers?: Record<string, string | Buffer>;
  timestamp?: number;
}

interface KafkajsEncoder {
  readonly buffer: Buffer;
}

interface KafkajsRequest {
  encode(): Promise<KafkajsEncoder>;
}

type ProduceRequestFactory = (args: {
  acks: number;
  timeout: number;
  compression: number;
  topicData: { topic: string; partitions: { partition: number; firstSequence?: number; messages: WireMessage[] }[] }[];
}) => KafkajsRequest & { apiKey: number; apiVersion: number };

interface ProduceResponse {
  topics: { topicName: string; partitions: { partition: number; errorCode: number; baseOffset: string }[] }[];
}

type RecordFactory = (args: { offsetDelta: number; timestampDelta?: number; key?: WireMessage['key']; value: WireMessage['value']; headers?: WireMessage['headers'] }) => KafkajsEncoder;
type RecordBatchFactory = (args: { compression: number; records: KafkajsEncoder[]; lastOffsetDelta: number; firstTimestamp?: number; maxTimestamp?: number }) => Promise<KafkajsEncoder>;

export const COMPRESSION = { None: 0, GZIP: 1, ZSTD: 4 } as const;
/** Record batch v2 layout: magic, the CRC field, where the checksummed region starts, the records. */
const BATCH_MAGIC = 16;
const BATCH_CRC = 17;
const BATCH_CRC_START = 21;
const BATCH_PAYLOAD = 61;

const produceV7 = require('kafkajs/src/protocol/requests/produce/v7/request.js') as ProduceRequestFactory;
const produceV7Response = require('kafkajs/src/protocol/requests/produce/v7/response.js') as { decode(b: Buffer): Promise<ProduceResponse> };
const record = require('kafkajs/src/protocol/recordBatch/record/v0/index.js') as RecordFactory;
const { RecordBatch } = require('kafkajs/src/protocol/recordBatch/v0/index.js') as { RecordBatch: RecordBatchFactory };
/** The codec table those encoders look codecs up in; its ZSTD entry is gatelog's (core/src/bus/kafka-codecs.ts). */
const { Codecs } = require('kafkajs/src/protocol/message/compression/index.js') as { Codecs: KafkaCodecTable };

const { requests } = require('kafkajs/src/protocol/requests/index.js') as { requests: Record<string, { versions: string[] }> };
const apiKeys = require('kafkajs/src/protocol/requests/apiKeys.js') as Record<string, number>;

/** api key -> highest version kafkajs implements (what it negotiates against a modern broker). */
export function kafkajsBestVersions(): Map<number, number> {
  const out = new Map<number, number>();
  for (const [name, key] of Object.entries(apiKeys)) {
    const versions = requests[name]?.versions.map(Number) ?? [];
    if (versions.length > 0) out.set(key, Math.max(...versions));
  }
  return out;
}

/** One record batch exactly as kafkajs's producer would put it on the wire. */
export async function kafkajsRecordBatch(messages: WireMessage[], compression: number): Promise<Buffer> {
  registerKafkaCodecs(Codecs);
  const records = messages.map((m, i) => record({ offsetDelta: i, key: m.key ?? null, value: m.value, headers: m.headers ?? {} }));
  const batch = await RecordBatch({ compression, records, lastOffsetDelta: records.length - 1 });
  return batch.buffer;
}

/** The record batch inside a one-partition Produce v7 body from kafkajsProduceFrame: its last field. */
export function batchInProduceBody(body: Buffer, topic: string): Buffer {
  // transactional id (null), acks, timeout, topic count, topic, partition count, partition, records length
  const batch = body.subarray(2 + 2 + 4 + 4 + 2 + Buffer.byteLength(topic) + 4 + 4 + 4);
  if (batch.readInt8(BATCH_MAGIC) !== 2) throw new Error('no record batch v2 where the Produce v7 layout puts it');
  return batch;
}

/**
 * Damages a compressed batch's payload (its first byte: the codec's magic) and signs the batch
 * again, so only inflating the payload can notice.
 */
export function damagePayload(batch: Buffer): void {
  batch[BATCH_PAYLOAD]! ^= 0xff;
  batch.writeUInt32BE(crc32c(batch.subarray(BATCH_CRC_START)), BATCH_CRC);
}

/** A complete Produce v7 request frame (size, header v1, body) for one partition. */
export async function kafkajsProduceFrame(opts: {
  correlationId: number;
  topic: string;
  partition: number;
  messages: WireMessage[];
  compression: number;
  /** Lets a test damage the encoded body before framing. */
  tamper?: (body: Buffer) => void;
}): Promise<Buffer> {
  registerKafkaCodecs(Codecs);
  const req = produceV7({
    acks: -1,
    timeout: 1000,
    compression: opts.compression,
    topicData: [{ topic: opts.topic, partitions: [{ partition: opts.partition, messages: opts.messages }] }],
  });
  const body = Buffer.from((await req.encode()).buffer);
  opts.tamper?.(body);
  return requestFrame(req.apiKey, req.apiVersion, opts.correlationId, body);
}

export function decodeProduceResponse(body: Buffer): Promise<ProduceResponse> {
  return produceV7Response.decode(body);
}

/** A request frame (size, header v1, body) for hand-built requests. */
export function requestFrame(apiKey: number, apiVersion: number, correlationId: number, body: Buffer = Buffer.alloc(0)): Buffer {
  const clientId = Buffer.from('raw-test');
  const header = Buffer.alloc(14);
  header.writeInt32BE(10 + clientId.length + body.length, 0);
  header.writeInt16BE(apiKey, 4);
  header.writeInt16BE(apiVersion, 6);
  header.writeInt32BE(correlationId, 8);
  header.writeInt16BE(clientId.length, 12);
  return Buffer.concat([header, clientId, body]);
}

/** Sends request frames on one raw socket and collects that many response frames (or fewer if the broker hangs up). */
export function rawExchange(port: number, frames: Buffer[]): Promise<{ correlationId: number; body: Buffer }[]> {
  return new Promise((resolve, reject) => {
    const socket = connect(port, '127.0.0.1');
    const out: { correlationId: number; body: Buffer }[] = [];
    let pending = Buffer.alloc(0);
    const timer = setTimeout(() => {
      socket.destroy();
      reject(new Error('raw exchange timed out'));
    }, 3_000);
    socket.on('error', reject);
    socket.on('close', () => {
      clearTimeout(timer);
      resolve(out);
    });
    socket.on('data', (chunk: Buffer) => {
      pending = Buffer.concat([pending, chunk]);
      while (pending.length >= 4 && pending.length >= 4 + pending.readInt32BE(0)) {
        const size = pending.readInt32BE(0);
        out.push({ correlationId: pending.readInt32BE(4), body: pending.subarray(8, 4 + size) });
        pending = pending.subarray(4 + size);
      }
      if (out.length === frames.length) {
        clearTimeout(timer);
        socket.destroy();
        resolve(out);
      }
    });
    socket.write(Buffer.concat(frames));
  });
}
