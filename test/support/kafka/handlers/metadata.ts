// Test fixture only (docker-compose runs the real Kafka in production): Metadata v6. One
// broker leads every partition; unknown topics are auto-created when both the request and
// the broker allow it (kafkajs sends allowAutoTopicCreation from its client options).
import { ERROR, KafkaProtocolError } from '../errors.ts';
import type { ApiHandler, BrokerState } from '../handler-types.ts';
import { ProtocolWriter } from '../protocol-writer.ts';

export const metadata: ApiHandler = {
  apiKey: 3,
  name: 'Metadata',
  minVersion: 6,
  maxVersion: 6,
  handle(broker, _req, r) {
    const requested = r.nullableArray((x) => x.string());
    const allowAutoCreate = r.boolean();
    const topics = requested ?? broker.store.names();
    const w = new ProtocolWriter().int32(0);
    w.array([broker.nodeId], (x, id) => x.int32(id).string(broker.host).int32(broker.port()).string(null));
    w.string(broker.clusterId).int32(broker.nodeId);
    w.array(topics, (x, topic) => writeTopic(x, broker, topic, allowAutoCreate && broker.autoCreateTopics));
    return w;
  },
};

function writeTopic(w: ProtocolWriter, broker: BrokerState, topic: string, autoCreate: boolean): void {
  let errorCode: number = ERROR.NONE;
  if (!broker.store.has(topic)) {
    if (!autoCreate) errorCode = ERROR.UNKNOWN_TOPIC_OR_PARTITION;
    else {
      try {
        broker.store.create(topic);
      } catch (err) {
        if (!(err instanceof KafkaProtocolError)) throw err;
        errorCode = err.code;
      }
    }
  }
  const partitions = broker.store.partitions(topic) ?? [];
  w.int16(errorCode).string(topic).boolean(false);
  w.array(
    partitions.map((_, i) => i),
    (x, p) => {
      const replicas = (y: ProtocolWriter, id: number): void => void y.int32(id);
      x.int16(ERROR.NONE).int32(p).int32(broker.nodeId);
      x.array([broker.nodeId], replicas).array([broker.nodeId], replicas).array([], replicas);
    },
  );
}
