// A published call event as OpenTelemetry spans: one SERVER span for the call (parent: the
// caller's traceparent) and one CLIENT child span per upstream attempt, named and attributed
// by the GenAI semantic conventions (https://opentelemetry.io/docs/specs/semconv/gen-ai/).
// Pure: no I/O, no clock; the span ids derive from the request id, so they match the
// `traceparent` gatelog answered with.
import { SpanKind, SpanStatusCode, TraceFlags, type Attributes, type HrTime, type SpanContext } from '@opentelemetry/api';
import { TraceState, type InstrumentationScope } from '@opentelemetry/core';
import { resourceFromAttributes, type Resource } from '@opentelemetry/resources';
import type { ReadableSpan } from '@opentelemetry/sdk-trace';
import { GATELOG_VERSION, type LlmCallEvent } from '@gatelog/core';
import { attemptSpanId, callSpanId, otelTraceId } from '../capture/trace-context.ts';

export interface SpanEnv {
  resource: Resource;
  scope: InstrumentationScope;
  /** Bodies as attributes, each cut to `bodyMaxBytes` (0: no bodies). */
  bodyMaxBytes: number;
}

/** The resource and scope every span of this process carries. */
export function spanEnv(serviceName: string, bodyMaxBytes: number): SpanEnv {
  return {
    resource: resourceFromAttributes({ 'service.name': serviceName, 'service.version': GATELOG_VERSION }),
    scope: { name: 'gatelog', version: GATELOG_VERSION },
    bodyMaxBytes,
  };
}

/** gen_ai.operation.name by the API the client called. */
const OPERATION: Record<string, string> = {
  'openai.chat': 'chat',
  'openai.responses': 'chat',
  'anthropic.messages': 'chat',
  'openai.completions': 'text_completion',
  'openai.embeddings': 'embeddings',
  // The GenAI semconv names no image or moderation operation: those spans carry the api name.
};

/** The request's max tokens, read from small bodies only (the span is built off the hot path, but still on the event loop). */
const MAX_PARSE_BYTES = 64 * 1024;

function requestParams(body: string): Attributes {
  if (body.length === 0 || body.length > MAX_PARSE_BYTES || body.charCodeAt(0) !== 123 /* { */) return {};
  let json: unknown;
  try {
    json = JSON.parse(body);
  } catch {
    return {};
  }
  if (json === null || typeof json !== 'object') return {};
  const j = json as Record<string, unknown>;
  const out: Attributes = {};
  const num = (k: string, ...names: string[]): void => {
    for (const n of names) {
      const v = j[n];
      if (typeof v === 'number' && Number.isFinite(v)) {
        out[k] = v;
        return;
      }
    }
  };
  num('gen_ai.request.max_tokens', 'max_tokens', 'max_completion_tokens', 'max_output_tokens');
  num('gen_ai.request.temperature', 'temperature');
  num('gen_ai.request.top_p', 'top_p');
  return out;
}

const hr = (ms: number): HrTime => {
  const s = Math.floor(ms / 1000);
  return [s, Math.min(999_999_999, Math.round((ms - s * 1000) * 1e6))];
};

function cut(text: string, maxBytes: number): string {
  if (Buffer.byteLength(text) <= maxBytes) return text;
  return Buffer.from(text).subarray(0, maxBytes).toString('utf8').replace(/\uFFFD$/, '');
}

function callAttributes(e: LlmCallEvent, op: string, system: string): Attributes {
  const a: Attributes = {
    'gen_ai.operation.name': op,
    'gen_ai.provider.name': system,
    'gen_ai.system': system,
    'gen_ai.request.model': e.requested_model,
    'gen_ai.usage.input_tokens': e.input_tokens,
    'gen_ai.usage.output_tokens': e.output_tokens,
    'gatelog.request_id': e.request_id,
    'gatelog.outcome': e.outcome,
    'gatelog.endpoint': e.endpoint,
    'gatelog.stream': e.stream,
    'gatelog.cache_hit': e.cache_hit,
    'gatelog.latency_ms': e.latency_ms,
    'gatelog.attempts': e.attempts.length,
    'http.response.status_code': e.status,
  };
  if (e.upstream_model) a['gen_ai.response.model'] = e.upstream_model;
  if (e.finish_reason) a['gen_ai.response.finish_reasons'] = [e.finish_reason];
  if (e.cached_tokens > 0) a['gen_ai.usage.cache_read.input_tokens'] = e.cached_tokens;
  if (e.cache_creation_tokens > 0) a['gen_ai.usage.cache_creation.input_tokens'] = e.cache_creation_tokens;
  if (e.tokens_estimated) a['gatelog.tokens_estimated'] = true;
  if (e.cost_usd !== null) a['gatelog.cost_usd'] = e.cost_usd;
  if (e.ttft_ms !== null) a['gatelog.ttft_ms'] = e.ttft_ms;
  if (e.provider) a['gatelog.provider'] = e.provider;
  if (e.deployment_model) a['gatelog.deployment_model'] = e.deployment_model;
  // The key's name, never the key itself (the event does not hold it).
  if (e.key_name) a['gatelog.key_name'] = e.key_name;
  if (e.team) a['gatelog.team'] = e.team;
  if (e.user) a['gatelog.user'] = e.user;
  if (e.trace_id) a['gatelog.trace_id'] = e.trace_id;
  if (e.session_id) a['gatelog.session_id'] = e.session_id;
  if (e.error_type) a['error.type'] = e.error_type;
  return a;
}

const failed = (status: number, outcome?: string): boolean => status >= 400 || status === 0 || outcome === 'error' || outcome === 'partial';

/** The call's span and its attempt spans, ready for a span processor (sampled). */
export function eventSpans(e: LlmCallEvent, env: SpanEnv): ReadableSpan[] {
  const traceId = otelTraceId(e.request_id, e.trace_id, e.parent_trace_id);
  const callId = callSpanId(e.request_id);
  const start = Date.parse(e.started_at);
  const end = start + e.latency_ms;
  const op = OPERATION[e.client_api] ?? e.client_api;
  const system = (e.upstream_api || e.client_api).split('.')[0] ?? '';
  const model = e.requested_model;
  // The caller's tracestate travels with every span of its trace (already validated and bounded).
  const state = e.trace_state ? { traceState: new TraceState(e.trace_state) } : {};
  const parent: SpanContext | undefined = e.parent_span_id
    ? { traceId, spanId: e.parent_span_id, traceFlags: e.trace_flags ?? TraceFlags.SAMPLED, isRemote: true, ...state }
    : undefined;
  const ctx = (spanId: string): SpanContext => ({ traceId, spanId, traceFlags: TraceFlags.SAMPLED, ...state });
  const attrs = { ...callAttributes(e, op, system), ...requestParams(e.request_body) };
  if (env.bodyMaxBytes > 0) {
    if (e.request_body) attrs['gatelog.request.body'] = cut(e.request_body, env.bodyMaxBytes);
    if (e.response_body) attrs['gatelog.response.body'] = cut(e.response_body, env.bodyMaxBytes);
  }
  const bad = failed(e.status, e.outcome);
  const spans: ReadableSpan[] = [
    span(env, {
      name: `${op} ${model}`.trim(), kind: SpanKind.SERVER, context: ctx(callId), parent, start, end, attributes: attrs,
      status: bad ? { code: SpanStatusCode.ERROR, message: e.error_type || e.outcome } : { code: SpanStatusCode.UNSET },
    }),
  ];
  let cursor = start;
  e.attempts.forEach((a, i) => {
    const aStart = e.attempt_starts?.[i] !== undefined ? start + e.attempt_starts[i] : cursor;
    const aEnd = Math.min(end, aStart + a.latency_ms);
    cursor = aEnd;
    const attempt: Attributes = {
      'gen_ai.operation.name': op,
      'gen_ai.provider.name': system,
      'gen_ai.system': system,
      'gen_ai.request.model': a.model,
      'gatelog.provider': a.provider,
      'gatelog.attempt': i,
      'http.response.status_code': a.status,
    };
    if (a.error_class) attempt['error.type'] = a.error_class;
    const last = i === e.attempts.length - 1;
    if (last && e.upstream_model) attempt['gen_ai.response.model'] = e.upstream_model;
    spans.push(span(env, {
      name: `${op} ${a.model}`.trim(), kind: SpanKind.CLIENT, context: ctx(attemptSpanId(e.request_id, i)), parent: ctx(callId),
      start: aStart, end: aEnd, attributes: attempt,
      status: a.error_class || failed(a.status) ? { code: SpanStatusCode.ERROR, message: a.error_class || String(a.status) } : { code: SpanStatusCode.UNSET },
    }));
  });
  return spans;
}

interface SpanParts {
  name: string;
  kind: SpanKind;
  context: SpanContext;
  parent: SpanContext | undefined;
  start: number;
  end: number;
  attributes: Attributes;
  status: ReadableSpan['status'];
}

function span(env: SpanEnv, p: SpanParts): ReadableSpan {
  const end = Math.max(p.start, p.end);
  return {
    name: p.name,
    kind: p.kind,
    spanContext: () => p.context,
    ...(p.parent ? { parentSpanContext: p.parent } : {}),
    startTime: hr(p.start),
    endTime: hr(end),
    duration: hr(end - p.start),
    status: p.status,
    attributes: p.attributes,
    links: [],
    events: [],
    ended: true,
    resource: env.resource,
    instrumentationScope: env.scope,
    droppedAttributesCount: 0,
    droppedEventsCount: 0,
    droppedLinksCount: 0,
  };
}
