// W3C Trace Context (https://www.w3.org/TR/trace-context/) a caller sends with a call:
// `traceparent` links the call to the caller's trace, `tracestate` rides along (bounded).
// Like every caller header, a malformed value is ignored, never an error.
import type { IncomingHttpHeaders } from 'node:http';
import { hash } from 'node:crypto';
import { cleanTracestate, parseTraceparent, type W3CParent } from '@gatelog/core/otel/w3c';

/** The caller's span, from a valid traceparent, with its tracestate ('' if none or invalid). */
export interface TraceParent extends W3CParent {
  state: string;
}

/** The caller's trace context, or null without a valid traceparent (tracestate alone means nothing). */
export function readTraceContext(h: IncomingHttpHeaders): TraceParent | null {
  const p = parseTraceparent(h['traceparent']);
  return p ? { ...p, state: cleanTracestate(h['tracestate']) } : null;
}

/** The event fields (migration 0019) for a call's trace context: none without one. */
export function traceEventFields(w3c: TraceParent | null | undefined): { parent_trace_id?: string; parent_span_id?: string; trace_flags?: number; trace_state?: string } {
  if (!w3c) return {};
  return { parent_trace_id: w3c.traceId, parent_span_id: w3c.spanId, trace_flags: w3c.flags, ...(w3c.state ? { trace_state: w3c.state } : {}) };
}

const HEX32 = /^[0-9a-f]{32}$/;
const ZERO_TRACE = '0'.repeat(32);
const ZERO_SPAN = '0'.repeat(16);

/**
 * The OpenTelemetry trace id of a call: the caller's traceparent's; else its gatelog trace id
 * when that already is one (32 hex), or a hash of it (all calls of one gatelog trace share an
 * OTel trace); else the call's own request id (a UUID is 32 hex).
 */
export function otelTraceId(requestId: string, traceId: string, parentTraceId: string | undefined): string {
  if (parentTraceId) return parentTraceId;
  const t = traceId.toLowerCase();
  if (HEX32.test(t) && t !== ZERO_TRACE) return t;
  if (traceId !== '') return hash('sha256', traceId, 'hex').slice(0, 32);
  return requestId.replaceAll('-', '').toLowerCase();
}

/** gatelog's span id for a call: the random tail of its request id (UUIDv7), so it needs no storage. */
export function callSpanId(requestId: string): string {
  const hex = requestId.replaceAll('-', '').toLowerCase().slice(16);
  return /^[0-9a-f]{16}$/.test(hex) && hex !== ZERO_SPAN ? hex : hash('sha256', requestId, 'hex').slice(0, 16);
}

/** The span id of attempt `i` of a call (stable: a re-export sends the same ids). */
export function attemptSpanId(requestId: string, i: number): string {
  return hash('sha256', `${requestId}/${i}`, 'hex').slice(0, 16);
}

/** `traceparent` for gatelog's own span of a call (a response header). */
export function formatTraceparent(traceId: string, spanId: string, sampled: boolean): string {
  return `00-${traceId}-${spanId}-${sampled ? '01' : '00'}`;
}
