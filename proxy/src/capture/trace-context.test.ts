import { describe, expect, it } from 'vitest';
import { attemptSpanId, callSpanId, formatTraceparent, otelTraceId, readTraceContext, traceEventFields } from './trace-context.ts';
import { readRequestMeta } from './request-meta.ts';

const T = '4bf92f3577b34da6a3ce929d0e0e4736';
const S = '00f067aa0ba902b7';
const ID = '019ae0f2-5c3a-7d4e-8f61-2b3c4d5e6f70';

describe('readTraceContext', () => {
  it('reads traceparent and a bounded tracestate; tracestate alone means nothing', () => {
    expect(readTraceContext({ traceparent: `00-${T}-${S}-01`, tracestate: 'a=1' })).toEqual({ traceId: T, spanId: S, flags: 1, state: 'a=1' });
    expect(readTraceContext({ tracestate: 'a=1' })).toBeNull();
    expect(readTraceContext({ traceparent: `00-${T}-${S}-01`, tracestate: 'A=1' })?.state).toBe('');
  });
});

describe('readRequestMeta with W3C trace context', () => {
  it('the caller\'s trace id names the call\'s trace, unless x-gatelog-trace-id does', () => {
    expect(readRequestMeta({ traceparent: `00-${T}-${S}-01` }).trace_id).toBe(T);
    expect(readRequestMeta({ traceparent: `00-${T}-${S}-01`, 'x-gatelog-trace-id': 'mine' })).toMatchObject({ trace_id: 'mine', w3c: { traceId: T } });
    expect(readRequestMeta({ traceparent: 'junk' })).toEqual({ trace_id: '', session_id: '', user: '', tags: {} });
  });

  it('the event carries the context only when there is one', () => {
    expect(traceEventFields(undefined)).toEqual({});
    expect(traceEventFields({ traceId: T, spanId: S, flags: 0, state: '' })).toEqual({ parent_trace_id: T, parent_span_id: S, trace_flags: 0 });
  });
});

describe('gatelog\'s span ids', () => {
  it('OTel trace id: the caller\'s, a 32-hex gatelog trace id, a hash of another, else the request id', () => {
    expect(otelTraceId(ID, 'whatever', T)).toBe(T);
    expect(otelTraceId(ID, T.toUpperCase(), undefined)).toBe(T);
    const hashed = otelTraceId(ID, 'checkout-42', undefined);
    expect(hashed).toMatch(/^[0-9a-f]{32}$/);
    expect(otelTraceId('another-id', 'checkout-42', undefined)).toBe(hashed);
    expect(otelTraceId(ID, '', undefined)).toBe(ID.replaceAll('-', ''));
  });

  it('span ids are stable, distinct and valid', () => {
    expect(callSpanId(ID)).toBe('8f612b3c4d5e6f70');
    expect(callSpanId(ID)).toBe(callSpanId(ID));
    const ids = [callSpanId(ID), attemptSpanId(ID, 0), attemptSpanId(ID, 1)];
    expect(new Set(ids).size).toBe(3);
    for (const s of ids) expect(s).toMatch(/^[0-9a-f]{16}$/);
    expect(formatTraceparent(T, S, true)).toBe(`00-${T}-${S}-01`);
    expect(formatTraceparent(T, S, false)).toBe(`00-${T}-${S}-00`);
  });
});
