// The in-memory key ring that authenticates each request (keys by the hash of their secret,
// swapped whole on refresh), the model allow-list check, and the loop that refreshes the ring
// from the store. Keys themselves (secrets, hashes, create/update/rotate) are keys.ts.
import { quoteUserText, type Admission, type Refusal } from './refusal.ts';
import { MAX_PRESENTED, SECRET_RE, hashKey, type VirtualKey } from './keys.ts';

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
