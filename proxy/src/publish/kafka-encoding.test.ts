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
