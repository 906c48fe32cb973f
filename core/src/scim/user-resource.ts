// A gatelog person as a SCIM User (RFC 7643 §4.1) and back. gatelog keeps four things of a User:
// `userName` (the person's email, which single sign-on matches them by), a display name,
// `active` and `externalId`. Every other attribute of the core User schema and of the enterprise
// extension is accepted and not stored (an IdP sends titles, phone numbers, managers); a
// `password` is dropped unread, since a provisioned person signs in through the provider only.
// An attribute of no schema is refused. Pure: no I/O.
import type { UserRecord } from '../store/users.ts';
import { SCHEMA, ScimError } from './protocol.ts';

/** RFC 7643 §4.1's User attributes, by their lower-case name (attribute names are case-insensitive, §2.1). */
const USER_ATTRIBUTES = new Map(
  ['id', 'externalId', 'meta', 'schemas', 'userName', 'name', 'displayName', 'nickName', 'profileUrl', 'title', 'userType', 'preferredLanguage', 'locale',
    'timezone', 'active', 'password', 'emails', 'phoneNumbers', 'ims', 'photos', 'addresses', 'groups', 'entitlements', 'roles', 'x509Certificates'].map((a) => [a.toLowerCase(), a]),
);

const EXTENSION = SCHEMA.enterpriseUser.toLowerCase();
const CORE_PREFIX = `${SCHEMA.user.toLowerCase()}:`;

/** The canonical name of a top-level attribute, `extension` for the enterprise extension, or undefined for an unknown one. */
export function userAttribute(name: string): string | undefined {
  const n = name.toLowerCase();
  if (n === EXTENSION || n.startsWith(`${EXTENSION}:`)) return 'extension';
  return USER_ATTRIBUTES.get(n.startsWith(CORE_PREFIX) ? n.slice(CORE_PREFIX.length) : n);
}

/** A copy of `body` with canonical attribute names; 400 invalidSyntax naming an unknown one. */
export function canonicalUser(body: Record<string, unknown>): Record<string, unknown> {
  const out: Record<string, unknown> = {};
  for (const [k, v] of Object.entries(body)) {
    const a = userAttribute(k);
    if (a === undefined) throw new ScimError(400, `Unknown attribute "${k.slice(0, 64)}": not in the User schema or the enterprise extension.`, 'invalidSyntax');
    out[a === 'extension' ? k : a] = v;
  }
  return out;
}

/** SCIM booleans, and the strings Entra ID sends for them ("True", "False"). */
export function toBool(v: unknown, attr: string): boolean {
  if (typeof v === 'boolean') return v;
  if (typeof v === 'string' && /^(true|false)$/i.test(v)) return v.toLowerCase() === 'true';
  throw new ScimError(400, `"${attr}" must be a boolean.`, 'invalidValue');
}

const EMAIL_RE = /^[^\s@]+@[^\s@]+$/;

function email(v: unknown): string {
  const s = typeof v === 'string' ? v.trim().toLowerCase() : '';
  if (!s || s.length > 254 || !EMAIL_RE.test(s)) throw new ScimError(400, '"userName" must be the person\'s email address (single sign-on matches them by it).', 'invalidValue');
  return s;
}

const str = (v: unknown): string | undefined => (typeof v === 'string' && v.trim() !== '' ? v.trim() : undefined);

function nameParts(v: unknown): { formatted?: string | undefined; given?: string | undefined; family?: string | undefined } {
  if (v === undefined || v === null) return {};
  if (typeof v !== 'object' || Array.isArray(v)) throw new ScimError(400, '"name" must be an object.', 'invalidValue');
  const n = Object.fromEntries(Object.entries(v).map(([k, x]) => [k.toLowerCase(), x]));
  return { formatted: str(n['formatted']), given: str(n['givenname']), family: str(n['familyname']) };
}

/** The name gatelog shows: displayName, else name.formatted, else given and family names. */
function shownName(u: Record<string, unknown>): string {
  const n = nameParts(u['name']);
  const joined = [n.given, n.family].filter(Boolean).join(' ');
  return (str(u['displayName']) ?? n.formatted ?? joined).slice(0, 200);
}

export interface UserFields {
  email: string;
  name: string;
  active: boolean;
  externalId: string;
}

/**
 * The fields of a whole User (POST, PUT): `schemas` must name the User schema. An absent `active`
 * is `activeIfAbsent` (true for a new person; a replacement keeps the person as they were).
 */
export function userFields(body: unknown, activeIfAbsent = true): UserFields {
  if (body === null || typeof body !== 'object' || Array.isArray(body)) throw new ScimError(400, 'The body must be a JSON object.', 'invalidSyntax');
  const u = canonicalUser(body as Record<string, unknown>);
  const schemas = u['schemas'];
  if (!Array.isArray(schemas) || !schemas.some((s) => typeof s === 'string' && s.toLowerCase() === SCHEMA.user.toLowerCase())) {
    throw new ScimError(400, `"schemas" must include ${SCHEMA.user}.`, 'invalidSyntax');
  }
  if (u['emails'] !== undefined && !Array.isArray(u['emails'])) throw new ScimError(400, '"emails" must be an array.', 'invalidValue');
  const externalId = u['externalId'];
  if (externalId !== undefined && externalId !== null && (typeof externalId !== 'string' || externalId.length > 512)) {
    throw new ScimError(400, '"externalId" must be a string of at most 512 characters.', 'invalidValue');
  }
  return {
    email: email(u['userName']),
    name: shownName(u),
    active: u['active'] === undefined || u['active'] === null ? activeIfAbsent : toBool(u['active'], 'active'),
    externalId: typeof externalId === 'string' ? externalId : '',
  };
}

/** How a person looks to the provider. */
export function toScimUser(u: UserRecord, base: string) {
  return {
    schemas: [SCHEMA.user],
    id: u.id,
    ...(u.scim_external_id ? { externalId: u.scim_external_id } : {}),
    userName: u.email,
    name: { formatted: u.name },
    displayName: u.name,
    active: !u.disabled,
    emails: [{ value: u.email, type: 'work', primary: true }],
    meta: { resourceType: 'User', created: u.created_at, lastModified: u.updated_at, location: `${base}/Users/${u.id}` },
  };
}
export type ScimUser = ReturnType<typeof toScimUser>;
