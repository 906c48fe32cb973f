// Who may do what: the one permission table every surface (UI pages, admin API, exports)
// asks through `can(role, action)`. A principal is whoever is acting — a person signed in to
// the UI, a machine token, the master key (break-glass) or nobody in an open gatelog — with a
// role and an optional team scope (empty = every team).

export const ROLES = ['owner', 'admin', 'analyst', 'auditor', 'viewer'] as const;
export type Role = (typeof ROLES)[number];

export const ACTIONS = [
  /** Call metadata: lists, search results, dashboards, spend, latency. */
  'calls.read',
  /** Prompt and response bodies (request page, trace page, raw JSON, API). */
  'bodies.read',
  /** Send a recorded call again, as a new call (POST /admin/replay); needs bodies.read too. */
  'calls.replay',
  /** Mark a call's response good or bad, with a comment (PUT /admin/calls/:id/feedback). */
  'calls.feedback',
  'export',
  'keys.read',
  'keys.write',
  'people.read',
  'people.write',
  /**
   * The identity provider's provisioning (SCIM, /scim/v2): create, change, disable and delete any
   * person. Apart from people.write so an IdP's token can be granted exactly this, and so a role
   * that may change people by hand need not be one an IdP integration may act as.
   */
  'people.provision',
  'tokens.write',
  'audit.read',
  'settings.write',
] as const;
export type Action = (typeof ACTIONS)[number];

const TABLE: Record<Role, readonly Action[]> = {
  owner: ACTIONS,
  admin: ['calls.read', 'bodies.read', 'calls.replay', 'calls.feedback', 'export', 'keys.read', 'keys.write', 'people.read', 'people.write', 'people.provision', 'tokens.write', 'settings.write'],
  analyst: ['calls.read', 'bodies.read', 'calls.replay', 'calls.feedback', 'export', 'keys.read'],
  auditor: ['calls.read', 'bodies.read', 'export', 'keys.read', 'people.read', 'audit.read'],
  viewer: ['calls.read', 'keys.read'],
};

export function can(role: Role, action: Action): boolean {
  return TABLE[role].includes(action);
}

/**
 * Whether a principal may read prompt and response text — whole bodies and the short previews
 * in lists alike (a preview is the prompt's first words). One rule for the UI and the admin API.
 */
export const mayReadBodies = (p: Pick<Principal, 'role'> | undefined): boolean => p !== undefined && can(p.role, 'bodies.read');

export function isRole(s: unknown): s is Role {
  return typeof s === 'string' && (ROLES as readonly string[]).includes(s);
}

export interface Principal {
  kind: 'open' | 'master' | 'user' | 'token';
  /** Person or token id; `master` / `open-ui` for those. */
  id: string;
  /** What the audit log names: an email, a token name, `master`, `open-ui`. */
  name: string;
  role: Role;
  /** Team scope; empty = every team. */
  teams: string[];
}

export const MASTER_PRINCIPAL: Principal = { kind: 'master', id: 'master', name: 'master', role: 'owner', teams: [] };
export const OPEN_PRINCIPAL: Principal = { kind: 'open', id: 'open-ui', name: 'open-ui', role: 'owner', teams: [] };

/** Whether a scoped principal may see a team's data (`''` = no team: only unscoped principals). */
export function inScope(p: Pick<Principal, 'teams'>, team: string): boolean {
  return p.teams.length === 0 || p.teams.includes(team);
}

/**
 * Whether something that reaches `teams` (an account, a hold, an alert rule; none = every team)
 * lies wholly within `p`'s scope: always for an unscoped principal; for a scoped one, only a
 * non-empty list of its own teams — the rule every team-scoped write and list applies.
 */
export function coversTeams(p: Pick<Principal, 'teams'>, teams: readonly string[]): boolean {
  return p.teams.length === 0 || (teams.length > 0 && teams.every((t) => p.teams.includes(t)));
}
