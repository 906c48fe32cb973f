import { describe, expect, it } from 'vitest';
import { Registry } from 'prom-client';
import { InMemorySpanExporter, type ReadableSpan, type SpanExporter } from '@opentelemetry/sdk-trace';
import { SpanKind } from '@opentelemetry/api';
import { EVENT_SCHEMA_VERSION, createLogger, type LlmCallEvent } from '@gatelog/core';
import { OtelConfig } from '@gatelog/core/otel/config';
import { sampled, startSpanExport } from './export.ts';

const T = '4bf92f3577b34da6a3ce929d0e0e4736';

function event(over: Partial<LlmCallEvent> = {}): LlmCallEvent {
  return {
    schema_version: EVENT_SCHEMA_VERSION, gatelog_version: 'test', request_id: crypto.randomUUID(), started_at: '2026-12-02T10:00:00.000Z',
    trace_id: '', session_id: '', user: '', tags: {}, key_id: 'k1', key_name: 'team-a-key', team: 'a', endpoint: '/v1/chat/completions',
    client_api: 'openai.chat', upstream_api: 'openai.chat', requested_model: 'fast', provider: 'p1', deployment_model: 'gpt-b', upstream_model: 'gpt-b-2025',
    stream: false, status: 200, outcome: 'success', error_type: '', error_message: '', finish_reason: 'stop', input_tokens: 10, output_tokens: 5,
    cached_tokens: 0, cache_creation_tokens: 0, reasoning_tokens: 0, tokens_estimated: false, cost_usd: 0.001, cache_hit: false, ttft_ms: 40,
    latency_ms: 900, overhead_ms: 1,
    attempts: [
      { provider: 'p1', model: 'gpt-a', status: 500, error_class: 'upstream_5xx', latency_ms: 200 },
      { provider: 'p1', model: 'gpt-b', status: 200, error_class: '', latency_ms: 600 },
    ],
    request_body: '{"model":"fast","max_tokens":12,"messages":[{"role":"user","content":"private words"}]}', response_body: '{"id":"x","choices":[]}',
    request_bytes: 80, response_bytes: 20, truncated: false,
    ...over,
  };
}

const cfg = (over: Record<string, unknown> = {}): OtelConfig => OtelConfig.parse({ endpoint: 'http://127.0.0.1:9/v1/traces', batch_delay_ms: 10, ...over });

function start(c: OtelConfig, exporter: SpanExporter, registry = new Registry()) {
  const x = startSpanExport(c, { registry, logger: createLogger('silent'), exporter });
  if (!x) throw new Error('export off');
  return x;
}

describe('sampled', () => {
  const c = cfg().sampling;
  it('follows the caller\'s sampled flag', () => {
    expect(sampled(c, T, 1)).toBe(true);
    expect(sampled(c, T, 0)).toBe(false);
    expect(sampled({ ...c, follow_parent: false, ratio: 1 }, T, 0)).toBe(true);
  });
  it('samples calls without a parent by a share of trace ids, the same way every time', () => {
    expect(sampled({ ...c, ratio: 0 }, T, undefined)).toBe(false);
    const ids = Array.from({ length: 2000 }, () => crypto.randomUUID().replaceAll('-', ''));
    const kept = ids.filter((id) => sampled({ ...c, ratio: 0.25 }, id, undefined));
    expect(kept.length).toBeGreaterThan(350);
    expect(kept.length).toBeLessThan(650);
    expect(ids.filter((id) => sampled({ ...c, ratio: 0.25 }, id, undefined))).toEqual(kept);
  });
});

describe('startSpanExport', () => {
  it('is off without an endpoint', () => {
    expect(startSpanExport(cfg({ endpoint: '' }), { registry: new Registry(), logger: createLogger('silent') })).toBeNull();
  });

  it('publishes at once and builds the spans later, off the call\'s turn of the event loop', async () => {
    const mem = new InMemorySpanExporter();
    const x = start(cfg(), mem);
    const published: LlmCallEvent[] = [];
    const publish = x.tap((e) => published.push(e));
    const e = event({ parent_trace_id: T, parent_span_id: '00f067aa0ba902b7', trace_flags: 1, trace_id: T, attempt_starts: [2, 250] });
    publish(e);
    expect(published).toEqual([e]);
    await x.flush();
    const spans = mem.getFinishedSpans();
    expect(spans).toHaveLength(3);
    const [call, a0, a1] = spans as [ReadableSpan, ReadableSpan, ReadableSpan];
    expect(call.kind).toBe(SpanKind.SERVER);
    expect(call.spanContext().traceId).toBe(T);
    expect(call.parentSpanContext?.spanId).toBe('00f067aa0ba902b7');
    // Attempts as children, at the times they were dispatched.
    expect([a0.parentSpanContext?.spanId, a1.parentSpanContext?.spanId]).toEqual([call.spanContext().spanId, call.spanContext().spanId]);
    const ms = (t: [number, number]): number => t[0] * 1000 + t[1] / 1e6;
    const t0 = Date.parse(e.started_at);
    expect(ms(call.startTime) - t0).toBe(0);
    expect(ms(call.endTime) - t0).toBeCloseTo(900, 3);
    expect(ms(a0.startTime) - t0).toBeCloseTo(2, 3);
    expect(ms(a1.startTime) - t0).toBeCloseTo(250, 3);
    expect(ms(a1.endTime) - t0).toBeCloseTo(850, 3);
    expect(a0.status.code).toBe(2);
    expect(a0.attributes['error.type']).toBe('upstream_5xx');
    expect(call.attributes['gen_ai.request.max_tokens']).toBe(12);
    expect(call.attributes['gatelog.key_name']).toBe('team-a-key');
    // Bodies are off by default.
    expect(JSON.stringify(spans.map((s) => s.attributes))).not.toContain('private words');
    await x.shutdown();
  });

  it('carries bodies, cut to size, when asked', async () => {
    const mem = new InMemorySpanExporter();
    const x = start(cfg({ bodies: true, body_max_bytes: 40 }), mem);
    x.tap(() => undefined)(event());
    await x.flush();
    const body = mem.getFinishedSpans()[0]?.attributes['gatelog.request.body'];
    expect(typeof body).toBe('string');
    expect(Buffer.byteLength(body as string)).toBeLessThanOrEqual(40);
    await x.shutdown();
  });

  it('drops what does not fit the queue while the collector hangs, and counts it', async () => {
    const hung: SpanExporter = { export: () => undefined, shutdown: () => Promise.resolve() };
    const registry = new Registry();
    const x = start(cfg({ max_queue_size: 6, max_batch_size: 3 }), hung, registry);
    const publish = x.tap(() => undefined);
    const t0 = performance.now();
    for (let i = 0; i < 100; i++) publish(event());
    expect(performance.now() - t0).toBeLessThan(200);
    await new Promise((r) => setTimeout(r, 50));
    const text = await registry.metrics();
    const dropped = Number(/gatelog_otel_spans_total\{result="dropped"\} (\d+)/.exec(text)?.[1]);
    // 100 calls × 3 spans; at most 6 queued and one batch of 3 in the hung export.
    expect(dropped).toBeGreaterThanOrEqual(300 - 9);
  });
});
