// Test fixture only (docker-compose runs the real Kafka in production): idempotent producer
// bookkeeping. Like Kafka, each (producer id, partition) remembers its last sequence and its
// last five batches, so a retried batch is acknowledged with its original offset instead of
// being appended twice.
import { ERROR, KafkaProtocolError } from './errors.ts';
import type { RecordBatch } from './record-batch.ts';

const REMEMBERED_BATCHES = 5;
const INT32_MAX = 0x7fffffff;

interface BatchMemo {
  firstSeq: number;
  lastSeq: number;
  baseOffset: number;
}

interface PartitionProducerState {
  epoch: number;
  lastSeq: number;
  recent: BatchMemo[];
}

export type SequenceCheck = { kind: 'append' } | { kind: 'duplicate'; baseOffset: number } | { kind: 'plain' };

export class ProducerStateTable {
  /** Retried batches acknowledged without a second append (for test assertions). */
  duplicates = 0;
  private nextProducerId = 1000;
  private readonly epochs = new Map<number, number>();
  private readonly partitions = new Map<string, PartitionProducerState>();

  initProducerId(): { producerId: number; epoch: number } {
    const producerId = this.nextProducerId++;
    this.epochs.set(producerId, 0);
    return { producerId, epoch: 0 };
  }

  /** Decides what to do with an incoming batch; throws the Kafka error for invalid sequences. */
  check(topic: string, partition: number, batch: RecordBatch): SequenceCheck {
    if (batch.producerId < 0) return { kind: 'plain' };
    const knownEpoch = this.epochs.get(batch.producerId);
    if (knownEpoch === undefined) {
      throw new KafkaProtocolError(ERROR.UNKNOWN_PRODUCER_ID, `producer ${batch.producerId} was never initialised`);
    }
    if (batch.producerEpoch < knownEpoch) {
      throw new KafkaProtocolError(ERROR.INVALID_PRODUCER_EPOCH, `epoch ${batch.producerEpoch} < ${knownEpoch}`);
    }
    const state = this.partitions.get(key(batch.producerId, topic, partition));
    const lastSeq = seqAdd(batch.baseSequence, batch.lastOffsetDelta);
    if (!state || state.epoch < batch.producerEpoch) {
      if (batch.baseSequence !== 0) {
        throw new KafkaProtocolError(ERROR.OUT_OF_ORDER_SEQUENCE_NUMBER, `first sequence ${batch.baseSequence}, expected 0`);
      }
      return { kind: 'append' };
    }
    const dup = state.recent.find((m) => m.firstSeq === batch.baseSequence && m.lastSeq === lastSeq);
    if (dup) {
      this.duplicates++;
      return { kind: 'duplicate', baseOffset: dup.baseOffset };
    }
    if (batch.baseSequence !== seqAdd(state.lastSeq, 1)) {
      throw new KafkaProtocolError(
        ERROR.OUT_OF_ORDER_SEQUENCE_NUMBER,
        `sequence ${batch.baseSequence}, expected ${seqAdd(state.lastSeq, 1)}`,
      );
    }
    return { kind: 'append' };
  }

  recordAppend(topic: string, partition: number, batch: RecordBatch, baseOffset: number): void {
    if (batch.producerId < 0) return;
    const k = key(batch.producerId, topic, partition);
    const lastSeq = seqAdd(batch.baseSequence, batch.lastOffsetDelta);
    const prev = this.partitions.get(k);
    const state: PartitionProducerState =
      prev && prev.epoch === batch.producerEpoch ? prev : { epoch: batch.producerEpoch, lastSeq: -1, recent: [] };
    state.lastSeq = lastSeq;
    state.recent.push({ firstSeq: batch.baseSequence, lastSeq, baseOffset });
    if (state.recent.length > REMEMBERED_BATCHES) state.recent.shift();
    this.partitions.set(k, state);
    this.epochs.set(batch.producerId, Math.max(this.epochs.get(batch.producerId) ?? 0, batch.producerEpoch));
  }
}

function key(producerId: number, topic: string, partition: number): string {
  return `${producerId}\u0000${topic}\u0000${partition}`;
}

/** Sequences wrap from INT32_MAX to 0 (KIP-98). */
function seqAdd(seq: number, n: number): number {
  const v = seq + n;
  return v > INT32_MAX ? v - INT32_MAX - 1 : v;
}
