// Test fixture only: the broker's codecs checked against reference values and against bytes
// produced by kafkajs's own encoders.
import { describe, expect, it } from 'vitest';
import { crc32c } from './crc32c.ts';
import { ERROR, KafkaProtocolError } from './errors.ts';
import { COMPRESSION, damagePayload, kafkajsRecordBatch } from './kafkajs-wire.ts';
import { ProtocolReader } from './protocol-reader.ts';
import { ProtocolWriter } from './protocol-writer.ts';
import { parseRecordBatches, withBaseOffset } from './record-batch.ts';

describe('crc32c', () => {
  it('matches the Castagnoli check values', () => {
    expect(crc32c(Buffer.from('123456789'))).toBe(0xe3069283);
    expect(crc32c(Buffer.alloc(32))).toBe(0x8a9136aa); // RFC 3720 B.4: 32 bytes of zeros
    expect(crc32c(Buffer.alloc(0))).toBe(0);
  });
});

describe('protocol reader/writer', () => {
  it('round-trips fixed-width fields, strings, bytes, arrays and zigzag varints', () => {
    const varints = [0, 1, -1, 63, -64, 64, 300, -300, 2 ** 31 - 1, -(2 ** 31), Date.now(), -Date.now()];
    const w = new ProtocolWriter()
      .int8(-5).int16(-2).int32(123456).int64(2 ** 40 + 7).boolean(true)
      .string('héllo').string(null).bytes(Buffer.from([1, 2])).bytes(null)
      .array([3, 4], (x, v) => void x.int32(v)).array(null, () => undefined);
    for (const v of varints) w.varint(v);
    const r = new ProtocolReader(w.toBuffer());
    expect([r.int8(), r.int16(), r.int32(), r.int64(), r.boolean()]).toEqual([-5, -2, 123456, 2 ** 40 + 7, true]);
    expect([r.nullableString(), r.nullableString()]).toEqual(['héllo', null]);
    expect([r.nullableBytes(), r.nullableBytes()]).toEqual([Buffer.from([1, 2]), null]);
    expect([r.array((x) => x.int32()), r.nullableArray((x) => x.int32())]).toEqual([[3, 4], null]);
    expect(varints.map(() => r.varlong())).toEqual(varints);
    expect(r.remaining()).toBe(0);
  });

  it('rejects truncated input with CORRUPT_MESSAGE', () => {
    expect(() => new ProtocolReader(Buffer.from([0, 0, 0])).int32()).toThrow(KafkaProtocolError);
  });
});

describe('record batch v2', () => {
  const messages = [
    { key: 'a', value: 'first', headers: { h1: 'one', h2: Buffer.from([0, 1]) } },
    { key: null, value: null },
    { key: 'c', value: 'x'.repeat(5000) },
  ];

  for (const [name, compression] of Object.entries(COMPRESSION)) {
    it(`decodes a kafkajs-encoded ${name} batch`, async () => {
      const raw = await kafkajsRecordBatch(messages, compression);
      const [batch, ...rest] = parseRecordBatches(raw);
      expect(rest).toEqual([]);
      expect(batch!.lastOffsetDelta).toBe(2);
      expect(batch!.producerId).toBe(-1);
      expect(batch!.records.map((r) => [r.offsetDelta, r.key?.toString() ?? null, r.value?.toString() ?? null])).toEqual([
        [0, 'a', 'first'],
        [1, null, null],
        [2, 'c', 'x'.repeat(5000)],
      ]);
      expect(batch!.records[0]!.headers).toEqual([
        { key: 'h1', value: Buffer.from('one') },
        { key: 'h2', value: Buffer.from([0, 1]) },
      ]);
      // Rewriting the base offset keeps the batch valid: the CRC starts after it.
      const moved = withBaseOffset(batch!, 42);
      expect(parseRecordBatches(moved.raw)[0]!.baseOffset).toBe(42);
    });
  }

  it('splits several concatenated batches', async () => {
    const a = await kafkajsRecordBatch([{ value: 'a' }], COMPRESSION.None);
    const b = await kafkajsRecordBatch([{ value: 'b' }, { value: 'c' }], COMPRESSION.GZIP);
    const c = await kafkajsRecordBatch([{ value: 'd' }, { value: 'e' }, { value: 'f' }], COMPRESSION.ZSTD);
    const batches = parseRecordBatches(Buffer.concat([a, b, c]));
    expect(batches.map((x) => [x.compression, x.records.length])).toEqual([[0, 1], [1, 2], [4, 3]]);
  });

  it('with decode off, checks framing and CRC on arrival and decodes the records when read, also after a base offset rewrite', async () => {
    const raw = await kafkajsRecordBatch(messages, COMPRESSION.ZSTD);
    const [batch] = parseRecordBatches(raw, { decode: false });
    expect(batch!.lastOffsetDelta).toBe(2);
    const moved = withBaseOffset(batch!, 7);
    expect(moved.baseOffset).toBe(7);
    expect(moved.records.map((r) => r.value?.toString() ?? null)).toEqual(['first', null, 'x'.repeat(5000)]);
    const bad = Buffer.from(raw);
    bad[bad.length - 1]! ^= 0x01;
    expect(() => parseRecordBatches(bad, { decode: false })).toThrow(expect.objectContaining({ code: ERROR.CORRUPT_MESSAGE }));
    // A payload that does not inflate under a valid CRC is refused only when it is decoded.
    const damaged = await kafkajsRecordBatch(messages, COMPRESSION.ZSTD);
    damagePayload(damaged);
    const [lazy] = parseRecordBatches(damaged, { decode: false });
    expect(() => lazy!.records).toThrow(expect.objectContaining({ code: ERROR.CORRUPT_MESSAGE }));
  });

  for (const name of ['GZIP', 'ZSTD'] as const) {
    it(`rejects a ${name} payload that does not inflate with CORRUPT_MESSAGE, even under a valid CRC`, async () => {
      const raw = await kafkajsRecordBatch(messages, COMPRESSION[name]);
      damagePayload(raw);
      expect(() => parseRecordBatches(raw)).toThrow(expect.objectContaining({ code: ERROR.CORRUPT_MESSAGE, message: expect.stringContaining(`${name.toLowerCase()} payload`) }));
    });
  }

  it('refuses a codec it has no inflater for (LZ4) with UNSUPPORTED_COMPRESSION_TYPE', async () => {
    const raw = await kafkajsRecordBatch(messages, COMPRESSION.None);
    raw.writeInt16BE(3, 21); // attributes: LZ4
    raw.writeUInt32BE(crc32c(raw.subarray(21)), 17);
    expect(() => parseRecordBatches(raw)).toThrow(expect.objectContaining({ code: ERROR.UNSUPPORTED_COMPRESSION_TYPE }));
  });

  it('rejects any flipped bit in the checksummed region and truncated batches', async () => {
    const raw = await kafkajsRecordBatch(messages, COMPRESSION.None);
    for (const pos of [21, 40, raw.length - 1]) {
      const bad = Buffer.from(raw);
      bad[pos]! ^= 0x01;
      expect(() => parseRecordBatches(bad)).toThrow(expect.objectContaining({ code: ERROR.CORRUPT_MESSAGE }));
    }
    expect(() => parseRecordBatches(raw.subarray(0, raw.length - 1))).toThrow(expect.objectContaining({ code: ERROR.CORRUPT_MESSAGE }));
  });
});
