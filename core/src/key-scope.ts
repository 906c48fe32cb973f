// Which teams a principal may put a virtual key in: the one rule every key write applies,
// whether it arrives at the admin API (POST/PATCH/DELETE /admin/keys) or from the UI's Keys
// page (which calls that API with the master key, so it must apply the person's scope first).
import { inScope, type Principal } from './roles.ts';

export interface KeyScopeRefusal {
  status: 403 | 404;
  code: 'team_out_of_scope' | 'key_not_found';
  message: string;
  param: 'team' | 'id';
}

/**
 * null when `p` may write a key that is now in team `from` (null: a new key) and ends in team
 * `to`; otherwise why not. A key outside a team-scoped principal's teams does not exist for it
 * (404, as when reading it); a new or changed key must stay within its teams (403), and never
 * in no team ('' is for unscoped principals only): a key without a team spends nobody's budget
 * and shows in no team's data, so it would escape the scope.
 */
export function keyWriteRefusal(p: Pick<Principal, 'teams'>, from: string | null, to: string): KeyScopeRefusal | null {
  if (from !== null && !inScope(p, from)) return { status: 404, code: 'key_not_found', message: 'No virtual key with this id.', param: 'id' };
  const allowed = p.teams.length === 0 || (to !== '' && inScope(p, to));
  if (allowed) return null;
  return {
    status: 403,
    code: 'team_out_of_scope',
    message: from === null ? 'A team-scoped caller creates keys of its own teams only.' : 'A team-scoped caller moves keys into its own teams only.',
    param: 'team',
  };
}
