// Who is calling: the master key (admin), a virtual key (KeyRing), or nobody in an open proxy
// (no master key configured). `Authorization: Bearer <key>` or `x-api-key: <key>`. The master
// key is checked by core's one rule (auth/master-key.ts, which ingest's /metrics uses too); a
// virtual key is looked up by its hash. What the client sent is never echoed or logged.
import type { IncomingHttpHeaders } from 'node:http';
import { MISSING_KEY, createMasterKeyCheck, masterKeyMatcher, presentedKey, type KeyRefusal } from '@gatelog/core/auth/master-key';
import { ProxyError, type OpenAiErrorType } from './errors.ts';
import type { VirtualKey } from './governance/keys.ts';
import type { KeyRing } from './governance/key-ring.ts';
import type { Refusal } from './governance/refusal.ts';

export { presentedKey };

/** Returns the 401 to answer with, or null when the key is right. */
export type AuthCheck = (h: IncomingHttpHeaders) => ProxyError | null;

const refused = (r: KeyRefusal): ProxyError => new ProxyError(r.status, r.code, r.message, r.type);
const missingKey = (): ProxyError => refused(MISSING_KEY);

/** Master key only (for /metrics); null when no master key is configured (open proxy). */
export function createAuthCheck(masterKey: string | undefined): AuthCheck | null {
  const check = createMasterKeyCheck(masterKey);
  if (!check) return null;
  return (h): ProxyError | null => {
    const r = check(h);
    return r ? refused(r) : null;
  };
}

/**
 * The credential as presented: the Bearer token, else x-api-key. An Authorization header that
 * is not `Bearer …` (a bare key, Basic, …) is malformed even if it holds a valid secret.
 */
function presentedRaw(h: IncomingHttpHeaders): string | undefined {
  const auth = h.authorization;
  if (auth !== undefined) {
    const m = /^Bearer[ \t]+(.*)$/i.exec(auth);
    return m ? m[1]!.trim() : '!malformed';
  }
  const x = h['x-api-key'];
  return typeof x === 'string' ? x.trim() : undefined;
}

export type Caller = { kind: 'master' } | { kind: 'open' } | { kind: 'key'; key: VirtualKey };

/** A governance refusal as the OpenAI-shaped error the surfaces answer with. */
export function refusalError(r: Refusal): ProxyError {
  // The governance codes keep their meaning; `missing_api_key` is answered as OpenAI does.
  const code = r.code === 'missing_api_key' ? 'invalid_api_key' : r.code;
  return new ProxyError(r.status, code, r.message, r.type as OpenAiErrorType);
}

export interface CallerAuth {
  /** Identify the caller, or the error to answer with. */
  identify(h: IncomingHttpHeaders, now: number): Caller | ProxyError;
  /** Same, as an onRequest-style check: remembers the caller for `callerOf(headers)`. */
  check: AuthCheck;
  callerOf(h: IncomingHttpHeaders): Caller | undefined;
}

/**
 * Master key or virtual key. Without a master key the proxy is open: requests without a key
 * (or with a key we do not know) pass as `open`, but a known virtual key is still identified,
 * limited and refused when revoked or expired.
 */
export function createCallerAuth(masterKey: string | undefined, ring: KeyRing, now: () => number = Date.now): CallerAuth {
  const isMaster = masterKeyMatcher(masterKey);
  // Keyed by the request's headers object: the hook and the handler see the same object, and
  // the entry goes away with the request.
  const callers = new WeakMap<IncomingHttpHeaders, Caller>();
  const MASTER: Caller = { kind: 'master' };
  const OPEN: Caller = { kind: 'open' };

  const identify = (h: IncomingHttpHeaders, t: number): Caller | ProxyError => {
    const raw = presentedRaw(h);
    if (isMaster && raw !== undefined) {
      const k = presentedKey(h);
      if (k !== undefined && isMaster(k)) return MASTER;
    }
    if (!isMaster && (raw === undefined || raw === '')) return OPEN;
    const r = ring.authenticate(raw, t);
    if (r.ok) return { kind: 'key', key: r.value };
    if (!isMaster && r.refusal.code !== 'key_revoked' && r.refusal.code !== 'key_expired') return OPEN;
    if (raw === undefined || raw === '') return missingKey();
    return refusalError(r.refusal);
  };

  return {
    identify,
    check(h) {
      const c = identify(h, now());
      if (c instanceof ProxyError) return c;
      callers.set(h, c);
      return null;
    },
    callerOf: (h) => callers.get(h),
  };
}
