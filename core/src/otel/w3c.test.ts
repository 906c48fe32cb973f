import { describe, expect, it } from 'vitest';
import { MAX_TRACESTATE_CHARS, cleanTracestate, parseTraceparent, traceIdOfSearch } from './w3c.ts';

const T = '4bf92f3577b34da6a3ce929d0e0e4736';
const S = '00f067aa0ba902b7';

describe('parseTraceparent (W3C Trace Context)', () => {
  it('reads a valid version 00 header', () => {
    expect(parseTraceparent(`00-${T}-${S}-01`)).toEqual({ traceId: T, spanId: S, flags: 1 });
    expect(parseTraceparent(`00-${T}-${S}-00`)).toEqual({ traceId: T, spanId: S, flags: 0 });
    expect(parseTraceparent(` 00-${T}-${S}-03 `)).toEqual({ traceId: T, spanId: S, flags: 3 });
  });

  it('reads the known fields of a later version and ignores what follows', () => {
    expect(parseTraceparent(`01-${T}-${S}-01-whatever`)).toEqual({ traceId: T, spanId: S, flags: 1 });
  });

  it.each([
    ['all-zero trace id', `00-${'0'.repeat(32)}-${S}-01`],
    ['all-zero parent id', `00-${T}-${'0'.repeat(16)}-01`],
    ['version ff', `ff-${T}-${S}-01`],
    ['version 00 with extra fields', `00-${T}-${S}-01-extra`],
    ['uppercase hex', `00-${T.toUpperCase()}-${S}-01`],
    ['short trace id', `00-${T.slice(1)}-${S}-01`],
    ['long parent id', `00-${T}-${S}0-01`],
    ['non-hex flags', `00-${T}-${S}-0g`],
    ['two headers joined', `00-${T}-${S}-01, 00-${T}-${S}-01`],
    ['empty', ''],
    ['junk', 'not a traceparent at all, but long enough to pass the length check!!'],
    ['huge', `00-${T}-${S}-01${'x'.repeat(10_000)}`],
  ])('ignores %s', (_what, v) => {
    expect(parseTraceparent(v)).toBeNull();
  });

  it('ignores what is not a string', () => {
    expect(parseTraceparent(undefined)).toBeNull();
    expect(parseTraceparent([`00-${T}-${S}-01`])).toBeNull();
  });
});

describe('cleanTracestate', () => {
  it('keeps valid members in order', () => {
    expect(cleanTracestate('rojo=00f067aa0ba902b7, congo=t61rcWkgMzE')).toBe('rojo=00f067aa0ba902b7,congo=t61rcWkgMzE');
    expect(cleanTracestate('tenant@vendor=v')).toBe('tenant@vendor=v');
  });

  it('drops a header with a malformed member or a repeated key', () => {
    expect(cleanTracestate('rojo=1,Bad=2')).toBe('');
    expect(cleanTracestate('rojo=1,rojo=2')).toBe('');
    expect(cleanTracestate('novalue')).toBe('');
    expect(cleanTracestate('k=a,b')).toBe('');
  });

  it(`keeps at most ${MAX_TRACESTATE_CHARS} characters, cut between members`, () => {
    const members = Array.from({ length: 40 }, (_v, i) => `k${i}=${'v'.repeat(40)}`);
    const kept = cleanTracestate(members.join(','));
    expect(kept.length).toBeLessThanOrEqual(MAX_TRACESTATE_CHARS);
    expect(kept.split(',')).toEqual(members.slice(0, kept.split(',').length));
    expect(kept.split(',').length).toBeGreaterThan(5);
  });

  it('keeps at most 32 members', () => {
    expect(cleanTracestate(Array.from({ length: 40 }, (_v, i) => `k${i}=v`).join(',')).split(',')).toHaveLength(32);
  });
});

describe('traceIdOfSearch', () => {
  it('finds the trace id in a pasted traceparent, and passes anything else through', () => {
    expect(traceIdOfSearch(`00-${T}-${S}-01`)).toBe(T);
    expect(traceIdOfSearch(`  00-${T.toUpperCase()}-${S}-01 `)).toBe(T);
    expect(traceIdOfSearch(T)).toBe(T);
    expect(traceIdOfSearch('my-trace-7')).toBe('my-trace-7');
  });
});
