// The kafkajs patch (patches/kafkajs@2.2.4.patch) rewrites how records' varints are written and
// how a batch is grouped by partition. The bytes must stay what the Kafka protocol says: checked
// here against the spec's zigzag + LEB128, computed independently with BigInt.
import { createRequire } from 'node:module';
import { describe, expect, it } from 'vitest';

const require = createRequire(import.meta.resolve('kafkajs'));
interface KafkaEncoder {
  writeVarInt(v: number): KafkaEncoder;
  writeVarLong(v: unknown): KafkaEncoder;
  writeInt8(v: number): KafkaEncoder;
  buffer: Buffer;
}
const Encoder = require('./src/protocol/encoder.js') as { new (): KafkaEncoder; sizeOfVarLong(v: unknown): number; sizeOfVarInt(v: number): number };
const Long = require('./src/utils/long.js') as { fromString(s: string): unknown };
const group = require('./src/producer/groupMessagesPerPartition.js') as (a: { topic: string; partitionMetadata: unknown[]; messages: { key: string }[]; partitioner: (a: { message: { key: string } }) => number }) => Record<string, { key: string }[]>;

/** Kafka's varlong: zigzag over 64 bits, then unsigned LEB128 (KIP-82 record format). */
function varlong(v: bigint): Buffer {
  let z = BigInt.asUintN(64, (v << 1n) ^ (v >> 63n));
  const out: number[] = [];
  while (z >= 0x80n) {
    out.push(Number(z & 0x7fn) | 0x80);
    z >>= 7n;
  }
  out.push(Number(z));
  return Buffer.from(out);
}

function randomInts(n: number): number[] {
  const edge = [0, 1, -1, 63, 64, -64, -65, 2 ** 30 - 1, -(2 ** 30), 2 ** 30, -(2 ** 30) - 1, 2 ** 31 - 1, -(2 ** 31), 2 ** 31, 2 ** 40, -(2 ** 40), Number.MAX_SAFE_INTEGER, -Number.MAX_SAFE_INTEGER];
  const out = [...edge];
  for (let i = 0; i < n; i++) out.push(Math.trunc((Math.random() - 0.5) * 2 ** (1 + Math.random() * 52)));
  return out;
}

describe('kafkajs record encoding (patched)', () => {
  it('varlongs of numbers and Longs are the protocol bytes, and their sizes agree', () => {
    for (const v of randomInts(20_000)) {
      const want = varlong(BigInt(v));
      expect(new Encoder().writeVarLong(v).buffer.equals(want), String(v)).toBe(true);
      expect(new Encoder().writeVarLong(Long.fromString(String(v))).buffer.equals(want), `Long ${v}`).toBe(true);
      expect(Encoder.sizeOfVarLong(v), String(v)).toBe(want.length);
    }
  });

  it('varints are the protocol bytes, also many in a row across the buffer growing', () => {
    const e = new Encoder();
    const parts: Buffer[] = [];
    for (const v of randomInts(20_000).filter((x) => Math.abs(x) < 2 ** 31)) {
      const want = varlong(BigInt(v)); // a 32-bit varint's bytes equal the varlong's for the same value
      expect(new Encoder().writeVarInt(v).buffer.equals(want), String(v)).toBe(true);
      expect(Encoder.sizeOfVarInt(v)).toBe(want.length);
      e.writeVarInt(v).writeInt8(7);
      parts.push(want, Buffer.from([7]));
    }
    expect(e.buffer.equals(Buffer.concat(parts))).toBe(true);
  });

  it('groups a batch by partition keeping each partition in send order', () => {
    const messages = Array.from({ length: 1000 }, (_, i) => ({ key: String(i) }));
    const grouped = group({ topic: 't', partitionMetadata: [{}, {}, {}], messages, partitioner: ({ message }) => Number(message.key) % 3 });
    expect(Object.keys(grouped).sort()).toEqual(['0', '1', '2']);
    for (const p of [0, 1, 2]) expect(grouped[p]!.map((m) => Number(m.key))).toEqual(messages.map((_, i) => i).filter((i) => i % 3 === p));
    expect(group({ topic: 't', partitionMetadata: [], messages, partitioner: () => 0 })).toEqual({});
  });
});

interface DecodedRecord {
  timestamp: string;
  offset: string;
  key: Buffer | null;
  value: Buffer | null;
  headers: Record<string, unknown>;
}
const Decoder = require('./src/protocol/decoder.js') as new (b: Buffer) => unknown;
const decodeRecord = require('./src/protocol/recordBatch/record/v0/decoder.js') as (d: unknown, ctx: Record<string, unknown>) => DecodedRecord;

/** A record's body (after its length) as KIP-82 lays it out, written here independently of kafkajs. */
function recordBytes(o: { timestampDelta: bigint; offsetDelta: number; key: string; value: string; headers: [string, string][] }): Buffer {
  const bytes = (s: string): Buffer => Buffer.concat([varlong(BigInt(Buffer.byteLength(s))), Buffer.from(s)]);
  return Buffer.concat([Buffer.from([0]), varlong(o.timestampDelta), varlong(BigInt(o.offsetDelta)), bytes(o.key), bytes(o.value), varlong(BigInt(o.headers.length)), ...o.headers.flatMap(([k, v]) => [bytes(k), bytes(v)])]);
}

/** kafkajs's own fold of a record's headers into an object (repeated keys become arrays). */
function foldAsKafkajs(headers: [string, string][]): Record<string, unknown> {
  return headers.reduce<Record<string, unknown>>((obj, [key, v]) => {
    const value = Buffer.from(v);
    return { ...obj, [key]: obj[key] === undefined ? value : Array.isArray(obj[key]) ? (obj[key] as unknown[]).concat([value]) : [obj[key], value] };
  }, {});
}

describe('kafkajs record decoding (patched)', () => {
  it('offsets and timestamps are the 64-bit sums, in Numbers or past 2^53, for deltas of every length', () => {
    const bases = ['0', '123456789', '1796520408353', '-1', String(2 ** 53 - 10), '9223372036854775000'];
    const deltas = [0n, 1n, -1n, 3n, 63n, -64n, 2n ** 31n, -(2n ** 40n), 2n ** 47n, -(2n ** 47n) - 1n, 2n ** 48n, 2n ** 55n, -(2n ** 62n)];
    for (const base of bases) {
      for (const d of deltas) {
        for (const offsetDelta of [0, 7, 2 ** 31 - 1]) {
          const buf = recordBytes({ timestampDelta: d, offsetDelta, key: 'k', value: 'v', headers: [] });
          const r = decodeRecord(new Decoder(buf), { firstOffset: base, firstTimestamp: base, timestampType: 0 });
          expect(r.timestamp, `${base} + ${d}`).toBe(String(BigInt(base) + d));
          expect(r.offset, `${base} + ${offsetDelta}`).toBe(String(BigInt(base) + BigInt(offsetDelta)));
          expect(r.key?.toString()).toBe('k');
          expect(r.value?.toString()).toBe('v');
        }
      }
    }
  });

  it('a record after one with a long varlong starts where that one ends', () => {
    const a = recordBytes({ timestampDelta: -(2n ** 60n), offsetDelta: 1, key: 'a', value: 'first', headers: [['h', '1']] });
    const b = recordBytes({ timestampDelta: 5n, offsetDelta: 2, key: 'b', value: 'second', headers: [] });
    // The record bodies back to back, as decodeRecords reads them after each length prefix.
    const d = new Decoder(Buffer.concat([a, b]));
    const ctx = { firstOffset: '10', firstTimestamp: '1000', timestampType: 0 };
    expect(decodeRecord(d, ctx)).toMatchObject({ timestamp: String(1000n - 2n ** 60n), offset: '11', value: Buffer.from('first') });
    expect(decodeRecord(d, ctx)).toMatchObject({ timestamp: '1005', offset: '12', value: Buffer.from('second') });
  });

  it('headers fold as kafkajs folds them: repeated keys into arrays, odd names included', () => {
    const cases: [string, string][][] = [
      [],
      [['gatelog-schema-version', '7']],
      [['a', '1'], ['b', '2'], ['a', '3'], ['a', '4']],
      [['__proto__', 'p'], ['a', '1']],
    ];
    for (const headers of cases) {
      const r = decodeRecord(new Decoder(recordBytes({ timestampDelta: 0n, offsetDelta: 0, key: 'k', value: 'v', headers })), { firstOffset: '0', firstTimestamp: '0', timestampType: 0 });
      expect(r.headers, JSON.stringify(headers)).toStrictEqual(foldAsKafkajs(headers));
      expect(Object.getPrototypeOf(r.headers)).toBe(Object.prototype);
    }
    // A name Object.prototype already has is not undefined to either fold: kafkajs pairs the
    // inherited value with the header's (the function comes from kafkajs's realm, not this one).
    const odd = decodeRecord(new Decoder(recordBytes({ timestampDelta: 0n, offsetDelta: 0, key: 'k', value: 'v', headers: [['constructor', 'x']] })), { firstOffset: '0', firstTimestamp: '0', timestampType: 0 });
    const pair = odd.headers['constructor'] as unknown as unknown[];
    expect(pair).toHaveLength(2);
    expect((pair[0] as { name?: string }).name).toBe('Object');
    expect(pair[1]).toEqual(Buffer.from('x'));
  });

  it('log-append time takes the batch\'s max timestamp', () => {
    const r = decodeRecord(new Decoder(recordBytes({ timestampDelta: 3n, offsetDelta: 0, key: 'k', value: 'v', headers: [] })), { firstOffset: '0', firstTimestamp: '100', maxTimestamp: '999', timestampType: 1 });
    expect(r.timestamp).toBe('999');
  });
});
