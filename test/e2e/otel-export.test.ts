// OpenTelemetry both ways through real `gatelog start` processes: the real openai and
// Anthropic SDKs send W3C traceparent/tracestate; the call is stored linked to the caller's
// trace (and found by a pasted traceparent); and its spans — one for the call, one per
// attempt — arrive at a local OTLP/HTTP receiver, protobuf from one process, JSON from another.
import OpenAI from 'openai';
import Anthropic from '@anthropic-ai/sdk';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startFakeOpenAi, type FakeOpenAi } from '../support/fake-openai.ts';
import { startFakeAnthropic, FAKE_ANTHROPIC_USAGE, type FakeAnthropic } from '../support/fake-anthropic.ts';
import { startGatelog, type GatelogProcess } from '../support/gatelog-process.ts';
import { startTogether } from '../support/start-together.ts';
import { startOtlpReceiver, type OtlpReceiver, type ReceivedSpan } from '../support/otlp-receiver.ts';

const MASTER = 'gl-master-otel-0123456789';
const COLLECTOR_TOKEN = 'collector-token-xyz';

let fake: FakeOpenAi;
let ant: FakeAnthropic;
let rx: OtlpReceiver;
let proto: GatelogProcess;
let json: GatelogProcess;

const hex = (n: number): string => Array.from(crypto.getRandomValues(new Uint8Array(n)), (b) => b.toString(16).padStart(2, '0')).join('');

function configFor(protocol: 'http/protobuf' | 'http/json'): object {
  return {
    providers: {
      fake: { kind: 'openai', base_url: fake.baseUrl, api_key: 'sk-upstream-otel' },
      ant: { kind: 'anthropic', base_url: ant.url, api_key: 'sk-ant-upstream-otel' },
    },
    models: [
      { name: 'fast', deployments: [{ provider: 'fake', model: 'gpt-4o-mini' }] },
      { name: 'dual', fallbacks: ['backup'], deployments: [{ provider: 'fake', model: 'gpt-a' }] },
      { name: 'backup', deployments: [{ provider: 'fake', model: 'gpt-b' }] },
      { name: 'claude', deployments: [{ provider: 'ant', model: 'claude-sonnet-4' }] },
    ],
    pricing: [{ provider: 'fake', model: 'gpt-4o-mini', input: 0.15, output: 0.6 }],
    router: { retries: 0 },
    ingest: { batch_rows: 1000, batch_ms: 200 },
    otel: { endpoint: rx.url, protocol, headers: { authorization: `Bearer ${COLLECTOR_TOKEN}` }, service_name: `gatelog-${protocol}`, batch_delay_ms: 100 },
  };
}

beforeAll(async () => {
  [fake, ant, rx] = await Promise.all([startFakeOpenAi(), startFakeAnthropic(), startOtlpReceiver()]);
  [proto, json] = await startTogether(
    [startGatelog({ config: configFor('http/protobuf'), env: { GATELOG_MASTER_KEY: MASTER }, timeoutMs: 90_000 }), (g) => g.stop()],
    [startGatelog({ config: configFor('http/json'), env: { GATELOG_MASTER_KEY: MASTER }, timeoutMs: 90_000 }), (g) => g.stop()],
  );
}, 120_000);

afterAll(async () => {
  await Promise.all([proto?.stop(), json?.stop()]);
  await Promise.all([fake?.close(), ant?.close(), rx?.close()]);
});

const openai = (gl: GatelogProcess): OpenAI => new OpenAI({ baseURL: `${gl.url}/v1`, apiKey: MASTER, maxRetries: 0 });
const ofTrace = (traceId: string) => (spans: ReceivedSpan[]): ReceivedSpan[] => spans.filter((s) => s.traceId === traceId);

async function recorded(gl: GatelogProcess, id: string): Promise<Record<string, unknown>> {
  const t0 = Date.now();
  for (;;) {
    const res = await fetch(`${gl.url}/admin/calls/${id}`, { headers: { authorization: `Bearer ${MASTER}` } });
    if (res.status === 200) return (await res.json()) as Record<string, unknown>;
    if (Date.now() - t0 > 20_000) throw new Error(`call ${id} not stored`);
    await new Promise((r) => setTimeout(r, 100));
  }
}

async function countByTrace(gl: GatelogProcess, trace: string): Promise<number> {
  const res = await fetch(`${gl.url}/admin/export/count?${new URLSearchParams({ trace })}`, { headers: { authorization: `Bearer ${MASTER}` } });
  expect(res.status).toBe(200);
  return ((await res.json()) as { rows: number }).rows;
}

describe.each([
  ['protobuf', () => proto],
  ['json', () => json],
] as const)('OTLP/HTTP %s export', (encoding, gl) => {
  it('exports a call span parented by the caller, with GenAI attributes, and an attempt span under it', async () => {
    const traceId = hex(16);
    const parent = hex(8);
    const before = Date.now();
    const { data, response } = await openai(gl())
      .chat.completions.create(
        { model: 'fast', messages: [{ role: 'user', content: `secret prompt ${traceId}` }], max_tokens: 77, temperature: 0.5 },
        { headers: { traceparent: `00-${traceId}-${parent}-01`, tracestate: 'vendor=abc,other=1' } },
      )
      .withResponse();
    const after = Date.now();
    expect(data.choices[0]?.message.content).toContain('Fake reply');
    const requestId = response.headers.get('x-gatelog-request-id') ?? '';
    // gatelog answers with its own span in the caller's trace.
    const answered = /^00-([0-9a-f]{32})-([0-9a-f]{16})-01$/.exec(response.headers.get('traceparent') ?? '');
    expect(answered?.[1]).toBe(traceId);

    const spans = ofTrace(traceId)(await rx.waitFor((s) => ofTrace(traceId)(s).length >= 2));
    expect(spans).toHaveLength(2);
    const call = spans.find((s) => s.kind === 2)!;
    const attempt = spans.find((s) => s.kind === 3)!;
    expect(call.encoding).toBe(encoding);
    expect(call.spanId).toBe(answered?.[2]);
    expect(call.parentSpanId).toBe(parent);
    expect(call.traceState).toBe('vendor=abc,other=1');
    expect(call.name).toBe('chat fast');
    expect(call.resource['service.name']).toBe(`gatelog-http/${encoding === 'json' ? 'json' : 'protobuf'}`);
    expect(call.attributes).toMatchObject({
      'gen_ai.operation.name': 'chat',
      'gen_ai.provider.name': 'openai',
      'gen_ai.request.model': 'fast',
      'gen_ai.response.model': expect.stringContaining('gpt-4o-mini'),
      'gen_ai.usage.input_tokens': 21,
      'gen_ai.usage.output_tokens': 9,
      'gen_ai.request.max_tokens': 77,
      'gen_ai.request.temperature': 0.5,
      'gen_ai.response.finish_reasons': ['stop'],
      'gatelog.request_id': requestId,
      'gatelog.outcome': 'success',
      'http.response.status_code': 200,
    });
    expect(call.attributes['gatelog.cost_usd']).toBeCloseTo((21 * 0.15 + 9 * 0.6) / 1e6, 12);
    // Bodies are off by default, and no key reaches the spans.
    const everything = JSON.stringify(spans);
    expect(everything).not.toContain('secret prompt');
    expect(everything).not.toContain(MASTER);
    expect(everything).not.toContain('sk-upstream-otel');
    // Span times are the call's real start and end.
    expect(call.startMs).toBeGreaterThanOrEqual(before - 5);
    expect(call.endMs).toBeLessThanOrEqual(after + 5);
    expect(call.endMs).toBeGreaterThan(call.startMs);
    expect(attempt.parentSpanId).toBe(call.spanId);
    expect(attempt.attributes).toMatchObject({ 'gen_ai.request.model': 'gpt-4o-mini', 'gatelog.provider': 'fake', 'http.response.status_code': 200, 'gatelog.attempt': 0 });
    expect(attempt.startMs).toBeGreaterThanOrEqual(call.startMs);
    expect(attempt.endMs).toBeLessThanOrEqual(call.endMs + 0.001);
    // The collector's headers are sent.
    expect(rx.requests.some((r) => r.headers['authorization'] === `Bearer ${COLLECTOR_TOKEN}`)).toBe(true);

    // Stored: the call's trace id is the caller's, linked to the caller's span.
    const stored = await recorded(gl(), requestId);
    expect(stored).toMatchObject({ trace_id: traceId, parent_trace_id: traceId, parent_span_id: parent, trace_flags: 1, trace_state: 'vendor=abc,other=1' });
    // Searchable by the trace id, or by the whole traceparent pasted.
    expect(await countByTrace(gl(), traceId)).toBe(1);
    expect(await countByTrace(gl(), `00-${traceId}-${parent}-01`)).toBe(1);
  });

  it('a fallback call has two attempt spans, the failed one marked', async () => {
    const traceId = hex(16);
    fake.queue({ error: { status: 500 } });
    const r = await openai(gl()).chat.completions.create({ model: 'dual', messages: [{ role: 'user', content: 'hi' }] }, { headers: { traceparent: `00-${traceId}-${hex(8)}-01` } });
    expect(r.choices[0]?.message.content).toContain('Fake reply');
    const spans = ofTrace(traceId)(await rx.waitFor((s) => ofTrace(traceId)(s).length >= 3));
    const call = spans.find((s) => s.kind === 2)!;
    const attempts = spans.filter((s) => s.kind === 3).sort((a, b) => Number(a.attributes['gatelog.attempt']) - Number(b.attributes['gatelog.attempt']));
    expect(attempts.map((a) => [a.attributes['gen_ai.request.model'], a.attributes['http.response.status_code'], a.status.code])).toEqual([
      ['gpt-a', 500, 2],
      ['gpt-b', 200, 0],
    ]);
    expect(attempts.every((a) => a.parentSpanId === call.spanId)).toBe(true);
    expect(new Set(attempts.map((a) => a.spanId)).size).toBe(2);
    expect(attempts[0]!.endMs).toBeLessThanOrEqual(attempts[1]!.startMs + 1);
    expect(call.attributes['gatelog.attempts']).toBe(2);
  });
});

describe('W3C trace context', () => {
  it('an Anthropic SDK call joins the caller\'s trace', async () => {
    const traceId = hex(16);
    const parent = hex(8);
    const client = new Anthropic({ baseURL: proto.url, apiKey: MASTER, maxRetries: 0 });
    const { data, response } = await client.messages
      .create({ model: 'claude', max_tokens: 64, messages: [{ role: 'user', content: 'hello' }] }, { headers: { traceparent: `00-${traceId}-${parent}-01` } })
      .withResponse();
    expect(data.content[0]?.type).toBe('text');
    expect(response.headers.get('traceparent')).toMatch(new RegExp(`^00-${traceId}-[0-9a-f]{16}-01$`));
    const spans = ofTrace(traceId)(await rx.waitFor((s) => ofTrace(traceId)(s).length >= 2));
    const call = spans.find((s) => s.kind === 2)!;
    expect(call.parentSpanId).toBe(parent);
    expect(call.attributes).toMatchObject({
      'gen_ai.operation.name': 'chat',
      'gen_ai.provider.name': 'anthropic',
      'gen_ai.request.model': 'claude',
      'gen_ai.request.max_tokens': 64,
      // Input tokens include cached ones (as the GenAI conventions ask), reads and writes also apart.
      'gen_ai.usage.input_tokens': FAKE_ANTHROPIC_USAGE.input_tokens + FAKE_ANTHROPIC_USAGE.cache_read_input_tokens + FAKE_ANTHROPIC_USAGE.cache_creation_input_tokens,
      'gen_ai.usage.cache_read.input_tokens': FAKE_ANTHROPIC_USAGE.cache_read_input_tokens,
      'gen_ai.usage.cache_creation.input_tokens': FAKE_ANTHROPIC_USAGE.cache_creation_input_tokens,
      'gen_ai.usage.output_tokens': FAKE_ANTHROPIC_USAGE.output_tokens,
    });
  });

  it('a streamed call answers with gatelog\'s traceparent and exports its span with time to first token', async () => {
    const traceId = hex(16);
    const { data: stream, response } = await openai(proto)
      .chat.completions.create({ model: 'fast', stream: true, messages: [{ role: 'user', content: 'stream please' }] }, { headers: { traceparent: `00-${traceId}-${hex(8)}-01` } })
      .withResponse();
    let text = '';
    for await (const chunk of stream) text += chunk.choices[0]?.delta.content ?? '';
    expect(text).toContain('Fake reply');
    const answered = /^00-([0-9a-f]{32})-([0-9a-f]{16})-01$/.exec(response.headers.get('traceparent') ?? '');
    expect(answered?.[1]).toBe(traceId);
    const spans = ofTrace(traceId)(await rx.waitFor((s) => ofTrace(traceId)(s).length >= 2));
    const call = spans.find((s) => s.kind === 2)!;
    expect(call.spanId).toBe(answered?.[2]);
    expect(call.attributes).toMatchObject({ 'gatelog.stream': true, 'gen_ai.usage.output_tokens': 9 });
    expect(call.attributes['gatelog.ttft_ms']).toBeGreaterThan(0);
  });

  it('an explicit x-gatelog-trace-id names the call\'s trace; the W3C one still links it and finds it', async () => {
    const traceId = hex(16);
    const own = `checkout-${hex(4)}`;
    const { response } = await openai(proto)
      .chat.completions.create({ model: 'fast', messages: [{ role: 'user', content: 'x' }] }, { headers: { traceparent: `00-${traceId}-${hex(8)}-01`, 'x-gatelog-trace-id': own } })
      .withResponse();
    const stored = await recorded(proto, response.headers.get('x-gatelog-request-id') ?? '');
    expect(stored).toMatchObject({ trace_id: own, parent_trace_id: traceId });
    expect(await countByTrace(proto, traceId)).toBe(1);
    expect(await countByTrace(proto, own)).toBe(1);
  });

  it.each([
    ['an all-zero trace id', `00-${'0'.repeat(32)}-${'a'.repeat(16)}-01`],
    ['uppercase hex', `00-${'A'.repeat(32)}-${'B'.repeat(16)}-01`],
    ['version ff', `ff-${'1'.repeat(32)}-${'2'.repeat(16)}-01`],
    ['garbage', 'hello world'],
  ])('ignores a malformed traceparent (%s): the call succeeds with its own trace', async (_what, traceparent) => {
    const { data, response } = await openai(proto)
      .chat.completions.create({ model: 'fast', messages: [{ role: 'user', content: 'x' }] }, { headers: { traceparent } })
      .withResponse();
    expect(response.status).toBe(200);
    expect(data.choices).toHaveLength(1);
    const requestId = response.headers.get('x-gatelog-request-id') ?? '';
    // gatelog's span starts a trace of its own: the request id is its trace id.
    const ownTrace = requestId.replaceAll('-', '');
    expect(response.headers.get('traceparent')).toMatch(new RegExp(`^00-${ownTrace}-[0-9a-f]{16}-01$`));
    const stored = await recorded(proto, requestId);
    expect(stored).toMatchObject({ trace_id: '', parent_trace_id: '', parent_span_id: '', trace_flags: 0, trace_state: '' });
    const spans = ofTrace(ownTrace)(await rx.waitFor((s) => ofTrace(ownTrace)(s).length >= 2));
    expect(spans.find((s) => s.kind === 2)?.parentSpanId).toBe('');
    // The traceparent gatelog answered with finds the call.
    expect(await countByTrace(proto, response.headers.get('traceparent') ?? '')).toBe(1);
  });

  it('a caller that did not sample its trace gets no spans exported (sampling follows the parent)', async () => {
    const unsampled = hex(16);
    const { response } = await openai(proto)
      .chat.completions.create({ model: 'fast', messages: [{ role: 'user', content: 'x' }] }, { headers: { traceparent: `00-${unsampled}-${hex(8)}-00` } })
      .withResponse();
    expect(response.headers.get('traceparent')).toMatch(/-00$/);
    // A sampled call made after it is exported; the unsampled one never is.
    const later = hex(16);
    await openai(proto).chat.completions.create({ model: 'fast', messages: [{ role: 'user', content: 'y' }] }, { headers: { traceparent: `00-${later}-${hex(8)}-01` } });
    await rx.waitFor((s) => ofTrace(later)(s).length >= 2);
    expect(ofTrace(unsampled)(rx.spans)).toHaveLength(0);
    // Still stored, with its flags.
    expect(await recorded(proto, response.headers.get('x-gatelog-request-id') ?? '')).toMatchObject({ parent_trace_id: unsampled, trace_flags: 0 });
  });
});
