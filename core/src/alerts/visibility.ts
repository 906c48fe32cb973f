// Which alert rules and events a team-scoped principal sees, and which rules they may change:
// the one rule for the admin API (proxy/src/routes/alerts.ts) and the UI's alert pages.
// A rule belongs to the teams its scope names: `scope.team`, and the team of `scope.key`; a
// rule naming neither (every call, or one model across teams) is global. An event belongs to
// the teams its subject names (`team=…`, `key=…` → that key's team), so a global budget rule's
// event about one key is its team's; a subject naming none (`all`, `provider=…`, `process=…`)
// belongs to its rule. Unscoped principals see and (with settings.write) change everything;
// a scoped one only what lies wholly inside their teams — never a global rule.
import type { Store } from '../store/client.ts';
import { listKeys } from '../store/keys.ts';
import { can, coversTeams, type Principal } from '../roles.ts';
import type { AlertRule } from './rule.ts';

/** Key id → its team ('' = no team). Unknown keys count as team-less (global). */
export type KeyTeams = ReadonlyMap<string, string>;

/** Every key's team, revoked keys included (their alerts stay in the history). */
export async function keyTeams(store: Store): Promise<KeyTeams> {
  return new Map((await listKeys(store)).map((k) => [k.id, k.team]));
}

/** The teams a rule's scope names; [''] for a global rule. */
export function ruleTeams(rule: Pick<AlertRule, 'scope'>, keys: KeyTeams): string[] {
  const teams: string[] = [];
  if (rule.scope.team !== undefined) teams.push(rule.scope.team);
  if (rule.scope.key !== undefined) teams.push(keys.get(rule.scope.key) ?? '');
  return teams.length ? teams : [''];
}

/** The teams an event's subject names (`key=…,team=…` as signals.ts writes them); [] for none. */
export function subjectTeams(subject: string, keys: KeyTeams): string[] {
  const teams: string[] = [];
  for (const part of subject.split(',')) {
    const eq = part.indexOf('=');
    const [k, v] = eq < 0 ? [part, ''] : [part.slice(0, eq), part.slice(eq + 1)];
    if (k === 'team') teams.push(v);
    if (k === 'key') teams.push(keys.get(v) ?? '');
  }
  return teams;
}

type Scoped = Pick<Principal, 'teams'>;

export function ruleVisible(p: Scoped, rule: Pick<AlertRule, 'scope'>, keys: KeyTeams): boolean {
  return coversTeams(p, ruleTeams(rule, keys));
}

/** Whether `p` may create, change or delete `rule` (check the rule before and after a change). */
export function mayEditRule(p: Pick<Principal, 'teams' | 'role'>, rule: Pick<AlertRule, 'scope'>, keys: KeyTeams): boolean {
  return can(p.role, 'settings.write') && ruleVisible(p, rule, keys);
}

/** Whether `p` sees an event; `rule` is its rule when still known (a deleted UI rule's is not). */
export function eventVisible(p: Scoped, ev: { subject: string }, rule: Pick<AlertRule, 'scope'> | undefined, keys: KeyTeams): boolean {
  if (p.teams.length === 0) return true;
  const named = subjectTeams(ev.subject, keys);
  if (named.length) return coversTeams(p, named);
  return rule !== undefined && ruleVisible(p, rule, keys);
}
