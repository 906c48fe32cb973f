// Geometry for the SVG timelines (attempts of a call, calls of a trace): bars positioned by
// offset and length on a shared scale. SVG attributes, not inline styles, so the strict
// CSP (style-src 'self') holds.

export interface Span {
  label: string;
  startMs: number;
  durationMs: number;
  error: boolean;
}

export interface Bar extends Span {
  x: number;
  width: number;
}

/** Map spans to [0, width] pixels; every bar at least 2px so a 0 ms span stays visible. */
export function layout(spans: readonly Span[], width: number): { bars: Bar[]; totalMs: number } {
  const totalMs = Math.max(1, ...spans.map((s) => s.startMs + s.durationMs));
  const bars = spans.map((s) => ({
    ...s,
    x: (s.startMs / totalMs) * width,
    width: Math.max(2, (s.durationMs / totalMs) * width),
  }));
  return { bars, totalMs };
}

/** Attempts run one after another: each starts when the previous one ended. */
export function attemptSpans(attempts: readonly { provider: string; model: string; status: number; error_class: string; latency_ms: number }[]): Span[] {
  let t = 0;
  return attempts.map((a, i) => {
    const s = { label: `#${i + 1} ${a.provider}/${a.model} → ${a.status || '—'}`, startMs: t, durationMs: a.latency_ms, error: a.status >= 400 || a.status === 0 || !!a.error_class };
    t += a.latency_ms;
    return s;
  });
}
