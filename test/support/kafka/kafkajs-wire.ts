// Test fixture only (docker-compose runs the real Kafka in production): kafkajs's own wire
// encoders/decoders (CommonJS internals, untyped) behind small typed wrappers, so fixture
// tests check our decoding against bytes kafkajs really produces rather than against our
// own encoder, and can hand-craft requests kafkajs would never send (a corrupted batch).
import { createRequire } from 'node:module';

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

export const COMPRESSION = { None: 0, GZIP: 1 } as const;

const produceV7 = require('kafkajs/src/protocol/requests/produce/v7/request.js') as ProduceRequestFactory;
const produceV7Response = require('kafkajs/src/protocol/requests/produce/v7/response.js') as { decode(b: Buffer): Promise<ProduceResponse> };
const record = require('kafkajs/src/protocol/recordBatch/record/v0/index.js') as RecordFactory;
const { RecordBatch } = require('kafkajs/src/protocol/recordBatch/v0/index.js') as { RecordBatch: RecordBatchFactory };

/** One record batch exactly as kafkajs's producer would put it on the wire. */
export async function kafkajsRecordBatch(messages: WireMessage[], compression: number): Promise<Buffer> {
  const records = messages.map((m, i) => record({ offsetDelta: i, key: m.key ?? null, value: m.value, headers: m.headers ?? {} }));
  const batch = await RecordBatch({ compression, records, lastOffsetDelta: records.length - 1 });
  return batch.buffer;
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
  const req = produceV7({
    acks: -1,
    timeout: 1000,
    compression: opts.compression,
    topicData: [{ topic: opts.topic, partitions: [{ partition: opts.partition, messages: opts.messages }] }],
  });
  const body = Buffer.from((await req.encode()).buffer);
  opts.tamper?.(body);
  const clientId = Buffer.from('raw-test');
  const header = Buffer.alloc(10);
  header.writeInt16BE(req.apiKey, 0);
  header.writeInt16BE(req.apiVersion, 2);
  header.writeInt32BE(opts.correlationId, 4);
  header.writeInt16BE(clientId.length, 8);
  const size = Buffer.alloc(4);
  size.writeInt32BE(header.length + clientId.length + body.length);
  return Buffer.concat([size, header, clientId, body]);
}

export function decodeProduceResponse(body: Buffer): Promise<ProduceResponse> {
  return produceV7Response.decode(body);
}
