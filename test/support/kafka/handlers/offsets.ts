// Test fixture only (docker-compose runs the real Kafka in production): OffsetCommit v5,
// OffsetFetch v4 and ListOffsets v3.
import { ERROR, KafkaProtocolError } from '../errors.ts';
import type { ApiHandler } from '../handler-types.ts';
import { ProtocolWriter } from '../protocol-writer.ts';

const LATEST = -1;
const EARLIEST = -2;

export const offsetCommit: ApiHandler = {
  apiKey: 8,
  name: 'OffsetCommit',
  minVersion: 5,
  maxVersion: 5,
  handle(broker, _req, r) {
    const groupId = r.string();
    const generationId = r.int32();
    const memberId = r.string();
    const topics = r.array((x) => ({
      topic: x.string(),
      partitions: x.array((y) => ({ partition: y.int32(), offset: y.int64(), metadata: y.nullableString() })),
    }));
    const entries = topics.flatMap((t) =>
      t.partitions.map((p) => ({ topic: t.topic, partition: p.partition, offset: { offset: p.offset, metadata: p.metadata } })),
    );
    const code = broker.groups.commit(groupId, generationId, memberId, entries);
    const w = new ProtocolWriter().int32(0);
    return w.array(topics, (x, t) => x.string(t.topic).array(t.partitions, (y, p) => y.int32(p.partition).int16(code)));
  },
};

export const offsetFetch: ApiHandler = {
  apiKey: 9,
  name: 'OffsetFetch',
  minVersion: 4,
  maxVersion: 4,
  handle(broker, _req, r) {
    const groupId = r.string();
    const requested = r.nullableArray((x) => ({ topic: x.string(), partitions: x.array((y) => y.int32()) }));
    const committed = broker.groups.committed(groupId);
    // A null topic list asks for everything the group has committed.
    const topics = requested ?? [...committed].map(([topic, parts]) => ({ topic, partitions: [...parts.keys()] }));
    const w = new ProtocolWriter().int32(0);
    w.array(topics, (x, t) =>
      x.string(t.topic).array(t.partitions, (y, p) => {
        const c = committed.get(t.topic)?.get(p);
        y.int32(p).int64(c?.offset ?? -1).string(c?.metadata ?? '').int16(ERROR.NONE);
      }),
    );
    return w.int16(ERROR.NONE);
  },
};

export const listOffsets: ApiHandler = {
  apiKey: 2,
  name: 'ListOffsets',
  minVersion: 3,
  maxVersion: 3,
  handle(broker, _req, r) {
    r.int32(); // replica id
    r.int8(); // isolation level
    const topics = r.array((x) => ({
      topic: x.string(),
      partitions: x.array((y) => ({ partition: y.int32(), timestamp: y.int64() })),
    }));
    const w = new ProtocolWriter().int32(0);
    return w.array(topics, (x, t) =>
      x.string(t.topic).array(t.partitions, (y, p) => {
        try {
          const log = broker.store.log(t.topic, p.partition);
          const hit =
            p.timestamp === LATEST
              ? { offset: log.nextOffset, timestamp: -1 }
              : p.timestamp === EARLIEST
                ? { offset: log.logStartOffset, timestamp: -1 }
                : log.offsetForTimestamp(p.timestamp);
          y.int32(p.partition).int16(ERROR.NONE).int64(hit.timestamp).int64(hit.offset);
        } catch (err) {
          if (!(err instanceof KafkaProtocolError)) throw err;
          y.int32(p.partition).int16(err.code).int64(-1).int64(-1);
        }
      }),
    );
  },
};
