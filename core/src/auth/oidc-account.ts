// How a verified OpenID Connect sign-in becomes a gatelog person: the claims the provider
// vouched for (its ID token, already checked for signature, issuer, audience, nonce and expiry)
// are mapped to a role and teams by `sso.oidc`, and matched to the person with that email.
// Pure: the UI's callback route does the I/O. Every refusal names a stable reason, audited.
//
// Safe defaults: a group that is not mapped grants nothing; no mapped role (and no
// `default_role`) = refused; with `teams` configured, no mapped team (and no `unscoped_groups`
// group) = refused, never silently unscoped.
import { randomUUID } from 'node:crypto';
import { ROLES, type Role } from '../roles.ts';
import type { OidcConfig } from './oidc-config.ts';
import type { UserRecord } from '../store/users.ts';

export const OIDC_REFUSALS = ['no_email', 'email_unverified', 'domain_refused', 'no_role', 'no_team', 'disabled', 'identity_mismatch', 'not_provisioned'] as const;
export type OidcRefusal = (typeof OIDC_REFUSALS)[number];

export interface OidcIdentity {
  email: string;
  /** `iss` and `sub`: who the provider says this is, for good. */
  subject: string;
  name: string;
  groups: string[];
}

export type Claims = Readonly<Record<string, unknown>>;

/** `iss sub`, as stored in ui_users.oidc_subject. */
export const subjectOf = (iss: string, sub: string): string => `${iss} ${sub}`;

/** The claim at `path`: a top-level claim of that exact name first, else a dotted path into objects. */
function claimAt(claims: Claims, path: string): unknown {
  if (path in claims) return claims[path];
  let cur: unknown = claims;
  for (const part of path.split('.')) {
    if (cur === null || typeof cur !== 'object' || !(part in cur)) return undefined;
    cur = (cur as Record<string, unknown>)[part];
  }
  return cur;
}

/** Groups as the provider lists them: an array of strings (or one string); anything else is none. */
export function groupsOf(claims: Claims, claim: string): string[] {
  const v = claimAt(claims, claim);
  if (typeof v === 'string') return [v];
  if (!Array.isArray(v)) return [];
  return v.filter((g): g is string => typeof g === 'string').slice(0, 1000);
}

/** The identity in verified claims, or why it cannot sign in. */
export function identityOf(cfg: OidcConfig, claims: Claims): OidcIdentity | { refused: OidcRefusal } {
  const email = typeof claims['email'] === 'string' ? claims['email'].trim().toLowerCase() : '';
  if (!email || email.length > 254 || !/^[^\s@]+@[^\s@]+$/.test(email)) return { refused: 'no_email' };
  // Some providers (Entra ID) never send email_verified; one that says false (or "false") is believed.
  const verified = claims['email_verified'];
  if (verified === false || verified === 'false') return { refused: 'email_unverified' };
  const domain = email.slice(email.lastIndexOf('@') + 1);
  if (cfg.allowed_email_domains && !cfg.allowed_email_domains.includes(domain)) return { refused: 'domain_refused' };
  const iss = typeof claims['iss'] === 'string' ? claims['iss'] : '';
  const sub = typeof claims['sub'] === 'string' ? claims['sub'] : '';
  const name = typeof claims['name'] === 'string' ? claims['name'].slice(0, 200) : '';
  return { email, subject: subjectOf(iss, sub), name, groups: groupsOf(claims, cfg.groups_claim) };
}

/** Lower index = more access (ROLES is ordered owner … viewer). */
const rank = (r: Role): number => ROLES.indexOf(r);

/** Role and teams for a person's groups, or why none. */
export function accessOf(cfg: OidcConfig, groups: readonly string[]): { role: Role; teams: string[] } | { refused: 'no_role' | 'no_team' } {
  const roles = groups.flatMap((g) => (Object.hasOwn(cfg.roles, g) ? [cfg.roles[g]!] : []));
  const role = roles.length > 0 ? roles.reduce((a, b) => (rank(b) < rank(a) ? b : a)) : cfg.default_role;
  if (role === undefined) return { refused: 'no_role' };
  const map = cfg.teams;
  if (map === undefined) return { role, teams: [] };
  if (groups.some((g) => cfg.unscoped_groups.includes(g))) return { role, teams: [] };
  const teams = [...new Set(groups.flatMap((g) => (Object.hasOwn(map, g) ? [map[g]!] : [])))].sort();
  if (teams.length === 0) return { refused: 'no_team' };
  return { role, teams };
}

export type OidcChange = 'created' | 'linked' | 'updated' | 'unchanged';

export type OidcDecision =
  | { refused: OidcRefusal; user?: UserRecord }
  | { user: UserRecord; change: OidcChange; previous?: UserRecord };

/**
 * The person a sign-in is for, as it must be stored. `cur` is whoever has this email today:
 * - none: a new person, `auth_source: oidc`, bound to the provider's subject;
 * - a local account: linked (it becomes `oidc`; its password and any pending sign-in link stop
 *   working), because the provider vouched for this email in an allowed domain;
 * - an `oidc` person bound to another subject of the same issuer: refused (the address now
 *   belongs to someone else at the provider); bound to another issuer: re-bound (the configured
 *   issuer is the only one trusted now) — unless SCIM provisioned it: then refused as well;
 * - disabled in gatelog: refused, whatever the provider says; nothing is written.
 * With `provisionedOnly` (`sso.scim.provisioned_only`), anyone but a person the provider
 * provisioned over SCIM is refused (`not_provisioned`) before any of the above: nobody is created,
 * and a local account is not linked, so an owner's password keeps working as the way in when the
 * provider is down. An account made before SCIM (by an admin or an earlier sign-in) counts once
 * the provider's sync finds it by userName and updates it (core/src/scim/provision.ts).
 * Role and teams are the provider's on every sign-in.
 */
export function decideAccount(cfg: OidcConfig, issuer: string, id: OidcIdentity, cur: UserRecord | undefined, now: number, provisionedOnly = false): OidcDecision {
  if (cur?.disabled) return { refused: 'disabled', user: cur };
  if (provisionedOnly && cur?.scim_state !== 'managed') return { refused: 'not_provisioned', ...(cur ? { user: cur } : {}) };
  // A provisioned person (SCIM) is the provider's: once bound, no other subject takes the account,
  // even from another issuer (only `unbind_sso` through the people API frees it).
  const pinned = cur?.scim_state !== undefined && cur.scim_state !== '';
  if (cur?.auth_source === 'oidc' && cur.oidc_subject && cur.oidc_subject !== id.subject && (pinned || cur.oidc_subject.startsWith(`${issuer} `))) {
    return { refused: 'identity_mismatch', user: cur };
  }
  const access = accessOf(cfg, id.groups);
  if ('refused' in access) return { refused: access.refused, ...(cur ? { user: cur } : {}) };
  const at = new Date(now).toISOString();
  if (!cur) {
    const user: UserRecord = {
      id: `usr_${randomUUID().replaceAll('-', '').slice(0, 20)}`, version: 1, email: id.email, name: id.name, role: access.role, teams: access.teams,
      auth_source: 'oidc', oidc_subject: id.subject, scim_external_id: '', scim_state: '', password_hash: '', invite_hash: '', invite_expires_at: null, disabled: false,
      created_at: at, updated_at: at, updated_by: 'sso',
    };
    return { user, change: 'created' };
  }
  const next: UserRecord = {
    ...cur, role: access.role, teams: access.teams, name: id.name || cur.name, auth_source: 'oidc', oidc_subject: id.subject,
    password_hash: '', invite_hash: '', invite_expires_at: null,
  };
  const same = next.role === cur.role && next.teams.join('\n') === cur.teams.join('\n') && next.name === cur.name &&
    cur.auth_source === 'oidc' && cur.oidc_subject === id.subject;
  if (same) return { user: cur, change: 'unchanged' };
  return { user: { ...next, version: cur.version + 1, updated_at: at, updated_by: 'sso' }, change: cur.auth_source === 'oidc' ? 'updated' : 'linked', previous: cur };
}
