// W3C Trace Context (https://www.w3.org/TR/trace-context/) parsing shared by the proxy (a
// caller's traceparent/tracestate) and the explorer (a pasted traceparent finds its calls).
// Pure functions; a malformed value gives null / '' and never throws.

/** A valid traceparent's fields: lowercase hex ids, neither all zero; flags bit 0 = sampled. */
export interface W3CParent {
  traceId: string;
  spanId: string;
  flags: number;
}

/** The spec asks vendors to propagate at least 512 characters; we keep at most that. */
export const MAX_TRACESTATE_CHARS = 512;
const MAX_TRACESTATE_MEMBERS = 32;
const ZERO_TRACE = '0'.repeat(32);
const ZERO_SPAN = '0'.repeat(16);
/** version-traceid-parentid-flags, lowercase hex only (uppercase is invalid per spec). */
const TRACEPARENT = /^([0-9a-f]{2})-([0-9a-f]{32})-([0-9a-f]{16})-([0-9a-f]{2})(-.*)?$/;
// tracestate list members: simple-key or tenant@system keys; values of printable ASCII but , and =.
const TS_KEY = /^(?:[a-z][a-z0-9_\-*/]{0,255}|[a-z0-9][a-z0-9_\-*/]{0,240}@[a-z][a-z0-9_\-*/]{0,13})$/;
const TS_VALUE = /^[\x20-\x2b\x2d-\x3c\x3e-\x7e]{0,255}[\x21-\x2b\x2d-\x3c\x3e-\x7e]$/;

/** A traceparent header value, or null if it is not a valid one. */
export function parseTraceparent(v: unknown): W3CParent | null {
  if (typeof v !== 'string' || v.length < 55 || v.length > 512) return null;
  const m = TRACEPARENT.exec(v.trim());
  if (!m) return null;
  const [, version = '', traceId = '', spanId = '', flags = ''] = m;
  // Version ff is forbidden; version 00 has exactly four fields. Later versions may append
  // fields after a '-', which we ignore (the spec's forward compatibility rule).
  if (version === 'ff' || (version === '00' && m[5] !== undefined)) return null;
  if (traceId === ZERO_TRACE || spanId === ZERO_SPAN) return null;
  return { traceId, spanId, flags: parseInt(flags, 16) };
}

/** A tracestate header: its list members in order, within the bounds; '' if any member is malformed or a key repeats. */
export function cleanTracestate(v: unknown): string {
  if (typeof v !== 'string' || v.length === 0 || v.length > 8192) return '';
  const seen = new Set<string>();
  const kept: string[] = [];
  let chars = 0;
  for (const raw of v.split(',')) {
    const member = raw.trim();
    if (member === '') continue;
    const eq = member.indexOf('=');
    if (eq <= 0) return ''; // a malformed member makes the whole header invalid
    const key = member.slice(0, eq);
    if (!TS_KEY.test(key) || !TS_VALUE.test(member.slice(eq + 1))) return '';
    if (seen.has(key)) return ''; // duplicate keys are invalid too
    seen.add(key);
    const add = member.length + (kept.length > 0 ? 1 : 0);
    if (kept.length >= MAX_TRACESTATE_MEMBERS || chars + add > MAX_TRACESTATE_CHARS) break;
    kept.push(member);
    chars += add;
  }
  return kept.join(',');
}

/** A pasted traceparent or trace id → the trace id to search for (the input itself otherwise). */
export function traceIdOfSearch(input: string): string {
  const t = input.trim();
  const p = parseTraceparent(t.toLowerCase());
  return p ? p.traceId : t;
}

