// SCIM 2.0 provisioning, end to end: a real `gatelog start` with sso.scim enabled, a real OpenID
// Connect provider (oidc-provider) and a real browser. The identity provider's side is driven
// exactly as Okta and Entra ID drive it (their request bodies verbatim in shape: Okta's
// path-less `{"active":false}`, Entra's capitalised ops, string booleans and enterprise
// extension): create → look up by filter → the person's single sign-on lands on the provisioned
// account → deactivation ends their live UI session and refuses their sign-in → reactivation
// lets them sign in again (not the old session) → group memberships (Okta's and Entra's PATCH
// forms) change their role and teams and end the sessions they change → DELETE. Bad inputs
// answer SCIM's error shape; a gatelog without sso.scim answers 404. With
// `provisioned_only`, single sign-on admits provisioned people only (an account made before is
// admitted once the provider's sync adopts it); without it, anyone signing in gets an account.
import { randomUUID } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { chromium, type Browser, type Page } from 'playwright-core';
import { startGatelog, type GatelogProcess } from '../support/gatelog-process.ts';
import { startTogether } from '../support/start-together.ts';
import { listenIdp, type Idp } from '../support/oidc-idp.ts';

const CHROMIUM = process.env['CHROMIUM_PATH'] ?? '/usr/bin/chromium';
const MASTER = `mk-${randomUUID()}`;
const tag = randomUUID().slice(0, 8);
const PATCH_OP = 'urn:ietf:params:scim:api:messages:2.0:PatchOp';
const USER = 'urn:ietf:params:scim:schemas:core:2.0:User';
const ENTERPRISE = 'urn:ietf:params:scim:schemas:extension:enterprise:2.0:User';
const GROUP = 'urn:ietf:params:scim:schemas:core:2.0:Group';
/** The UI re-reads a cached session at least this often (ui/src/lib/server/session.server.ts CACHE_MS). */
const SESSION_CACHE_MS = 3000;

let browser: Browser;
let idp: Idp;
let gl: GatelogProcess;
let off: GatelogProcess;
/** The same as `gl`, with sso.scim.provisioned_only. */
let only: GatelogProcess;
const TOKEN_NAME = `okta-${tag}`;
let token = '';
let onlyToken = '';

const admin = (method: string, path: string, body?: unknown, at: GatelogProcess = gl): Promise<Response> =>
  fetch(`${at.url}${path}`, { method, headers: { authorization: `Bearer ${MASTER}`, 'content-type': 'application/json' }, ...(body === undefined ? {} : { body: JSON.stringify(body) }) });

async function newToken(name: string, role: string, teams: string[] = [], at: GatelogProcess = gl): Promise<string> {
  const r = await admin('POST', '/admin/tokens', { name, role, teams }, at);
  expect(r.status).toBe(201);
  return ((await r.json()) as { secret: string }).secret;
}

/** A SCIM request as an identity provider sends it (Okta: application/scim+json). */
function scim(method: string, path: string, body?: unknown, opts: { bearer?: string; raw?: string; base?: string } = {}): Promise<Response> {
  const headers: Record<string, string> = { accept: 'application/scim+json' };
  if (opts.bearer !== '') headers['authorization'] = `Bearer ${opts.bearer ?? token}`;
  if (body !== undefined || opts.raw !== undefined) headers['content-type'] = 'application/scim+json; charset=utf-8';
  return fetch(`${opts.base ?? gl.url}/scim/v2${path}`, { method, headers, ...(opts.raw !== undefined ? { body: opts.raw } : body === undefined ? {} : { body: JSON.stringify(body) }) });
}

interface ScimError { schemas: string[]; status: string; scimType?: string; detail: string }
async function expectScimError(r: Response, status: number, scimType?: string): Promise<ScimError> {
  expect(r.status).toBe(status);
  expect(r.headers.get('content-type')).toMatch(/^application\/scim\+json/);
  const body = (await r.json()) as ScimError;
  expect(body).toMatchObject({ schemas: ['urn:ietf:params:scim:api:messages:2.0:Error'], status: String(status) });
  expect(typeof body.detail).toBe('string');
  if (scimType) expect(body.scimType).toBe(scimType);
  return body;
}

interface ScimUser { id: string; userName: string; active: boolean; externalId?: string; displayName: string; meta: { location: string; resourceType: string } }
interface ListResponse { totalResults: number; startIndex: number; itemsPerPage: number; Resources: ScimUser[] }

async function scimJson<T>(r: Response, status = 200): Promise<T> {
  expect(r.status).toBe(status);
  expect(r.headers.get('content-type')).toMatch(/^application\/scim\+json/);
  return (await r.json()) as T;
}

interface AuditRow { actor: string; action: string; target: string; details: Record<string, unknown> }
async function audit(action: string, actor: string, at: GatelogProcess = gl): Promise<AuditRow[]> {
  const rows = ((await (await admin('GET', `/admin/audit?action=${action}&limit=1000`, undefined, at)).json()) as { data: AuditRow[] }).data;
  return rows.filter((r) => r.actor === actor).map((r) => ({ ...r, details: typeof r.details === 'string' ? JSON.parse(r.details) as Record<string, unknown> : r.details }));
}

interface Person { id: string; email: string; role: string; teams: string[]; auth_source: string; disabled: boolean }
async function personByEmail(email: string, at: GatelogProcess = gl): Promise<Person | undefined> {
  return ((await (await admin('GET', '/admin/users', undefined, at)).json()) as { data: Person[] }).data.find((p) => p.email === email);
}

/** Clicks "Sign in with Example IdP" on /login and signs in at the provider's own form. */
async function ssoSignIn(login: string, at: GatelogProcess = gl): Promise<Page> {
  const page = await (await browser.newContext()).newPage();
  page.setDefaultTimeout(15_000);
  await page.goto(`${at.url}/login`);
  await Promise.all([page.waitForURL((u) => u.origin === idp.issuer), page.click('#sso')]);
  await page.fill('input[name=login]', login);
  await page.fill('input[name=password]', 'any');
  await Promise.all([page.waitForURL((u) => u.origin === at.url), page.click('button[type=submit]')]);
  await page.waitForURL((u) => !u.pathname.startsWith('/login/sso'));
  return page;
}

/** What the UI answers a request carrying only `cookie` (a session id): 200, or 303 to /login. */
async function withSession(cookie: string): Promise<{ status: number; location: string | null }> {
  const r = await fetch(`${gl.url}/requests`, { headers: { cookie: `gatelog_session=${cookie}` }, redirect: 'manual' });
  return { status: r.status, location: r.headers.get('location') };
}

beforeAll(async () => {
  idp = await listenIdp();
  const withScim = (scim: Record<string, boolean>): Promise<GatelogProcess> => startGatelog({
    env: { GATELOG_MASTER_KEY: MASTER, TEST_OIDC_SECRET: idp.clientSecret },
    config: {
      providers: { mock: { kind: 'mock' } },
      models: [{ name: 'mock-chat', deployments: [{ provider: 'mock', model: 'mock-chat' }] }],
      sso: {
        oidc: {
          issuer: idp.issuer, client_id: idp.clientId, client_secret: '${TEST_OIDC_SECRET}', display_name: 'Example IdP',
          scopes: ['openid', 'email', 'profile', 'groups'],
          roles: { 'gatelog-admins': 'admin', 'gatelog-analysts': 'analyst' },
          teams: { 'team-red': 'red', 'team-blue': 'blue' }, unscoped_groups: ['gatelog-admins'],
          allowed_email_domains: ['example.com'], password_sign_in: false,
        },
        scim,
      },
    },
    timeoutMs: 60_000,
  });
  [browser, gl, only, off] = await startTogether(
    [chromium.launch({ executablePath: CHROMIUM, args: ['--headless', '--no-sandbox', '--disable-gpu', '--disable-background-networking'] }), (b) => b.close()],
    [withScim({ enabled: true }), (g) => g.stop()],
    [withScim({ enabled: true, provisioned_only: true }), (g) => g.stop()],
    [startGatelog({ env: { GATELOG_MASTER_KEY: MASTER }, timeoutMs: 60_000 }), (g) => g.stop()],
  );
  idp.start([`${gl.url}/login/sso/callback`, `${only.url}/login/sso/callback`]);
  [token, onlyToken] = await Promise.all([newToken(TOKEN_NAME, 'admin'), newToken(TOKEN_NAME, 'admin', [], only)]);
}, 90_000);

afterAll(async () => {
  await browser?.close();
  await gl?.stop();
  await only?.stop();
  await off?.stop();
  await idp?.close();
});

describe('SCIM discovery', () => {
  it('ServiceProviderConfig, ResourceTypes and Schemas say what is supported', async () => {
    const cfg = await scimJson<Record<string, unknown>>(await scim('GET', '/ServiceProviderConfig'));
    expect(cfg).toMatchObject({
      schemas: ['urn:ietf:params:scim:schemas:core:2.0:ServiceProviderConfig'],
      patch: { supported: true }, bulk: { supported: false }, sort: { supported: false }, etag: { supported: false },
      filter: { supported: true, maxResults: 200 }, changePassword: { supported: false },
    });
    const types = await scimJson<{ Resources: { id: string; endpoint: string; schema: string }[] }>(await scim('GET', '/ResourceTypes'));
    expect(types.Resources).toEqual([
      expect.objectContaining({ id: 'User', endpoint: '/Users', schema: USER }),
      expect.objectContaining({ id: 'Group', endpoint: '/Groups', schema: GROUP }),
    ]);
    const schemas = await scimJson<{ Resources: { id: string; attributes: { name: string }[] }[] }>(await scim('GET', '/Schemas'));
    expect(schemas.Resources[0]?.id).toBe(USER);
    expect(schemas.Resources[0]?.attributes.map((a) => a.name)).toEqual(expect.arrayContaining(['userName', 'active', 'externalId']));
  });
});

describe('provisioning as Okta does it', () => {
  const login = `okta-ana-${tag}`;
  const email = `${login}@example.com`;
  const externalId = `00u${tag}h7`;
  let id = '';
  let cookie = '';

  it('looks the person up, creates them (the password it may send is dropped), and finds them by userName and externalId', async () => {
    const lookup = `/Users?filter=${encodeURIComponent(`userName eq "${email}"`)}&startIndex=1&count=100`;
    expect(await scimJson<ListResponse>(await scim('GET', lookup))).toMatchObject({ totalResults: 0, Resources: [] });
    const created = await scim('POST', '/Users', {
      schemas: [USER], userName: email, name: { givenName: 'Ana', familyName: 'Lima' },
      emails: [{ primary: true, value: email, type: 'work' }], displayName: 'Ana Lima', locale: 'en-US',
      externalId, groups: [], password: 'Okta-sync-1mz050nq', active: true,
    });
    const user = await scimJson<ScimUser>(created, 201);
    id = user.id;
    expect(user).toMatchObject({ userName: email, active: true, externalId, displayName: 'Ana Lima', meta: { resourceType: 'User' } });
    expect(created.headers.get('location')).toBe(user.meta.location);
    expect(user.meta.location).toBe(`${gl.url}/scim/v2/Users/${id}`);
    expect(JSON.stringify(user)).not.toContain('Okta-sync');

    const found = await scimJson<ListResponse>(await scim('GET', lookup));
    expect(found).toMatchObject({ totalResults: 1, startIndex: 1, itemsPerPage: 1 });
    expect(found.Resources[0]?.id).toBe(id);
    const byExt = await scimJson<ListResponse>(await scim('GET', `/Users?filter=${encodeURIComponent(`externalId eq "${externalId}"`)}`));
    expect(byExt.Resources.map((u) => u.id)).toEqual([id]);
    expect(await scimJson<ScimUser>(await scim('GET', `/Users/${id}`))).toMatchObject({ id, userName: email });

    // In gatelog: a single sign-on person without a password or sign-in link; audited as the token.
    expect(await personByEmail(email)).toMatchObject({ id, auth_source: 'oidc', disabled: false });
    const row = (await audit('person.create', `token:${TOKEN_NAME}`)).find((r) => r.target === id);
    expect(row?.details).toMatchObject({ via: 'scim', email, active: true, externalId });
    expect(JSON.stringify(row)).not.toContain('Okta-sync');
  });

  it('pages through the people with startIndex and count', async () => {
    const all = await scimJson<ListResponse>(await scim('GET', '/Users'));
    expect(all.totalResults).toBeGreaterThanOrEqual(1);
    const page = await scimJson<ListResponse>(await scim('GET', `/Users?startIndex=${all.totalResults}&count=1`));
    expect(page).toMatchObject({ totalResults: all.totalResults, startIndex: all.totalResults, itemsPerPage: 1 });
    expect(await scimJson<ListResponse>(await scim('GET', '/Users?count=0'))).toMatchObject({ totalResults: all.totalResults, itemsPerPage: 0, Resources: [] });
  });

  it('a duplicate userName is 409 uniqueness', async () => {
    await expectScimError(await scim('POST', '/Users', { schemas: [USER], userName: email.toUpperCase(), active: true }), 409, 'uniqueness');
  });

  it('the person signs in through the provider and lands on the provisioned account, with the role of their groups', async () => {
    idp.people.set(login, { email, groups: ['gatelog-analysts', 'team-red'], name: 'Ana Lima' });
    const page = await ssoSignIn(login);
    try {
      expect(new URL(page.url()).pathname).toBe('/requests');
      expect(await page.getByTestId('who').textContent()).toContain('analyst');
      expect(await personByEmail(email)).toMatchObject({ id, role: 'analyst', teams: ['red'], auth_source: 'oidc' });
      cookie = (await page.context().cookies()).find((c) => c.name === 'gatelog_session')?.value ?? '';
      expect(cookie).not.toBe('');
    } finally {
      await page.context().close();
    }
    expect(await withSession(cookie)).toMatchObject({ status: 200 });
  }, 45_000);

  it('deactivation (PATCH active false) ends their live session and refuses their sign-in', async () => {
    const r = await scim('PATCH', `/Users/${id}`, { schemas: [PATCH_OP], Operations: [{ op: 'replace', value: { active: false } }] });
    expect(await scimJson<ScimUser>(r)).toMatchObject({ id, active: false });
    await new Promise((res) => setTimeout(res, SESSION_CACHE_MS + 200));
    const after = await withSession(cookie);
    expect(after.status).toBe(303);
    expect(after.location).toMatch(/^\/login/);

    const page = await ssoSignIn(login);
    try {
      expect(new URL(page.url()).pathname).toBe('/login');
      expect(await page.getByTestId('sso-error').textContent()).toContain('disabled');
    } finally {
      await page.context().close();
    }
    const row = (await audit('person.disable', `token:${TOKEN_NAME}`)).find((x) => x.target === id);
    expect(row?.details).toMatchObject({ via: 'scim', changes: { active: { from: true, to: false } }, sessions_ended: 1 });
    expect(await personByEmail(email)).toMatchObject({ disabled: true });
  }, 45_000);

  it('reactivation restores sign-in, not the old session', async () => {
    const r = await scim('PATCH', `/Users/${id}`, { schemas: [PATCH_OP], Operations: [{ op: 'replace', value: { active: true } }] });
    expect(await scimJson<ScimUser>(r)).toMatchObject({ active: true });
    expect((await withSession(cookie)).status).toBe(303);
    const page = await ssoSignIn(login);
    try {
      expect(new URL(page.url()).pathname).toBe('/requests');
    } finally {
      await page.context().close();
    }
    expect((await audit('person.enable', `token:${TOKEN_NAME}`)).some((x) => x.target === id)).toBe(true);
  }, 45_000);

  it('a replace (PUT) renames the person; an unchanged one writes no audit row', async () => {
    const body = { schemas: [USER], id, userName: email, name: { givenName: 'Ana', familyName: 'Lima-Souza' }, emails: [{ primary: true, value: email, type: 'work' }], active: true, groups: [] };
    expect(await scimJson<ScimUser>(await scim('PUT', `/Users/${id}`, body))).toMatchObject({ displayName: 'Ana Lima-Souza', active: true });
    const before = (await audit('person.update', `token:${TOKEN_NAME}`)).length;
    await scimJson<ScimUser>(await scim('PUT', `/Users/${id}`, body));
    expect((await audit('person.update', `token:${TOKEN_NAME}`)).length).toBe(before);
  });

  it('group memberships change role and teams at the next sign-in, and end the sessions they change', async () => {
    const signedIn = async (): Promise<string> => {
      const page = await ssoSignIn(login);
      try {
        expect(new URL(page.url()).pathname).toBe('/requests');
        return (await page.context().cookies()).find((c) => c.name === 'gatelog_session')?.value ?? '';
      } finally {
        await page.context().close();
      }
    };
    // Okta pushes a group, then its members.
    const blue = await scimJson<{ id: string; members: { value: string }[] }>(await scim('POST', '/Groups', { schemas: [GROUP], displayName: 'team-blue', members: [] }), 201);
    await expectScimError(await scim('POST', '/Groups', { schemas: [GROUP], displayName: 'Team-Blue' }), 409, 'uniqueness');
    const added = await scim('PATCH', `/Groups/${blue.id}`, { schemas: [PATCH_OP], Operations: [{ op: 'add', path: 'members', value: [{ value: id, display: email }] }] });
    expect((await scimJson<{ members: { value: string }[] }>(added)).members.map((m) => m.value)).toEqual([id]);
    let session = await signedIn();
    expect(await personByEmail(email)).toMatchObject({ role: 'analyst', teams: ['blue', 'red'] });

    // Entra ID creates a group and adds the person: their live session ends; they sign in as an unscoped admin.
    const admins = await scimJson<{ id: string }>(await scim('POST', '/Groups', { schemas: [GROUP], externalId: randomUUID(), displayName: 'gatelog-admins', members: [] }), 201);
    await scimJson(await scim('PATCH', `/Groups/${admins.id}`, { schemas: [PATCH_OP], Operations: [{ op: 'Add', path: 'members', value: [{ value: id }] }] }));
    await new Promise((res) => setTimeout(res, SESSION_CACHE_MS + 200));
    expect((await withSession(session)).status).toBe(303);
    session = await signedIn();
    expect(await personByEmail(email)).toMatchObject({ role: 'admin', teams: [] });
    const found = await scimJson<ListResponse>(await scim('GET', `/Groups?filter=${encodeURIComponent('displayName eq "gatelog-admins"')}&excludedAttributes=members`));
    expect(found.Resources.map((g) => g.id)).toEqual([admins.id]);

    // Removed (Entra: a value list; Okta: a members filter): the admin session ends at once, and the claim's groups remain.
    await scimJson(await scim('PATCH', `/Groups/${admins.id}`, { schemas: [PATCH_OP], Operations: [{ op: 'Remove', path: 'members', value: [{ value: id }] }] }));
    await scimJson(await scim('PATCH', `/Groups/${blue.id}`, { schemas: [PATCH_OP], Operations: [{ op: 'remove', path: `members[value eq "${id}"]` }] }));
    await new Promise((res) => setTimeout(res, SESSION_CACHE_MS + 200));
    expect((await withSession(session)).status).toBe(303);
    await signedIn();
    expect(await personByEmail(email)).toMatchObject({ role: 'analyst', teams: ['red'] });
    const rows = (await audit('group.update', `token:${TOKEN_NAME}`)).filter((r) => r.target === admins.id);
    expect(rows.map((r) => r.details)).toEqual([
      expect.objectContaining({ via: 'scim', displayName: 'gatelog-admins', members_added: [id], members_removed: [], sessions_ended: 1 }),
      expect.objectContaining({ members_added: [], members_removed: [id], sessions_ended: 1 }),
    ].reverse());

    expect((await scim('DELETE', `/Groups/${admins.id}`)).status).toBe(204);
    await expectScimError(await scim('GET', `/Groups/${admins.id}`), 404);
  }, 90_000);
});

describe('provisioning as Entra ID does it', () => {
  const email = `entra-bo-${tag}@example.com`;
  const externalId = randomUUID();
  let id = '';

  it('test connection: a filter for someone unknown is an empty list', async () => {
    const r = await scim('GET', `/Users?filter=${encodeURIComponent(`userName eq "${randomUUID()}@example.com"`)}`);
    expect(await scimJson<ListResponse>(r)).toMatchObject({ totalResults: 0, Resources: [] });
  });

  it('creates with the enterprise extension, updates with capitalised ops, disables with "False", deletes', async () => {
    id = (await scimJson<ScimUser>(await scim('POST', '/Users', {
      schemas: [USER, ENTERPRISE], externalId, userName: email, active: true,
      emails: [{ primary: true, type: 'work', value: email }], meta: { resourceType: 'User' },
      name: { formatted: 'Bo Chen', familyName: 'Chen', givenName: 'Bo' }, roles: [],
      [ENTERPRISE]: { department: 'Research', manager: { value: 'someone' } },
    }), 201)).id;
    expect(id).toMatch(/^usr_/);

    const update = await scim('PATCH', `/Users/${id}`, { schemas: [PATCH_OP], Operations: [
      { op: 'Add', path: 'displayName', value: 'Bo Chen (Research)' },
      { op: 'Replace', path: 'emails[type eq "work"].value', value: email },
      { op: 'Replace', path: 'name.familyName', value: 'Chen' },
      { op: 'Add', path: `${ENTERPRISE}:department`, value: 'Platform' },
      { op: 'Add', path: 'title', value: 'Engineer' },
    ] });
    expect(await scimJson<ScimUser>(update)).toMatchObject({ displayName: 'Bo Chen (Research)', active: true });

    const disable = await scim('PATCH', `/Users/${id}`, { schemas: [PATCH_OP], Operations: [{ op: 'Replace', path: 'active', value: 'False' }] });
    expect(await scimJson<ScimUser>(disable)).toMatchObject({ active: false });
    expect(await personByEmail(email)).toMatchObject({ disabled: true });

    const del = await scim('DELETE', `/Users/${id}`);
    expect(del.status).toBe(204);
    await expectScimError(await scim('GET', `/Users/${id}`), 404);
    expect(await scimJson<ListResponse>(await scim('GET', `/Users?filter=${encodeURIComponent(`externalId eq "${externalId}"`)}`))).toMatchObject({ totalResults: 0 });
    // Kept in gatelog, disabled for good, for the audit trail.
    expect(await personByEmail(email)).toMatchObject({ id, disabled: true });
    expect((await audit('person.delete', `token:${TOKEN_NAME}`)).find((x) => x.target === id)?.details).toMatchObject({ via: 'scim' });
    // Provisioned again, the same account comes back.
    const again = await scimJson<ScimUser>(await scim('POST', '/Users', { schemas: [USER], externalId, userName: email, active: true }), 201);
    expect(again).toMatchObject({ id, active: true });
  });
});

describe('who may sign in through the provider', () => {
  const signIn = async (login: string, at: GatelogProcess): Promise<{ path: string; error: string | null }> => {
    const page = await ssoSignIn(login, at);
    try {
      const path = new URL(page.url()).pathname;
      return { path, error: path === '/login' ? await page.getByTestId('sso-error').textContent() : null };
    } finally {
      await page.context().close();
    }
  };
  const person = (name: string) => {
    const login = `${name}-${tag}`;
    const email = `${login}@example.com`;
    idp.people.set(login, { email, groups: ['gatelog-analysts', 'team-red'], name });
    return { login, email };
  };

  it('without provisioned_only, someone the provider never provisioned gets an account at their first sign-in', async () => {
    const { login, email } = person('walk-in');
    expect(await signIn(login, gl)).toEqual({ path: '/requests', error: null });
    expect(await personByEmail(email)).toMatchObject({ auth_source: 'oidc', role: 'analyst', teams: ['red'] });
  }, 45_000);

  it('with provisioned_only, someone never provisioned is refused as not provisioned; no account is made; audited', async () => {
    const { login, email } = person('stranger');
    const r = await signIn(login, only);
    expect(r.path).toBe('/login');
    expect(r.error).toContain('admits only people the provider has provisioned');
    expect(await personByEmail(email, only)).toBeUndefined();
    const rows = await audit('signin.failure', email, only);
    expect(rows.map((x) => x.details)).toEqual([expect.objectContaining({ method: 'oidc', reason: 'not_provisioned' })]);
  }, 45_000);

  it('with provisioned_only, a provisioned person signs in', async () => {
    const { login, email } = person('assigned');
    const id = (await scimJson<ScimUser>(await scim('POST', '/Users', { schemas: [USER], userName: email, active: true }, { bearer: onlyToken, base: only.url }), 201)).id;
    expect(await signIn(login, only)).toEqual({ path: '/requests', error: null });
    expect(await personByEmail(email, only)).toMatchObject({ id, auth_source: 'oidc', role: 'analyst', teams: ['red'] });
  }, 45_000);

  it('with provisioned_only, an account made before is refused and left as it is until the provider\'s sync adopts it', async () => {
    const { login, email } = person('veteran');
    const made = await admin('POST', '/admin/users', { email, role: 'viewer' }, only);
    expect(made.status).toBe(201);
    expect((await signIn(login, only)).error).toContain('admits only people the provider has provisioned');
    expect(await personByEmail(email, only)).toMatchObject({ auth_source: 'local', role: 'viewer' });

    // The provider's sync: look up by userName, find the account, update it (Okta's PUT).
    const found = await scimJson<ListResponse>(await scim('GET', `/Users?filter=${encodeURIComponent(`userName eq "${email}"`)}`, undefined, { bearer: onlyToken, base: only.url }));
    const id = found.Resources[0]!.id;
    await scimJson<ScimUser>(await scim('PUT', `/Users/${id}`, { schemas: [USER], userName: email, externalId: `00u${tag}v1`, active: true }, { bearer: onlyToken, base: only.url }));
    expect(await signIn(login, only)).toEqual({ path: '/requests', error: null });
    expect(await personByEmail(email, only)).toMatchObject({ id, auth_source: 'oidc', role: 'analyst' });
  }, 60_000);
});

describe('bad requests', () => {
  it('malformed JSON is 400 invalidSyntax', async () => {
    await expectScimError(await scim('POST', '/Users', undefined, { raw: '{"schemas": [' }), 400, 'invalidSyntax');
    const deep = `{"schemas":["${USER}"],"userName":"deep-${tag}@example.com","title":${'['.repeat(5000)}${']'.repeat(5000)}}`;
    await expectScimError(await scim('POST', '/Users', undefined, { raw: deep }), 400, 'invalidSyntax');
  });

  it('an attribute of no schema is 400', async () => {
    await expectScimError(await scim('POST', '/Users', { schemas: [USER], userName: `x-${tag}@example.com`, favouriteColour: 'red' }), 400, 'invalidSyntax');
    const id = (await scimJson<ListResponse>(await scim('GET', '/Users?count=1'))).Resources[0]!.id;
    await expectScimError(await scim('PATCH', `/Users/${id}`, { schemas: [PATCH_OP], Operations: [{ op: 'replace', path: 'favouriteColour', value: 'red' }] }), 400, 'invalidPath');
  });

  it('a userName that is not an email is 400 invalidValue', async () => {
    await expectScimError(await scim('POST', '/Users', { schemas: [USER], userName: 'not-an-email', active: true }), 400, 'invalidValue');
  });

  it('a bad or unsupported filter is 400 invalidFilter', async () => {
    await expectScimError(await scim('GET', `/Users?filter=${encodeURIComponent('userName eq')}`), 400, 'invalidFilter');
    await expectScimError(await scim('GET', `/Users?filter=${encodeURIComponent('title co "eng"')}`), 400, 'invalidFilter');
  });

  it('an unknown id is 404', async () => {
    await expectScimError(await scim('GET', '/Users/usr_doesnotexist'), 404);
    await expectScimError(await scim('PATCH', '/Users/usr_doesnotexist', { schemas: [PATCH_OP], Operations: [{ op: 'replace', value: { active: false } }] }), 404);
    await expectScimError(await scim('DELETE', '/Users/usr_doesnotexist'), 404);
  });

  it('no token, a wrong token, the master key or a virtual key is 401', async () => {
    const none = await scim('GET', '/Users', undefined, { bearer: '' });
    expect(none.headers.get('www-authenticate')).toMatch(/^Bearer/);
    await expectScimError(none, 401);
    await expectScimError(await scim('GET', '/Users', undefined, { bearer: `glt-${randomUUID()}` }), 401);
    await expectScimError(await scim('GET', '/Users', undefined, { bearer: MASTER }), 401);
    await expectScimError(await scim('GET', '/ServiceProviderConfig', undefined, { bearer: 'sk-not-a-token' }), 401);
  });

  it('a token whose role may not provision, or a team-scoped one, is 403', async () => {
    await expectScimError(await scim('GET', '/Users', undefined, { bearer: await newToken(`analyst-${tag}`, 'analyst') }), 403);
    await expectScimError(await scim('POST', '/Users', { schemas: [USER], userName: `y-${tag}@example.com` }, { bearer: await newToken(`red-admin-${tag}`, 'admin', ['red']) }), 403);
  });

  it('a group with an unknown member or attribute is 400, an unknown group 404', async () => {
    await expectScimError(await scim('POST', '/Groups', { schemas: [GROUP], displayName: `g-${tag}`, members: [{ value: 'usr_doesnotexist' }] }), 400, 'invalidValue');
    await expectScimError(await scim('POST', '/Groups', { schemas: [GROUP], displayName: `g-${tag}`, colour: 'red' }), 400, 'invalidSyntax');
    await expectScimError(await scim('GET', '/Groups/grp_doesnotexist'), 404);
    await expectScimError(await scim('GET', `/Groups?filter=${encodeURIComponent('members eq "x"')}`), 400, 'invalidFilter');
  });
});

describe('SCIM off', () => {
  it('a gatelog without sso.scim answers 404 at /scim/v2', async () => {
    const offToken = await (async () => {
      const r = await fetch(`${off.url}/admin/tokens`, { method: 'POST', headers: { authorization: `Bearer ${MASTER}`, 'content-type': 'application/json' }, body: JSON.stringify({ name: 'idp', role: 'admin' }) });
      return ((await r.json()) as { secret: string }).secret;
    })();
    for (const path of ['/ServiceProviderConfig', '/Users']) {
      expect((await scim('GET', path, undefined, { bearer: offToken, base: off.url })).status).toBe(404);
    }
  });
});
