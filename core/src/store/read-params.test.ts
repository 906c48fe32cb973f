// The read endpoints' parameter schemas: what passes, what is refused (with the parameter
// named), and the chart bucket widths chosen from a span.
import { describe, expect, it } from 'vitest';
import { bucketFor, checkExplorerParams, checkSpan, Limit, READ_BOUNDS, readParams, ReadParamError, Instant } from './read-params.ts';

const ID = '019ad000-0000-7000-8000-000000000000';
const q = (s: string): URLSearchParams => new URLSearchParams(s);
const refused = (f: () => unknown, param: string): void => {
  try {
    f();
  } catch (err) {
    expect(err).toBeInstanceOf(ReadParamError);
    expect((err as ReadParamError).param).toBe(param);
    return;
  }
  throw new Error(`expected ${param} to be refused`);
};

describe('read parameters', () => {
  it('limits are whole numbers from 1, read as at most the maximum', () => {
    expect(readParams({ limit: Limit(500).optional() }, q('limit=25'))).toEqual({ limit: 25 });
    expect(readParams({ limit: Limit(500).optional() }, q(''))).toEqual({ limit: undefined });
    expect(readParams({ limit: Limit(500).optional() }, q('limit=1000'))).toEqual({ limit: 500 });
    for (const bad of ['1.5', '0', '-1', 'abc', '1e2', '99999999999']) refused(() => readParams({ limit: Limit(500).optional() }, q(`limit=${bad}`)), 'limit');
    refused(() => readParams({ limit: Limit(500).optional() }, q('limit=1&limit=2')), 'limit');
  });

  it('instants are ISO dates or times between 2000 and 2100', () => {
    const read = (v: string): unknown => readParams({ from: Instant.optional() }, q(`from=${encodeURIComponent(v)}`)).from;
    expect(read('2026-01-02')).toBe('2026-01-02T00:00:00.000Z');
    expect(read('2026-01-02T03:04')).toBe('2026-01-02T03:04:00.000Z');
    expect(read('2026-01-02T03:04:05.678Z')).toBe('2026-01-02T03:04:05.678Z');
    for (const bad of ['1900-01-01', '0000-01-01T00:00:00.000Z', '2100-01-01', '2026-13-01', 'yesterday', '2026-01-02T03:04+02:00']) refused(() => read(bad), 'from');
  });

  it('explorer filters and cursors are bounded', () => {
    checkExplorerParams(q(`costMin=0.5&latMax=2000&before=2026-01-01T00:00:00.000Z_${ID}&sort=time`));
    checkExplorerParams(q(`sort=cost&before=-1_${ID}`));
    checkExplorerParams(q(`sort=latency&before=1.2e-7_${ID}`));
    refused(() => checkExplorerParams(q('costMin=1e32')), 'costMin');
    refused(() => checkExplorerParams(q(`costMin=${'9'.repeat(33)}`)), 'costMin');
    refused(() => checkExplorerParams(q(`sort=cost&before=-1e308_${ID}`)), 'before');
    refused(() => checkExplorerParams(q(`before=0000-01-01T00:00:00.000Z_${ID}`)), 'before');
    refused(() => checkExplorerParams(q(`before=12.5_${ID}`)), 'before');
    refused(() => checkExplorerParams(q(`q=${'x'.repeat(READ_BOUNDS.maxText + 1)}`)), 'q');
  });

  it('spans and buckets have maximums', () => {
    const day = 86_400_000;
    expect(bucketFor(day)).toBe(900);
    expect(bucketFor(30 * day)).toBe(12 * 3600);
    for (const span of [60_000, day, 30 * day, 400 * day]) expect(span / 1000 / bucketFor(span) + 1).toBeLessThanOrEqual(READ_BOUNDS.maxBuckets);
    checkSpan(0, 400 * day);
    refused(() => checkSpan(0, 401 * day), 'to');
    refused(() => checkSpan(day, 0), 'from');
  });
});
