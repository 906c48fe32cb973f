// The person a master-key caller acts for: the UI holds the master key and calls the admin API
// for the person signed in, naming them in `x-gatelog-acting-for` (base64url JSON of name, role
// and teams). The API then checks that person's role and team scope and audits them, exactly as
// for their own machine token. Honoured only from the master key (or an open gatelog): anyone
// who could forge it holds the master key already.
import { z } from 'zod';
import { isRole, type Principal } from './roles.ts';

export const ACTING_FOR_HEADER = 'x-gatelog-acting-for';

const ActingFor = z.object({ name: z.string().min(1).max(256), role: z.string(), teams: z.array(z.string().max(128)).max(100) }).strict();

/** The header's value for a person (a principal signed in to the UI). */
export function actingForValue(p: Pick<Principal, 'name' | 'role' | 'teams'>): string {
  return Buffer.from(JSON.stringify({ name: p.name, role: p.role, teams: p.teams })).toString('base64url');
}

/** The person a header value names, or null when it is not one. */
export function parseActingFor(value: string): Principal | null {
  let json: unknown;
  try {
    json = JSON.parse(Buffer.from(value, 'base64url').toString('utf8'));
  } catch {
    return null;
  }
  const r = ActingFor.safeParse(json);
  if (!r.success || !isRole(r.data.role)) return null;
  return { kind: 'user', id: r.data.name, name: r.data.name, role: r.data.role, teams: r.data.teams };
}
