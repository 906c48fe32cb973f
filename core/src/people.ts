// People and machine tokens as every surface changes them (the admin API, the People page):
// validation, the versioned writes, ending the sessions of a person whose access changed, and
// the audit row naming who did it. Only an owner grants, changes or takes away `owner`; a
// team-scoped actor sees and changes only accounts within its own teams (`manages`).
import { randomUUID } from 'node:crypto';
import { z } from 'zod';
import type { Store } from './store/client.ts';
import { appendAudit } from './store/audit.ts';
import { WHOLE_TRAIL, holdOnPerson } from './store/audit-holds.ts';
import { activeAuditHolds } from './store/retention.ts';
import { forgetSessionsOf, revokeSessionsOf } from './store/sessions.ts';
import { ROLES, coversTeams, type Principal } from './roles.ts';
import { deleteUserRows, insertTokenVersion, insertUserVersion, newSecret, serialByEmail, sha256Hex, userByEmail, type TokenRecord, type UserRecord } from './store/users.ts';

export const INVITE_PREFIX = 'gli-';
export const TOKEN_PREFIX = 'glt-';
export const INVITE_TTL_MS = 7 * 24 * 3600_000;

const Teams = z.array(z.string().trim().min(1).max(128)).max(100);
export const NewUser = z.object({ email: z.email().max(254), role: z.enum(ROLES), teams: Teams.default([]), name: z.string().max(200).default('') }).strict();
/** `unbind_sso`: a single sign-on person's next sign-in binds whichever provider subject then has their email. */
export const UserPatch = z.object({ role: z.enum(ROLES), teams: Teams, name: z.string().max(200), disabled: z.boolean(), new_link: z.literal(true), unbind_sso: z.literal(true) }).partial().strict();
export const NewToken = z.object({ name: z.string().trim().min(1).max(128), role: z.enum(ROLES), teams: Teams.default([]), expires_days: z.number().int().min(1).max(3650).nullable().default(null) }).strict();

/** Why a change is refused: `status` is the HTTP status to answer with. */
export class PeopleError extends Error {
  override readonly name = 'PeopleError';
  readonly status: number;
  readonly code: string;
  readonly param: string | null;
  constructor(status: number, code: string, message: string, param: string | null = null) {
    super(message);
    this.status = status;
    this.code = code;
    this.param = param;
  }
}

/** Another proxy's change to the same address held it for longer than a change may wait (store/users.ts). */
const addressBusy = (): PeopleError => new PeopleError(503, 'address_busy', 'Another change to this email address is in progress; try again.', 'email');

export interface Acting {
  by: Principal;
  sourceIp: string;
  userAgent: string;
  now: number;
}

export function parseOr400<T>(schema: z.ZodType<T>, body: unknown, code: string): T {
  const r = schema.safeParse(body ?? {});
  if (r.success) return r.data;
  const i = r.error.issues[0];
  const path = i?.path.join('.') || null;
  throw new PeopleError(400, code, `${path ?? 'body'}: ${i?.message ?? 'invalid'}`, path);
}

function guardOwner(p: Principal, ...roles: (string | undefined)[]): void {
  if (p.role !== 'owner' && roles.includes('owner')) throw new PeopleError(403, 'role_forbidden', 'Only an owner can grant or change the owner role.');
}

/**
 * Whether `by` may see and change an account scoped to `teams`. Unscoped actors (owner, an
 * unscoped admin, the master key) reach every account. A team-scoped actor reaches only accounts
 * whose teams all lie within its own: never a team-less account (that one reaches every team),
 * nor one that shares a team but also reaches another, whose access it could otherwise widen or
 * take over (a new sign-in link hands over the account).
 */
export const manages = (by: Pick<Principal, 'teams'>, teams: readonly string[]): boolean => coversTeams(by, teams);

/** The accounts of `rows` that `by` manages: what a list shows it. */
export const managedBy = <T extends { teams: readonly string[] }>(by: Pick<Principal, 'teams'>, rows: readonly T[]): T[] => rows.filter((r) => manages(by, r.teams));

function guardTeams(p: Principal, ...teamLists: (readonly string[] | undefined)[]): void {
  if (teamLists.some((teams) => teams !== undefined && !manages(p, teams))) {
    throw new PeopleError(403, 'team_out_of_scope', `A team-scoped caller manages people and tokens of its own teams only (${p.teams.join(', ')}), and never one without a team.`, 'teams');
  }
}

/**
 * A person who signs in through the identity provider has no password here, and their role and
 * teams are the provider's (re-read at every sign-in): a sign-in link (which sets a password)
 * or a role or team change would be a second way in, or silently undone. Disabling still works.
 */
function guardSso(cur: UserRecord, patch: z.infer<typeof UserPatch>): void {
  if (cur.auth_source !== 'oidc') {
    if (patch.unbind_sso) throw new PeopleError(409, 'not_sso', 'This person signs in with a password, not through single sign-on.', 'unbind_sso');
    return;
  }
  if (patch.new_link) throw new PeopleError(409, 'sso_managed', 'This person signs in through single sign-on: they have no password, so there is no sign-in link to send.', 'new_link');
  const field = patch.role !== undefined ? 'role' : patch.teams !== undefined ? 'teams' : null;
  if (field) throw new PeopleError(409, 'sso_managed', `This person signs in through single sign-on: their ${field} comes from the identity provider's groups (sso.oidc in gatelog.yaml) at every sign-in.`, field);
}

const audit = (store: Store, a: Acting, action: string, targetType: string, target: string, details: Record<string, unknown>) =>
  appendAudit(store, { actor: a.by.name, role: a.by.role, action, targetType, target, details, sourceIp: a.sourceIp, userAgent: a.userAgent });

function invite(t: number): { secret: string; hash: string; expires: string } {
  const secret = newSecret(INVITE_PREFIX);
  return { secret, hash: sha256Hex(secret), expires: new Date(t + INVITE_TTL_MS).toISOString() };
}

export interface SignInLink {
  /** `/login/invite?token=…`: shown once, to whoever created it. */
  path: string;
  expiresAt: string;
}

const linkOf = (l: { secret: string; expires: string }): SignInLink => ({ path: `/login/invite?token=${l.secret}`, expiresAt: l.expires });

export async function createPerson(store: Store, a: Acting, input: unknown): Promise<{ user: UserRecord; link: SignInLink }> {
  const body = parseOr400(NewUser, input, 'invalid_user_fields');
  guardOwner(a.by, body.role);
  guardTeams(a.by, body.teams);
  const email = body.email.toLowerCase();
  return serialByEmail(store, email, addressBusy, async () => {
    if (await userByEmail(store, email)) throw new PeopleError(409, 'user_exists', 'A person with this email exists already.', 'email');
    const at = new Date(a.now).toISOString();
    const l = invite(a.now);
    const user: UserRecord = {
      id: `usr_${randomUUID().replaceAll('-', '').slice(0, 20)}`, version: 1, email, name: body.name, role: body.role, teams: body.teams,
      auth_source: 'local', oidc_subject: '', scim_external_id: '', scim_state: '', password_hash: '', invite_hash: l.hash, invite_expires_at: l.expires, disabled: false, created_at: at, updated_at: at, updated_by: a.by.name,
    };
    await insertUserVersion(store, user);
    await audit(store, a, 'person.create', 'person', user.id, { email, role: user.role, teams: user.teams });
    return { user, link: linkOf(l) };
  });
}

export async function updatePerson(store: Store, a: Acting, cur: UserRecord, input: unknown): Promise<{ user: UserRecord; link: SignInLink | undefined }> {
  const patch = parseOr400(UserPatch, input, 'invalid_user_fields');
  guardOwner(a.by, cur.role, patch.role);
  guardTeams(a.by, cur.teams, patch.teams);
  guardSso(cur, patch);
  const l = patch.new_link ? invite(a.now) : undefined;
  const next: UserRecord = {
    ...cur, version: cur.version + 1, role: patch.role ?? cur.role, teams: patch.teams ?? cur.teams, name: patch.name ?? cur.name,
    disabled: patch.disabled ?? cur.disabled, updated_at: new Date(a.now).toISOString(), updated_by: a.by.name,
    ...(l ? { invite_hash: l.hash, invite_expires_at: l.expires } : {}),
    ...(patch.unbind_sso ? { oidc_subject: '' } : {}),
  };
  await insertUserVersion(store, next);
  const access = next.disabled !== cur.disabled || next.role !== cur.role || next.teams.join('\n') !== cur.teams.join('\n');
  const ended = access ? await revokeSessionsOf(store, cur.id, next.disabled ? 'disabled' : 'access_changed', new Date(a.now)) : 0;
  const action = next.disabled && !cur.disabled ? 'person.disable' : 'person.update';
  await audit(store, a, action, 'person', cur.id, { changes: patch, sessions_ended: ended });
  return { user: next, link: l ? linkOf(l) : undefined };
}

/**
 * A person deleted: every version of their record removed (email, name, password and sign-in
 * link hashes), their sessions ended at once — what an organisation asks when someone leaves and
 * their data is to go. The audit trail keeps what they did (for `retention.audit`), and records
 * the deletion (`person.erase`). Not oneself (another owner or admin does it), not a person the
 * identity provider still provisions (SCIM): removed there, they are disabled here, and can then
 * be deleted; and not while a legal hold of the audit trail names them (or all of it): their
 * record is what ties the trail's rows about them (by user id) to them. Disabling stays allowed.
 */
export async function erasePerson(store: Store, a: Acting, cur: UserRecord): Promise<{ sessions_ended: number }> {
  guardOwner(a.by, cur.role);
  guardTeams(a.by, cur.teams);
  if (a.by.kind === 'user' && a.by.id === cur.id) throw new PeopleError(409, 'cannot_delete_self', 'You cannot delete your own account: another owner or admin can.', 'id');
  if (cur.scim_state === 'managed') throw new PeopleError(409, 'scim_managed', 'This person is provisioned by the identity provider (SCIM): remove them there, which disables them here; then they can be deleted.', 'id');
  const hold = holdOnPerson(await activeAuditHolds(store), cur.email);
  if (hold) throw new PeopleError(409, 'legal_hold', `A legal hold of the audit trail (${hold.id}${hold.value === WHOLE_TRAIL ? ', all of it' : ''}) covers this person: lift the hold first, then delete them. They can be disabled meanwhile.`, 'id');
  return serialByEmail(store, cur.email, addressBusy, async () => {
    // Disabled first, so a sign-in racing the deletion is refused and writes no version that
    // would outlive it; sessions are revoked (not removed: a revoked version is what keeps a late
    // touch from another UI process from bringing a session back; they go with their TTL, and
    // meanwhile hold no email, address or user agent).
    const at = new Date(a.now);
    if (!cur.disabled) await insertUserVersion(store, { ...cur, version: cur.version + 1, disabled: true, updated_at: at.toISOString(), updated_by: a.by.name });
    const ended = await revokeSessionsOf(store, cur.id, 'deleted', at);
    await deleteUserRows(store, cur.id);
    await forgetSessionsOf(store, cur.id);
    await audit(store, a, 'person.erase', 'person', cur.id, { role: cur.role, teams: cur.teams, auth_source: cur.auth_source, sessions_ended: ended });
    return { sessions_ended: ended };
  });
}

export async function createToken(store: Store, a: Acting, input: unknown): Promise<{ token: TokenRecord; secret: string }> {
  const body = parseOr400(NewToken, input, 'invalid_token_fields');
  guardOwner(a.by, body.role);
  guardTeams(a.by, body.teams);
  const at = new Date(a.now).toISOString();
  const secret = newSecret(TOKEN_PREFIX);
  const token: TokenRecord = {
    id: `tok_${randomUUID().replaceAll('-', '').slice(0, 20)}`, version: 1, token_hash: sha256Hex(secret), token_prefix: secret.slice(0, 10), name: body.name, role: body.role,
    teams: body.teams, expires_at: body.expires_days === null ? null : new Date(a.now + body.expires_days * 86_400_000).toISOString(), revoked: false, created_at: at, updated_at: at, updated_by: a.by.name,
  };
  await insertTokenVersion(store, token);
  await audit(store, a, 'token.create', 'token', token.id, { name: token.name, role: token.role, teams: token.teams, expires_at: token.expires_at });
  return { token, secret };
}

export async function revokeToken(store: Store, a: Acting, cur: TokenRecord): Promise<TokenRecord> {
  guardTeams(a.by, cur.teams);
  if (cur.revoked) return cur;
  const next = { ...cur, version: cur.version + 1, revoked: true, updated_at: new Date(a.now).toISOString(), updated_by: a.by.name };
  await insertTokenVersion(store, next);
  await audit(store, a, 'token.revoke', 'token', cur.id, { name: cur.name, token_prefix: cur.token_prefix });
  return next;
}

export const publicUser = (u: UserRecord) => ({
  id: u.id, email: u.email, name: u.name, role: u.role, teams: u.teams, auth_source: u.auth_source, disabled: u.disabled,
  has_password: u.password_hash !== '', link_pending: u.invite_hash !== '', created_at: u.created_at, updated_at: u.updated_at, updated_by: u.updated_by,
});
export const publicToken = (t: TokenRecord) => ({
  id: t.id, name: t.name, token_prefix: t.token_prefix, role: t.role, teams: t.teams, expires_at: t.expires_at, revoked: t.revoked, created_at: t.created_at, updated_by: t.updated_by,
});
