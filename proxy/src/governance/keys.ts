// Virtual keys: secrets, their hashes, and create/update/rotate validation (the ring that
// authenticates each request is key-ring.ts). The plaintext secret exists only in the create
// response; everything else (store, ring, logs) sees the SHA-256 hash and a short display prefix.
import { createHash, randomBytes, randomUUID } from 'node:crypto';
import { z } from 'zod';
import { BudgetPeriod, type KeyRecord } from '@gatelog/core/store/keys';

/** A virtual key as held in memory and stored (hash only, never the secret). */
export type VirtualKey = KeyRecord;

export const KEY_SECRET_PREFIX = 'gl-';
/** Any well-formed secret, ours or imported: `gl-` + 32..128 url-safe characters. */
export const SECRET_RE = /^gl-[A-Za-z0-9_-]{32,128}$/;
/** Longest header value looked at; longer ones are refused without being read further. */
export const MAX_PRESENTED = 256;

/** `gl-` + 43 url-safe chars (256 random bits). */
export function generateKeySecret(random: (n: number) => Buffer = randomBytes): string {
  return `${KEY_SECRET_PREFIX}${random(32).toString('base64url')}`;
}

export function hashKey(secret: string): string {
  return createHash('sha256').update(secret, 'utf8').digest('hex');
}

/** `gl-abcd…wxyz`: enough to recognise a key in a list, useless to an attacker. */
export function displayPrefix(secret: string): string {
  const body = secret.startsWith(KEY_SECRET_PREFIX) ? secret.slice(KEY_SECRET_PREFIX.length) : secret;
  return `${KEY_SECRET_PREFIX}${body.slice(0, 4)}…${body.slice(-4)}`;
}

// ---------------------------------------------------------------------------------------
// Durations and expiry (`--expires 30d`)

const DURATION_RE = /^(\d{1,6})(s|m|h|d|w)$/;
const UNIT_MS: Record<string, number> = { s: 1000, m: 60_000, h: 3_600_000, d: 86_400_000, w: 604_800_000 };

/** `90s`, `15m`, `12h`, `30d`, `2w` → milliseconds; null if not a duration. */
export function parseDuration(s: string): number | null {
  const m = DURATION_RE.exec(s.trim());
  if (!m) return null;
  const ms = Number(m[1]) * UNIT_MS[m[2]!]!;
  return ms > 0 ? ms : null;
}

/** A duration from `now` or an ISO-8601 instant with a timezone → epoch ms (must be future). */
export function parseExpiry(s: string, now: number): { ok: true; at: number } | { ok: false; message: string } {
  const d = parseDuration(s);
  if (d !== null) return { ok: true, at: now + d };
  if (/^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}(:\d{2}(\.\d+)?)?(Z|[+-]\d{2}:\d{2})$/.test(s.trim())) {
    const at = Date.parse(s);
    if (Number.isNaN(at)) return { ok: false, message: 'not a valid date' };
    if (at <= now) return { ok: false, message: 'must be in the future' };
    return { ok: true, at };
  }
  return { ok: false, message: 'expected a duration like 30d, 12h, 15m, 2w or an ISO-8601 time with a timezone' };
}

// ---------------------------------------------------------------------------------------
// Create / update input

const Printable = (max: number) => z.string().trim().max(max).regex(/^[\x20-\x7e]*$/, 'printable ASCII only');
const PositiveInt = z.coerce.number().int('a whole number').positive('greater than 0');
/** `fast,smart` (CLI) or `["fast","smart"]` (API). */
const Models = z.preprocess(
  (v) => (typeof v === 'string' ? v.split(',').map((s) => s.trim()).filter(Boolean) : v),
  z.array(z.string().min(1).max(128)).max(256),
);
const Expires = z.string().refine((s) => parseExpiry(s, 0).ok, { message: 'expected a duration like 30d or an ISO-8601 time with a timezone' });
/** JSON true/false, or the same as text (CLI and HTML forms). */
const Flag = z.union([z.boolean(), z.enum(['true', 'false']).transform((v) => v === 'true')]);
const Metadata = z.record(z.string().max(128), z.string().max(1024)).refine((m) => Object.keys(m).length <= 64, 'at most 64 entries');

export const KeyCreateInput = z.object({
  name: Printable(128).min(1, 'required'),
  team: Printable(128).default(''),
  owner: Printable(256).default(''),
  models: Models.default([]),
  budget_usd: z.coerce.number().positive('greater than 0').nullable().default(null),
  budget_period: BudgetPeriod.optional(),
  rpm: PositiveInt.nullable().default(null),
  tpm: PositiveInt.nullable().default(null),
  max_parallel: PositiveInt.nullable().default(null),
  user_rpm: PositiveInt.nullable().default(null),
  user_tpm: PositiveInt.nullable().default(null),
  user_budget_usd: z.coerce.number().positive('greater than 0').nullable().default(null),
  user_budget_period: BudgetPeriod.optional(),
  require_user: Flag.default(false),
  expires: Expires.nullable().default(null),
  metadata: Metadata.default({}),
}).strict();
export type KeyCreateInput = z.input<typeof KeyCreateInput>;

export const KeyUpdateInput = z.object({
  name: Printable(128).min(1, 'required').optional(),
  team: Printable(128).optional(),
  owner: Printable(256).optional(),
  models: Models.optional(),
  budget_usd: z.coerce.number().positive('greater than 0').nullable().optional(),
  budget_period: BudgetPeriod.optional(),
  rpm: PositiveInt.nullable().optional(),
  tpm: PositiveInt.nullable().optional(),
  max_parallel: PositiveInt.nullable().optional(),
  user_rpm: PositiveInt.nullable().optional(),
  user_tpm: PositiveInt.nullable().optional(),
  user_budget_usd: z.coerce.number().positive('greater than 0').nullable().optional(),
  user_budget_period: BudgetPeriod.optional(),
  require_user: Flag.optional(),
  expires: Expires.nullable().optional(),
  metadata: Metadata.optional(),
  revoked: z.boolean().optional(),
}).strict().refine((u) => Object.keys(u).length > 0, 'nothing to update');
export type KeyUpdateInput = z.input<typeof KeyUpdateInput>;

/** `budget_usd: greater than 0; expires: expected …` — one line, field by field. */
export function formatInputError(err: z.ZodError): string {
  return err.issues
    .map((i) => {
      const field = i.path.length ? i.path.join('.') : 'input';
      const msg = i.code === 'unrecognized_keys' ? `unknown field(s) ${i.keys.join(', ')}` : i.message;
      return i.code === 'unrecognized_keys' ? msg : `${field}: ${msg}`;
    })
    .join('; ');
}

export type Parsed<T> = { ok: true; value: T } | { ok: false; message: string };

function parseWith<S extends z.ZodType>(schema: S, input: unknown): Parsed<z.output<S>> {
  const r = schema.safeParse(input);
  return r.success ? { ok: true, value: r.data } : { ok: false, message: formatInputError(r.error) };
}

export interface Authoring {
  now: number;
  /** Admin identity written to `updated_by` (never a secret). */
  actor: string;
}

/** Validate a create request and build version 1 of the key; the secret is returned once. */
export function createKey(input: unknown, a: Authoring & { id?: string; secret?: string }): Parsed<{ key: VirtualKey; secret: string }> {
  const p = parseWith(KeyCreateInput, input);
  if (!p.ok) return p;
  const v = p.value;
  if (v.expires !== null) {
    const e = parseExpiry(v.expires, a.now);
    if (!e.ok) return { ok: false, message: `expires: ${e.message}` };
  }
  const secret = a.secret ?? generateKeySecret();
  const at = new Date(a.now).toISOString();
  const key: VirtualKey = {
    id: a.id ?? `key_${randomUUID()}`,
    version: 1,
    key_hash: hashKey(secret),
    key_prefix: displayPrefix(secret),
    previous_key_hash: '',
    previous_key_prefix: '',
    previous_valid_until: null,
    rotated_at: null,
    counter_salt: '',
    name: v.name,
    team: v.team,
    owner: v.owner,
    models: v.models,
    budget_usd: v.budget_usd,
    // A budget without a period is monthly, the common case; no budget, no period.
    budget_period: v.budget_period ?? (v.budget_usd === null ? 'none' : 'monthly'),
    rpm: v.rpm,
    tpm: v.tpm,
    max_parallel: v.max_parallel,
    user_rpm: v.user_rpm,
    user_tpm: v.user_tpm,
    user_budget_usd: v.user_budget_usd,
    user_budget_period: v.user_budget_period ?? (v.user_budget_usd === null ? 'none' : defaultUserPeriod(v.budget_period ?? 'none')),
    require_user: v.require_user,
    expires_at: v.expires === null ? null : expiryIso(v.expires, a.now),
    metadata: v.metadata,
    revoked: false,
    created_at: at,
    updated_at: at,
    updated_by: a.actor,
  };
  return { ok: true, value: { key, secret } };
}

/** Validate an update and build the next version of `current`. */
export function updateKey(current: VirtualKey, input: unknown, a: Authoring): Parsed<VirtualKey> {
  const p = parseWith(KeyUpdateInput, input);
  if (!p.ok) return p;
  const { expires, ...rest } = p.value;
  if (typeof expires === 'string') {
    const e = parseExpiry(expires, a.now);
    if (!e.ok) return { ok: false, message: `expires: ${e.message}` };
  }
  const next: VirtualKey = { ...current };
  for (const [k, val] of Object.entries(rest)) {
    if (val !== undefined) (next as Record<string, unknown>)[k] = val;
  }
  if (expires !== undefined) next.expires_at = expires === null ? null : expiryIso(expires, a.now);
  // A user budget added to a key that had none gets the default period, as at create.
  if (next.user_budget_usd !== null && current.user_budget_usd === null && rest.user_budget_period === undefined) next.user_budget_period = defaultUserPeriod(next.budget_period);
  if (next.user_budget_usd === null && rest.user_budget_period === undefined) next.user_budget_period = 'none';
  return { ok: true, value: { ...next, version: current.version + 1, updated_at: new Date(a.now).toISOString(), updated_by: a.actor } };
}

/** The longest a replaced secret may keep working after a rotation. */
export const MAX_ROTATION_GRACE_MS = 30 * 86_400_000;

export const KeyRotateInput = z.object({
  /**
   * How long the replaced secret keeps working (`24h`, `7d`; `0s` or absent: it stops at once).
   * Deployments switch to the new secret within it, without an outage.
   */
  grace: z.string().trim().max(16).optional(),
}).strict();

/**
 * The next version of `current` with a new secret: same id, team, limits, budget and spend.
 * With a grace period the replaced secret is still accepted until it ends; a secret replaced
 * earlier and still in its grace stops now (one previous secret at a time).
 */
export function rotateKey(current: VirtualKey, input: unknown, a: Authoring & { secret?: string }): Parsed<{ key: VirtualKey; secret: string }> {
  const p = parseWith(KeyRotateInput, input);
  if (!p.ok) return p;
  let graceMs = 0;
  if (p.value.grace !== undefined && !/^0+[smhdw]?$/.test(p.value.grace)) {
    const d = parseDuration(p.value.grace);
    if (d === null) return { ok: false, message: 'grace: expected a duration like 24h, 7d or 0s' };
    if (d > MAX_ROTATION_GRACE_MS) return { ok: false, message: 'grace: at most 30d' };
    graceMs = d;
  }
  const secret = a.secret ?? generateKeySecret();
  const at = new Date(a.now).toISOString();
  const key: VirtualKey = {
    ...current,
    version: current.version + 1,
    key_hash: hashKey(secret),
    key_prefix: displayPrefix(secret),
    previous_key_hash: graceMs > 0 ? current.key_hash : '',
    previous_key_prefix: graceMs > 0 ? current.key_prefix : '',
    previous_valid_until: graceMs > 0 ? new Date(a.now + graceMs).toISOString() : null,
    rotated_at: at,
    // The end-user counters stay the same ones (their names hash the user with this).
    counter_salt: current.counter_salt || current.key_hash,
    updated_at: at,
    updated_by: a.actor,
  };
  return { ok: true, value: { key, secret } };
}

/** An end-user budget's period when none is given: the key's own budget period, else monthly. */
export function defaultUserPeriod(keyPeriod: BudgetPeriod): BudgetPeriod {
  return keyPeriod === 'none' ? 'monthly' : keyPeriod;
}

function expiryIso(s: string, now: number): string {
  const e = parseExpiry(s, now);
  if (!e.ok) throw new Error(`expires: ${e.message}`); // unreachable after schema validation
  return new Date(e.at).toISOString();
}

/** What admin listings show: everything but the hashes. */
export function publicKeyView(k: VirtualKey): Omit<VirtualKey, 'key_hash' | 'previous_key_hash' | 'counter_salt'> {
  const { key_hash: _hash, previous_key_hash: _previous, counter_salt: _salt, ...rest } = k;
  return rest;
}
