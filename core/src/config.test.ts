import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { ConfigError } from './config.ts';
import { defaultConfig, loadConfig } from './config-load.ts';

function file(text: string): string {
  const p = join(mkdtempSync(join(tmpdir(), 'gatelog-cfg-')), 'gatelog.yaml');
  writeFileSync(p, text);
  return p;
}

const CONTRACT = `
server: { port: 4000 }
storage: { clickhouse: embedded }
bus: { kind: local }
providers:
  openai: { kind: openai, base_url: https://api.openai.com/v1, api_key: \${OPENAI_API_KEY} }
  fake:   { kind: openai, base_url: http://127.0.0.1:9999/v1, api_key: sk-anything }
models:
  - name: fast
    deployments:
      - { provider: fake, model: gpt-4o-mini }
pricing:
  - { provider: fake, model: gpt-4o-mini, input: 0.15, output: 0.6 }
`;

function errorOf(fn: () => unknown): string {
  try {
    fn();
  } catch (err) {
    expect(err).toBeInstanceOf(ConfigError);
    return (err as Error).message;
  }
  throw new Error('expected a ConfigError');
}

describe('loadConfig', () => {
  it('accepts the documented contract shape and interpolates the environment', () => {
    const { config } = loadConfig({ path: file(CONTRACT), env: { OPENAI_API_KEY: 'sk-test-123' } });
    expect(config.server.port).toBe(4000);
    expect(config.storage.clickhouse).toBe('embedded');
    expect(config.bus.kind).toBe('local');
    expect(config.providers['openai']?.api_key).toBe('sk-test-123');
    expect(config.models[0]?.deployments[0]).toMatchObject({ provider: 'fake', model: 'gpt-4o-mini', weight: 1 });
    expect(config.pricing[0]).toMatchObject({ input: 0.15, output: 0.6 });
  });

  it('names the file, the field and the variable when an env var is missing', () => {
    const p = file(CONTRACT);
    const msg = errorOf(() => loadConfig({ path: p, env: {} }));
    expect(msg).toContain(p);
    expect(msg).toContain('providers.openai.api_key');
    expect(msg).toContain('OPENAI_API_KEY');
  });

  it('uses ${VAR:-default} fallbacks', () => {
    const { config } = loadConfig({ path: file('server: { port: 4000 }\nproviders:\n  p: { kind: openai, base_url: "${BASE:-http://127.0.0.1:1/v1}" }\n'), env: {} });
    expect(config.providers['p']?.base_url).toBe('http://127.0.0.1:1/v1');
  });

  it('a value that is only ${VAR} takes its scalar type', () => {
    const { config } = loadConfig({ path: file('server: { port: ${PORT} }\nproviders:\n  p: { kind: openai, base_url: "http://127.0.0.1:1/v1", api_key: ${K} }\n'), env: { PORT: '4100', K: '12345' } });
    expect(config.server.port).toBe(4100);
    expect(config.providers['p']?.api_key).toBe('12345');
  });

  it('an env value cannot inject YAML structure', () => {
    const { config } = loadConfig({
      path: file('providers:\n  p: { kind: openai, base_url: "http://127.0.0.1:1/v1", api_key: "${K}" }\n'),
      env: { K: 'x\nmodels: [{name: evil}]' },
    });
    expect(config.providers['p']?.api_key).toBe('x\nmodels: [{name: evil}]');
    expect(config.models).toEqual([]);
  });

  it.each([
    ['server: { port: "abc" }', 'server.port'],
    ['server: { port: 70000 }', 'server.port'],
    ['servr: { port: 1 }', 'servr'],
    ['providers:\n  p: { kind: nope, base_url: "http://x/v1" }', 'providers.p.kind'],
    ['providers:\n  p: { kind: openai }', 'providers.p.base_url'],
    ['providers:\n  p: { kind: openai, base_url: "not a url" }', 'providers.p.base_url'],
    ['models:\n  - name: a\n    deployments: [{ provider: ghost, model: m }]', 'models[0].deployments[0].provider'],
    ['models:\n  - name: a\n    deployments: []', 'models[0].deployments'],
    ['bus: { kind: carrier-pigeon }', 'bus.kind'],
    ['bus: { kind: kafka, brokers: [k:9092], compression: lz4 }', 'bus.compression'],
    ['pricing:\n  - { provider: p, model: m, input: -1, output: 1 }', 'pricing[0].input'],
    ['pricing:\n  - { provider: p, model: m }', 'pricing[0].input: give input and output (USD per 1M tokens), or a unit rate'],
    ['pricing:\n  - { provider: p, model: m, input: 1 }', 'pricing[0].output: input and output'],
    ['pricing:\n  - { provider: p, model: m, image: { "1024x1024": -1 } }', 'pricing[0].image'],
  ])('rejects %j naming %s', (yaml, path) => {
    const p = file(yaml);
    const msg = errorOf(() => loadConfig({ path: p, env: {} }));
    expect(msg).toContain(p);
    expect(msg).toContain(path);
  });

  it('prices a model by a unit rate alone: input and output are then optional', () => {
    const { config } = loadConfig({ path: file('pricing:\n  - { provider: local, model: whisper-local, audio_minute: 0.002 }\n  - { provider: local, model: sd, image: { hd: 0.05, default: 0.02 } }'), env: {} });
    expect(config.pricing).toEqual([
      { provider: 'local', model: 'whisper-local', audio_minute: 0.002 },
      { provider: 'local', model: 'sd', image: { hd: 0.05, default: 0.02 } },
    ]);
  });

  it('compresses the Kafka bus with zstd unless told otherwise', () => {
    const bus = (yaml: string): unknown => loadConfig({ path: file(yaml), env: {} }).config.bus;
    expect(bus('bus: { kind: kafka, brokers: [k:9092] }')).toMatchObject({ kind: 'kafka', compression: 'zstd' });
    expect(bus('bus: { kind: kafka, brokers: [k:9092], compression: gzip }')).toMatchObject({ compression: 'gzip' });
    expect(bus('bus: { kind: kafka, brokers: [k:9092], compression: none }')).toMatchObject({ compression: 'none' });
    const msg = errorOf(() => loadConfig({ path: file('bus: { kind: kafka, brokers: [k:9092], compression: snappy }'), env: {} }));
    expect(msg).toMatch(/bus\.compression: .*zstd.*gzip.*none/);
  });

  it('SCIM provisioning is off by default, and needs single sign-on to be on', () => {
    const sso = (yaml: string): unknown => loadConfig({ path: file(yaml), env: {} }).config.sso;
    expect(sso('server: { port: 4000 }')).toMatchObject({ scim: { enabled: false } });
    const oidc = 'oidc: { issuer: "https://idp.example.com", client_id: c, client_secret: s }';
    expect(sso(`sso: { ${oidc}, scim: { enabled: true } }`)).toMatchObject({ scim: { enabled: true } });
    expect(errorOf(() => loadConfig({ path: file('sso: { scim: { enabled: true } }'), env: {} }))).toMatch(/sso\.scim\.enabled: needs sso\.oidc/);
  });

  it('reports YAML syntax errors with the file', () => {
    const p = file('server: { port: 4000\n');
    expect(errorOf(() => loadConfig({ path: p, env: {} }))).toContain(p);
  });

  it('reports an unreadable file', () => {
    expect(errorOf(() => loadConfig({ path: '/nonexistent/gatelog.yaml', env: {} }))).toContain('/nonexistent/gatelog.yaml');
  });

  it('GATELOG_CONFIG is used when no path is given', () => {
    const { file: f } = loadConfig({ env: { GATELOG_CONFIG: file(CONTRACT), OPENAI_API_KEY: 'k' } });
    expect(f).toMatch(/gatelog\.yaml$/);
  });
});

describe('defaultConfig', () => {
  it('serves the mock provider with no keys at all', () => {
    const c = defaultConfig({});
    expect(Object.keys(c.providers)).toEqual(['mock']);
    expect(c.models.map((m) => m.name)).toContain('mock-chat');
  });

  it('adds OpenAI when its key is set, without copying the key into logs-visible names', () => {
    const c = defaultConfig({ OPENAI_API_KEY: 'sk-live' });
    expect(c.providers['openai']).toMatchObject({ kind: 'openai', api_key: 'sk-live' });
  });
});

describe('state.redis', () => {
  const load = (redis: string): ReturnType<typeof loadConfig> => loadConfig({ path: file(`state:\n  redis: ${redis}\n`), env: { REDIS_PASSWORD: 's3cret' } });

  it('takes one server by URL, a cluster by its seed nodes, a primary through sentinels', () => {
    expect(load('redis://127.0.0.1:6379').config.state.redis).toBe('redis://127.0.0.1:6379');
    expect(load('{ cluster: [ "rediss://:${REDIS_PASSWORD}@node-1:6379", "rediss://node-2:6379" ] }').config.state.redis).toEqual({
      cluster: ['rediss://:s3cret@node-1:6379', 'rediss://node-2:6379'],
    });
    expect(load('{ sentinels: [ "10.0.0.1:26379", "[::1]:26380" ], name: mymaster, password: "${REDIS_PASSWORD}" }').config.state.redis).toEqual({
      sentinels: ['10.0.0.1:26379', '[::1]:26380'],
      name: 'mymaster',
      password: 's3cret',
      tls: false,
      db: 0,
    });
  });

  it('refuses what cannot be reached, naming the field', () => {
    for (const [bad, says] of [
      ['http://127.0.0.1:6379', 'redis:// or rediss://'],
      ['{ cluster: [] }', 'at least one seed node'],
      ['{ cluster: [ "redis://a:1", "rediss://b:2" ] }', 'must all be redis:// or all rediss://'],
      ['{ cluster: [ "a:1" ] }', 'redis:// or rediss://'],
      ['{ sentinels: [ "10.0.0.1" ], name: m }', 'host:port'],
      ['{ sentinels: [ "10.0.0.1:26379" ] }', 'name'],
      ['{ sentinels: [ "10.0.0.1:26379" ], name: m, db: 16 }', 'db'],
      ['{ cluster: [ "redis://a:1" ], nodes: 3 }', 'nodes'],
      ['{ cluster: [ "redis://a:1" ], password: x }', 'from its seed URLs, not password'],
      ['{ name: m }', 'either a redis:// URL, cluster: [seed URLs] or sentinels'],
    ] as const) {
      const msg = errorOf(() => load(bad));
      expect(msg, bad).toContain('state.redis');
      expect(msg, bad).toContain(says);
    }
  });
});

describe('audit.sinks', () => {
  const load = (sinks: string, env: Record<string, string> = {}): ReturnType<typeof loadConfig> => loadConfig({ path: file(`audit:\n  sinks:\n${sinks}`), env });

  it('takes webhook and otlp sinks with their defaults, secrets from the environment', () => {
    const { config } = load([
      '    - { kind: webhook, name: splunk, format: splunk_hec, url: "https://splunk.example:8088/services/collector/event", headers: { authorization: "Splunk ${HEC}" } }',
      '    - { kind: otlp, name: collector, endpoint: "http://collector:4318/v1/logs" }',
      '',
    ].join('\n'), { HEC: 'hec-token' });
    expect(config.audit.sinks[0]).toMatchObject({ kind: 'webhook', format: 'splunk_hec', headers: { authorization: 'Splunk hec-token' }, batch_rows: 500 });
    expect(config.audit.sinks[1]).toMatchObject({ kind: 'otlp', protocol: 'http/protobuf', service_name: 'gatelog' });
    expect(config.audit.stream).toMatchObject({ poll_ms: 1000, attempts: 5, lease_ms: 120_000 });
    expect(loadConfig({ path: file('server: { port: 4000 }\n'), env: {} }).config.audit.sinks).toEqual([]);
  });

  it('refuses what cannot be sent, naming the field, never echoing a secret', () => {
    for (const [bad, field, says] of [
      ['{ kind: webhook, name: s, url: "ftp://siem.example/${TOKEN}" }', 'audit.sinks[0].url', 'http'],
      ['{ kind: webhook, name: s, url: "https://siem.example/", token: "${TOKEN}" }', 'audit.sinks[0]', 'token'],
      ['{ kind: webhook, name: s, url: "https://siem.example/", secret: short }', 'audit.sinks[0].secret', '16'],
      ['{ kind: otlp, name: s, endpoint: "https://c.example/v1/logs", protocol: grpc }', 'audit.sinks[0].protocol', 'http/protobuf'],
      ['{ kind: syslog, name: s }', 'audit.sinks[0].kind', 'webhook'],
    ] as const) {
      const msg = errorOf(() => load(`    - ${bad}\n`, { TOKEN: 'tok-never-shown' }));
      expect(msg, bad).toContain(field);
      expect(msg, bad).toContain(says);
      expect(msg, bad).not.toContain('tok-never-shown');
    }
    const dup = errorOf(() => load('    - { kind: webhook, name: a, url: "https://x.example/" }\n    - { kind: otlp, name: a, endpoint: "https://y.example/" }\n'));
    expect(dup).toContain('audit.sinks[1].name');
    expect(dup).toContain('duplicate');
  });
});

describe('gatelog.example.yaml', () => {
  it('loads as documented', () => {
    const path = new URL('../../gatelog.example.yaml', import.meta.url).pathname;
    const { config } = loadConfig({ path, env: { OPENAI_API_KEY: 'sk-example' } });
    expect(config.models.map((m) => m.name)).toEqual(['fast', 'smart', 'demo']);
    expect(config.providers['anthropic']?.kind).toBe('anthropic');
  });
});
