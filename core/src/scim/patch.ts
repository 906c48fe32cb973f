// PATCH /Users/:id (RFC 7644 §3.5.2), applied by scim-patch to the User as gatelog shows it, then
// read back into the fields gatelog keeps. Normalised first for what identity providers really
// send: Entra ID's capitalised ops ("Replace") and string booleans ("False") (RFC 7643 has
// neither, Entra documents both), and a path-less value whose keys are dotted paths
// (`{"name.givenName": "Ana"}`), which Entra also sends; Okta's `{"op":"replace","value":{"active":false}}`
// is the RFC's own form. Paths into the enterprise extension change nothing gatelog keeps and are
// skipped; a path into no schema is 400 invalidPath. Pure: no I/O.
import { ScimError as PatchLibError, patchBodyValidation, scimPatch, type ScimPatch, type ScimPatchOperation, type ScimResource } from 'scim-patch';
import { SCHEMA, ScimError, type ScimType } from './protocol.ts';
import { canonicalUser, toBool, userAttribute, userFields, type ScimUser, type UserFields } from './user-resource.ts';

const MAX_OPERATIONS = 100;
const READ_ONLY = new Set(['id', 'meta', 'schemas', 'groups']);

/** The top-level attribute a path starts at (`emails[type eq "work"].value` → emails). */
function rootOf(path: string): string {
  const ext = SCHEMA.enterpriseUser.toLowerCase();
  if (path.toLowerCase().startsWith(ext)) return SCHEMA.enterpriseUser;
  const core = `${SCHEMA.user.toLowerCase()}:`;
  const bare = path.toLowerCase().startsWith(core) ? path.slice(core.length) : path;
  return /^[^.[]*/.exec(bare)?.[0] ?? bare;
}

function checkedPath(path: string): 'skip' | string {
  const attr = userAttribute(rootOf(path));
  if (attr === undefined) throw new ScimError(400, `Unknown attribute in path "${path.slice(0, 128)}".`, 'invalidPath');
  if (attr === 'extension') return 'skip';
  if (READ_ONLY.has(attr)) throw new ScimError(400, `"${attr}" cannot be changed.`, 'mutability');
  const core = `${SCHEMA.user.toLowerCase()}:`;
  return path.toLowerCase().startsWith(core) ? path.slice(core.length) : path;
}

/** One operation as scim-patch takes it, or none (an extension-only change). */
function normalised(raw: unknown): ScimPatchOperation[] {
  if (raw === null || typeof raw !== 'object' || Array.isArray(raw)) throw new ScimError(400, 'Each operation must be an object.', 'invalidSyntax');
  const o = raw as Record<string, unknown>;
  const op = typeof o['op'] === 'string' ? o['op'].toLowerCase() : '';
  if (op !== 'add' && op !== 'replace' && op !== 'remove') throw new ScimError(400, 'An operation\'s "op" must be add, replace or remove.', 'invalidSyntax');
  const path = o['path'];
  if (path !== undefined && (typeof path !== 'string' || path === '')) throw new ScimError(400, '"path" must be a non-empty string.', 'invalidPath');
  if (typeof path === 'string') {
    const p = checkedPath(path);
    if (p === 'skip') return [];
    return [op === 'remove' ? { op, path: p, ...(o['value'] === undefined ? {} : { value: o['value'] }) } : { op, path: p, value: o['value'] }];
  }
  if (op === 'remove') throw new ScimError(400, 'A remove operation needs a "path".', 'noTarget');
  const value = o['value'];
  if (value === null || typeof value !== 'object' || Array.isArray(value)) throw new ScimError(400, 'An operation without "path" needs an object "value".', 'invalidValue');
  // Dotted keys become operations of their own; the rest stay one path-less operation.
  const plain: Record<string, unknown> = {};
  const dotted: ScimPatchOperation[] = [];
  for (const [k, v] of Object.entries(value)) {
    if (k.includes('.') && !k.toLowerCase().startsWith('urn:')) dotted.push(...normalised({ op, path: k, value: v }));
    else plain[k] = v;
  }
  const canon = Object.fromEntries(Object.entries(canonicalUser(plain)).filter(([k]) => userAttribute(k) !== 'extension' && k !== 'schemas'));
  for (const k of Object.keys(canon)) {
    if (READ_ONLY.has(k)) throw new ScimError(400, `"${k}" cannot be changed.`, 'mutability');
  }
  const whole: ScimPatchOperation = { op, value: canon };
  return [...(Object.keys(canon).length > 0 ? [whole] : []), ...dotted];
}

/** What shows the person under another name: the first of displayName, name.formatted, given/family that changed. */
function nameAfter(before: ScimUser, after: Record<string, unknown>): string {
  const n = (after['name'] ?? {}) as Record<string, unknown>;
  if (after['displayName'] !== before.displayName && typeof after['displayName'] === 'string') return after['displayName'];
  if (n['formatted'] !== before.name.formatted && typeof n['formatted'] === 'string') return n['formatted'];
  const joined = [n['givenName'], n['familyName']].filter((x) => typeof x === 'string' && x !== '').join(' ');
  return joined || before.displayName;
}

/** The fields of `user` after a PatchOp body. */
export function patchedFields(user: ScimUser, body: unknown): UserFields {
  if (body === null || typeof body !== 'object' || Array.isArray(body)) throw new ScimError(400, 'The body must be a JSON object.', 'invalidSyntax');
  const b = body as Record<string, unknown>;
  const schemas = b['schemas'];
  if (!Array.isArray(schemas) || !schemas.includes(SCHEMA.patchOp)) throw new ScimError(400, `"schemas" must be ["${SCHEMA.patchOp}"].`, 'invalidSyntax');
  const ops = b['Operations'] ?? b['operations'];
  if (!Array.isArray(ops) || ops.length === 0) throw new ScimError(400, '"Operations" must be a non-empty array.', 'invalidSyntax');
  if (ops.length > MAX_OPERATIONS) throw new ScimError(400, `At most ${MAX_OPERATIONS} operations per request.`, 'tooMany');
  const operations = ops.flatMap(normalised);
  const doc: ScimResource & Record<string, unknown> = { ...structuredClone(user), meta: { created: new Date(user.meta.created), lastModified: new Date(user.meta.lastModified) } };
  let after: Record<string, unknown>;
  try {
    if (operations.length > 0) patchBodyValidation({ schemas: [SCHEMA.patchOp], Operations: operations } as ScimPatch);
    after = operations.length > 0 ? scimPatch(doc, operations, { mutateDocument: false }) : doc;
  } catch (e) {
    if (e instanceof PatchLibError) throw new ScimError(400, e.message.slice(0, 300), (e.scimCode as ScimType | undefined) ?? 'invalidValue');
    throw e;
  }
  // A removed `active` leaves the person as they were: only an explicit false disables, only true enables.
  const active = after['active'] === undefined || after['active'] === null ? user.active : toBool(after['active'], 'active');
  const fields = userFields({ ...after, active, schemas: [SCHEMA.user] }, user.active);
  return { ...fields, name: nameAfter(user, after).slice(0, 200) };
}
