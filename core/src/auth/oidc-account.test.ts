import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { loadConfig } from '../config-load.ts';
import { OidcConfig } from './oidc-config.ts';
import { accessOf, decideAccount, identityOf, subjectOf, type OidcIdentity } from './oidc-account.ts';
import type { UserRecord } from '../store/users.ts';

const ISS = 'https://idp.example.com';
const base = { issuer: ISS, client_id: 'gatelog', client_secret: 's3cret' };
const cfg = (extra: Record<string, unknown> = {}) => OidcConfig.parse({ ...base, roles: { admins: 'admin', analysts: 'analyst', owners: 'owner' }, ...extra });

describe('sso.oidc config', () => {
  const errorOf = (yaml: string, env: Record<string, string> = {}): string => {
    const dir = mkdtempSync(join(tmpdir(), 'gatelog-oidc-'));
    writeFileSync(join(dir, 'g.yaml'), yaml);
    try {
      loadConfig({ path: join(dir, 'g.yaml'), env });
      return '';
    } catch (err) {
      return (err as Error).message;
    }
  };

  it.each([
    ['issuer: http://idp.example.com', 'sso.oidc.issuer: expected an https:// URL'],
    ['scopes: [email]', 'sso.oidc.scopes: must include openid'],
    ['roles: { admins: superuser }', 'sso.oidc.roles.admins'],
    ['unscoped_groups: [admins]', 'sso.oidc.unscoped_groups: only meaningful with `teams`'],
    ['allowed_email_domains: ["not a domain"]', 'sso.oidc.allowed_email_domains[0]'],
    ['redirect_url: https://gatelog.example.com/elsewhere', 'sso.oidc.redirect_url: must end in /login/sso/callback'],
    ['surprise: 1', 'unknown field(s) "surprise"'],
    ['logout: { end_provider_session: sometimes }', 'sso.oidc.logout.end_provider_session'],
    ['logout: { id_token_hint: true }', 'unknown field(s) "id_token_hint"'],
  ])('%s is refused, naming the field', (line, message) => {
    const issuer = line.startsWith('issuer:') ? '' : `issuer: ${ISS}\n    `;
    const yaml = `sso:\n  oidc:\n    ${issuer}client_id: gatelog\n    client_secret: \${SECRET}\n    ${line}\n`;
    expect(errorOf(yaml, { SECRET: 'x' })).toContain(message);
  });

  it('the client secret comes from the environment and has no default; http is allowed for this machine only', () => {
    expect(errorOf(`sso: { oidc: { issuer: ${ISS}, client_id: c, client_secret: \${SECRET} } }`)).toContain('sso.oidc.client_secret: environment variable SECRET is not set');
    const c = OidcConfig.parse({ ...base, issuer: 'http://127.0.0.1:8080/realms/x' });
    expect(c).toMatchObject({ scopes: ['openid', 'email', 'profile'], groups_claim: 'groups', password_sign_in: true, display_name: 'SSO', logout: { end_provider_session: false } });
    expect(c.teams).toBeUndefined();
    expect(c.default_role).toBeUndefined();
  });

  it('sso.scim.provisioned_only needs sso.scim.enabled', () => {
    const sso = (scim: string): string => `sso:\n  oidc: { issuer: ${ISS}, client_id: c, client_secret: x }\n  scim: ${scim}\n`;
    expect(errorOf(sso('{ provisioned_only: true }'))).toContain('sso.scim.provisioned_only: needs enabled: true');
    expect(errorOf(sso('{ enabled: true, provisioned_only: true }'))).toBe('');
    expect(errorOf(sso('{ enabled: true }'))).toBe('');
  });
});

describe('groups → role and teams', () => {
  it.each([
    ['highest mapped role wins', {}, ['analysts', 'admins', 'other'], { role: 'admin', teams: [] }],
    ['unmapped groups grant nothing', {}, ['other'], { refused: 'no_role' }],
    ['no groups, no default role', {}, [], { refused: 'no_role' }],
    ['default_role for unmapped people', { default_role: 'viewer' }, ['other'], { role: 'viewer', teams: [] }],
    ['teams: the mapped ones', { teams: { red: 'red', blue: 'blue' } }, ['analysts', 'blue', 'red', 'red'], { role: 'analyst', teams: ['blue', 'red'] }],
    ['teams configured, none mapped: refused, never unscoped', { teams: { red: 'red' } }, ['analysts'], { refused: 'no_team' }],
    ['an unscoped group sees every team', { teams: { red: 'red' }, unscoped_groups: ['admins'] }, ['admins', 'red'], { role: 'admin', teams: [] }],
    ['prototype names are not groups', { teams: { red: 'red' } }, ['analysts', 'constructor', '__proto__'], { refused: 'no_team' }],
  ])('%s', (_name, extra, groups, want) => {
    expect(accessOf(cfg(extra), groups)).toEqual(want);
  });
});

describe('claims → identity', () => {
  const claims = { iss: ISS, sub: 'u1', email: 'Ana@Example.com', email_verified: true, groups: ['admins'] };
  it('takes a verified email, the subject and the groups (a dotted claim path reaches nested groups)', () => {
    expect(identityOf(cfg(), claims)).toEqual({ email: 'ana@example.com', subject: subjectOf(ISS, 'u1'), name: '', groups: ['admins'] });
    expect(identityOf(cfg({ groups_claim: 'realm_access.roles' }), { ...claims, groups: undefined, realm_access: { roles: ['x'] } })).toMatchObject({ groups: ['x'] });
    expect(identityOf(cfg(), { ...claims, email_verified: undefined })).toMatchObject({ email: 'ana@example.com' });
  });
  it.each([
    ['no email', { email: undefined }, 'no_email'],
    ['unverified email', { email_verified: false }, 'email_unverified'],
    ['unverified email as a string', { email_verified: 'false' }, 'email_unverified'],
    ['domain not allowed', { email: 'ana@elsewhere.org' }, 'domain_refused'],
  ])('%s is refused', (_n, over, reason) => {
    expect(identityOf(cfg({ allowed_email_domains: ['example.com'] }), { ...claims, ...over })).toEqual({ refused: reason });
  });
});

describe('who the sign-in is for', () => {
  const NOW = Date.UTC(2026, 11, 4);
  const id: OidcIdentity = { email: 'ana@example.com', subject: subjectOf(ISS, 'u1'), name: 'Ana', groups: ['analysts'] };
  const person = (over: Partial<UserRecord>): UserRecord => ({
    id: 'usr_1', version: 3, email: 'ana@example.com', name: 'Ana', role: 'owner', teams: ['red'], auth_source: 'local', oidc_subject: '', scim_external_id: '', scim_state: '',
    password_hash: 'scrypt$…', invite_hash: 'abc', invite_expires_at: '2026-12-10T00:00:00.000Z', disabled: false,
    created_at: '2026-12-01T00:00:00.000Z', updated_at: '2026-12-01T00:00:00.000Z', updated_by: 'master', ...over,
  });

  it('creates a new person bound to the subject', () => {
    const d = decideAccount(cfg(), ISS, id, undefined, NOW);
    expect(d).toMatchObject({ change: 'created', user: { auth_source: 'oidc', oidc_subject: id.subject, role: 'analyst', teams: [], password_hash: '' } });
  });
  it('links a local account with the same email: its password and pending link stop working, the provider\'s role replaces its own', () => {
    const d = decideAccount(cfg(), ISS, id, person({}), NOW);
    expect(d).toMatchObject({ change: 'linked', user: { id: 'usr_1', version: 4, auth_source: 'oidc', role: 'analyst', teams: [], password_hash: '', invite_hash: '', invite_expires_at: null } });
  });
  it('re-syncs role and teams, and writes nothing when they are unchanged', () => {
    const bound = person({ auth_source: 'oidc', oidc_subject: id.subject, password_hash: '', invite_hash: '', invite_expires_at: null });
    expect(decideAccount(cfg(), ISS, id, bound, NOW)).toMatchObject({ change: 'updated', user: { role: 'analyst', teams: [] } });
    expect(decideAccount(cfg(), ISS, id, { ...bound, role: 'analyst', teams: [] }, NOW)).toMatchObject({ change: 'unchanged' });
  });
  it('refuses a disabled person, and another subject of the same issuer; re-binds after a change of issuer', () => {
    expect(decideAccount(cfg(), ISS, id, person({ disabled: true }), NOW)).toMatchObject({ refused: 'disabled' });
    const other = person({ auth_source: 'oidc', oidc_subject: subjectOf(ISS, 'someone-else') });
    expect(decideAccount(cfg(), ISS, id, other, NOW)).toMatchObject({ refused: 'identity_mismatch' });
    const old = person({ auth_source: 'oidc', oidc_subject: subjectOf('https://old-idp.example.com', 'u9') });
    expect(decideAccount(cfg(), ISS, id, old, NOW)).toMatchObject({ change: 'updated', user: { oidc_subject: id.subject } });
  });
  it('binds a provisioned (SCIM) account on its first sign-in, and never re-binds it to another subject, of any issuer', () => {
    const provisioned = person({ auth_source: 'oidc', oidc_subject: '', scim_state: 'managed', password_hash: '', invite_hash: '', invite_expires_at: null });
    expect(decideAccount(cfg(), ISS, id, provisioned, NOW)).toMatchObject({ change: 'updated', user: { id: 'usr_1', oidc_subject: id.subject } });
    const otherIssuer = { ...provisioned, oidc_subject: subjectOf('https://old-idp.example.com', 'u9') };
    expect(decideAccount(cfg(), ISS, id, otherIssuer, NOW)).toMatchObject({ refused: 'identity_mismatch' });
  });
  it('provisioned only: nobody is created or linked; a provisioned person signs in as without it', () => {
    expect(decideAccount(cfg(), ISS, id, undefined, NOW, true)).toEqual({ refused: 'not_provisioned' });
    const local = person({});
    expect(decideAccount(cfg(), ISS, id, local, NOW, true)).toEqual({ refused: 'not_provisioned', user: local });
    const earlierSignIn = person({ auth_source: 'oidc', oidc_subject: id.subject, password_hash: '', invite_hash: '', invite_expires_at: null });
    expect(decideAccount(cfg(), ISS, id, earlierSignIn, NOW, true)).toMatchObject({ refused: 'not_provisioned' });
    expect(decideAccount(cfg(), ISS, id, person({ scim_state: 'deleted', disabled: true }), NOW, true)).toMatchObject({ refused: 'disabled' });
    const provisioned = person({ auth_source: 'oidc', oidc_subject: '', scim_state: 'managed', password_hash: '', invite_hash: '', invite_expires_at: null });
    expect(decideAccount(cfg(), ISS, id, provisioned, NOW, true)).toEqual(decideAccount(cfg(), ISS, id, provisioned, NOW));
    expect(decideAccount(cfg(), ISS, id, provisioned, NOW, true)).toMatchObject({ change: 'updated', user: { oidc_subject: id.subject } });
    // An admin's local account the provider's sync adopted (scim_state managed) is linked as usual.
    expect(decideAccount(cfg(), ISS, id, person({ scim_state: 'managed' }), NOW, true)).toMatchObject({ change: 'linked' });
  });
});
