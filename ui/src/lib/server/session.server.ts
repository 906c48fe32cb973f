// Server-side UI sessions. The cookie holds a random 256-bit id; ClickHouse holds only its
// SHA-256 (ui_sessions), with who signed in, idle and absolute expiry, and whether it was
// revoked. Sign-out, a rotated master key or a disabled person end a session everywhere:
// each UI process re-reads a cached session at least every CACHE_MS, so another process's
// revocation is honoured within that time (this process's own at once). A session opened by
// single sign-on remembers the provider's subject and session (hashed), so the provider's
// back-channel logout ends exactly the sessions it opened (oidc-logout.server.ts).
import { createHash, createHmac, randomBytes, timingSafeEqual } from 'node:crypto';
import type { RequestEvent } from '@sveltejs/kit';
import type { Store } from '@gatelog/core/store/client';
import { REVOKED_VERSION, liveSessionsFromOidc, liveSessionsOf, sessionByHash, type OidcSessionMatch, type SessionRecord } from '@gatelog/core/store/sessions';
import { uiWrites, type UiWriteTarget, type UiWrites } from './ui-writes.server.ts';

export const SESSION_COOKIE = 'gatelog_session';
/** A session unused this long ends. */
export const SESSION_IDLE_MS = 60 * 60 * 1000;
/** A session ends this long after sign-in whatever its use. */
export const SESSION_TTL_MS = 12 * 60 * 60 * 1000;
/** How stale a cached session may be (bounds how late another process's revocation is seen). */
export const CACHE_MS = 3000;
/** Last-seen is written at most this often per session (the idle clock's resolution). */
const TOUCH_MS = 60_000;
const CACHE_MAX = 10_000;

export type SessionSubject = Pick<SessionRecord, 'subject_kind' | 'subject' | 'email' | 'role' | 'teams'>;

export interface Session extends SessionSubject {
  idHash: string;
  /** The provider's `iss sub` when single sign-on opened this session; '' otherwise. */
  oidc_subject: string;
}

/** Which provider session a single sign-on session came from (ui_sessions.oidc_subject, oidc_sid_hash). */
export interface OidcOrigin {
  subject: string;
  sidHash: string;
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

/** Identifies the master key a session was opened with, without storing anything it could be guessed from cheaply. */
export function masterTag(masterKey: string): string {
  return createHmac('sha256', masterKey).update('gatelog-ui-session-master-v2').digest('hex').slice(0, 32);
}

const hashId = (id: string): string => createHash('sha256').update(id).digest('hex');
const COOKIE_RE = /^[A-Za-z0-9_-]{43}$/;

interface Cached {
  rec: SessionRecord;
  fetchedAt: number;
}

export interface SessionService {
  /** Opens a session; returns the cookie value (shown to the browser only). */
  open(who: SessionSubject, ctx: { ip: string; userAgent: string; masterKey: string | undefined; oidc?: OidcOrigin | undefined }): Promise<string>;
  /** The live session for a cookie, or undefined (unknown, expired, revoked, rotated master key). */
  check(cookie: string | undefined, masterKey: string | undefined): Promise<Session | undefined>;
  /** Ends the session of a cookie; returns it if it was live. */
  revoke(cookie: string | undefined, reason: string): Promise<Session | undefined>;
  /** Ends every session of a person (disabled, role or teams changed). */
  revokeSubject(subject: string, reason: string): Promise<number>;
  /** Ends every session a provider's logout names (back-channel logout); returns them as they were. */
  revokeOidc(match: OidcSessionMatch, reason: string): Promise<SessionRecord[]>;
}

export function createSessionService(store: Store, now: () => number = Date.now, writes: UiWrites = uiWrites({ store, masterKey: undefined })): SessionService {
  const revokedRow = (rec: SessionRecord, reason: string, t: Date): SessionRecord =>
    ({ ...rec, version: REVOKED_VERSION + t.getTime(), revoked: true, revoked_reason: reason });
  const cache = new Map<string, Cached>();

  const remember = (rec: SessionRecord): void => {
    if (cache.size >= CACHE_MAX) {
      const oldest = cache.keys().next().value;
      if (oldest !== undefined) cache.delete(oldest);
    }
    cache.set(rec.id_hash, { rec, fetchedAt: now() });
  };

  const load = async (idHash: string): Promise<SessionRecord | undefined> => {
    const hit = cache.get(idHash);
    if (hit && now() - hit.fetchedAt < CACHE_MS) return hit.rec;
    const rec = await sessionByHash(store, idHash);
    if (rec) remember(rec);
    else cache.delete(idHash);
    return rec;
  };

  const live = (rec: SessionRecord, masterKey: string | undefined, t: number): string | null => {
    if (rec.revoked) return 'revoked';
    if (Date.parse(rec.expires_at) <= t) return 'expired';
    if (Date.parse(rec.last_seen_at) + SESSION_IDLE_MS <= t) return 'idle';
    if (rec.subject_kind === 'master' && (masterKey === undefined || rec.master_tag !== masterTag(masterKey))) return 'master_key_rotated';
    return null;
  };

  const toSession = (rec: SessionRecord): Session => ({
    idHash: rec.id_hash, subject_kind: rec.subject_kind, subject: rec.subject, email: rec.email, role: rec.role, teams: rec.teams, oidc_subject: rec.oidc_subject,
  });

  const revokeRec = async (rec: SessionRecord, reason: string): Promise<void> => {
    const t = new Date(now());
    const revoked = revokedRow(rec, reason, t);
    cache.set(rec.id_hash, { rec: revoked, fetchedAt: t.getTime() });
    await writes.session(revoked);
  };

  /** Revokes each of `live`, this process's cache first (so its next check refuses it at once). */
  const revokeAll = async (live: SessionRecord[], reason: string): Promise<SessionRecord[]> => {
    for (const rec of live) await revokeRec(rec, reason);
    return live;
  };

  return {
    async open(who, ctx) {
      const id = randomBytes(32).toString('base64url');
      const t = now();
      const at = new Date(t).toISOString();
      const rec: SessionRecord = {
        id_hash: hashId(id),
        version: t,
        ...who,
        master_tag: who.subject_kind === 'master' && ctx.masterKey !== undefined ? masterTag(ctx.masterKey) : '',
        oidc_subject: ctx.oidc?.subject ?? '',
        oidc_sid_hash: ctx.oidc?.sidHash ?? '',
        created_at: at,
        last_seen_at: at,
        expires_at: new Date(t + SESSION_TTL_MS).toISOString(),
        revoked: false,
        revoked_reason: '',
        source_ip: ctx.ip.slice(0, 64),
        user_agent: ctx.userAgent.slice(0, 512),
      };
      await writes.session(rec);
      remember(rec);
      return id;
    },

    async check(cookie, masterKey) {
      if (!cookie || !COOKIE_RE.test(cookie)) return undefined;
      const rec = await load(hashId(cookie));
      if (!rec) return undefined;
      const t = now();
      const why = live(rec, masterKey, t);
      if (why !== null) {
        // A session found dead for a reason only this check sees is revoked for good.
        if (why === 'master_key_rotated') await revokeRec(rec, why);
        return undefined;
      }
      if (t - Date.parse(rec.last_seen_at) >= TOUCH_MS) {
        const touched = { ...rec, version: Math.max(t, rec.version + 1), last_seen_at: new Date(t).toISOString() };
        remember(touched);
        await writes.session(touched);
      }
      return toSession(rec);
    },

    async revoke(cookie, reason) {
      if (!cookie || !COOKIE_RE.test(cookie)) return undefined;
      const rec = await sessionByHash(store, hashId(cookie));
      if (!rec || rec.revoked) return undefined;
      await revokeRec(rec, reason);
      return toSession(rec);
    },

    async revokeSubject(subject, reason) {
      for (const [k, c] of cache) if (c.rec.subject === subject) cache.delete(k);
      return (await revokeAll(await liveSessionsOf(store, subject, new Date(now())), reason)).length;
    },

    async revokeOidc(match, reason) {
      return revokeAll(await liveSessionsFromOidc(store, match, new Date(now())), reason);
    },
  };
}

const services = new WeakMap<Store, SessionService>();

/** One service (and cache) per store in this process; writes go where the context says (uiWrites). */
export function sessionsFor(ctx: UiWriteTarget): SessionService {
  let s = services.get(ctx.store);
  if (!s) {
    s = createSessionService(ctx.store, Date.now, uiWrites(ctx));
    services.set(ctx.store, s);
  }
  return s;
}

/**
 * Signs `who` in on this browser, as every way of signing in does (password, sign-in link,
 * single sign-on, master key): whatever session the browser had ends (rotation), a new one opens,
 * and its id goes to an HttpOnly SameSite=Strict cookie.
 */
export async function startSession(ctx: UiWriteTarget, event: Pick<RequestEvent, 'cookies' | 'request' | 'url'>, who: SessionSubject, ip: string, oidc?: OidcOrigin): Promise<void> {
  const sessions = sessionsFor(ctx);
  await sessions.revoke(event.cookies.get(SESSION_COOKIE), 'rotated');
  const id = await sessions.open(who, { ip, userAgent: event.request.headers.get('user-agent') ?? '', masterKey: ctx.masterKey, oidc });
  event.cookies.set(SESSION_COOKIE, id, {
    path: '/',
    httpOnly: true,
    sameSite: 'strict',
    secure: event.url.protocol === 'https:',
    maxAge: Math.floor(SESSION_TTL_MS / 1000),
  });
}

const NEXT_BASE = 'http://gatelog.invalid';

/**
 * Only same-origin absolute paths are accepted as a post-login destination. Browsers drop tabs
 * and newlines from URLs and read `\\` as `/`, so `/\t/evil.example` would leave the origin (and
 * a control character in a Location header is a 500): anything with control characters,
 * whitespace, backslashes or a leading `//`, or that URL-parses to another origin, is refused.
 */
export function safeNext(next: string | null | undefined): string {
  const fallback = '/requests';
  if (!next || next.length > 2048 || !next.startsWith('/') || next.startsWith('//')) return fallback;
  if (/[\u0000-\u001f\u007f\s\\]/u.test(next)) return fallback;
  let url: URL;
  try {
    url = new URL(next, NEXT_BASE);
  } catch {
    return fallback;
  }
  if (url.origin !== NEXT_BASE) return fallback;
  const path = `${url.pathname}${url.search}${url.hash}`;
  if (path.startsWith('//') || path.startsWith('/login') || path.startsWith('/logout')) return fallback;
  return path;
}
