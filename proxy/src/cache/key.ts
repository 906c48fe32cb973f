// Exact-match cache keys and the per-request cache decision. The key is a SHA-256 over a
// canonical JSON (object keys sorted at every level) of everything that can change the
// output: the endpoint, the model alias, and every request field except the few that only
// change delivery or bookkeeping (IGNORED_FIELDS). Unknown fields are included on purpose:
// a parameter we have not heard of may change the output, and a missed hit is cheaper than
// a wrong answer. An optional scope (key or team) keeps callers from sharing entries.
import { createHash } from 'node:crypto';
import type { VirtualKey } from '../governance/keys.ts';
import type { Admission } from '../governance/refusal.ts';

/** Fields that never change the generated output. */
export const IGNORED_FIELDS: ReadonlySet<string> = new Set([
  'model', // replaced by the alias, so `fast` and a direct deployment name do not collide
  'stream',
  'stream_options',
  'user',
  'metadata',
  'store',
  'safety_identifier',
  'prompt_cache_key',
  'prompt_cache_retention',
]);

/** JSON with object keys sorted recursively; `undefined` members dropped like JSON.stringify. */
export function canonicalJson(value: unknown): string {
  if (value === null || typeof value !== 'object') return JSON.stringify(value) ?? 'null';
  if (Array.isArray(value)) return `[${value.map((v) => (v === undefined ? 'null' : canonicalJson(v))).join(',')}]`;
  const obj = value as Record<string, unknown>;
  const parts: string[] = [];
  for (const k of Object.keys(obj).sort()) {
    if (obj[k] === undefined) continue;
    parts.push(`${JSON.stringify(k)}:${canonicalJson(obj[k])}`);
  }
  return `{${parts.join(',')}}`;
}

export type CacheScopeMode = 'global' | 'key' | 'team';

/** `key:<id>`, `team:<name>`, or undefined (shared by everyone). */
export function cacheScope(mode: CacheScopeMode, key: VirtualKey | undefined): string | undefined {
  if (mode === 'key') return `key:${key?.id ?? ''}`;
  if (mode === 'team') return `team:${key?.team ?? ''}`;
  return undefined;
}

export interface CacheKeyInput {
  /** e.g. `/v1/chat/completions`: the same body on another endpoint is another answer. */
  endpoint: string;
  alias: string;
  body: Readonly<Record<string, unknown>>;
  scope?: string | undefined;
}

export function cacheKey(i: CacheKeyInput): string {
  const request: Record<string, unknown> = {};
  for (const [k, v] of Object.entries(i.body)) if (!IGNORED_FIELDS.has(k)) request[k] = v;
  const canonical = canonicalJson({ v: 1, endpoint: i.endpoint, alias: i.alias, scope: i.scope ?? null, request });
  return createHash('sha256').update(canonical, 'utf8').digest('hex');
}

/** Default policy: only deterministic-looking requests (temperature 0 or unset), never n > 1. */
export function isCacheable(body: Readonly<Record<string, unknown>>, opts: { allowSampling?: boolean } = {}): boolean {
  const n = body['n'];
  if (typeof n === 'number' && n > 1) return false;
  const t = body['temperature'];
  return opts.allowSampling === true || t === undefined || t === null || t === 0;
}

export type CacheMode = 'off' | 'on' | 'refresh';

export interface CacheDecision {
  mode: CacheMode;
  /** Serve from the cache if present. */
  lookup: boolean;
  /** Store a successful, complete response. */
  store: boolean;
  /** Why (for debug logs and tests). */
  reason: string;
}

type HeaderBag = Record<string, string | string[] | undefined>;

const RANK: Record<CacheMode, number> = { on: 0, refresh: 1, off: 2 };
const stricter = (a: CacheMode, b: CacheMode): CacheMode => (RANK[a] >= RANK[b] ? a : b);
const one = (v: string | string[] | undefined): string | undefined => (Array.isArray(v) ? v.join(',') : v);

/**
 * Combine alias config, `x-gatelog-cache: on|off|refresh` and `Cache-Control: no-cache|no-store`
 * into what to do. The stricter control wins (off > refresh > on). An explicit `on`/`refresh`
 * opts a sampled (temperature > 0) request in; n > 1 is never cached.
 */
export function decideCache(o: { headers: HeaderBag; aliasEnabled: boolean; body: Readonly<Record<string, unknown>>; allowSampling?: boolean }): Admission<CacheDecision> {
  const raw = one(o.headers['x-gatelog-cache'])?.trim().toLowerCase();
  let explicit: CacheMode | undefined;
  let reason = '';
  if (raw !== undefined && raw !== '') {
    if (raw !== 'on' && raw !== 'off' && raw !== 'refresh') {
      return {
        ok: false,
        refusal: { status: 400, type: 'invalid_request_error', code: 'invalid_cache_header', message: 'x-gatelog-cache must be one of: on, off, refresh.' },
      };
    }
    explicit = raw;
    reason = `x-gatelog-cache: ${raw}`;
  } else {
    const foreign = foreignCacheMode(o.headers);
    if (foreign) [explicit, reason] = foreign;
  }
  const cc = (one(o.headers['cache-control']) ?? '').toLowerCase().split(',').map((s) => s.trim());
  if (cc.includes('no-store')) {
    explicit = stricter(explicit ?? 'on', 'off');
    reason = 'cache-control: no-store';
  } else if (cc.includes('no-cache')) {
    const next = stricter(explicit ?? 'on', 'refresh');
    if (next !== explicit) reason = 'cache-control: no-cache';
    explicit = next;
  }
  const n = o.body['n'];
  if (typeof n === 'number' && n > 1) return { ok: true, value: decision('off', 'n > 1 is never cached') };
  if (explicit !== undefined) return { ok: true, value: decision(explicit, reason) };
  if (!o.aliasEnabled) return { ok: true, value: decision('off', 'cache not enabled for this model') };
  if (!isCacheable(o.body, { allowSampling: o.allowSampling ?? false })) return { ok: true, value: decision('off', 'temperature > 0') };
  return { ok: true, value: decision('on', 'enabled for this model') };
}

/**
 * The cache headers clients moving over from Helicone and Portkey send, read when no
 * x-gatelog-cache is: `Helicone-Cache-Enabled: true|false` (on / off) and Portkey's
 * `x-portkey-cache-force-refresh: true` (refresh). Other values are ignored, not refused: they
 * are another product's headers.
 */
function foreignCacheMode(h: HeaderBag): [CacheMode, string] | undefined {
  const refresh = one(h['x-portkey-cache-force-refresh'])?.trim().toLowerCase();
  if (refresh === 'true') return ['refresh', 'x-portkey-cache-force-refresh: true'];
  const helicone = one(h['helicone-cache-enabled'])?.trim().toLowerCase();
  if (helicone === 'true') return ['on', 'helicone-cache-enabled: true'];
  if (helicone === 'false') return ['off', 'helicone-cache-enabled: false'];
  return undefined;
}

function decision(mode: CacheMode, reason: string): CacheDecision {
  return { mode, lookup: mode === 'on', store: mode !== 'off', reason };
}
