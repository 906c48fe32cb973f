// Who may change whom, team scope: a team-scoped admin sees, creates, changes, re-links and
// revokes only people and tokens within its own teams, and never gives out "all teams". The
// store here refuses every use, so a refusal is proven to come before any read or write, and an
// allowed change shows itself by reaching the store.
import { describe, expect, it } from 'vitest';
import { PeopleError, createPerson, createToken, managedBy, manages, revokeToken, updatePerson, type Acting } from './people.ts';
import type { Principal } from './roles.ts';
import type { Store } from './store/client.ts';
import type { TokenRecord, UserRecord } from './store/users.ts';

class StoreTouched extends Error {}
const untouchable = new Proxy({}, { get: () => { throw new StoreTouched(); } }) as Store;

const principal = (teams: string[], role: Principal['role'] = 'admin'): Principal => ({ kind: 'token', id: 'tok_x', name: 'token:x', role, teams });
const acting = (by: Principal): Acting => ({ by, sourceIp: '127.0.0.1', userAgent: 'test', now: Date.UTC(2026, 11, 4) });
const RED_ADMIN = acting(principal(['red']));
const UNSCOPED_ADMIN = acting(principal([]));

const AT = '2026-12-01T00:00:00.000Z';
const user = (teams: string[], role: Principal['role'] = 'viewer'): UserRecord => ({
  id: 'usr_target', version: 1, email: 'target@example.com', name: '', role, teams, auth_source: 'local', oidc_subject: '', scim_external_id: '', scim_state: '', password_hash: 'h', invite_hash: '',
  invite_expires_at: null, disabled: false, created_at: AT, updated_at: AT, updated_by: 'master',
});
const token = (teams: string[], revoked = false): TokenRecord => ({
  id: 'tok_target', version: 1, token_hash: 'a'.repeat(64), token_prefix: 'glt-abcdef', name: 'bot', role: 'viewer', teams, expires_at: null, revoked,
  created_at: AT, updated_at: AT, updated_by: 'master',
});

async function outcome(change: Promise<unknown>): Promise<string> {
  try {
    await change;
    return 'done';
  } catch (err) {
    if (err instanceof StoreTouched) return 'reached the store';
    if (err instanceof PeopleError) return `${err.status} ${err.code}`;
    throw err;
  }
}

describe('manages', () => {
  it.each([
    [[], [], true],
    [[], ['blue'], true],
    [['red'], ['red'], true],
    [['red'], [], false],
    [['red'], ['blue'], false],
    [['red'], ['red', 'blue'], false],
    [['red', 'blue'], ['blue', 'red'], true],
    [['red', 'blue'], ['red', 'green'], false],
  ])('a caller scoped to %j manages an account of %j: %s', (scope, teams, expected) => {
    expect(manages({ teams: scope }, teams)).toBe(expected);
  });

  it('a team-scoped caller lists only the accounts within its teams', () => {
    const rows = [{ id: 'all', teams: [] }, { id: 'red', teams: ['red'] }, { id: 'both', teams: ['red', 'blue'] }, { id: 'blue', teams: ['blue'] }];
    expect(managedBy({ teams: ['red'] }, rows).map((r) => r.id)).toEqual(['red']);
    expect(managedBy({ teams: [] }, rows)).toHaveLength(4);
  });
});

describe('a team-scoped admin changes people and tokens of its own teams only', () => {
  it.each([
    ['a person of no team (every team)', { email: 'a@example.com', role: 'admin' }, '403 team_out_of_scope'],
    ['a person of another team', { email: 'a@example.com', role: 'viewer', teams: ['blue'] }, '403 team_out_of_scope'],
    ['a person of its own and another team', { email: 'a@example.com', role: 'viewer', teams: ['red', 'blue'] }, '403 team_out_of_scope'],
    ['a person of its own team', { email: 'a@example.com', role: 'viewer', teams: ['red'] }, 'reached the store'],
  ])('creating %s', async (_what, input, expected) => {
    expect(await outcome(createPerson(untouchable, RED_ADMIN, input))).toBe(expected);
  });

  it.each([
    ['lifting its own scope', ['red'], { teams: [] }, '403 team_out_of_scope'],
    ['moving a person into another team', ['red'], { teams: ['blue'] }, '403 team_out_of_scope'],
    ['a new sign-in link for a person of another team', ['blue'], { new_link: true }, '403 team_out_of_scope'],
    ['a new sign-in link for a person of every team', [], { new_link: true }, '403 team_out_of_scope'],
    ['disabling a person of its own and another team', ['red', 'blue'], { disabled: true }, '403 team_out_of_scope'],
    ['a role change within its team', ['red'], { role: 'analyst' }, 'reached the store'],
    ['a new sign-in link within its team', ['red'], { new_link: true }, 'reached the store'],
  ])('%s', async (_what, teams, patch, expected) => {
    expect(await outcome(updatePerson(untouchable, RED_ADMIN, user(teams), patch))).toBe(expected);
  });

  it.each([
    ['of no team', { name: 'bot', role: 'admin' }, '403 team_out_of_scope'],
    ['of another team', { name: 'bot', role: 'viewer', teams: ['blue'] }, '403 team_out_of_scope'],
    ['of its own team', { name: 'bot', role: 'viewer', teams: ['red'] }, 'reached the store'],
  ])('creating a token %s', async (_what, input, expected) => {
    expect(await outcome(createToken(untouchable, RED_ADMIN, input))).toBe(expected);
  });

  it('revokes tokens of its own team only, and learns nothing of another team\'s (even a revoked one)', async () => {
    expect(await outcome(revokeToken(untouchable, RED_ADMIN, token(['blue'])))).toBe('403 team_out_of_scope');
    expect(await outcome(revokeToken(untouchable, RED_ADMIN, token(['blue'], true)))).toBe('403 team_out_of_scope');
    expect(await outcome(revokeToken(untouchable, RED_ADMIN, token([])))).toBe('403 team_out_of_scope');
    expect(await outcome(revokeToken(untouchable, RED_ADMIN, token(['red'])))).toBe('reached the store');
  });

  it('a single sign-on person gets no sign-in link and no role or team change here; only they can be unbound', async () => {
    const sso = { ...user(['red']), auth_source: 'oidc', oidc_subject: 'https://idp.example.com u1', password_hash: '' };
    for (const patch of [{ new_link: true }, { role: 'viewer' }, { teams: ['red'] }]) {
      expect(await outcome(updatePerson(untouchable, UNSCOPED_ADMIN, sso, patch)), JSON.stringify(patch)).toBe('409 sso_managed');
    }
    expect(await outcome(updatePerson(untouchable, UNSCOPED_ADMIN, sso, { disabled: true }))).toBe('reached the store');
    expect(await outcome(updatePerson(untouchable, UNSCOPED_ADMIN, sso, { unbind_sso: true }))).toBe('reached the store');
    expect(await outcome(updatePerson(untouchable, UNSCOPED_ADMIN, user(['red']), { unbind_sso: true }))).toBe('409 not_sso');
  });

  it('an unscoped admin is not limited by teams (only the owner role stays an owner\'s)', async () => {
    expect(await outcome(createPerson(untouchable, UNSCOPED_ADMIN, { email: 'a@example.com', role: 'admin' }))).toBe('reached the store');
    expect(await outcome(updatePerson(untouchable, UNSCOPED_ADMIN, user(['blue']), { teams: [], new_link: true }))).toBe('reached the store');
    expect(await outcome(createToken(untouchable, UNSCOPED_ADMIN, { name: 'bot', role: 'admin', teams: ['green'] }))).toBe('reached the store');
    expect(await outcome(updatePerson(untouchable, UNSCOPED_ADMIN, user([], 'owner'), { new_link: true }))).toBe('403 role_forbidden');
  });
});
