// Test fixture only (docker-compose runs the real Kafka in production): record batch v2
// (magic 2) parsing. The broker keeps each batch's original bytes, verifies its CRC-32C,
// decodes its records (for assertions and validation) and only rewrites the base offset,
// which sits outside the checksummed region - exactly what a real broker does on append.
// GZIP and ZSTD payloads are inflated with Node's zlib; the Produce (v7) and Fetch (v11)
// versions the broker advertises are the ones Kafka requires for ZSTD (v7+ and v10+), so a
// ZSTD batch is never refused for its request version here.
import { gunzipSync, zstdDecompressSync } from 'node:zlib';
import { crc32c } from './crc32c.ts';
import { ERROR, KafkaProtocolError } from './errors.ts';
import { ProtocolReader } from './protocol-reader.ts';

const BATCH_HEADER = 61; // bytes from baseOffset up to and including recordCount
const LENGTH_OFFSET = 8; // batchLength field
const MAGIC_OFFSET = 16;
const CRC_OFFSET = 17;
const CRC_START = 21; // attributes: the CRC covers everything from here to the end
const COMPRESSION_MASK = 0x07;
const CONTROL_MASK = 0x20;
const COMPRESSION_NONE = 0;
const COMPRESSION_GZIP = 1;
const COMPRESSION_ZSTD = 4;

export interface RecordHeader {
  key: string;
  value: Buffer | null;
}

export interface DecodedRecord {
  offsetDelta: number;
  timestampDelta: number;
  key: Buffer | null;
  value: Buffer | null;
  headers: RecordHeader[];
}

export interface RecordBatch {
  /** Original bytes of the whole batch (base offset field rewritten on append). */
  raw: Buffer;
  baseOffset: number;
  lastOffsetDelta: number;
  firstTimestamp: number;
  maxTimestamp: number;
  producerId: number;
  producerEpoch: number;
  baseSequence: number;
  isControl: boolean;
  /** Codec id from the attributes: 0 none, 1 GZIP, 4 ZSTD. */
  compression: number;
  records: DecodedRecord[];
}

/**
 * Splits a produce request's `records` field into batches; any damage rejects the whole set.
 * `decode: false` checks each batch's framing and CRC-32C but inflates and decodes its records
 * only when something reads `records` (a sink nobody fetches from: the bench's).
 */
export function parseRecordBatches(buf: Buffer, o: { decode?: boolean } = {}): RecordBatch[] {
  const batches: RecordBatch[] = [];
  let pos = 0;
  while (pos < buf.length) {
    if (buf.length - pos < BATCH_HEADER) {
      throw new KafkaProtocolError(ERROR.CORRUPT_MESSAGE, 'record batch shorter than its header');
    }
    const size = 12 + buf.readInt32BE(pos + LENGTH_OFFSET);
    if (size < BATCH_HEADER || pos + size > buf.length) {
      throw new KafkaProtocolError(ERROR.CORRUPT_MESSAGE, `record batch length ${size} out of bounds`);
    }
    batches.push(parseRecordBatch(buf.subarray(pos, pos + size), o));
    pos += size;
  }
  if (batches.length === 0) throw new KafkaProtocolError(ERROR.CORRUPT_MESSAGE, 'empty record set');
  return batches;
}

export function parseRecordBatch(batch: Buffer, o: { decode?: boolean } = {}): RecordBatch {
  const magic = batch.readInt8(MAGIC_OFFSET);
  if (magic !== 2) throw new KafkaProtocolError(ERROR.CORRUPT_MESSAGE, `unsupported magic ${magic}`);
  const expected = batch.readUInt32BE(CRC_OFFSET);
  const actual = crc32c(batch.subarray(CRC_START));
  if (expected !== actual) {
    throw new KafkaProtocolError(ERROR.CORRUPT_MESSAGE, `CRC-32C mismatch: stored ${expected}, computed ${actual}`);
  }
  const r = new ProtocolReader(batch, CRC_START);
  const attributes = r.int16();
  const lastOffsetDelta = r.int32();
  const firstTimestamp = r.int64();
  const maxTimestamp = r.int64();
  const producerId = r.int64();
  const producerEpoch = r.int16();
  const baseSequence = r.int32();
  const count = r.int32();
  const compression = attributes & COMPRESSION_MASK;
  const decode = (): DecodedRecord[] => decodeRecords(compression, batch.subarray(BATCH_HEADER), count);
  const records = o.decode === false ? null : decode();
  if (count > 0 && lastOffsetDelta !== count - 1) {
    throw new KafkaProtocolError(ERROR.CORRUPT_MESSAGE, `lastOffsetDelta ${lastOffsetDelta} for ${count} records`);
  }
  const parsed = {
    raw: batch,
    baseOffset: Number(batch.readBigInt64BE(0)),
    lastOffsetDelta,
    firstTimestamp,
    maxTimestamp,
    producerId,
    producerEpoch,
    baseSequence,
    isControl: (attributes & CONTROL_MASK) !== 0,
    compression,
  };
  if (records) return { ...parsed, records };
  let lazy: DecodedRecord[] | undefined;
  return Object.defineProperty(parsed, 'records', { enumerable: true, get: () => (lazy ??= decode()) }) as RecordBatch;
}

/** Returns a copy of the batch carrying `baseOffset`; the CRC stays valid (it starts later). */
export function withBaseOffset(batch: RecordBatch, baseOffset: number): RecordBatch {
  const raw = Buffer.from(batch.raw);
  raw.writeBigInt64BE(BigInt(baseOffset), 0);
  // Descriptors, not a spread: a batch decoded on demand keeps decoding on demand.
  const moved = Object.defineProperties({}, Object.getOwnPropertyDescriptors(batch)) as RecordBatch;
  moved.raw = raw;
  moved.baseOffset = baseOffset;
  return moved;
}

const INFLATE: ReadonlyMap<number, { name: string; inflate: (payload: Buffer) => Buffer }> = new Map([
  [COMPRESSION_GZIP, { name: 'gzip', inflate: (p: Buffer) => gunzipSync(p) }],
  [COMPRESSION_ZSTD, { name: 'zstd', inflate: (p: Buffer) => zstdDecompressSync(p) }],
]);

function inflate(compression: number, payload: Buffer): Buffer {
  if (compression === COMPRESSION_NONE) return payload;
  const codec = INFLATE.get(compression);
  // Snappy and LZ4 would need native codecs this fixture does not carry.
  if (!codec) throw new KafkaProtocolError(ERROR.UNSUPPORTED_COMPRESSION_TYPE, `compression codec ${compression}`);
  try {
    return codec.inflate(payload);
  } catch (err) {
    throw new KafkaProtocolError(ERROR.CORRUPT_MESSAGE, `${codec.name} payload: ${(err as Error).message}`);
  }
}

function decodeRecords(compression: number, payload: Buffer, count: number): DecodedRecord[] {
  const r = new ProtocolReader(inflate(compression, payload));
  const records: DecodedRecord[] = [];
  for (let i = 0; i < count; i++) {
    const length = r.varint();
    const end = r.offset + length;
    r.int8(); // record attributes: unused by the protocol
    const timestampDelta = r.varlong();
    const offsetDelta = r.varint();
    if (offsetDelta !== i) throw new KafkaProtocolError(ERROR.CORRUPT_MESSAGE, `record ${i} has offsetDelta ${offsetDelta}`);
    const key = r.varintBytes();
    const value = r.varintBytes();
    const headerCount = r.varint();
    const headers: RecordHeader[] = [];
    for (let h = 0; h < headerCount; h++) {
      const hk = r.varintBytes();
      headers.push({ key: hk?.toString('utf8') ?? '', value: r.varintBytes() });
    }
    if (r.offset !== end) throw new KafkaProtocolError(ERROR.CORRUPT_MESSAGE, `record ${i} length mismatch`);
    records.push({ offsetDelta, timestampDelta, key, value, headers });
  }
  if (r.remaining() !== 0) throw new KafkaProtocolError(ERROR.CORRUPT_MESSAGE, 'trailing bytes after records');
  return records;
}
