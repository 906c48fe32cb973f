// Test fixture only (docker-compose runs the real Kafka in production): big-endian reader for
// the non-flexible Kafka wire format, plus the zigzag varints used inside record batches.
import { KafkaProtocolError, ERROR } from './errors.ts';

export class ProtocolReader {
  readonly buf: Buffer;
  offset: number;

  constructor(buf: Buffer, offset = 0) {
    this.buf = buf;
    this.offset = offset;
  }

  remaining(): number {
    return this.buf.length - this.offset;
  }

  private need(n: number): void {
    if (this.offset + n > this.buf.length) {
      throw new KafkaProtocolError(ERROR.CORRUPT_MESSAGE, `truncated input: need ${n} bytes at ${this.offset}`);
    }
  }

  int8(): number {
    this.need(1);
    const v = this.buf.readInt8(this.offset);
    this.offset += 1;
    return v;
  }

  boolean(): boolean {
    return this.int8() !== 0;
  }

  int16(): number {
    this.need(2);
    const v = this.buf.readInt16BE(this.offset);
    this.offset += 2;
    return v;
  }

  int32(): number {
    this.need(4);
    const v = this.buf.readInt32BE(this.offset);
    this.offset += 4;
    return v;
  }

  uint32(): number {
    this.need(4);
    const v = this.buf.readUInt32BE(this.offset);
    this.offset += 4;
    return v;
  }

  /** int64 as a JS number: offsets, producer ids and timestamps stay far below 2^53 here. */
  int64(): number {
    this.need(8);
    const v = this.buf.readBigInt64BE(this.offset);
    this.offset += 8;
    return Number(v);
  }

  nullableString(): string | null {
    const len = this.int16();
    if (len < 0) return null;
    this.need(len);
    const v = this.buf.toString('utf8', this.offset, this.offset + len);
    this.offset += len;
    return v;
  }

  string(): string {
    return this.nullableString() ?? '';
  }

  nullableBytes(): Buffer | null {
    const len = this.int32();
    if (len < 0) return null;
    return this.raw(len);
  }

  bytes(): Buffer {
    return this.nullableBytes() ?? Buffer.alloc(0);
  }

  raw(len: number): Buffer {
    this.need(len);
    const v = this.buf.subarray(this.offset, this.offset + len);
    this.offset += len;
    return v;
  }

  /** A null array (length -1) reads as null; callers decide whether that means "all". */
  nullableArray<T>(item: (r: ProtocolReader) => T): T[] | null {
    const len = this.int32();
    if (len < 0) return null;
    const out: T[] = [];
    for (let i = 0; i < len; i++) out.push(item(this));
    return out;
  }

  array<T>(item: (r: ProtocolReader) => T): T[] {
    return this.nullableArray(item) ?? [];
  }

  /** Unsigned LEB128 up to 64 bits, returned as bigint. */
  private uvarlong(): bigint {
    let result = 0n;
    let shift = 0n;
    for (;;) {
      this.need(1);
      const b = this.buf[this.offset++]!;
      result |= BigInt(b & 0x7f) << shift;
      if ((b & 0x80) === 0) return result;
      shift += 7n;
      if (shift > 63n) throw new KafkaProtocolError(ERROR.CORRUPT_MESSAGE, 'varint too long');
    }
  }

  varlong(): number {
    const u = this.uvarlong();
    return Number((u >> 1n) ^ -(u & 1n));
  }

  varint(): number {
    return this.varlong();
  }

  varintBytes(): Buffer | null {
    const len = this.varint();
    if (len < 0) return null;
    return this.raw(len);
  }
}
