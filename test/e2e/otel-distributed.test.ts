// Distributed mode: the proxy service alone (proxy/src/main.ts, events to Kafka — the broker
// fixture) exports its calls' spans to the OTLP receiver exactly like the embedded launcher,
// and answers with gatelog's traceparent.
import { randomUUID } from 'node:crypto';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import OpenAI from 'openai';
import { stringify } from 'yaml';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { KafkaTestBroker } from '../support/kafka/index.ts';
import { startOtlpReceiver, type OtlpReceiver } from '../support/otlp-receiver.ts';
import { startProxyProcess, type ProxyProcess } from './distributed-proxy-process.ts';

const MASTER = `mk-${randomUUID()}`;

let broker: KafkaTestBroker;
let rx: OtlpReceiver;
let proxy: ProxyProcess;
let dir: string;

beforeAll(async () => {
  broker = new KafkaTestBroker();
  [, rx] = await Promise.all([broker.start(), startOtlpReceiver()]);
  dir = mkdtempSync(join(tmpdir(), 'gatelog-otel-dist-'));
  const topic = `events-${randomUUID()}`;
  broker.createTopic(topic, 1);
  const config = join(dir, 'gatelog.yaml');
  writeFileSync(config, stringify({
    bus: { kind: 'kafka', brokers: broker.brokers, topic, request_timeout_ms: 2000 },
    providers: { mock: { kind: 'mock' } },
    models: [{ name: 'mock-chat', deployments: [{ provider: 'mock', model: 'mock-chat' }] }],
    otel: { endpoint: rx.url, protocol: 'http/protobuf', service_name: 'gatelog-proxy', batch_delay_ms: 100 },
  }));
  proxy = await startProxyProcess(config, join(dir, 'proxy'), { GATELOG_MASTER_KEY: MASTER });
}, 180_000);

afterAll(async () => {
  proxy?.kill();
  await rx?.close();
  await broker?.stop();
  if (dir) rmSync(dir, { recursive: true, force: true });
});

describe('OpenTelemetry from the proxy service (distributed)', () => {
  it('exports the call and attempt spans in the caller\'s trace', { timeout: 60_000 }, async () => {
    const traceId = randomUUID().replaceAll('-', '');
    const parent = randomUUID().replaceAll('-', '').slice(0, 16);
    const client = new OpenAI({ baseURL: `${proxy.url}/v1`, apiKey: MASTER, maxRetries: 0 });
    const { data, response } = await client.chat.completions
      .create({ model: 'mock-chat', messages: [{ role: 'user', content: 'hi' }] }, { headers: { traceparent: `00-${traceId}-${parent}-01` } })
      .withResponse();
    expect(data.choices).toHaveLength(1);
    expect(response.headers.get('traceparent')).toMatch(new RegExp(`^00-${traceId}-[0-9a-f]{16}-01$`));
    const spans = (await rx.waitFor((s) => s.filter((x) => x.traceId === traceId).length >= 2)).filter((s) => s.traceId === traceId);
    const call = spans.find((s) => s.kind === 2)!;
    const attempt = spans.find((s) => s.kind === 3)!;
    expect(call.parentSpanId).toBe(parent);
    expect(attempt.parentSpanId).toBe(call.spanId);
    expect(call.resource['service.name']).toBe('gatelog-proxy');
    expect(call.attributes).toMatchObject({ 'gen_ai.request.model': 'mock-chat', 'gatelog.request_id': response.headers.get('x-gatelog-request-id') });
  });
});
