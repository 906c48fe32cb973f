// Test fixture only (docker-compose runs the real Kafka in production): CreateTopics v3.
// Replica assignments and configs are accepted and ignored (one broker, no retention).
import { ERROR, KafkaProtocolError } from '../errors.ts';
import type { ApiHandler } from '../handler-types.ts';
import { ProtocolWriter } from '../protocol-writer.ts';

export const createTopics: ApiHandler = {
  apiKey: 19,
  name: 'CreateTopics',
  minVersion: 3,
  maxVersion: 3,
  handle(broker, _req, r) {
    const topics = r.array((x) => {
      const name = x.string();
      const partitions = x.int32();
      x.int16(); // replication factor
      x.array((y) => [y.int32(), y.array((z) => z.int32())]);
      x.array((y) => [y.string(), y.nullableString()]);
      return { name, partitions };
    });
    r.int32(); // timeout: creation is immediate
    const validateOnly = r.boolean();
    const w = new ProtocolWriter().int32(0);
    w.array(topics, (x, t) => {
      let code: number = ERROR.NONE;
      let message: string | null = null;
      try {
        if (validateOnly) {
          if (broker.store.has(t.name)) throw new KafkaProtocolError(ERROR.TOPIC_ALREADY_EXISTS, `topic ${t.name} exists`);
        } else broker.store.create(t.name, t.partitions);
      } catch (err) {
        if (!(err instanceof KafkaProtocolError)) throw err;
        code = err.code;
        message = err.message;
      }
      x.string(t.name).int16(code).string(message);
    });
    return w;
  },
};
