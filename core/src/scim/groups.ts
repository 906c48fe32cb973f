// Groups an identity provider provisions over SCIM (POST/PUT/PATCH/DELETE /Groups). A group's
// `displayName` is a group name as the groups claim would carry it: at every single sign-on a
// person's groups are the claim's plus the SCIM groups they are a member of, and the same
// `sso.oidc` roles and teams maps decide their role and teams (oidc-account.ts `accessOf`), so a
// person in no mapped group gets what a sign-in would give them (default_role, or refused).
// This is what makes group-based access work with a provider whose ID tokens carry group ids
// rather than names (Entra ID). A membership change ends the live sessions of every person it
// adds or removes, so their next sign-in decides their access afresh: a removal takes effect at
// once. A change to a group the roles map makes `owner` needs an owner's token.
import { randomUUID } from 'node:crypto';
import { ScimError as PatchLibError, patchBodyValidation, scimPatch, type ScimPatch, type ScimPatchOperation, type ScimResource } from 'scim-patch';
import type { Store } from '../store/client.ts';
import { appendAudit } from '../store/audit.ts';
import { revokeSessionsOf } from '../store/sessions.ts';
import { userById } from '../store/users.ts';
import { groupByExternalId, groupById, groupByName, insertGroupVersion, listGroups, type GroupRecord } from '../store/scim-groups.ts';
import type { OidcConfig } from '../auth/oidc-config.ts';
import type { Acting } from '../people.ts';
import { MAX_RESULTS, SCHEMA, ScimError, type ScimType } from './protocol.ts';
import type { GroupLookup } from './filter.ts';

const MAX_MEMBERS = 10_000;
const ATTRS = new Map(['schemas', 'id', 'externalId', 'meta', 'displayName', 'members'].map((a) => [a.toLowerCase(), a]));

export interface GroupFields {
  displayName: string;
  externalId: string;
  members: string[];
}

function canonical(body: Record<string, unknown>): Record<string, unknown> {
  const out: Record<string, unknown> = {};
  for (const [k, v] of Object.entries(body)) {
    const a = ATTRS.get(k.toLowerCase());
    if (a === undefined) throw new ScimError(400, `Unknown attribute "${k.slice(0, 64)}": not in the Group schema.`, 'invalidSyntax');
    out[a] = v;
  }
  return out;
}

function members(v: unknown): string[] {
  if (v === undefined || v === null) return [];
  if (!Array.isArray(v) || v.length > MAX_MEMBERS) throw new ScimError(400, `"members" must be an array of at most ${MAX_MEMBERS} {"value": id}.`, 'invalidValue');
  const ids = v.map((m: unknown) => (m !== null && typeof m === 'object' && typeof (m as { value?: unknown }).value === 'string' ? (m as { value: string }).value : undefined));
  if (ids.some((x) => x === undefined || x === '' || x.length > 128)) throw new ScimError(400, 'Each member must be {"value": "<a User id>"}.', 'invalidValue');
  return [...new Set(ids as string[])].sort();
}

/** The fields of a whole Group (POST, PUT). */
export function groupFields(body: unknown, requireSchema = true): GroupFields {
  if (body === null || typeof body !== 'object' || Array.isArray(body)) throw new ScimError(400, 'The body must be a JSON object.', 'invalidSyntax');
  const g = canonical(body as Record<string, unknown>);
  const schemas = g['schemas'];
  if (requireSchema && (!Array.isArray(schemas) || !schemas.some((s) => typeof s === 'string' && s.toLowerCase() === SCHEMA.group.toLowerCase()))) {
    throw new ScimError(400, `"schemas" must include ${SCHEMA.group}.`, 'invalidSyntax');
  }
  const name = typeof g['displayName'] === 'string' ? g['displayName'].trim() : '';
  if (!name || name.length > 512) throw new ScimError(400, '"displayName" must be a non-empty string of at most 512 characters.', 'invalidValue');
  const ext = g['externalId'];
  if (ext !== undefined && ext !== null && (typeof ext !== 'string' || ext.length > 512)) throw new ScimError(400, '"externalId" must be a string.', 'invalidValue');
  return { displayName: name, externalId: typeof ext === 'string' ? ext : '', members: members(g['members']) };
}

export function toScimGroup(g: GroupRecord, base: string) {
  return {
    schemas: [SCHEMA.group], id: g.id, ...(g.external_id ? { externalId: g.external_id } : {}), displayName: g.display_name,
    members: g.members.map((value) => ({ value, $ref: `${base}/Users/${value}` })),
    meta: { resourceType: 'Group', created: g.created_at, lastModified: g.updated_at, location: `${base}/Groups/${g.id}` },
  };
}
export type ScimGroup = ReturnType<typeof toScimGroup>;

/**
 * The fields after a PatchOp (RFC 7644 §3.5.2): members added, removed (`members[value eq "…"]`,
 * or Entra ID's remove with a value list) or replaced, a new displayName. Okta's path-less
 * replace carries the group's own `id` along, which is dropped when it is the group's.
 */
export function patchedGroupFields(group: ScimGroup, body: unknown): GroupFields {
  if (body === null || typeof body !== 'object' || Array.isArray(body)) throw new ScimError(400, 'The body must be a JSON object.', 'invalidSyntax');
  const b = body as Record<string, unknown>;
  if (!Array.isArray(b['schemas']) || !b['schemas'].includes(SCHEMA.patchOp)) throw new ScimError(400, `"schemas" must be ["${SCHEMA.patchOp}"].`, 'invalidSyntax');
  const ops = b['Operations'] ?? b['operations'];
  if (!Array.isArray(ops) || ops.length === 0 || ops.length > 1000) throw new ScimError(400, '"Operations" must be an array of 1 to 1000 operations.', 'invalidSyntax');
  const operations = ops.flatMap((raw: unknown): ScimPatchOperation[] => {
    if (raw === null || typeof raw !== 'object' || Array.isArray(raw)) throw new ScimError(400, 'Each operation must be an object.', 'invalidSyntax');
    const o = raw as Record<string, unknown>;
    const op = typeof o['op'] === 'string' ? o['op'].toLowerCase() : '';
    const path = typeof o['path'] === 'string' ? o['path'] : undefined;
    if (path !== undefined) {
      const root = /^[^.[]*/.exec(path)?.[0]?.toLowerCase() ?? '';
      if (root !== 'members' && root !== 'displayname' && root !== 'externalid') throw new ScimError(400, `Unknown or read-only attribute in path "${path.slice(0, 128)}".`, 'invalidPath');
    }
    // Entra ID removes members by listing them as the value: one filtered remove per member.
    if (op === 'remove' && path?.toLowerCase() === 'members' && o['value'] !== undefined) {
      return members(o['value']).map((m): ScimPatchOperation => ({ op, path: `members[value eq ${JSON.stringify(m)}]` }));
    }
    if (op === 'remove' && path !== undefined) return [o['value'] === undefined ? { op, path } : { op, path, value: o['value'] }];
    if (op !== 'add' && op !== 'replace') throw new ScimError(400, 'An operation\'s "op" must be add, replace or remove (remove with a path).', 'invalidSyntax');
    let value = o['value'];
    if (path === undefined && value !== null && typeof value === 'object' && !Array.isArray(value)) {
      const { id, ...rest } = canonical(value as Record<string, unknown>);
      if (id !== undefined && id !== group.id) throw new ScimError(400, '"id" cannot be changed.', 'mutability');
      value = rest;
    }
    return [path === undefined ? { op, value } : { op, path, value }];
  });
  // Members as bare {value}: what a remove or a filter compares against.
  const doc: ScimResource & Record<string, unknown> = {
    ...structuredClone(group), members: group.members.map((m) => ({ value: m.value })), meta: { created: new Date(group.meta.created), lastModified: new Date(group.meta.lastModified) },
  };
  let after: Record<string, unknown>;
  try {
    patchBodyValidation({ schemas: [SCHEMA.patchOp], Operations: operations } as ScimPatch);
    after = scimPatch(doc, operations, { mutateDocument: false });
  } catch (e) {
    if (e instanceof PatchLibError) throw new ScimError(400, e.message.slice(0, 300), (e.scimCode as ScimType | undefined) ?? 'invalidValue');
    throw e;
  }
  const { meta: _meta, schemas: _schemas, ...rest } = after;
  return groupFields(rest, false);
}

/** Whether the roles map makes this group name `owner`: then only an owner's token changes it. */
function guardOwner(a: Acting, oidc: OidcConfig, ...names: string[]): void {
  if (a.by.role !== 'owner' && names.some((n) => oidc.roles[n] === 'owner')) throw new ScimError(403, 'Only an owner\'s token may change a group that grants the owner role.');
}

async function guardMembers(store: Store, ids: readonly string[]): Promise<void> {
  for (const id of ids) {
    const u = await userById(store, id);
    if (!u || u.scim_state === 'deleted') throw new ScimError(400, `No User with id "${id.slice(0, 128)}".`, 'invalidValue');
  }
}

async function guardUnique(store: Store, f: GroupFields, self: string | undefined): Promise<void> {
  const byName = await groupByName(store, f.displayName);
  if (byName && byName.id !== self) throw new ScimError(409, `A group named "${f.displayName}" exists already.`, 'uniqueness');
  const byExt = f.externalId ? await groupByExternalId(store, f.externalId) : undefined;
  if (byExt && byExt.id !== self) throw new ScimError(409, 'A group with this externalId exists already.', 'uniqueness');
}

/** Ends the sessions of everyone whose groups changed; how many sessions ended. */
async function endSessionsOf(store: Store, a: Acting, people: readonly string[]): Promise<number> {
  let ended = 0;
  for (const id of people) ended += await revokeSessionsOf(store, id, 'access_changed', new Date(a.now));
  return ended;
}

const audit = (store: Store, a: Acting, action: string, target: string, details: Record<string, unknown>) =>
  appendAudit(store, { actor: a.by.name, role: a.by.role, action, targetType: 'group', target, details: { via: 'scim', ...details }, sourceIp: a.sourceIp, userAgent: a.userAgent, at: new Date(a.now) });

async function write(store: Store, a: Acting, oidc: OidcConfig, cur: GroupRecord | undefined, next: GroupRecord, action: string): Promise<GroupRecord> {
  const before = new Set(cur?.members ?? []);
  const after = new Set(next.deleted ? [] : next.members);
  const added = [...after].filter((m) => !before.has(m));
  const removed = [...before].filter((m) => !after.has(m));
  const renamed = cur !== undefined && cur.display_name !== next.display_name;
  const changed = cur === undefined || added.length + removed.length > 0 || renamed || cur.external_id !== next.external_id || next.deleted;
  if (!changed) return cur;
  guardOwner(a, oidc, next.display_name, ...(cur ? [cur.display_name] : []));
  await guardMembers(store, added);
  await insertGroupVersion(store, next);
  const affected = renamed || next.deleted ? [...new Set([...before, ...after])] : [...added, ...removed];
  const ended = await endSessionsOf(store, a, affected);
  await audit(store, a, action, next.id, {
    displayName: next.display_name, ...(renamed ? { previous_name: cur.display_name } : {}), ...(cur && cur.external_id !== next.external_id ? { externalId: next.external_id } : {}),
    members_added: added, members_removed: removed, sessions_ended: ended,
  });
  return next;
}

export async function createScimGroup(store: Store, a: Acting, oidc: OidcConfig, f: GroupFields): Promise<GroupRecord> {
  await guardUnique(store, f, undefined);
  const at = new Date(a.now).toISOString();
  const g: GroupRecord = {
    id: `grp_${randomUUID().replaceAll('-', '').slice(0, 20)}`, version: 1, display_name: f.displayName, external_id: f.externalId, members: f.members,
    deleted: false, created_at: at, updated_at: at, updated_by: a.by.name,
  };
  return write(store, a, oidc, undefined, g, 'group.create');
}

export async function updateScimGroup(store: Store, a: Acting, oidc: OidcConfig, cur: GroupRecord, f: GroupFields): Promise<GroupRecord> {
  await guardUnique(store, f, cur.id);
  const next = { ...cur, version: cur.version + 1, display_name: f.displayName, external_id: f.externalId, members: f.members, updated_at: new Date(a.now).toISOString(), updated_by: a.by.name };
  return write(store, a, oidc, cur, next, 'group.update');
}

export async function deleteScimGroup(store: Store, a: Acting, oidc: OidcConfig, cur: GroupRecord): Promise<void> {
  await write(store, a, oidc, cur, { ...cur, version: cur.version + 1, deleted: true, updated_at: new Date(a.now).toISOString(), updated_by: a.by.name }, 'group.delete');
}

/** A group the provider may see, or 404. */
export async function scimGroup(store: Store, id: string): Promise<GroupRecord> {
  const g = await groupById(store, id);
  if (!g) throw new ScimError(404, `No Group with id "${id.slice(0, 128)}".`);
  return g;
}

/** One page of groups (1-based `startIndex`), and how many match in all. */
export async function scimGroups(store: Store, lookup: GroupLookup | undefined, startIndex: number, count: number): Promise<{ groups: GroupRecord[]; total: number }> {
  const one = lookup === undefined ? undefined : lookup.attr === 'displayName' ? await groupByName(store, lookup.value) : lookup.attr === 'externalId' ? await groupByExternalId(store, lookup.value) : await groupById(store, lookup.value);
  const all = lookup === undefined ? await listGroups(store) : one ? [one] : [];
  return { groups: all.slice(startIndex - 1, startIndex - 1 + Math.min(count, MAX_RESULTS)), total: all.length };
}
