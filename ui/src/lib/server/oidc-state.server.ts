// What a single sign-on round trip must remember between /login/sso and its callback: the
// `state` and `nonce` sent to the provider, the PKCE code verifier, and where to go afterwards.
// It rides in a short-lived HttpOnly SameSite=Lax cookie (Lax: the provider's redirect back is a
// top-level GET from another site), signed with a key derived from the master key, so a copy
// from another gatelog or a hand-made one is refused; each is spent by its callback.
import { createHmac } from 'node:crypto';
import { safeEqual } from './session.server.ts';

export const SSO_COOKIE = 'gatelog_sso';
/** The path the cookie is sent to: the start and the callback only. */
export const SSO_COOKIE_PATH = '/login/sso';
/** A sign-in at the provider must finish within this. */
export const SSO_STATE_TTL_MS = 10 * 60 * 1000;

export interface SsoState {
  state: string;
  nonce: string;
  verifier: string;
  next: string;
  /** Expiry, ms since the epoch. */
  exp: number;
}

const keyOf = (masterKey: string): Buffer => createHmac('sha256', masterKey).update('gatelog-sso-state-v1').digest();
const mac = (masterKey: string, body: string): string => createHmac('sha256', keyOf(masterKey)).update(body).digest('base64url');

export function sealState(masterKey: string, s: SsoState): string {
  const body = Buffer.from(JSON.stringify(s)).toString('base64url');
  return `${body}.${mac(masterKey, body)}`;
}

/** The state a cookie carries, if it is ours, whole and not expired. */
export function openState(masterKey: string, cookie: string | undefined, now = Date.now()): SsoState | undefined {
  if (!cookie || cookie.length > 4096) return undefined;
  const dot = cookie.indexOf('.');
  if (dot < 1) return undefined;
  const body = cookie.slice(0, dot);
  if (!safeEqual(mac(masterKey, body), cookie.slice(dot + 1))) return undefined;
  let s: unknown;
  try {
    s = JSON.parse(Buffer.from(body, 'base64url').toString('utf8'));
  } catch {
    return undefined;
  }
  if (!s || typeof s !== 'object') return undefined;
  const o = s as Record<string, unknown>;
  const strings = ['state', 'nonce', 'verifier', 'next'].every((k) => typeof o[k] === 'string' && o[k] !== '');
  if (!strings || typeof o['exp'] !== 'number' || o['exp'] <= now) return undefined;
  return o as unknown as SsoState;
}
