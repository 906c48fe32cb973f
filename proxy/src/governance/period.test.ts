import { describe, expect, it } from 'vitest';
import { describeReset, formatUtc, periodReset, periodStart, type BudgetPeriod } from './period.ts';

const t = (s: string): number => Date.parse(s);

describe('periodStart / periodReset', () => {
  const cases: [BudgetPeriod, string, string, string | null][] = [
    ['daily', '2026-11-23T10:42:00.123Z', '2026-11-23T00:00:00Z', '2026-11-24T00:00:00Z'],
    ['daily', '2026-12-31T23:59:59.999Z', '2026-12-31T00:00:00Z', '2027-01-01T00:00:00Z'],
    // 2026-11-23 is a Monday: a Monday belongs to its own week.
    ['weekly', '2026-11-23T00:00:00.000Z', '2026-11-23T00:00:00Z', '2026-11-30T00:00:00Z'],
    // Sunday belongs to the week that started the previous Monday (ISO weeks).
    ['weekly', '2026-11-29T23:59:59.000Z', '2026-11-23T00:00:00Z', '2026-11-30T00:00:00Z'],
    // A week spanning a year boundary.
    ['weekly', '2027-01-01T12:00:00.000Z', '2026-12-28T00:00:00Z', '2027-01-04T00:00:00Z'],
    ['monthly', '2026-11-23T10:42:00.000Z', '2026-11-01T00:00:00Z', '2026-12-01T00:00:00Z'],
    ['monthly', '2026-12-15T00:00:00.000Z', '2026-12-01T00:00:00Z', '2027-01-01T00:00:00Z'],
    ['monthly', '2028-02-29T08:00:00.000Z', '2028-02-01T00:00:00Z', '2028-03-01T00:00:00Z'],
    ['none', '2026-11-23T10:42:00.000Z', '1970-01-01T00:00:00Z', null],
  ];
  it.each(cases)('%s at %s starts %s and resets %s', (period, now, start, reset) => {
    expect(formatUtc(periodStart(period, t(now)))).toBe(start);
    const r = periodReset(period, t(now));
    expect(r === null ? null : formatUtc(r)).toBe(reset);
  });

  it('the reset of one period is the start of the next', () => {
    for (const p of ['daily', 'weekly', 'monthly'] as const) {
      const reset = periodReset(p, t('2026-11-23T10:00:00Z'))!;
      expect(periodStart(p, reset)).toBe(reset);
      expect(periodStart(p, reset - 1)).toBe(periodStart(p, t('2026-11-23T10:00:00Z')));
    }
  });
});

describe('describeReset', () => {
  it('names the reset instant in UTC, second precision', () => {
    expect(describeReset('monthly', t('2026-11-23T10:42:00.999Z'))).toBe('resets at 2026-12-01T00:00:00Z');
    expect(describeReset('none', 0)).toMatch(/does not reset/);
  });
});
