// Display formatting shared by pages. Unknown values show as "—", never as a fake zero.

export const DASH = '—';

export function fmtCost(usd: number | null): string {
  if (usd === null) return DASH;
  if (usd === 0) return '$0';
  return usd < 0.01 ? `$${usd.toPrecision(2)}` : `$${usd.toFixed(4)}`;
}

export function fmtMs(ms: number | null): string {
  if (ms === null) return DASH;
  return ms >= 1000 ? `${(ms / 1000).toFixed(2)} s` : `${Math.round(ms)} ms`;
}

export function fmtInt(n: number): string {
  return n.toLocaleString('en-US');
}

/** UTC ISO-8601 with milliseconds, exactly as stored (unambiguous across time zones). */
export function fmtTime(iso: string): string {
  return iso;
}

export function statusClass(status: number): string {
  if (status === 0) return 'status-none';
  return status < 400 ? 'status-ok' : 'status-error';
}

/** A span in seconds as a person reads it: 45 s, 12 min, 3.5 h, 2.0 d. */
export function fmtAge(s: number | null): string {
  if (s === null) return DASH;
  if (s < 90) return `${Math.round(s)} s`;
  if (s < 90 * 60) return `${Math.round(s / 60)} min`;
  if (s < 36 * 3600) return `${(s / 3600).toFixed(1)} h`;
  return `${(s / 86_400).toFixed(1)} d`;
}
