// Sign-in for the UI: the master key is checked in constant time, and the session is a
// stateless token `v1.<expiresAtMs>.<hmac>` signed with a key derived from the master key
// (so rotating the master key signs everybody out, and the cookie never holds the key).
import { createHash, createHmac, randomBytes, timingSafeEqual } from 'node:crypto';

export const SESSION_COOKIE = 'gatelog_session';
export const SESSION_TTL_MS = 12 * 60 * 60 * 1000;

function sessionKey(masterKey: string): Buffer {
  return createHmac('sha256', masterKey).update('gatelog-ui-session-v1').digest();
}

function sign(masterKey: string, payload: string): string {
  return createHmac('sha256', sessionKey(masterKey)).update(payload).digest('base64url');
}

/** Constant-time string equality (hashing first makes the lengths equal). */
export function safeEqual(a: string, b: string): boolean {
  const ha = createHash('sha256').update(a).digest();
  const hb = createHash('sha256').update(b).digest();
  return timingSafeEqual(ha, hb);
}

export function checkMasterKey(masterKey: string, candidate: string): boolean {
  return safeEqual(masterKey, candidate);
}

export function createSessionToken(masterKey: string, now: number = Date.now()): string {
  // The nonce makes every token distinct; the signature covers it.
  const payload = `v1.${now + SESSION_TTL_MS}.${randomBytes(9).toString('base64url')}`;
  return `${payload}.${sign(masterKey, payload)}`;
}

export function verifySessionToken(masterKey: string, token: string | undefined, now: number = Date.now()): boolean {
  if (!token) return false;
  const parts = token.split('.');
  if (parts.length !== 4 || parts[0] !== 'v1') return false;
  const payload = parts.slice(0, 3).join('.');
  if (!safeEqual(sign(masterKey, payload), parts[3] ?? '')) return false;
  const expires = Number(parts[1]);
  return Number.isFinite(expires) && expires > now;
}

/** Only same-origin absolute paths are accepted as a post-login destination. */
export function safeNext(next: string | null | undefined): string {
  if (!next || !next.startsWith('/') || next.startsWith('//') || next.startsWith('/\\')) return '/requests';
  if (next.startsWith('/login') || next.startsWith('/logout')) return '/requests';
  return next;
}
