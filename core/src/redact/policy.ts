// What happens to one call's bodies: the `redaction` section of gatelog.yaml, the treatment a
// call gets (by alias, by virtual key, stricter on request), and the stored texts of a call.
//
// Modes: `off` (stored as sent), `log` (stored copy redacted, provider gets the original),
// `forward` (the provider gets the redacted text too), `metadata_only` (no bodies stored).
// A treatment has two independent dimensions (what the provider gets, what is stored), so
// combining two modes takes the stricter of each: `forward` + `metadata_only` sends redacted
// text and stores no body.
//
// `block` is a third, independent dimension: a call whose request holds something of a blocked
// kind is refused before it is sent (proxy/src/routes/content-block.ts). The lists of the
// configuration, the call's alias and its key add up.
import { z } from 'zod';
import { DETECTOR_NAMES, placeholderTypes, type DetectorName } from './detectors.ts';
import { compileCustom, createRedactor, type CallRedaction, type Redactor } from './redactor.ts';

export const REDACTION_MODES = ['off', 'log', 'forward', 'metadata_only'] as const;
export type RedactionMode = (typeof REDACTION_MODES)[number];
const Mode = z.enum(REDACTION_MODES);

/** The per-request header asking for stricter (never looser) treatment. */
export const REDACT_HEADER = 'x-gatelog-redact';

/**
 * What `block` names: a detector (`secrets`, `card`, …: every kind it finds), a custom pattern's
 * name, or one placeholder type of a built-in detector (`AWS_KEY`, `PRIVATE_KEY`).
 */
const BlockList = z.array(z.string().min(1).max(64)).max(64);
/** An alias's or a key's policy: a mode, or a mode and what to block besides the global list. */
const Scoped = z.union([Mode, z.object({ mode: Mode.optional(), block: BlockList.optional() }).strict()]);
type Scoped = z.infer<typeof Scoped>;

const BUILTIN_TYPES = new Map<string, DetectorName>(DETECTOR_NAMES.flatMap((d) => placeholderTypes(d).map((t): [string, DetectorName] => [t, d])));

export const RedactionConfig = z.object({
  /** Every call's mode unless its alias or key says otherwise. */
  mode: Mode.default('log'),
  detectors: z.array(z.enum(DETECTOR_NAMES)).default([...DETECTOR_NAMES]),
  /** Refuse (400 `content_blocked`, never sent) a call whose request holds one of these. */
  block: BlockList.default([]),
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
  /** Mode (and blocked kinds) per model alias (as the client names it). */
  aliases: z.record(z.string().min(1), Scoped).default({}),
  /** Mode (and blocked kinds) per virtual key, by key id or key name. With an alias mode too, the stricter applies. */
  keys: z.record(z.string().min(1), Scoped).default({}),
}).strict().superRefine((cfg, ctx) => {
  const lists: [(string | number)[], string[]][] = [[['block'], cfg.block]];
  for (const [where, m] of [['aliases', cfg.aliases], ['keys', cfg.keys]] as const) {
    for (const [name, v] of Object.entries(m)) if (typeof v === 'object' && v.block) lists.push([[where, name, 'block'], v.block]);
  }
  for (const [path, list] of lists) {
    list.forEach((b, i) => {
      const why = blockNameProblem(cfg, b);
      if (why) ctx.addIssue({ code: 'custom', path: [...path, i], message: why });
    });
  }
});
export type RedactionConfig = z.infer<typeof RedactionConfig>;

/** Why `b` cannot be blocked under `cfg` (it would never be found), or null. */
function blockNameProblem(cfg: { detectors: readonly DetectorName[]; custom: readonly { name: string }[] }, b: string): string | null {
  const detector = (DETECTOR_NAMES as readonly string[]).includes(b) ? (b as DetectorName) : BUILTIN_TYPES.get(b);
  if (detector !== undefined) return cfg.detectors.includes(detector) ? null : `"${b}" is found by the ${detector} detector, which redaction.detectors leaves out`;
  if (cfg.custom.some((c) => c.name === b)) return null;
  return `"${b}" is not a detector (${DETECTOR_NAMES.join(', ')}), a placeholder type of one (${[...BUILTIN_TYPES.keys()].join(', ')}) or a redaction.custom name`;
}

/** The placeholder types `names` stand for. */
function blockedTypes(names: readonly string[]): string[] {
  return names.flatMap((b) => ((DETECTOR_NAMES as readonly string[]).includes(b) ? placeholderTypes(b as DetectorName) : [b]));
}

const modeOf = (v: Scoped | undefined): RedactionMode | undefined => (typeof v === 'object' ? v.mode : v);
const blockOf = (v: Scoped | undefined): readonly string[] => (typeof v === 'object' ? (v.block ?? []) : []);

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
  /** `request` in pieces, where it was read in them (StoredInput.requestPieces): redacted, it is made of them. */
  requestPieces?: readonly string[] | undefined;
  /** Occurrences redacted, by placeholder type (empty: nothing found or nothing scanned). */
  counts: Record<string, number>;
}

/** Longest token a detector matches (a private key block), plus margin: see `window`. */
const TAIL = 20_000;
/** Error messages are stored up to 2 KiB (call-record.ts); a little more is scanned. */
const ERROR_CAP = 4096;

export interface Privacy {
  treatment(c: CallIdentity): Treatment;
  /**
   * The placeholder types a call's request may not hold (its alias's, its key's and the global
   * list), or null when nothing is blocked for it (the common case: one map lookup each).
   */
  blocked(c: Omit<CallIdentity, 'requested'>): ReadonlySet<string> | null;
  /** Something is blocked for some call (false: `blocked` is null for every call). */
  readonly blocking: boolean;
  /**
   * Every finding lies inside one JSON string and depends on that string's content alone (the
   * built-in detectors: none matches a quote). False with custom patterns, which may span strings.
   */
  readonly withinStrings: boolean;
  /** A fresh redaction state for one call (placeholders shared by its texts). */
  call(): CallRedaction;
  /**
   * The texts to store for a call under `t`. Only what can be stored is scanned: a body is
   * redacted over its first `cap` characters plus TAIL, emitted up to where no token can have
   * been cut by that window (the body is then flagged truncated by its byte count anyway).
   */
  stored(t: Treatment, c: CallRedaction, texts: StoredInput, cap: number): StoredTexts;
}

/** A call's texts to store; `requestPieces`: `request` in pieces, when it was decoded so (core/src/json/pieces.ts). */
export interface StoredInput {
  request: string;
  response: string;
  error: string;
  requestPieces?: readonly string[] | undefined;
}

function windowed(c: CallRedaction, text: string, cap: number, pieces?: readonly string[], outPieces?: string[]): string {
  const limit = cap + TAIL;
  if (text.length <= limit) return c.redact(text, text.length, pieces, outPieces);
  return c.redact(text.slice(0, limit), cap);
}

export function createPrivacy(cfg: RedactionConfig): Privacy {
  const redactor: Redactor = createRedactor({ detectors: cfg.detectors, custom: cfg.custom });
  const base = treatmentOf(cfg.mode);
  const globalBlock = new Set(blockedTypes(cfg.block));
  const anyBlock = globalBlock.size > 0 || [...Object.values(cfg.aliases), ...Object.values(cfg.keys)].some((v) => blockOf(v).length > 0);
  const keyPolicy = (c: { keyId: string; keyName: string }): Scoped | undefined => (c.keyId && cfg.keys[c.keyId]) || (c.keyName && cfg.keys[c.keyName]) || undefined;
  return {
    blocking: anyBlock,
    withinStrings: cfg.custom.length === 0,
    blocked(c) {
      if (!anyBlock) return null;
      const extra = [...blockOf(cfg.aliases[c.alias]), ...blockOf(keyPolicy(c))];
      if (extra.length === 0) return globalBlock.size > 0 ? globalBlock : null;
      return new Set([...globalBlock, ...blockedTypes(extra)]);
    },
    treatment(c) {
      const byAlias = modeOf(cfg.aliases[c.alias]);
      const byKey = modeOf(keyPolicy(c));
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
      if (t.store === 'original' && !t.forward) return { request: texts.request, response: texts.response, error: texts.error, counts: {} };
      // Counts of this scan only (a forwarded body was scanned once already, for the provider).
      const before = c.any ? { ...c.counts } : undefined;
      const error = windowed(c, texts.error, ERROR_CAP);
      const none = t.store === 'none';
      const requestPieces: string[] = [];
      const request = none ? '' : windowed(c, texts.request, cap, texts.requestPieces, requestPieces);
      const response = none ? '' : windowed(c, texts.response, cap);
      const counts: Record<string, number> = {};
      if (c.any) for (const [k, v] of Object.entries(c.counts)) if (v > (before?.[k] ?? 0)) counts[k] = v - (before?.[k] ?? 0);
      return { request, response, error, counts, ...(requestPieces.length > 0 ? { requestPieces } : {}) };
    },
  };
}
