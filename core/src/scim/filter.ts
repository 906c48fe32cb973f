// The `filter` of GET /Users (RFC 7644 §3.4.2.2), parsed by scim2-parse-filter. What identity
// providers send to find a person before creating or linking them is one equality: Okta
// `userName eq "…"`, Entra ID `userName eq "…"` or `externalId eq "…"`. gatelog answers those
// (and `id eq`; for Groups `displayName eq`, what both send); any other well-formed filter is refused as unsupported rather than answered
// wrongly, and a malformed one is 400 invalidFilter as the RFC asks.
import { parse, type Filter } from 'scim2-parse-filter';
import { ScimError } from './protocol.ts';

export interface Lookup<A extends string> {
  attr: A;
  value: string;
}
export type UserLookup = Lookup<'userName' | 'externalId' | 'id'>;
export type GroupLookup = Lookup<'displayName' | 'externalId' | 'id'>;

/** The lookup a filter asks for among `attrs` (by lower-case name); undefined for no filter. */
function lookupOf<A extends string>(filter: string | undefined, attrs: Readonly<Record<string, A>>, resource: string): Lookup<A> | undefined {
  if (filter === undefined || filter.trim() === '') return undefined;
  if (filter.length > 1024) throw new ScimError(400, 'The filter is too long.', 'invalidFilter');
  let f: Filter;
  try {
    f = parse(filter);
  } catch {
    throw new ScimError(400, 'The filter is not valid SCIM filter syntax (RFC 7644 §3.4.2.2).', 'invalidFilter');
  }
  const name = f.op === 'eq' && 'attrPath' in f ? f.attrPath.toLowerCase().replace(`urn:ietf:params:scim:schemas:core:2.0:${resource.toLowerCase()}:`, '') : '';
  const attr = Object.hasOwn(attrs, name) ? attrs[name] : undefined;
  if (f.op !== 'eq' || attr === undefined || typeof f.compValue !== 'string') {
    throw new ScimError(400, `Only ${Object.values(attrs).map((a) => `${a} eq "…"`).join(', ')} are supported.`, 'invalidFilter');
  }
  return { attr, value: f.compValue };
}

const USER_ATTRS = { username: 'userName', externalid: 'externalId', id: 'id' } as const;
const GROUP_ATTRS = { displayname: 'displayName', externalid: 'externalId', id: 'id' } as const;

/** The people a filter asks for (userName compared case-insensitively, as RFC 7643 defines it). */
export function userLookup(filter: string | undefined): UserLookup | undefined {
  const l = lookupOf(filter, USER_ATTRS, 'User');
  return l && l.attr === 'userName' ? { attr: l.attr, value: l.value.trim().toLowerCase() } : l;
}

export const groupLookup = (filter: string | undefined): GroupLookup | undefined => lookupOf(filter, GROUP_ATTRS, 'Group');
