import { describe, expect, it } from 'vitest';
import { createKey, type VirtualKey } from './keys.ts';
import { allowedAliases, checkTeamModel, keyModelsRefusal, teamPolicies, teamRate } from './team-policy.ts';

const key = (team: string, models: string[] = []): VirtualKey => {
  const r = createKey({ name: `k-${team}`, team, models }, { now: Date.UTC(2026, 11, 5), actor: 'master' });
  if (!r.ok) throw new Error(r.message);
  return r.value.key;
};

const teams = teamPolicies({
  search: { period: 'monthly', models: ['fast', 'smart'], rpm: 100 },
  ads: { budget_usd: 50, period: 'monthly' },
  labs: { period: 'monthly', tpm: 50_000, max_parallel: 4 },
});

describe('team policies', () => {
  it('keeps only teams with a model list or limits (a budget alone is the ledger\'s)', () => {
    expect([...teams.keys()].sort()).toEqual(['labs', 'search']);
    expect(teamRate(teams, key('labs'))).toEqual({ rpm: null, tpm: 50_000, maxParallel: 4 });
    expect(teamRate(teams, key('ads'))).toBeNull();
    expect(teamRate(teams, key(''))).toBeNull();
  });

  it('a team model list refuses other aliases, naming the team, whatever the key allows', () => {
    expect(checkTeamModel(teams, key('search'), 'fast').ok).toBe(true);
    const r = checkTeamModel(teams, key('search', ['fast', 'huge']), 'huge');
    expect(r).toMatchObject({ ok: false, refusal: { status: 403, code: 'model_not_allowed' } });
    if (!r.ok) expect(r.refusal.message).toBe('Team "search" is not allowed to use model "huge". Allowed: fast, smart.');
    expect(checkTeamModel(teams, key('ads'), 'huge').ok).toBe(true);
    expect(checkTeamModel(teams, key(''), 'huge').ok).toBe(true);
  });

  it('what a key lists: its own aliases within its team\'s', () => {
    expect(allowedAliases(teams, key('search'))).toEqual(new Set(['fast', 'smart']));
    expect(allowedAliases(teams, key('search', ['smart', 'huge']))).toEqual(new Set(['smart']));
    expect(allowedAliases(teams, key('ads', ['huge']))).toEqual(new Set(['huge']));
    expect(allowedAliases(teams, key('ads'))).toBeUndefined();
  });

  it("a key's own list must lie within its team's: the models outside it are named", () => {
    expect(keyModelsRefusal(teams, key('search', ['fast', 'smart']))).toBeUndefined();
    expect(keyModelsRefusal(teams, key('search'))).toBeUndefined();
    expect(keyModelsRefusal(teams, key('search', ['fast', 'huge', 'giant']))).toBe(
      'The key\'s models "huge", "giant" are outside team "search"\'s list (fast, smart); a key may only name models its team may use.',
    );
    // Exactly the per-call matcher: every model it names passes checkTeamModel.
    for (const m of ['fast', 'smart']) expect(checkTeamModel(teams, key('search', ['fast']), m).ok).toBe(true);
    expect(keyModelsRefusal(teams, key('ads', ['huge']))).toBeUndefined();
    expect(keyModelsRefusal(teams, key('labs', ['huge']))).toBeUndefined();
    expect(keyModelsRefusal(teams, key('', ['huge']))).toBeUndefined();
  });
});
