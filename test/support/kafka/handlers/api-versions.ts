// Test fixture only (docker-compose runs the real Kafka in production): ApiVersions v0-v2.
// kafkajs 2.2.4 asks with v2 and then uses min(its best version, our max) for every API, so
// advertising exactly one version per API pins the wire format we implement.
import { ERROR } from '../errors.ts';
import type { ApiHandler } from '../handler-types.ts';
import { ProtocolWriter } from '../protocol-writer.ts';

export const API_VERSIONS_KEY = 18;

export const apiVersions: ApiHandler = {
  apiKey: API_VERSIONS_KEY,
  name: 'ApiVersions',
  minVersion: 0,
  maxVersion: 2,
  handle(broker, req) {
    const w = new ProtocolWriter();
    // A too-new ApiVersions request is answered in v0 format so the client can downgrade.
    const tooNew = req.apiVersion > apiVersions.maxVersion;
    w.int16(tooNew ? ERROR.UNSUPPORTED_VERSION : ERROR.NONE);
    w.array(broker.apis(), (x, api) => x.int16(api.apiKey).int16(api.minVersion).int16(api.maxVersion));
    if (!tooNew && req.apiVersion >= 1) w.int32(0);
    return w;
  },
};
