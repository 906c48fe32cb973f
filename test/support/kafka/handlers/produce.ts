// Test fixture only (docker-compose runs the real Kafka in production): Produce v7. Each
// partition's record set is parsed and CRC-checked first (a bad batch is refused whole with
// CORRUPT_MESSAGE), then sequence-checked for idempotent producers: a retried batch is
// acknowledged with the offset it got the first time, never appended twice. A batch over the
// broker's maxMessageBytes is refused with MESSAGE_TOO_LARGE, as Kafka's max.message.bytes does.
import { ERROR, KafkaProtocolError } from '../errors.ts';
import type { ApiHandler, BrokerState } from '../handler-types.ts';
import { ProtocolWriter } from '../protocol-writer.ts';
import { parseRecordBatches } from '../record-batch.ts';

interface PartitionResult {
  partition: number;
  errorCode: number;
  baseOffset: number;
  logStartOffset: number;
}

export const produce: ApiHandler = {
  apiKey: 0,
  name: 'Produce',
  minVersion: 7,
  maxVersion: 7,
  handle(broker, _req, r) {
    r.nullableString(); // transactional id
    const acks = r.int16();
    r.int32(); // timeout: appends are synchronous, so there is nothing to wait for
    const topics = r.array((x) => ({
      topic: x.string(),
      partitions: x.array((y) => ({ partition: y.int32(), records: y.nullableBytes() })),
    }));
    const results = topics.map((t) => ({
      topic: t.topic,
      partitions: t.partitions.map((p) => appendPartition(broker, t.topic, p.partition, p.records)),
    }));
    if (acks === 0) return 'no-response';
    if (broker.takeLostProduceResponse()) return 'drop-connection';
    const w = new ProtocolWriter();
    w.array(results, (x, t) =>
      x.string(t.topic).array(t.partitions, (y, p) => y.int32(p.partition).int16(p.errorCode).int64(p.baseOffset).int64(-1).int64(p.logStartOffset)),
    );
    return w.int32(0);
  },
};

function appendPartition(broker: BrokerState, topic: string, partition: number, records: Buffer | null): PartitionResult {
  try {
    const log = broker.store.log(topic, partition);
    if (!records) throw new KafkaProtocolError(ERROR.CORRUPT_MESSAGE, 'null record set');
    const batches = parseRecordBatches(records, { decode: broker.decodeOnProduce });
    const tooLarge = batches.find((b) => b.raw.length > broker.maxMessageBytes);
    if (tooLarge) throw new KafkaProtocolError(ERROR.MESSAGE_TOO_LARGE, `record batch of ${tooLarge.raw.length} bytes is over max.message.bytes ${broker.maxMessageBytes}`);
    let firstOffset = -1;
    for (const batch of batches) {
      const check = broker.producers.check(topic, partition, batch);
      let offset: number;
      if (check.kind === 'duplicate') offset = check.baseOffset;
      else {
        offset = broker.store.append(topic, partition, batch).baseOffset;
        broker.producers.recordAppend(topic, partition, batch, offset);
      }
      if (firstOffset < 0) firstOffset = offset;
    }
    return { partition, errorCode: ERROR.NONE, baseOffset: firstOffset, logStartOffset: log.logStartOffset };
  } catch (err) {
    if (!(err instanceof KafkaProtocolError)) throw err;
    return { partition, errorCode: err.code, baseOffset: -1, logStartOffset: -1 };
  }
}
