// Formatting for the spend and spike pages: signed amounts and shares.
import { fmtCost } from '#lib/format.ts';

export function fmtSignedCost(usd: number): string {
  return `${usd < 0 ? '−' : '+'}${fmtCost(Math.abs(usd))}`;
}

export function fmtShare(x: number): string {
  return `${(100 * x).toFixed(1)}%`;
}
