// What OpenTelemetry export costs per call, off the call's path: building its spans (call +
// one attempt) and encoding them for OTLP/HTTP, protobuf and JSON, in batches of 256 calls.
// Run: node --disable-warning=ExperimentalWarning test/bench/otel-spans.ts
import { JsonTraceSerializer, ProtobufTraceSerializer } from '@opentelemetry/otlp-transformer';
import { EVENT_SCHEMA_VERSION, type LlmCallEvent } from '@gatelog/core';
import { eventSpans, spanEnv } from '@gatelog/proxy/otel/spans';

const CALLS = 20_000;
const BATCH_CALLS = 256;

const event = (): LlmCallEvent => ({
  schema_version: EVENT_SCHEMA_VERSION, gatelog_version: 'bench', request_id: crypto.randomUUID(), started_at: '2026-12-02T10:00:00.000Z',
  trace_id: '4bf92f3577b34da6a3ce929d0e0e4736', parent_trace_id: '4bf92f3577b34da6a3ce929d0e0e4736', parent_span_id: '00f067aa0ba902b7', trace_flags: 1,
  trace_state: 'vendor=abc', session_id: 's', user: 'u', tags: {}, key_id: 'k', key_name: 'app', team: 't', endpoint: '/v1/chat/completions',
  client_api: 'openai.chat', upstream_api: 'openai.chat', requested_model: 'fast', provider: 'openai', deployment_model: 'gpt-4o-mini',
  upstream_model: 'gpt-4o-mini-2024-07-18', stream: true, status: 200, outcome: 'success', error_type: '', error_message: '', finish_reason: 'stop',
  input_tokens: 1200, output_tokens: 300, cached_tokens: 0, cache_creation_tokens: 0, reasoning_tokens: 0, tokens_estimated: false, cost_usd: 0.0004,
  cache_hit: false, ttft_ms: 250, latency_ms: 1800, overhead_ms: 0.4,
  attempts: [{ provider: 'openai', model: 'gpt-4o-mini', status: 200, error_class: '', latency_ms: 1795 }],
  request_body: JSON.stringify({ model: 'fast', max_tokens: 500, stream: true, messages: [{ role: 'user', content: 'x'.repeat(4000) }] }),
  response_body: '', request_bytes: 4100, response_bytes: 3000, truncated: false,
});

const env = spanEnv('gatelog', 0);
const events = Array.from({ length: 1000 }, event);

function perCallMicros(f: (i: number) => void, n: number): number {
  for (let i = 0; i < Math.min(n, 2000); i++) f(i);
  const t0 = performance.now();
  for (let i = 0; i < n; i++) f(i);
  return ((performance.now() - t0) / n) * 1000;
}

const build = perCallMicros((i) => eventSpans(events[i % events.length]!, env), CALLS);
const batch = events.slice(0, BATCH_CALLS).flatMap((e) => eventSpans(e, env));
const sizes = { protobuf: ProtobufTraceSerializer.serializeRequest(batch)?.length ?? 0, json: JsonTraceSerializer.serializeRequest(batch)?.length ?? 0 };
const proto = perCallMicros(() => ProtobufTraceSerializer.serializeRequest(batch), 200) / BATCH_CALLS;
const json = perCallMicros(() => JsonTraceSerializer.serializeRequest(batch), 200) / BATCH_CALLS;
console.log(`per call (2 spans): build ${build.toFixed(1)} µs; encode protobuf ${proto.toFixed(1)} µs (${(sizes.protobuf / BATCH_CALLS).toFixed(0)} B), json ${json.toFixed(1)} µs (${(sizes.json / BATCH_CALLS).toFixed(0)} B)`);
