// Geometry for the SVG timelines (attempts of a call, calls of a trace): bars positioned by
// offset and length on a shared scale. SVG attributes, not inline styles, so the strict
// CSP (style-src 'self') holds.

export interface Span {
  label: string;
  startMs: number;
  durationMs: number;
  error: boolean;
  /** `wait`: time between attempts (backoff), no request in flight. */
  kind?: 'wait';
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

interface AttemptLike {
  provider: string;
  model: string;
  status: number;
  error_class: string;
  latency_ms: number;
}

const failed = (status: number, errorClass: string): boolean => status >= 400 || status === 0 || !!errorClass;
const attemptLabel = (a: AttemptLike, i: number): string => `#${i + 1} ${a.provider}/${a.model} → ${a.status || '—'}`;

/** Gaps shorter than this are scheduling noise, not a wait worth a bar. */
const MIN_WAIT_MS = 1;

/**
 * The attempts of a call on the call's clock, and the waits between them (backoff before a
 * retry or fallback). With `starts` (each attempt's dispatch time, migration 0020) every bar
 * sits where it happened and a gap between one attempt's end and the next one's start is drawn
 * as a wait. Without them (older calls) the attempts are drawn back to back and `unplacedWaitMs`
 * says how much time between them the record cannot place.
 */
export function attemptTimeline(
  attempts: readonly AttemptLike[],
  starts: readonly number[] = [],
  call?: { latency_ms: number; overhead_ms: number },
): { spans: Span[]; unplacedWaitMs: number } {
  if (starts.length === attempts.length && attempts.length > 0) {
    const spans: Span[] = [];
    attempts.forEach((a, i) => {
      const start = starts[i] ?? 0;
      if (i > 0) {
        const prev = attempts[i - 1]!;
        const prevEnd = (starts[i - 1] ?? 0) + prev.latency_ms;
        if (start - prevEnd >= MIN_WAIT_MS) spans.push({ label: `wait before #${i + 1}`, startMs: prevEnd, durationMs: start - prevEnd, error: false, kind: 'wait' });
      }
      spans.push({ label: attemptLabel(a, i), startMs: start, durationMs: a.latency_ms, error: failed(a.status, a.error_class) });
    });
    return { spans, unplacedWaitMs: 0 };
  }
  let t = 0;
  const spans = attempts.map((a, i) => {
    const s: Span = { label: attemptLabel(a, i), startMs: t, durationMs: a.latency_ms, error: failed(a.status, a.error_class) };
    t += a.latency_ms;
    return s;
  });
  // Upstream time the attempts do not account for: the waits between them (only when there was a retry).
  const unplaced = call && attempts.length > 1 ? call.latency_ms - call.overhead_ms - t : 0;
  return { spans, unplacedWaitMs: unplaced >= MIN_WAIT_MS ? unplaced : 0 };
}

/** Attempts run one after another: each starts when the previous one ended (no start times known). */
export function attemptSpans(attempts: readonly AttemptLike[]): Span[] {
  return attemptTimeline(attempts).spans;
}

interface CallTimes {
  status: number;
  outcome: string;
  ttft_ms: number | null;
  latency_ms: number;
  overhead_ms: number;
  attempt_starts?: readonly number[] | undefined;
}

/**
 * Time to first token, only when a token came: a failed call's first byte is its error body,
 * which is no token (status 0 or ≥ 400, or refused by gatelog before any upstream answered).
 */
export function firstTokenMs(c: CallTimes): number | null {
  if (c.ttft_ms === null || c.status === 0 || c.status >= 400 || c.outcome === 'refused') return null;
  return c.ttft_ms;
}

/**
 * The request page's latency breakdown: proxy overhead, then either the time to first token
 * (a token came) or the time upstream until the error (none came), and the whole call.
 */
export function latencyPhases(c: CallTimes): Span[] {
  const ttft = firstTokenMs(c);
  const failedCall = c.status === 0 || c.status >= 400;
  const upstreamStart = c.attempt_starts?.[0] ?? 0;
  const upstreamMs = Math.max(0, c.latency_ms - c.overhead_ms);
  return [
    { label: 'proxy overhead', startMs: 0, durationMs: c.overhead_ms, error: false },
    ...(ttft !== null ? [{ label: 'time to first token', startMs: 0, durationMs: ttft, error: false }] : []),
    ...(ttft === null && failedCall && c.outcome !== 'refused'
      ? [{ label: c.outcome === 'client_aborted' ? 'upstream, until the client left' : 'upstream, until the error', startMs: upstreamStart, durationMs: upstreamMs, error: true }]
      : []),
    { label: 'total', startMs: 0, durationMs: c.latency_ms, error: failedCall },
  ];
}
