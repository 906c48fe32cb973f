// The Audit page's filter (person, action, time range) from its URL, shared by the page and
// its export. Values reach SQL only as typed parameters (core audit-queries.ts).
import { error, type RequestEvent } from '@sveltejs/kit';
import { can, isRole, type Principal } from '@gatelog/core/roles';
import { parseInstant } from '@gatelog/core/store/explorer-params';
import type { AuditFilter } from '@gatelog/core/store/audit-queries';

export interface AuditState {
  actor: string;
  action: string;
  from: string;
  to: string;
}

const clean = (v: string | null): string => (v ?? '').trim().slice(0, 320);

export function parseAuditState(params: URLSearchParams): AuditState {
  return { actor: clean(params.get('actor')), action: clean(params.get('action')), from: parseInstant(clean(params.get('from'))), to: parseInstant(clean(params.get('to'))) };
}

/**
 * The store filter for the state, as the person reading may see it: a team-scoped person reads
 * the rows about their teams only (core audit-queries.ts, the rule GET /admin/audit applies).
 */
export function toAuditFilter(s: AuditState, reader: Pick<Principal, 'teams'> | undefined): AuditFilter {
  return { actor: s.actor || undefined, action: s.action || undefined, from: s.from || undefined, to: s.to || undefined, ...(reader?.teams.length ? { teams: reader.teams } : {}) };
}

export function auditQueryString(s: AuditState, extra: Record<string, string> = {}): string {
  const q = new URLSearchParams();
  for (const [k, v] of Object.entries({ ...s, ...extra })) if (v) q.set(k, v);
  const str = q.toString();
  return str ? `?${str}` : '';
}

/**
 * The audit trail is for owners and auditors. hooks.server.ts checks every route's permission;
 * this repeats it where the trail is read, so the page never depends on a table elsewhere.
 */
export function requireAuditRead(event: Pick<RequestEvent, 'locals'>): void {
  const role = (event.locals as unknown as { principal?: { role?: string } }).principal?.role;
  if (role !== undefined && (!isRole(role) || !can(role, 'audit.read'))) error(403, 'The audit trail is for owners and auditors.');
}
