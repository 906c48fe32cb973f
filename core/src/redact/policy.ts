// What happens to one call's bodies: the `redaction` section of gatelog.yaml, the treatment a
// call gets (by alias, by virtual key, stricter on request), and the stored texts of a call.
//
// Modes: `off` (stored as sent), `log` (stored copy redacted, provider gets the original),
// `forward` (the provider gets the redacted text too), `metadata_only` (no bodies stored).
// A treatment has two independent dimensions (what the provider gets, what is stored), so
// combining two modes takes the stricter of each: `forward` + `metadata_only` sends redacted
// text and stores no body.
import { z } from 'zod';
import { DETECTOR_NAMES } from './detectors.ts';
import { compileCustom, createRedactor, type CallRedaction, type Redactor } from './redactor.ts';

export const REDACTION_MODES = ['off', 'log', 'forward', 'metadata_only'] as const;
export type RedactionMode = (typeof REDACTION_MODES)[number];
const Mode = z.enum(REDACTION_MODES);

/** The per-request header asking for stricter (never looser) treatment. */
export const REDACT_HEADER = 'x-gatelog-redact';

export const RedactionConfig = z.object({
  /** Every call's mode unless its alias or key says otherwise. */
  mode: Mode.default('log'),
  detectors: z.array(z.enum(DETECTOR_NAMES)).default([...DETECTOR_NAMES]),
  /** Extra patterns (RE2 syntax: linear time), each with its placeholder type (`[NAME_1]`). */
  custom: z.array(
    z.object({
      name: z.string().regex(/^[A-Z][A-Z0-9_]{0,31}$/, 'an upper-case placeholder name (A-Z, 0-9, _)'),
      pattern: z.string().min(1).max(2000),
    }).strict().superRefine((p, ctx) => {
      const c = compileCustom(p);
      if (!c.ok) ctx.addIssue({ code: 'custom', path: ['pattern'], message: `not a valid RE2 pattern: ${c.message}` });
    }),
  ).max(64).default([]),
  /** Mode per model alias (as the client names it). */
  aliases: z.record(z.string().min(1), Mode).default({}),
  /** Mode per virtual key, by key id or key name. With an alias mode too, the stricter applies. */
  keys: z.record(z.string().min(1), Mode).default({}),
}).strict();
export type RedactionConfig = z.infer<typeof RedactionConfig>;

export interface Treatment {
  /** The provider gets the redacted text. */
  forward: boolean;
  store: 'original' | 'redacted' | 'none';
}

const STORE_RANK = { original: 0, redacted: 1, none: 2 } as const;

export function treatmentOf(mode: RedactionMode): Treatment {
  if (mode === 'off') return { forward: false, store: 'original' };
  if (mode === 'forward') return { forward: true, store: 'redacted' };
  if (mode === 'metadata_only') return { forward: false, store: 'none' };
  return { forward: false, store: 'redacted' };
}

export function stricter(a: Treatment, b: Treatment): Treatment {
  return { forward: a.forward || b.forward, store: STORE_RANK[a.store] >= STORE_RANK[b.store] ? a.store : b.store };
}

/**
 * The header's treatment (`log`, `forward`, `metadata_only`, comma-separated to combine), or
 * null when absent; throws a message for a value that is not a mode.
 */
export function parseRedactHeader(v: string | string[] | undefined): Treatment | null {
  if (v === undefined) return null;
  const raw = Array.isArray(v) ? v.join(',') : v;
  let t: Treatment | null = null;
  for (const part of raw.split(',').slice(0, 8)) {
    const m = Mode.safeParse(part.trim());
    if (!m.success) throw new RedactHeaderError(`${REDACT_HEADER} must be one or more of ${REDACTION_MODES.join(', ')}.`);
    t = t ? stricter(t, treatmentOf(m.data)) : treatmentOf(m.data);
  }
  return t;
}

export class RedactHeaderError extends Error {
  readonly code = 'invalid_redact_header';
}

export interface CallIdentity {
  alias: string;
  keyId: string;
  keyName: string;
  /** The request header's treatment, if any. */
  requested: Treatment | null;
}

/** Stored texts of a call, as they go into its event. */
export interface StoredTexts {
  request: string;
  response: string;
  error: string;
  /** Occurrences redacted, by placeholder type (empty: nothing found or nothing scanned). */
  counts: Record<string, number>;
}

/** Longest token a detector matches (a private key block), plus margin: see `window`. */
const TAIL = 20_000;
/** Error messages are stored up to 2 KiB (call-record.ts); a little more is scanned. */
const ERROR_CAP = 4096;

export interface Privacy {
  treatment(c: CallIdentity): Treatment;
  /** A fresh redaction state for one call (placeholders shared by its texts). */
  call(): CallRedaction;
  /**
   * The texts to store for a call under `t`. Only what can be stored is scanned: a body is
   * redacted over its first `cap` characters plus TAIL, emitted up to where no token can have
   * been cut by that window (the body is then flagged truncated by its byte count anyway).
   */
  stored(t: Treatment, c: CallRedaction, texts: { request: string; response: string; error: string }, cap: number): StoredTexts;
}

function windowed(c: CallRedaction, text: string, cap: number): string {
  const limit = cap + TAIL;
  if (text.length <= limit) return c.redact(text);
  return c.redact(text.slice(0, limit), cap);
}

export function createPrivacy(cfg: RedactionConfig): Privacy {
  const redactor: Redactor = createRedactor({ detectors: cfg.detectors, custom: cfg.custom });
  const base = treatmentOf(cfg.mode);
  return {
    treatment(c) {
      const byAlias = cfg.aliases[c.alias];
      const byKey = (c.keyId && cfg.keys[c.keyId]) || (c.keyName && cfg.keys[c.keyName]) || undefined;
      let t = base;
      if (byAlias !== undefined || byKey !== undefined) {
        const a = byAlias !== undefined ? treatmentOf(byAlias) : null;
        const k = byKey !== undefined ? treatmentOf(byKey) : null;
        t = a && k ? stricter(a, k) : (a ?? k ?? base);
      }
      return c.requested ? stricter(t, c.requested) : t;
    },
    call: () => redactor.call(),
    stored(t, c, texts, cap) {
      // The error message is kept in every mode (it says why a call failed), redacted unless off.
      if (t.store === 'original' && !t.forward) return { ...texts, counts: {} };
      // Counts of this scan only (a forwarded body was scanned once already, for the provider).
      const before = c.any ? { ...c.counts } : undefined;
      const error = windowed(c, texts.error, ERROR_CAP);
      const none = t.store === 'none';
      const request = none ? '' : windowed(c, texts.request, cap);
      const response = none ? '' : windowed(c, texts.response, cap);
      const counts: Record<string, number> = {};
      if (c.any) for (const [k, v] of Object.entries(c.counts)) if (v > (before?.[k] ?? 0)) counts[k] = v - (before?.[k] ?? 0);
      return { request, response, error, counts };
    },
  };
}
