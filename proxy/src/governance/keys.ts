// Virtual keys: secrets, their hashes, create/update validation, and the in-memory key ring
// that authenticates each request. The plaintext secret exists only in the create response;
// everything else (store, ring, logs) sees the SHA-256 hash and a short display prefix.
import { createHash, randomBytes, randomUUID } from 'node:crypto';
import { z } from 'zod';
import { BudgetPeriod, type KeyRecord } from '@gatelog/core/store/keys';
import { quoteUserText, type Admission, type Refusal } from './refusal.ts';

/** A virtual key as held in memory and stored (hash only, never the secret). */
export type VirtualKey = KeyRecord;

export const KEY_SECRET_PREFIX = 'gl-';
/** Any well-formed secret, ours or imported: `gl-` + 32..128 url-safe characters. */
const SECRET_RE = /^gl-[A-Za-z0-9_-]{32,128}$/;
/** Longest header value looked at; longer ones are refused without being read further. */
const MAX_PRESENTED = 256;

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

// ---------------------------------------------------------------------------------------
// Authentication

type HeaderBag = Record<string, string | string[] | undefined>;

/**
 * The presented secret: `Authorization: Bearer …` (OpenAI SDKs) or `x-api-key` (Anthropic
 * SDKs). A non-Bearer Authorization value is returned as-is so it is refused as malformed.
 */
export function presentedKey(headers: HeaderBag): string | undefined {
  const auth = headers['authorization'];
  if (auth !== undefined) {
    const v = Array.isArray(auth) ? auth.join(',') : auth;
    const m = /^Bearer[ \t]+(.*)$/i.exec(v);
    return m ? m[1]!.trim() : v;
  }
  const x = headers['x-api-key'];
  return Array.isArray(x) ? x.join(',') : x;
}

const refuse = (status: number, type: Refusal['type'], code: string, message: string): { ok: false; refusal: Refusal } => ({
  ok: false,
  refusal: { status, type, code, message },
});

export type KeyLoadResult = { ok: true; size: number } | { ok: false; error: unknown };

/** Keys by hash, swapped whole on refresh; a failed refresh keeps the last good set. */
export class KeyRing {
  #byHash = new Map<string, VirtualKey>();
  /** Keys by the secret a rotation replaced, while it may still be in its grace period. */
  #byPreviousHash = new Map<string, VirtualKey>();
  #byId = new Map<string, VirtualKey>();
  #loadedAt: number | null = null;

  /** Replace the whole set at once (readers never see a half-built set). */
  replace(keys: readonly VirtualKey[], now: number): ReadonlyMap<string, VirtualKey> {
    const byHash = new Map<string, VirtualKey>();
    const byPreviousHash = new Map<string, VirtualKey>();
    const byId = new Map<string, VirtualKey>();
    for (const k of keys) {
      byHash.set(k.key_hash, k);
      byId.set(k.id, k);
      if (k.previous_key_hash !== '') byPreviousHash.set(k.previous_key_hash, k);
    }
    this.#byHash = byHash;
    this.#byPreviousHash = byPreviousHash;
    this.#byId = byId;
    this.#loadedAt = now;
    return byHash;
  }

  async refresh(load: () => Promise<readonly VirtualKey[]>, now: () => number): Promise<KeyLoadResult> {
    try {
      const keys = await load();
      return { ok: true, size: this.replace(keys, now()).size };
    } catch (error) {
      return { ok: false, error };
    }
  }

  get size(): number {
    return this.#byHash.size;
  }

  /** When the current set was loaded (null: never) — for readiness and staleness metrics. */
  get loadedAt(): number | null {
    return this.#loadedAt;
  }

  byId(id: string): VirtualKey | undefined {
    return this.#byId.get(id);
  }

  /** Who is calling. Refusals never echo what was presented. */
  authenticate(presented: string | undefined, now: number): Admission<VirtualKey> {
    if (presented === undefined || presented === '') {
      return refuse(401, 'authentication_error', 'missing_api_key', 'No API key provided. Send it as "Authorization: Bearer gl-…" or in the x-api-key header.');
    }
    if (presented.length > MAX_PRESENTED || !SECRET_RE.test(presented)) {
      return refuse(401, 'authentication_error', 'invalid_api_key', 'The API key is malformed.');
    }
    if (this.#loadedAt === null) {
      return refuse(503, 'service_unavailable', 'keys_unavailable', 'Virtual keys are not loaded yet; retry shortly.');
    }
    const hash = hashKey(presented);
    const key = this.#byHash.get(hash) ?? this.#replaced(hash, now);
    if (!key) return refuse(401, 'authentication_error', 'invalid_api_key', 'Invalid API key.');
    if ('rotatedAt' in key) {
      return refuse(401, 'authentication_error', 'key_rotated', `The API key ${key.prefix} was replaced by a new secret at ${key.rotatedAt}; use the new secret.`);
    }
    if (key.revoked) return refuse(401, 'authentication_error', 'key_revoked', `The API key ${key.key_prefix} has been revoked.`);
    if (key.expires_at !== null && Date.parse(key.expires_at) <= now) {
      return refuse(401, 'authentication_error', 'key_expired', `The API key ${key.key_prefix} expired at ${key.expires_at}.`);
    }
    return { ok: true, value: key };
  }

  /**
   * The key whose replaced secret hashes to `hash`: the key while its grace period lasts, what
   * the refusal says once it has ended (a secret replaced twice ago is simply unknown).
   */
  #replaced(hash: string, now: number): VirtualKey | { prefix: string; rotatedAt: string } | undefined {
    const k = this.#byPreviousHash.get(hash);
    if (!k) return undefined;
    if (k.previous_valid_until !== null && Date.parse(k.previous_valid_until) > now) return k;
    return { prefix: k.previous_key_prefix, rotatedAt: k.rotated_at ?? k.updated_at };
  }
}

/** May this key call `alias`? An empty allow-list allows every alias. */
export function checkModel(key: VirtualKey, alias: string): Admission<VirtualKey> {
  if (key.models.length === 0 || key.models.includes(alias)) return { ok: true, value: key };
  return refuse(
    403,
    'permission_error',
    'model_not_allowed',
    `Key "${key.name}" is not allowed to use model ${quoteUserText(alias)}. Allowed: ${key.models.join(', ')}.`,
  );
}

export interface RefreshLoopOptions {
  load: () => Promise<readonly VirtualKey[]>;
  intervalMs: number;
  now: () => number;
  onResult?: (r: KeyLoadResult) => void;
  /** Injected for tests; default setTimeout (unref'd so it never holds the process open). */
  schedule?: (fn: () => void, ms: number) => () => void;
}

/** Refresh `ring` every `intervalMs` (one at a time, never overlapping); returns stop(). */
export function startKeyRefresh(ring: KeyRing, o: RefreshLoopOptions): () => void {
  const schedule = o.schedule ?? ((fn, ms) => {
    const t = setTimeout(fn, ms);
    t.unref();
    return () => clearTimeout(t);
  });
  let stopped = false;
  let cancel: () => void = () => undefined;
  const tick = (): void => {
    void ring.refresh(o.load, o.now).then((r) => {
      o.onResult?.(r);
      if (!stopped) cancel = schedule(tick, o.intervalMs);
    });
  };
  cancel = schedule(tick, o.intervalMs);
  return () => {
    stopped = true;
    cancel();
  };
}
