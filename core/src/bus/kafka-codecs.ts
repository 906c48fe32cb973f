// Compression of the events topic's record batches. kafkajs implements GZIP only and leaves a
// table for the rest; this fills its ZSTD slot with Node's built-in zstd (zlib, thread pool),
// so no native add-on is needed. Proxy and ingest both install it before creating clients: a
// consumer then reads ZSTD, GZIP and plain batches alike whatever the producers are set to,
// which a topic holds side by side while proxies are switched over one at a time.
import { promisify } from 'node:util';
import { constants, zstdCompress, zstdDecompress, type ZstdOptions } from 'node:zlib';
import type { KafkaCompression } from '../config.ts';

/** The codec id a record batch carries in attribute bits 0-2 (kafkajs' CompressionTypes). */
export const KAFKA_CODEC_ID: Readonly<Record<KafkaCompression, number>> = { none: 0, gzip: 1, zstd: 4 };

/**
 * zstd's own default level. On batches of 100-500 events of ~2.3 KB JSON it gives GZIP's
 * compressed size for about a third of GZIP's compression CPU; level 1 saves another ~3 µs per
 * event for ~8 % more bytes (BENCHMARKS.md, notes on Kafka compression).
 */
const ZSTD_LEVEL = 3;

/** kafkajs' codec contract: `compress` receives its Encoder, whose bytes are `.buffer`. */
export interface KafkaCodec {
  compress(encoder: { readonly buffer: Buffer }): Promise<Buffer>;
  decompress(buffer: Buffer): Promise<Buffer>;
}

/** kafkajs' `CompressionCodecs`: codec id → factory of the codec. */
export type KafkaCodecTable = Record<number, () => unknown>;

const compressZstd = promisify(zstdCompress);
const decompressZstd = promisify(zstdDecompress);
const COMPRESS_OPTIONS: ZstdOptions = { params: { [constants.ZSTD_c_compressionLevel]: ZSTD_LEVEL } };

/**
 * Output chunk when inflating: each chunk is one thread-pool round trip, and zlib's 16 KiB
 * default spends about half the CPU of inflating a 500-event batch on them. The size the frame
 * declares (zstdContentSize) and one byte, so a batch inflates in one chunk into a buffer of its
 * own size; without one, sized from the input (JSON events shrink ~5x), so a batch takes a chunk
 * or a few and a small one keeps a small buffer (a fixed 256 KiB made one-event batches 3x dearer).
 */
function inflateChunk(b: Buffer): number {
  const declared = zstdContentSize(b);
  if (declared >= 0 && declared < MAX_SIZED_CHUNK) return Math.max(64, declared + 1);
  return Math.min(256 << 10, Math.max(16 << 10, b.length * 8));
}

export const zstdCodec: KafkaCodec = {
  compress: (encoder) => compressZstd(encoder.buffer, COMPRESS_OPTIONS),
  decompress: (buffer) => decompressZstd(buffer, { chunkSize: inflateChunk(buffer) }),
};

const zstdFactory = (): KafkaCodec => zstdCodec;

/**
 * Puts the ZSTD codec in kafkajs' table (pass its `CompressionCodecs` export, so the codec lands
 * in the kafkajs copy the caller's clients use). Safe to call any number of times.
 */
export function registerKafkaCodecs(codecs: KafkaCodecTable): void {
  codecs[KAFKA_CODEC_ID.zstd] = zstdFactory;
}

const ZSTD_MAGIC = 0xfd2fb528;
/** No single output buffer larger than this up front (a batch is at most a fetch, 16 MiB). */
const MAX_SIZED_CHUNK = 64 << 20;

/**
 * The decompressed size a zstd frame declares in its header (Frame_Content_Size), or -1 when it
 * does not. Node's zstd, as proxies compress, writes it for one-shot frames.
 */
export function zstdContentSize(b: Buffer): number {
  if (b.length < 6 || b.readUInt32LE(0) !== ZSTD_MAGIC) return -1;
  const fhd = b[4]!;
  const single = (fhd >> 5) & 1;
  const at = 5 + (single ? 0 : 1) + [0, 1, 2, 4][fhd & 3]!;
  const width = [single, 2, 4, 8][fhd >> 6]!;
  if (width === 0 || b.length < at + width) return -1;
  if (width === 1) return b[at]!;
  if (width === 2) return b.readUInt16LE(at) + 256;
  if (width === 4) return b.readUInt32LE(at);
  const n = b.readBigUInt64LE(at);
  return n > BigInt(MAX_SIZED_CHUNK) ? -1 : Number(n);
}
