// Month-to-date spend and the month-end forecast shown against budgets on the spend page.
//
// Method: forecast = MTD + run rate × time left in the month, where the run rate is the spend
// over the last 7 days (or since the month began, if that is shorter) divided by that span.
// A recent window follows a change in usage within days, which MTD / elapsed-fraction would
// average away for weeks; early in a month the two are the same. The window starts on a whole
// hour so the hourly rollup answers it exactly. Budgets of other periods are compared as their
// monthly equivalent (daily × days in the month, weekly × days / 7).
import type { BudgetPeriod } from './store/keys.ts';

const HOUR_MS = 3_600_000;
const DAY_MS = 86_400_000;
export const RUN_RATE_DAYS = 7;

export interface MonthWindow {
  monthStart: number;
  monthEnd: number;
  /** Start of the run rate's window (hour-aligned, not before the month). */
  recentFrom: number;
  now: number;
}

export function monthWindow(now: number): MonthWindow {
  const d = new Date(now);
  const monthStart = Date.UTC(d.getUTCFullYear(), d.getUTCMonth(), 1);
  const monthEnd = Date.UTC(d.getUTCFullYear(), d.getUTCMonth() + 1, 1);
  const recentFrom = Math.max(monthStart, Math.floor((now - RUN_RATE_DAYS * DAY_MS) / HOUR_MS) * HOUR_MS);
  return { monthStart, monthEnd, recentFrom, now };
}

export interface Forecast {
  mtd: number;
  ratePerDay: number;
  forecast: number;
}

export function forecastMonthEnd(w: MonthWindow, mtd: number, recent: number): Forecast {
  const span = w.now - w.recentFrom;
  const ratePerDay = span > 0 ? (recent / span) * DAY_MS : 0;
  return { mtd, ratePerDay, forecast: mtd + (ratePerDay * Math.max(0, w.monthEnd - w.now)) / DAY_MS };
}

/** A budget as a monthly amount; null when there is none. */
export function monthlyBudget(budget: number | null, period: BudgetPeriod, w: MonthWindow): number | null {
  if (budget === null || period === 'none') return null;
  const days = (w.monthEnd - w.monthStart) / DAY_MS;
  return period === 'monthly' ? budget : period === 'weekly' ? (budget * days) / 7 : budget * days;
}

export type BudgetState = 'over' | 'at risk' | 'ok' | 'no budget';

export function budgetState(f: Forecast, monthly: number | null): BudgetState {
  if (monthly === null) return 'no budget';
  if (f.mtd >= monthly) return 'over';
  return f.forecast > monthly ? 'at risk' : 'ok';
}
