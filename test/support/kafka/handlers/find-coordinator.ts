// Test fixture only (docker-compose runs the real Kafka in production): FindCoordinator v2.
// The single broker coordinates every group (and would every transaction).
import { ERROR } from '../errors.ts';
import type { ApiHandler } from '../handler-types.ts';
import { ProtocolWriter } from '../protocol-writer.ts';

export const findCoordinator: ApiHandler = {
  apiKey: 10,
  name: 'FindCoordinator',
  minVersion: 2,
  maxVersion: 2,
  handle(broker, _req, r) {
    r.string(); // key
    r.int8(); // key type
    return new ProtocolWriter().int32(0).int16(ERROR.NONE).string(null).int32(broker.nodeId).string(broker.host).int32(broker.port());
  },
};
