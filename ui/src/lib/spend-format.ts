// Formatting for the spend and spike pages: signed amounts and shares. Float noise from the
// decomposition (1e-16 where a value did not change) reads as zero.
import { fmtCost } from '#lib/format.ts';

const NOISE_USD = 5e-7;

export function fmtSignedCost(usd: number): string {
  if (Math.abs(usd) < NOISE_USD) return '$0';
  return `${usd < 0 ? '−' : '+'}${fmtCost(Math.abs(usd))}`;
}

export function fmtShare(x: number): string {
  return Math.abs(x) < 5e-4 ? '0.0%' : `${(100 * x).toFixed(1)}%`;
}
