import { describe, expect, it } from 'vitest';
import { keyWriteRefusal } from './key-scope.ts';

const everyTeam = { teams: [] };
const red = { teams: ['red'] };
const redBlue = { teams: ['red', 'blue'] };

describe('keyWriteRefusal', () => {
  it.each([
    // [who, from (null = create), to, expected code or null]
    ['unscoped creates a team-less key', everyTeam, null, '', null],
    ['unscoped moves a key between any teams', everyTeam, 'red', 'blue', null],
    ['scoped creates in its team', red, null, 'red', null],
    ['scoped creates in another team', red, null, 'blue', 'team_out_of_scope'],
    ['scoped creates a team-less key', red, null, '', 'team_out_of_scope'],
    ['scoped edits its key in place', red, 'red', 'red', null],
    ['scoped moves its key out of its teams', red, 'red', 'blue', 'team_out_of_scope'],
    ['scoped moves its key to no team', red, 'red', '', 'team_out_of_scope'],
    ['scoped moves a key between its own teams', redBlue, 'red', 'blue', null],
    ['scoped touches another team\'s key', red, 'blue', 'red', 'key_not_found'],
    ['scoped touches a team-less key', red, '', '', 'key_not_found'],
  ] as const)('%s', (_name, who, from, to, code) => {
    const r = keyWriteRefusal(who, from, to);
    expect(r?.code ?? null).toBe(code);
    if (r) expect(r.status).toBe(code === 'key_not_found' ? 404 : 403);
  });
});
