// Test fixture only (docker-compose runs the real Kafka in production): in-memory topics and
// partition logs. Data survives the broker's stop()/restart() like a real broker's disk does.
import { ERROR, KafkaProtocolError } from './errors.ts';
import { withBaseOffset, type RecordBatch } from './record-batch.ts';

export class PartitionLog {
  batches: RecordBatch[] = [];
  logStartOffset = 0;
  /** Next offset to assign; also the high watermark (single replica, so everything is committed). */
  nextOffset = 0;
  #bytes = 0;
  readonly #retentionBytes: number;

  constructor(retentionBytes = Infinity) {
    this.#retentionBytes = retentionBytes;
  }

  append(batch: RecordBatch): RecordBatch {
    const stored = withBaseOffset(batch, this.nextOffset);
    this.batches.push(stored);
    this.nextOffset += batch.lastOffsetDelta + 1;
    this.#bytes += stored.raw.length;
    if (this.#bytes > this.#retentionBytes) this.#retain();
    return stored;
  }

  /** Retention by size: the oldest batches go (the newest always stays), the log start moves past them. */
  #retain(): void {
    let drop = 0;
    while (drop < this.batches.length - 1 && this.#bytes > this.#retentionBytes) this.#bytes -= this.batches[drop++]!.raw.length;
    if (drop === 0) return;
    this.batches = this.batches.slice(drop);
    this.logStartOffset = this.batches[0]!.baseOffset;
  }

  /**
   * Whole batches from the one holding `offset` (clients skip the records before it), within
   * `maxBytes` - except that `firstInResponse` gets at least one batch even when it is larger,
   * so a big batch can never wedge a consumer (KIP-74).
   */
  read(offset: number, maxBytes: number, firstInResponse: boolean): Buffer[] {
    const out: Buffer[] = [];
    let size = 0;
    for (const b of this.batches) {
      if (b.baseOffset + b.lastOffsetDelta < offset) continue;
      if (size + b.raw.length > maxBytes && !(firstInResponse && out.length === 0)) break;
      out.push(b.raw);
      size += b.raw.length;
    }
    return out;
  }

  /** Earliest record with a timestamp at or after `timestamp`; Kafka answers -1/-1 when none is. */
  offsetForTimestamp(timestamp: number): { offset: number; timestamp: number } {
    for (const b of this.batches) {
      if (b.maxTimestamp < timestamp) continue;
      for (const r of b.records) {
        const ts = b.firstTimestamp + r.timestampDelta;
        if (ts >= timestamp) return { offset: b.baseOffset + r.offsetDelta, timestamp: ts };
      }
    }
    return { offset: -1, timestamp: -1 };
  }
}

export interface TopicStoreOptions {
  defaultPartitions: number;
  /** Per partition log (PartitionLog); default: keep everything. */
  retentionBytes?: number;
}

type AppendListener = (topic: string, partition: number) => void;

export class TopicStore {
  private readonly topics = new Map<string, PartitionLog[]>();
  private readonly listeners = new Set<AppendListener>();
  private readonly options: TopicStoreOptions;

  constructor(options: TopicStoreOptions) {
    this.options = options;
  }

  names(): string[] {
    return [...this.topics.keys()];
  }

  has(topic: string): boolean {
    return this.topics.has(topic);
  }

  partitions(topic: string): PartitionLog[] | undefined {
    return this.topics.get(topic);
  }

  create(topic: string, partitions = -1): void {
    if (!/^[a-zA-Z0-9._-]{1,249}$/.test(topic)) {
      throw new KafkaProtocolError(ERROR.INVALID_TOPIC_EXCEPTION, `invalid topic name ${JSON.stringify(topic)}`);
    }
    if (this.topics.has(topic)) throw new KafkaProtocolError(ERROR.TOPIC_ALREADY_EXISTS, `topic ${topic} exists`);
    const count = partitions === -1 ? this.options.defaultPartitions : partitions;
    if (count < 1) throw new KafkaProtocolError(ERROR.INVALID_PARTITIONS, `invalid partition count ${count}`);
    this.topics.set(
      topic,
      Array.from({ length: count }, () => new PartitionLog(this.options.retentionBytes)),
    );
  }

  log(topic: string, partition: number): PartitionLog {
    const log = this.topics.get(topic)?.[partition];
    if (!log) throw new KafkaProtocolError(ERROR.UNKNOWN_TOPIC_OR_PARTITION, `${topic}/${partition} does not exist`);
    return log;
  }

  append(topic: string, partition: number, batch: RecordBatch): RecordBatch {
    const stored = this.log(topic, partition).append(batch);
    for (const l of this.listeners) l(topic, partition);
    return stored;
  }

  onAppend(listener: AppendListener): () => void {
    this.listeners.add(listener);
    return () => this.listeners.delete(listener);
  }
}
