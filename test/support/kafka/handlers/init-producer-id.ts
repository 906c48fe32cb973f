// Test fixture only (docker-compose runs the real Kafka in production): InitProducerId v1 for
// the idempotent producer. Transactions are not served (their APIs are not advertised).
import { ERROR } from '../errors.ts';
import type { ApiHandler } from '../handler-types.ts';
import { ProtocolWriter } from '../protocol-writer.ts';

export const initProducerId: ApiHandler = {
  apiKey: 22,
  name: 'InitProducerId',
  minVersion: 1,
  maxVersion: 1,
  handle(broker, _req, r) {
    r.nullableString(); // transactional id
    r.int32(); // transaction timeout
    const { producerId, epoch } = broker.producers.initProducerId();
    return new ProtocolWriter().int32(0).int16(ERROR.NONE).int64(producerId).int16(epoch);
  },
};
