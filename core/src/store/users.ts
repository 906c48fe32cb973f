// Named, parameterized queries for people (ui_users) and machine tokens (api_tokens),
// migration 0009. Both are versioned rows (ReplacingMergeTree(version)): every change inserts
// a new version, readers take the latest with FINAL. Neither holds a secret: passwords as
// scrypt hashes, one-time sign-in links and tokens as SHA-256 hex.
import { createHash, randomBytes } from 'node:crypto';
import { z } from 'zod';
import type { Store } from './client.ts';
import { inTurn } from './job-lease.ts';
import { ChTime, Num } from './row-types.ts';
import { versionedRows } from './versioned-rows.ts';

export const sha256Hex = (s: string): string => createHash('sha256').update(s).digest('hex');
/** A random secret with a recognizable prefix (`glt-` tokens, `gli-` sign-in links). */
export const newSecret = (prefix: string): string => `${prefix}${randomBytes(32).toString('base64url')}`;

export const UserRecord = z.object({
  id: z.string().min(1),
  version: Num,
  email: z.string(),
  name: z.string(),
  role: z.string(),
  teams: z.array(z.string()),
  /** `local` (password) or `oidc`. */
  auth_source: z.string(),
  /** `oidc` only: the provider's `iss sub` the person is bound to (migration 0024). */
  oidc_subject: z.string().default(''),
  /** The identity provider's `externalId` for a person it provisions over SCIM (migration 0028). */
  scim_external_id: z.string().default(''),
  /** '' (not provisioned), `managed` (SCIM manages it) or `deleted` (a SCIM DELETE: kept, disabled). */
  scim_state: z.enum(['', 'managed', 'deleted']).default(''),
  password_hash: z.string(),
  invite_hash: z.string(),
  invite_expires_at: ChTime.nullable(),
  disabled: z.boolean(),
  created_at: ChTime,
  updated_at: ChTime,
  updated_by: z.string(),
});
export type UserRecord = z.infer<typeof UserRecord>;

const users = versionedRows('ui_users', UserRecord);
export const insertUserVersion = (store: Store, u: z.input<typeof UserRecord>): Promise<void> => users.insert(store, u);
const usersWhere = (store: Store, where: string, params: Record<string, unknown>): Promise<UserRecord[]> => users.where(store, where, params);

/**
 * Every version of a person's record gone from the store (a mutation, waited for): their email,
 * name, password hash and sign-in link hash with it. Not a new version: versions hold the data.
 */
export async function deleteUserRows(store: Store, id: string): Promise<void> {
  await store.client.command({ query: `ALTER TABLE ${store.database}.ui_users DELETE WHERE id = {id:String}`, query_params: { id }, clickhouse_settings: { mutations_sync: '2' } });
}

/**
 * Runs `change` once every earlier change to the same email address has ended: a "no one has
 * this address yet" check and the insert after it cannot interleave with another request's (an
 * identity provider retrying a SCIM POST, two admins clicking at once), so the second one sees
 * the first's person and gets its 409 — within a process and, on a ClickHouse server several
 * proxies share (which has no unique constraint), across them (job-lease.ts `inTurn`: a retry
 * that lands on another proxy waits for the first request). The address is hashed: job_lease
 * rows outlive the change by their TTL and hold no personal data. `busy`: the error when another
 * proxy's turn outlasts TURN_WAIT_MS.
 */
export function serialByEmail<T>(store: Store, email: string, busy: () => Error, change: () => Promise<T>): Promise<T> {
  return inTurn(store, `person-email:${sha256Hex(email.toLowerCase())}`, busy, change);
}

export const listUsers = (store: Store): Promise<UserRecord[]> => usersWhere(store, '', {});
export const userById = async (store: Store, id: string): Promise<UserRecord | undefined> =>
  (await usersWhere(store, 'WHERE id = {id:String}', { id }))[0];
export const userByEmail = async (store: Store, email: string): Promise<UserRecord | undefined> =>
  (await usersWhere(store, 'WHERE email = {email:String}', { email: email.toLowerCase() }))[0];
/** The provisioned (not deleted) person with this SCIM `externalId`. */
export const userByExternalId = async (store: Store, externalId: string): Promise<UserRecord | undefined> =>
  (await usersWhere(store, "WHERE scim_external_id = {x:String} AND scim_state = 'managed'", { x: externalId }))[0];
/** The person bound to a provider's `iss sub` (single sign-on). */
export const userByOidcSubject = async (store: Store, subject: string): Promise<UserRecord | undefined> =>
  subject ? (await usersWhere(store, 'WHERE oidc_subject = {s:String}', { s: subject }))[0] : undefined;
export const userByInviteHash = async (store: Store, hash: string): Promise<UserRecord | undefined> =>
  hash ? (await usersWhere(store, "WHERE invite_hash = {h:String} AND invite_hash != ''", { h: hash }))[0] : undefined;

export const TokenRecord = z.object({
  id: z.string().min(1),
  version: Num,
  token_hash: z.string().regex(/^[0-9a-f]{64}$/),
  token_prefix: z.string(),
  name: z.string(),
  role: z.string(),
  teams: z.array(z.string()),
  expires_at: ChTime.nullable(),
  revoked: z.boolean(),
  created_at: ChTime,
  updated_at: ChTime,
  updated_by: z.string(),
});
export type TokenRecord = z.infer<typeof TokenRecord>;

const tokens = versionedRows('api_tokens', TokenRecord);
export const insertTokenVersion = (store: Store, t: TokenRecord): Promise<void> => tokens.insert(store, t);
const tokensWhere = (store: Store, where: string, params: Record<string, unknown>): Promise<TokenRecord[]> => tokens.where(store, where, params);

export const listTokens = (store: Store): Promise<TokenRecord[]> => tokensWhere(store, '', {});
export const tokenById = async (store: Store, id: string): Promise<TokenRecord | undefined> =>
  (await tokensWhere(store, 'WHERE id = {id:String}', { id }))[0];
export const tokenByHash = async (store: Store, hash: string): Promise<TokenRecord | undefined> =>
  (await tokensWhere(store, 'WHERE token_hash = {h:FixedString(64)}', { h: hash }))[0];
