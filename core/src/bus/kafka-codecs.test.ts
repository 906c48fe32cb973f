// The ZSTD codec kafkajs is given: a standard zstd frame both ways, and its registration in a
// codec table shaped like kafkajs' CompressionCodecs. Producing and consuming through kafkajs
// is covered against the Kafka test broker (test/support/kafka/broker-produce-consume.test.ts).
import { constants, zstdCompressSync, zstdDecompressSync } from 'node:zlib';
import { describe, expect, it } from 'vitest';
import { KAFKA_CODEC_ID, registerKafkaCodecs, zstdCodec, zstdContentSize, type KafkaCodec, type KafkaCodecTable } from './kafka-codecs.ts';

const ZSTD_MAGIC = Buffer.from([0x28, 0xb5, 0x2f, 0xfd]);

function records(n: number): Buffer {
  return Buffer.from(Array.from({ length: n }, (_, i) => JSON.stringify({ request_id: `r-${i}`, model: 'gpt-4o-mini', body: 'the quick brown fox '.repeat(40 + (i % 7)) })).join('\n'));
}

describe('zstd codec', () => {
  it('round-trips a batch as a standard zstd frame other zstd readers decode', async () => {
    const plain = records(200);
    const packed = await zstdCodec.compress({ buffer: plain });
    expect(packed.subarray(0, 4)).toEqual(ZSTD_MAGIC);
    expect(packed.length).toBeLessThan(plain.length / 4);
    expect(zstdDecompressSync(packed)).toEqual(plain);
    expect(await zstdCodec.decompress(packed)).toEqual(plain);
  });

  it('reads frames written at any level, and empty ones', async () => {
    const plain = records(30);
    for (const level of [1, 19]) {
      expect(await zstdCodec.decompress(zstdCompressSync(plain, { params: { [constants.ZSTD_c_compressionLevel]: level } }))).toEqual(plain);
    }
    expect(await zstdCodec.decompress(await zstdCodec.compress({ buffer: Buffer.alloc(0) }))).toEqual(Buffer.alloc(0));
  });

  it('inflates outputs many times the input-sized chunk it reads into', async () => {
    const plain = Buffer.alloc(3 << 20, 'gatelog ');
    const packed = await zstdCodec.compress({ buffer: plain });
    expect(packed.length).toBeLessThan(2048);
    expect((await zstdCodec.decompress(packed)).equals(plain)).toBe(true);
  });

  it('rejects bytes that are not a zstd frame', async () => {
    await expect(zstdCodec.decompress(Buffer.from('not zstd at all'))).rejects.toThrow();
    const packed = await zstdCodec.compress({ buffer: records(10) });
    await expect(zstdCodec.decompress(packed.subarray(0, packed.length - 8))).rejects.toThrow();
  });
});

describe('registerKafkaCodecs', () => {
  it('fills the ZSTD slot, leaves the others, and can be called again', async () => {
    const gzip = (): unknown => 'kafkajs gzip';
    const table: KafkaCodecTable = { [KAFKA_CODEC_ID.gzip]: gzip, [KAFKA_CODEC_ID.zstd]: () => { throw new Error('ZSTD compression not implemented'); } };
    registerKafkaCodecs(table);
    const first = table[KAFKA_CODEC_ID.zstd];
    registerKafkaCodecs(table);
    expect(table[KAFKA_CODEC_ID.zstd]).toBe(first);
    expect(table[KAFKA_CODEC_ID.gzip]).toBe(gzip);
    const codec = first!() as KafkaCodec;
    expect(await codec.decompress(await codec.compress({ buffer: Buffer.from('event') }))).toEqual(Buffer.from('event'));
  });

  it('uses the protocol codec ids', () => {
    expect(KAFKA_CODEC_ID).toEqual({ none: 0, gzip: 1, zstd: 4 });
  });
});

describe('zstd frames and their declared size', () => {
  it('reads the size a zstd frame declares, and -1 when there is none to read', () => {
    for (const n of [0, 1, 200, 70_000, 3 << 20]) expect(zstdContentSize(zstdCompressSync(Buffer.alloc(n, 'gatelog ')))).toBe(n);
    expect(zstdContentSize(Buffer.from('not zstd at all'))).toBe(-1);
    expect(zstdContentSize(Buffer.from([0x28, 0xb5, 0x2f, 0xfd]))).toBe(-1);
  });

  it('inflates exactly whatever the batch size, and refuses a frame whose declared size is wrong', async () => {
    for (const n of [1, 30, 500]) {
      const plain = records(n);
      expect(await zstdCodec.decompress(zstdCompressSync(plain))).toEqual(plain);
    }
    const packed = Buffer.from(zstdCompressSync(records(200)));
    // Frame_Content_Size of a single-segment frame with a 4-byte size field: bytes 5–8.
    expect(packed[4]! >> 6).toBe(2);
    packed.writeUInt32LE(10, 5);
    await expect(zstdCodec.decompress(packed)).rejects.toThrow();
  });
});
