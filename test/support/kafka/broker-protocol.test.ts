// Test fixture only: KafkaTestBroker's version negotiation and request framing, spoken to on
// a raw socket.
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { KafkaTestBroker } from './broker.ts';
import { ERROR } from './errors.ts';
import { API_HANDLERS } from './handlers/index.ts';
import { kafkajsBestVersions, rawExchange, requestFrame } from './kafkajs-wire.ts';
import { ProtocolReader } from './protocol-reader.ts';

const API_VERSIONS = 18;
const METADATA = 3;

describe('KafkaTestBroker protocol', () => {
  let broker: KafkaTestBroker;

  beforeEach(async () => {
    broker = new KafkaTestBroker();
    await broker.start();
  });

  afterEach(async () => {
    await broker.stop();
  });

  it('pins each API to the highest version kafkajs 2.2.4 implements', () => {
    const best = kafkajsBestVersions();
    for (const api of API_HANDLERS) {
      expect({ api: api.name, version: api.maxVersion }).toEqual({ api: api.name, version: best.get(api.apiKey) });
    }
  });

  it('answers ApiVersions v2 with the advertised table and a too-new request in v0 format', async () => {
    const [v2, v3] = await rawExchange(broker.port, [requestFrame(API_VERSIONS, 2, 7), requestFrame(API_VERSIONS, 3, 8)]);
    const read = (body: Buffer, withThrottle: boolean) => {
      const r = new ProtocolReader(body);
      const errorCode = r.int16();
      const apis = r.array((x) => [x.int16(), x.int16(), x.int16()]);
      const throttle = withThrottle ? r.int32() : null;
      return { errorCode, apis, throttle, rest: r.remaining() };
    };
    const expected = API_HANDLERS.map((h) => [h.apiKey, h.minVersion, h.maxVersion]);
    expect(v2!.correlationId).toBe(7);
    expect(read(v2!.body, true)).toEqual({ errorCode: ERROR.NONE, apis: expected, throttle: 0, rest: 0 });
    expect(v3!.correlationId).toBe(8);
    expect(read(v3!.body, false)).toEqual({ errorCode: ERROR.UNSUPPORTED_VERSION, apis: expected, throttle: null, rest: 0 });
  });

  it('hangs up on an API version it does not serve, like a broker that cannot parse it', async () => {
    const responses = await rawExchange(broker.port, [requestFrame(METADATA, 0, 1), requestFrame(API_VERSIONS, 2, 2)]);
    expect(responses).toEqual([]);
    expect(broker.errors.map((e) => e.message)).toEqual([expect.stringContaining('unsupported api 3 v0')]);
  });
});
