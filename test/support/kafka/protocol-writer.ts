// Test fixture only (docker-compose runs the real Kafka in production): big-endian writer for
// the non-flexible Kafka wire format. Chunks are collected and concatenated once at the end.
export class ProtocolWriter {
  private readonly chunks: Buffer[] = [];
  private size = 0;

  private push(b: Buffer): this {
    this.chunks.push(b);
    this.size += b.length;
    return this;
  }

  int8(v: number): this {
    const b = Buffer.allocUnsafe(1);
    b.writeInt8(v);
    return this.push(b);
  }

  boolean(v: boolean): this {
    return this.int8(v ? 1 : 0);
  }

  int16(v: number): this {
    const b = Buffer.allocUnsafe(2);
    b.writeInt16BE(v);
    return this.push(b);
  }

  int32(v: number): this {
    const b = Buffer.allocUnsafe(4);
    b.writeInt32BE(v);
    return this.push(b);
  }

  uint32(v: number): this {
    const b = Buffer.allocUnsafe(4);
    b.writeUInt32BE(v >>> 0);
    return this.push(b);
  }

  int64(v: number | bigint): this {
    const b = Buffer.allocUnsafe(8);
    b.writeBigInt64BE(BigInt(v));
    return this.push(b);
  }

  string(v: string | null): this {
    if (v === null) return this.int16(-1);
    const s = Buffer.from(v, 'utf8');
    return this.int16(s.length).push(s);
  }

  bytes(v: Buffer | null): this {
    if (v === null) return this.int32(-1);
    return this.int32(v.length).push(v);
  }

  raw(v: Buffer): this {
    return this.push(v);
  }

  array<T>(items: readonly T[] | null, item: (w: ProtocolWriter, v: T) => void): this {
    if (items === null) return this.int32(-1);
    this.int32(items.length);
    for (const v of items) item(this, v);
    return this;
  }

  /** Zigzag varint (signed), as used by record fields and header counts. */
  varint(v: number): this {
    let u = (BigInt(v) << 1n) ^ (BigInt(v) >> 63n);
    u = BigInt.asUintN(64, u);
    const out: number[] = [];
    while (u >= 0x80n) {
      out.push(Number(u & 0x7fn) | 0x80);
      u >>= 7n;
    }
    out.push(Number(u));
    return this.push(Buffer.from(out));
  }

  varintBytes(v: Buffer | null): this {
    if (v === null) return this.varint(-1);
    return this.varint(v.length).push(v);
  }

  length(): number {
    return this.size;
  }

  toBuffer(): Buffer {
    return Buffer.concat(this.chunks, this.size);
  }
}
