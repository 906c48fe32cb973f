import { describe, expect, it } from 'vitest';
import { budgetState, forecastMonthEnd, monthlyBudget, monthWindow } from './spend-forecast.ts';

describe('month-end forecast', () => {
  it('adds the last 7 days\' run rate over the days left to month-to-date spend', () => {
    // 21 Apr 2026, 12:30 UTC: 9 days 11.5 hours left of a 30-day month.
    const w = monthWindow(Date.UTC(2026, 3, 21, 12, 30));
    expect(new Date(w.monthStart).toISOString()).toBe('2026-04-01T00:00:00.000Z');
    expect(new Date(w.recentFrom).toISOString()).toBe('2026-04-14T12:00:00.000Z');
    // $70 over the last 7 days and half an hour → $70 / 7.0208 days.
    const f = forecastMonthEnd(w, 200, 70);
    expect(f.ratePerDay).toBeCloseTo(70 / (7 + 0.5 / 24), 9);
    expect(f.forecast).toBeCloseTo(200 + f.ratePerDay * (9 + 11.5 / 24), 9);
  });

  it('uses the days since the month began when fewer than 7', () => {
    const w = monthWindow(Date.UTC(2026, 3, 3, 0, 0));
    expect(w.recentFrom).toBe(w.monthStart);
    const f = forecastMonthEnd(w, 20, 20);
    expect(f.ratePerDay).toBeCloseTo(10, 9);
    expect(f.forecast).toBeCloseTo(20 + 10 * 28, 9);
  });

  it('compares budgets of any period as monthly amounts', () => {
    const w = monthWindow(Date.UTC(2026, 1, 10));
    expect(monthlyBudget(10, 'daily', w)).toBe(280);
    expect(monthlyBudget(70, 'weekly', w)).toBe(280);
    expect(monthlyBudget(100, 'monthly', w)).toBe(100);
    expect(monthlyBudget(100, 'none', w)).toBeNull();
    expect(budgetState({ mtd: 50, ratePerDay: 1, forecast: 90 }, 100)).toBe('ok');
    expect(budgetState({ mtd: 50, ratePerDay: 5, forecast: 150 }, 100)).toBe('at risk');
    expect(budgetState({ mtd: 120, ratePerDay: 5, forecast: 150 }, 100)).toBe('over');
    expect(budgetState({ mtd: 1, ratePerDay: 0, forecast: 1 }, null)).toBe('no budget');
  });
});
