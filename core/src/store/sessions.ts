// Named, parameterized queries for UI sessions (table ui_sessions, migration 0009). A session
// is a versioned row keyed by the SHA-256 of its cookie id: touches write the last-seen time
// as the version, a revocation writes REVOKED_VERSION + now, so it always wins.
import { z } from 'zod';
import type { Store } from './client.ts';
import { ChTime, Num } from './row-types.ts';

/** Far above any millisecond timestamp (year 33658) and below 2^53. */
export const REVOKED_VERSION = 1e15;

export const SessionRecord = z.object({
  id_hash: z.string().regex(/^[0-9a-f]{64}$/),
  version: Num,
  /** `master` (the master key) or `user` (a person's account). */
  subject_kind: z.enum(['master', 'user']),
  /** The person's id, or `master`. */
  subject: z.string(),
  email: z.string(),
  role: z.string(),
  /** Team scope; empty = every team. */
  teams: z.array(z.string()),
  /** Which master key a master session was opened with (a keyed hash, never the key). */
  master_tag: z.string(),
  /** Single sign-on (migration 0031): the provider's `iss sub` this session was opened for; '' otherwise. */
  oidc_subject: z.string().default(''),
  /** SHA-256 hex of the provider's `iss sid` (its session) at sign-in; '' when none was given. */
  oidc_sid_hash: z.string().regex(/^([0-9a-f]{64})?$/).default(''),
  created_at: ChTime,
  last_seen_at: ChTime,
  /** Absolute expiry. */
  expires_at: ChTime,
  revoked: z.boolean(),
  revoked_reason: z.string(),
  source_ip: z.string(),
  user_agent: z.string(),
});
export type SessionRecord = z.infer<typeof SessionRecord>;

const COLUMNS =
  'id_hash, version, subject_kind, subject, email, role, teams, master_tag, oidc_subject, oidc_sid_hash, created_at, last_seen_at, expires_at, revoked, revoked_reason, source_ip, user_agent';

export async function writeSession(store: Store, s: SessionRecord): Promise<void> {
  const row = SessionRecord.parse(s);
  await store.insertRaw('ui_sessions', Buffer.from(`${JSON.stringify(row)}\n`));
}

export async function sessionByHash(store: Store, idHash: string): Promise<SessionRecord | undefined> {
  const rs = await store.client.query({
    query: `SELECT ${COLUMNS} FROM ${store.database}.ui_sessions FINAL WHERE id_hash = {h:FixedString(64)} LIMIT 1`,
    query_params: { h: idHash },
    format: 'JSONEachRow',
  });
  return z.array(SessionRecord).parse(await rs.json())[0];
}

const chTime = (t: Date): string => t.toISOString().replace('T', ' ').replace('Z', '');

async function liveWhere(store: Store, where: string, params: Record<string, string>, now: Date): Promise<SessionRecord[]> {
  const rs = await store.client.query({
    query: `SELECT ${COLUMNS} FROM ${store.database}.ui_sessions FINAL
            WHERE ${where} AND NOT revoked AND expires_at > {now:DateTime64(3, 'UTC')}`,
    query_params: { ...params, now: chTime(now) },
    format: 'JSONEachRow',
  });
  return z.array(SessionRecord).parse(await rs.json());
}

/** The live (unrevoked, unexpired) sessions of a subject. */
export const liveSessionsOf = (store: Store, subject: string, now: Date): Promise<SessionRecord[]> =>
  liveWhere(store, 'subject = {s:String}', { s: subject }, now);

/**
 * Which sessions a provider's logout names: those of its session (`sidHash`), else every one of
 * its `iss sub`; either way only sessions opened up to `openedBy` (a later sign-in is not undone
 * by an earlier logout, even if its token is replayed to another UI process).
 */
export type OidcSessionMatch = ({ sidHash: string; subject?: string } | { subject: string }) & { openedBy: Date };

/** The live sessions opened from a provider session or for a provider subject (back-channel logout). */
export function liveSessionsFromOidc(store: Store, m: OidcSessionMatch, now: Date): Promise<SessionRecord[]> {
  const opened = "created_at <= {by:DateTime64(3, 'UTC')}";
  const by = chTime(m.openedBy);
  if ('sidHash' in m) {
    // '' is every session not opened by single sign-on: never a provider session's.
    if (m.sidHash === '') return Promise.resolve([]);
    const bySubject = m.subject === undefined ? '' : ' AND oidc_subject = {s:String}';
    return liveWhere(store, `oidc_sid_hash = {h:String}${bySubject} AND ${opened}`, { h: m.sidHash, by, ...(m.subject === undefined ? {} : { s: m.subject }) }, now);
  }
  return liveWhere(store, `oidc_subject = {s:String} AND oidc_subject != '' AND ${opened}`, { s: m.subject, by }, now);
}

/** Write the revoked version of a session (idempotent). */
export async function revokeSessionRow(store: Store, s: SessionRecord, reason: string, now: Date): Promise<void> {
  await writeSession(store, { ...s, version: REVOKED_VERSION + now.getTime(), revoked: true, revoked_reason: reason });
}

/**
 * Empty who a subject's sessions were opened by and from (email, address, user agent) in every
 * version (a mutation, waited for); the revoked versions stay, as they keep the sessions ended,
 * and go with the table's TTL.
 */
export async function forgetSessionsOf(store: Store, subject: string): Promise<void> {
  await store.client.command({
    query: `ALTER TABLE ${store.database}.ui_sessions UPDATE email = '', source_ip = '', user_agent = '' WHERE subject_kind = 'user' AND subject = {s:String}`,
    query_params: { s: subject },
    clickhouse_settings: { mutations_sync: '2' },
  });
}

/** Revoke every live session of a subject (a person disabled, a role changed); returns how many. */
export async function revokeSessionsOf(store: Store, subject: string, reason: string, now: Date): Promise<number> {
  const live = await liveSessionsOf(store, subject, now);
  for (const s of live) await revokeSessionRow(store, s, reason, now);
  return live.length;
}
