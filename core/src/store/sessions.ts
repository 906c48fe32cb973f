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
  'id_hash, version, subject_kind, subject, email, role, teams, master_tag, created_at, last_seen_at, expires_at, revoked, revoked_reason, source_ip, user_agent';

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

/** The live (unrevoked, unexpired) sessions of a subject. */
export async function liveSessionsOf(store: Store, subject: string, now: Date): Promise<SessionRecord[]> {
  const rs = await store.client.query({
    query: `SELECT ${COLUMNS} FROM ${store.database}.ui_sessions FINAL
            WHERE subject = {s:String} AND NOT revoked AND expires_at > {now:DateTime64(3, 'UTC')}`,
    query_params: { s: subject, now: now.toISOString().replace('T', ' ').replace('Z', '') },
    format: 'JSONEachRow',
  });
  return z.array(SessionRecord).parse(await rs.json());
}

/** Write the revoked version of a session (idempotent). */
export async function revokeSessionRow(store: Store, s: SessionRecord, reason: string, now: Date): Promise<void> {
  await writeSession(store, { ...s, version: REVOKED_VERSION + now.getTime(), revoked: true, revoked_reason: reason });
}

/** Revoke every live session of a subject (a person disabled, a role changed); returns how many. */
export async function revokeSessionsOf(store: Store, subject: string, reason: string, now: Date): Promise<number> {
  const live = await liveSessionsOf(store, subject, now);
  for (const s of live) await revokeSessionRow(store, s, reason, now);
  return live.length;
}
