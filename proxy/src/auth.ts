// Master-key check for /v1/* and /metrics: `Authorization: Bearer <key>` or `x-api-key: <key>`.
// Both sides are SHA-256 digested first so the compare is constant-time whatever the lengths;
// what the client sent is never echoed or logged.
import { createHash, timingSafeEqual } from 'node:crypto';
import type { IncomingHttpHeaders } from 'node:http';
import { ProxyError } from './errors.ts';

const digest = (s: string): Buffer => createHash('sha256').update(s).digest();

/** The key the client presented, or undefined. */
export function presentedKey(h: IncomingHttpHeaders): string | undefined {
  const auth = h.authorization;
  if (typeof auth === 'string' && auth.length > 7 && auth.slice(0, 7).toLowerCase() === 'bearer ') return auth.slice(7).trim();
  const x = h['x-api-key'];
  return typeof x === 'string' && x.length > 0 ? x.trim() : undefined;
}

/** Returns the 401 to answer with, or null when the key is right. */
export type AuthCheck = (h: IncomingHttpHeaders) => ProxyError | null;

/** null when no master key is configured (open proxy). */
export function createAuthCheck(masterKey: string | undefined): AuthCheck | null {
  if (masterKey === undefined || masterKey === '') return null;
  const expected = digest(masterKey);
  return (h): ProxyError | null => {
    const key = presentedKey(h);
    if (key === undefined) {
      return new ProxyError(401, 'invalid_api_key', 'Missing API key. Send it as "Authorization: Bearer <key>" or "x-api-key: <key>".', 'authentication_error');
    }
    return timingSafeEqual(digest(key), expected) ? null : new ProxyError(401, 'invalid_api_key', 'Incorrect API key provided.', 'authentication_error');
  };
}
