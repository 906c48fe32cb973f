// Budget periods in UTC: when the current period started and when it resets. Weekly periods
// follow ISO weeks (Monday 00:00 UTC). `none` never resets: its "period" is all time.
import type { BudgetPeriod } from '@gatelog/core/store/keys';
import { budgetPeriodStart } from '@gatelog/core/store/key-stats';

export type { BudgetPeriod };

const DAY_MS = 86_400_000;

/** Start of the period containing `now` (epoch ms); 0 for `none` (all time). One definition, in core. */
export const periodStart: (period: BudgetPeriod, now: number) => number = budgetPeriodStart;

/** When the period containing `now` ends (epoch ms); null for `none`. */
export function periodReset(period: BudgetPeriod, now: number): number | null {
  const start = periodStart(period, now);
  switch (period) {
    case 'daily':
      return start + DAY_MS;
    case 'weekly':
      return start + 7 * DAY_MS;
    case 'monthly': {
      const d = new Date(start);
      return Date.UTC(d.getUTCFullYear(), d.getUTCMonth() + 1, 1);
    }
    case 'none':
      return null;
  }
}

/** `2026-12-01T00:00:00Z`: second precision, as printed in refusal messages. */
export function formatUtc(ms: number): string {
  return new Date(ms).toISOString().replace(/\.\d{3}Z$/, 'Z');
}

/** "resets at 2026-12-01T00:00:00Z" or "does not reset" — for error messages. */
export function describeReset(period: BudgetPeriod, now: number): string {
  const at = periodReset(period, now);
  return at === null ? 'the budget does not reset (period: none)' : `resets at ${formatUtc(at)}`;
}
