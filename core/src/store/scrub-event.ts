// What scrubbing does to one call event (a log record or a dead letter's record): the rules
// that select it, and the event with its bodies emptied. The files are walked by
// erasure-files.ts and dead-letter-scrub.ts; ingest applies the same to rows it inserts.

export interface ScrubRule {
  /** Whether this event (parsed) must be scrubbed. */
  match(e: Record<string, unknown>): boolean;
  /** Fields set to '' besides the bodies (e.g. `user` on erasure). */
  alsoClear?: readonly string[];
  /** Cheap pre-check on the raw record (a substring it must contain), to skip parsing most records. */
  needle?: string;
  /**
   * An erasure's rule (epoch ms it was asked): an event it selects is marked `erased_at`, so that
   * ingest stores it marked when it arrives (a spooled or logged call: its user is gone, so no
   * recorded request selects it any more). In place, only where the emptied bodies left room.
   */
  erasedAt?: number;
}

/** How an erasure's mark starts in an event's JSON (ingest looks for it). */
export const ERASED_MARK = '"erased_at":"';

/** A string as it stands inside a JSON string literal (a needle for a raw record). */
export function jsonText(s: string): string {
  return JSON.stringify(s).slice(1, -1);
}

export interface ScrubResult {
  records: number;
  bytes: number;
  files: number;
}

const BODY_FIELDS = ['request_body', 'response_body', 'error_message'] as const;
export const ATTEMPT_IO_BODY_FIELDS = ['request_body', 'response_body', 'request_sha256', 'response_sha256'] as const;

/**
 * The event with its bodies (and the rule's other fields) emptied, or null when the rule does
 * not match it or it has nothing left to empty. `e` is the event parsed, when the caller has it.
 */
export function scrubbedEvent(raw: Buffer, rule: ScrubRule, e?: Record<string, unknown>): Buffer | null {
  return scrubbedByAny(raw, [rule], e);
}

/**
 * scrubbedEvent under several rules at once: an event any of them selects (each one tested on
 * the event as it was) loses its bodies and the fields of every rule that selects it.
 */
export function scrubbedByAny(raw: Buffer, rules: readonly ScrubRule[], e?: Record<string, unknown>): Buffer | null {
  return scrubbed(raw, rules, e, true);
}

function scrubbed(raw: Buffer, rules: readonly ScrubRule[], e: Record<string, unknown> | undefined, mark: boolean): Buffer | null {
  const candidates = e === undefined ? rules.filter((r) => r.needle === undefined || raw.includes(r.needle)) : rules;
  if (candidates.length === 0) return null;
  if (e === undefined) {
    try {
      e = JSON.parse(raw.toString('utf8')) as Record<string, unknown>;
    } catch {
      return null;
    }
  }
  const fields = new Set<string>(BODY_FIELDS);
  let selected = false;
  let erasedAt: number | undefined;
  for (const r of candidates) {
    if (!r.match(e)) continue;
    selected = true;
    for (const f of r.alsoClear ?? []) fields.add(f);
    if (r.erasedAt !== undefined) erasedAt = Math.max(erasedAt ?? -Infinity, r.erasedAt);
  }
  if (!selected) return null;
  const io = Array.isArray(e['attempt_io']) ? (e['attempt_io'] as Record<string, unknown>[]) : [];
  const ioBodies = io.some((a) => a['request_set'] !== undefined || ATTEMPT_IO_BODY_FIELDS.some((f) => typeof a[f] === 'string' && a[f] !== ''));
  if (!ioBodies && [...fields].every((f) => e[f] === '' || e[f] === undefined)) return null;
  for (const f of fields) if (f in e) e[f] = '';
  // Per-attempt bodies (migration 0013) and their hashes; ids, sizes and flags stay.
  // An upstream request carried as the call's plus routing's fields (event.ts request_set) goes too.
  for (const a of io) {
    for (const f of ATTEMPT_IO_BODY_FIELDS) if (typeof a[f] === 'string') a[f] = '';
    delete a['request_set'];
  }
  if (mark && erasedAt !== undefined && typeof e['erased_at'] !== 'string') e['erased_at'] = new Date(erasedAt).toISOString();
  return Buffer.from(JSON.stringify(e));
}

/** The scrubbed event at exactly `raw.length` bytes (padded with spaces), or null if it needs no change. */
export function scrubbedInPlace(raw: Buffer, rules: readonly ScrubRule[]): Buffer | null {
  let out = scrubbed(raw, rules, undefined, true);
  if (out === null) return null;
  // Only strings were emptied, so it is never longer — but for an erasure's mark, left out
  // where the bodies emptied were shorter than it.
  if (out.length > raw.length) out = scrubbed(raw, rules, undefined, false);
  if (out === null || out.length > raw.length) return null;
  return Buffer.concat([out, Buffer.alloc(raw.length - out.length, 0x20)]);
}
