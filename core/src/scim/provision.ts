// What a SCIM request does to gatelog's people: the identity provider (Okta, Entra ID…) creates,
// changes, disables and deletes accounts. One audit row per change, naming the machine token and
// the fields that changed (never a secret); a person disabled or deleted loses every UI session
// at once (each UI process notices within its session cache's few seconds, as for the people API).
//
// How a provisioned person signs in: through the provider (`sso.oidc`), matched by email =
// `userName`, as every single sign-on is (oidc-account.ts). A provisioned account is created
// unbound (`auth_source: oidc`, no password, no sign-in link); the provider's first verified
// sign-in with that email binds its subject, and from then on no other subject, of this issuer or
// another, takes the account. `externalId` is the provider's handle for lookups only: providers
// fill it from their own directory id, which is not the ID token's `sub` (Entra ID's `sub` is
// pairwise per app), so it cannot bind a sign-in.
//
// DELETE keeps the account, disabled and marked `deleted`: the audit trail goes on naming a real
// person, and to the provider it is gone (404, out of every list). Provisioning the same userName
// again revives that account, still bound to the subject it had, so a reassigned address cannot
// inherit it: the new holder is refused (identity_mismatch) until an admin unbinds it.
import { randomUUID } from 'node:crypto';
import type { Store } from '../store/client.ts';
import { appendAudit } from '../store/audit.ts';
import { revokeSessionsOf } from '../store/sessions.ts';
import { insertUserVersion, listUsers, serialByEmail, userByEmail, userByExternalId, userById, type UserRecord } from '../store/users.ts';
import { accessOf } from '../auth/oidc-account.ts';
import type { OidcConfig } from '../auth/oidc-config.ts';
import type { Acting } from '../people.ts';
import { MAX_RESULTS, ScimError } from './protocol.ts';
import type { UserLookup } from './filter.ts';
import type { UserFields } from './user-resource.ts';

const audit = (store: Store, a: Acting, action: string, target: string, details: Record<string, unknown>) =>
  appendAudit(store, { actor: a.by.name, role: a.by.role, action, targetType: 'person', target, details: { via: 'scim', ...details }, sourceIp: a.sourceIp, userAgent: a.userAgent, at: new Date(a.now) });

/** Only an owner's token grants or changes an owner account (the people API's rule). */
function guardOwner(a: Acting, role: string): void {
  if (role === 'owner' && a.by.role !== 'owner') throw new ScimError(403, 'Only an owner\'s token may provision or change an owner account.');
}

/**
 * Role and teams until the person first signs in, when the provider's groups decide them
 * (oidc-account.ts): what a sign-in in no mapped group would get, or the least access when such a
 * sign-in is refused. Never used for access before then: the account has no way in but the provider.
 */
function placeholderAccess(oidc: OidcConfig): { role: string; teams: string[] } {
  const r = accessOf(oidc, []);
  return 'refused' in r ? { role: 'viewer', teams: [] } : r;
}

const visible = (u: UserRecord | undefined): UserRecord | undefined => (u && u.scim_state !== 'deleted' ? u : undefined);

/** A person the provider may see, or 404. */
export async function scimUser(store: Store, id: string): Promise<UserRecord> {
  const u = visible(await userById(store, id));
  if (!u) throw new ScimError(404, `No User with id "${id.slice(0, 128)}".`);
  return u;
}

/** One page of people (1-based `startIndex`), and how many match in all. */
export async function scimUsers(store: Store, lookup: UserLookup | undefined, startIndex: number, count: number): Promise<{ users: UserRecord[]; total: number }> {
  let all: UserRecord[];
  if (lookup === undefined) all = (await listUsers(store)).filter((u) => u.scim_state !== 'deleted');
  else {
    const one = lookup.attr === 'userName' ? await userByEmail(store, lookup.value) : lookup.attr === 'externalId' ? await userByExternalId(store, lookup.value) : await userById(store, lookup.value);
    all = visible(one) ? [one!] : [];
  }
  return { users: all.slice(startIndex - 1, startIndex - 1 + Math.min(count, MAX_RESULTS)), total: all.length };
}

async function guardUnique(store: Store, f: UserFields, self: string | undefined): Promise<UserRecord | undefined> {
  const byEmail = await userByEmail(store, f.email);
  // A deleted account's address may be provisioned again (it is revived), not taken by a rename.
  if (byEmail && byEmail.id !== self && (self !== undefined || byEmail.scim_state !== 'deleted')) throw new ScimError(409, `A person with userName "${f.email}" exists already.`, 'uniqueness');
  if (f.externalId) {
    const byExt = await userByExternalId(store, f.externalId);
    if (byExt && byExt.id !== self && byExt.id !== byEmail?.id) throw new ScimError(409, 'A person with this externalId exists already.', 'uniqueness');
  }
  return byEmail;
}

/** What changed between two versions, as the audit row names it. */
function changesOf(cur: UserRecord, next: UserRecord): Record<string, { from: unknown; to: unknown }> {
  const out: Record<string, { from: unknown; to: unknown }> = {};
  const pairs: [string, unknown, unknown][] = [
    ['userName', cur.email, next.email], ['name', cur.name, next.name], ['active', !cur.disabled, !next.disabled],
    ['externalId', cur.scim_external_id, next.scim_external_id], ['provisioned', cur.scim_state, next.scim_state],
  ];
  for (const [k, from, to] of pairs) if (from !== to) out[k] = { from, to };
  return out;
}

/** Writes `next` if anything changed: sessions end when the person is disabled or renamed; one audit row. */
async function write(store: Store, a: Acting, cur: UserRecord, next: UserRecord, action?: string): Promise<UserRecord> {
  const changes = changesOf(cur, next);
  if (Object.keys(changes).length === 0) return cur;
  guardOwner(a, cur.role);
  const stored: UserRecord = { ...next, version: cur.version + 1, updated_at: new Date(a.now).toISOString(), updated_by: a.by.name };
  await insertUserVersion(store, stored);
  const endSessions = (stored.disabled && !cur.disabled) || stored.email !== cur.email;
  const ended = endSessions ? await revokeSessionsOf(store, cur.id, stored.disabled ? 'disabled' : 'access_changed', new Date(a.now)) : 0;
  const act = action ?? (stored.disabled && !cur.disabled ? 'person.disable' : !stored.disabled && cur.disabled ? 'person.enable' : 'person.update');
  await audit(store, a, act, cur.id, { email: stored.email, changes, sessions_ended: ended });
  return stored;
}

const withFields = (cur: UserRecord, f: UserFields): UserRecord =>
  ({ ...cur, email: f.email, name: f.name, disabled: !f.active, scim_external_id: f.externalId, scim_state: 'managed' });

/** Another proxy's change to the same userName held it for longer than a change may wait (store/users.ts). */
const addressBusy = (): ScimError => new ScimError(503, 'Another change to this userName is in progress; try again.');

/** POST /Users: a new person, or a deleted one provisioned again (see the top of this file). */
export function createScimUser(store: Store, a: Acting, oidc: OidcConfig, f: UserFields): Promise<UserRecord> {
  return serialByEmail(store, f.email, addressBusy, () => createUnique(store, a, oidc, f));
}

async function createUnique(store: Store, a: Acting, oidc: OidcConfig, f: UserFields): Promise<UserRecord> {
  const deleted = await guardUnique(store, f, undefined);
  if (deleted) return write(store, a, deleted, withFields(deleted, f), 'person.create');
  const access = placeholderAccess(oidc);
  guardOwner(a, access.role);
  const at = new Date(a.now).toISOString();
  const user: UserRecord = {
    id: `usr_${randomUUID().replaceAll('-', '').slice(0, 20)}`, version: 1, email: f.email, name: f.name, role: access.role, teams: access.teams,
    auth_source: 'oidc', oidc_subject: '', scim_external_id: f.externalId, scim_state: 'managed', password_hash: '', invite_hash: '', invite_expires_at: null,
    disabled: !f.active, created_at: at, updated_at: at, updated_by: a.by.name,
  };
  await insertUserVersion(store, user);
  await audit(store, a, 'person.create', user.id, { email: user.email, name: user.name, active: f.active, externalId: f.externalId, role: user.role, teams: user.teams });
  return user;
}

/** PUT and PATCH /Users/:id: the person with the fields the provider now holds. */
export function updateScimUser(store: Store, a: Acting, cur: UserRecord, f: UserFields): Promise<UserRecord> {
  // A rename takes the new address: in turn with anyone creating or renaming to it.
  return serialByEmail(store, f.email, addressBusy, async () => {
    await guardUnique(store, f, cur.id);
    return write(store, a, cur, withFields(cur, f));
  });
}

/** DELETE /Users/:id: disabled for good and gone for the provider. */
export async function deleteScimUser(store: Store, a: Acting, cur: UserRecord): Promise<void> {
  await write(store, a, cur, { ...cur, disabled: true, scim_state: 'deleted' }, 'person.delete');
}
