// `teams:` in gatelog.yaml beyond budgets: the model aliases a team's keys may call, and rate
// limits shared by all of a team's keys together (on every proxy, through Redis when
// `state.redis` is set, like a key's own). A key's own allow-list and limits apply as well: a
// call must pass both, so a team admin cannot hand out a key that reaches past the team's.
import type { GatelogConfig } from '@gatelog/core';
import type { VirtualKey } from './keys.ts';
import type { RateLimits, RateSubject } from './rate-limit.ts';
import { quoteUserText, type Admission } from './refusal.ts';

export interface TeamPolicy {
  /** Allowed aliases; null: any. */
  models: ReadonlySet<string> | null;
  /** Shared limits; null: none. */
  rate: RateLimits | null;
}

export type TeamPolicies = ReadonlyMap<string, TeamPolicy>;

export function teamPolicies(teams: GatelogConfig['teams']): TeamPolicies {
  const out = new Map<string, TeamPolicy>();
  for (const [name, t] of Object.entries(teams)) {
    const limited = t.rpm !== undefined || t.tpm !== undefined || t.max_parallel !== undefined;
    const models = t.models ? new Set(t.models) : null;
    if (!models && !limited) continue;
    out.set(name, { models, rate: limited ? { rpm: t.rpm ?? null, tpm: t.tpm ?? null, maxParallel: t.max_parallel ?? null } : null });
  }
  return out;
}

/** The team's counters' id. Key ids have no colon, so a team never shares a key's counters. */
export const teamLimiterId = (team: string): string => `team:${team}`;

export const TEAM_SUBJECT: RateSubject = { who: "this key's team", code: 'team_rate_limit_exceeded' };

/** The team's shared limits for a call with `key`, or null. */
export function teamRate(teams: TeamPolicies, key: VirtualKey): RateLimits | null {
  return key.team ? (teams.get(key.team)?.rate ?? null) : null;
}

/** The team's model list; null: the team may call any (no `models`, no policy, no team). */
const teamModels = (teams: TeamPolicies, team: string): ReadonlySet<string> | null => (team ? (teams.get(team)?.models ?? null) : null);

/** May `team` call `alias`? The one matcher of a team's list: per call, and for a key's own list. */
const teamAllows = (models: ReadonlySet<string> | null, alias: string): boolean => !models || models.has(alias);

/** May the key's team call `alias`? Teams without a `models` list may call any. */
export function checkTeamModel(teams: TeamPolicies, key: VirtualKey, alias: string): Admission<VirtualKey> {
  const models = teamModels(teams, key.team);
  if (teamAllows(models, alias)) return { ok: true, value: key };
  return {
    ok: false,
    refusal: { status: 403, type: 'permission_error', code: 'model_not_allowed', message: `Team "${key.team}" is not allowed to use model ${quoteUserText(alias)}. Allowed: ${[...(models ?? [])].join(', ')}.` },
  };
}

/** The aliases a key may list (`/v1/models`): its own list within its team's; undefined: all. */
export function allowedAliases(teams: TeamPolicies, key: VirtualKey): ReadonlySet<string> | undefined {
  const team = teamModels(teams, key.team);
  if (key.models.length === 0) return team ?? undefined;
  return new Set(key.models.filter((m) => teamAllows(team, m)));
}

/**
 * Why a key's own model list reaches past its team's, or undefined: the models no call of the key
 * could use (its team's list refuses them), named, for the admin API's 400 at create and update.
 */
export function keyModelsRefusal(teams: TeamPolicies, key: Pick<VirtualKey, 'team' | 'models'>): string | undefined {
  const models = teamModels(teams, key.team);
  const outside = key.models.filter((m) => !teamAllows(models, m));
  if (outside.length === 0) return undefined;
  return `The key's models ${outside.map((m) => quoteUserText(m)).join(', ')} are outside team "${key.team}"'s list (${[...(models ?? [])].join(', ')}); a key may only name models its team may use.`;
}
