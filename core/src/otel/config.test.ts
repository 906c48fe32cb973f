import { describe, expect, it } from 'vitest';
import { ConfigError } from '../config.ts';
import { parseConfig } from '../config-load.ts';

const parse = (otel: unknown) => parseConfig({ otel }, 'gatelog.yaml', {});

describe('otel: in gatelog.yaml', () => {
  it('is off by default, with bodies off and sampling following the caller', () => {
    const c = parseConfig({}, 'gatelog.yaml', {}).otel;
    expect(c).toMatchObject({ endpoint: '', protocol: 'http/protobuf', bodies: false, service_name: 'gatelog', sampling: { follow_parent: true, ratio: 1 }, max_queue_size: 4096 });
  });

  it('reads an endpoint, protocol and headers', () => {
    const c = parse({ endpoint: 'http://collector:4318/v1/traces', protocol: 'http/json', headers: { authorization: 'Bearer t0k' } }).otel;
    expect(c).toMatchObject({ endpoint: 'http://collector:4318/v1/traces', protocol: 'http/json', headers: { authorization: 'Bearer t0k' } });
  });

  it.each([
    [{ endpoint: 'ftp://collector/v1/traces' }, 'otel.endpoint'],
    [{ endpoint: 'http://c:4318/v1/traces', protocol: 'grpc' }, 'otel.protocol'],
    [{ endpoint: 'http://c:4318/v1/traces', sampling: { ratio: 2 } }, 'otel.sampling.ratio'],
    [{ endpoint: 'http://c:4318/v1/traces', max_queue_size: 10, max_batch_size: 20 }, 'otel.max_batch_size'],
    [{ endpoint: 'http://c:4318/v1/traces', colour: 'blue' }, 'otel'],
  ])('names the field of a bad value: %j', (otel, path) => {
    expect(() => parse(otel)).toThrow(ConfigError);
    expect(() => parse(otel)).toThrow(path);
  });
});
