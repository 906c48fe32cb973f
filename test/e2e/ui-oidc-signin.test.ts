// Single sign-on with OpenID Connect, end to end: a real provider (oidc-provider, its own login
// form), a real `gatelog start` and a real browser. People sign in through the provider and get
// the role and teams their groups map to (sso.oidc in gatelog.yaml); a person whose groups map
// to no role, a person disabled in gatelog and a forged or missing state are refused with a clear
// page on /login and an audit row; the people API sends no sign-in link to, and changes no role
// of, a person the provider manages; with password_sign_in: false only the provider and the
// master key sign in.
import { randomUUID } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { chromium, type Browser, type Page } from 'playwright-core';
import { startGatelog, type GatelogProcess } from '../support/gatelog-process.ts';
import { startTogether } from '../support/start-together.ts';
import { listenIdp, type Idp } from '../support/oidc-idp.ts';
import { ssoSignIn as ssoSignInAt } from '../support/ui-signin.ts';

const CHROMIUM = process.env['CHROMIUM_PATH'] ?? '/usr/bin/chromium';
const MASTER = `mk-${randomUUID()}`;
const tag = randomUUID().slice(0, 8);
const CANARY = { red: `red-canary-${tag}`, blue: `blue-canary-${tag}` };

let browser: Browser;
let idp: Idp;
let gl: GatelogProcess;

const admin = (method: string, path: string, body?: unknown): Promise<Response> =>
  fetch(`${gl.url}${path}`, { method, headers: { authorization: `Bearer ${MASTER}`, 'content-type': 'application/json' }, ...(body === undefined ? {} : { body: JSON.stringify(body) }) });

interface AuditRow { actor: string; action: string; target: string; details: Record<string, unknown> }
async function audit(action: string, actor: string): Promise<AuditRow[]> {
  const rows = ((await (await admin('GET', `/admin/audit?action=${action}&limit=1000`)).json()) as { data: AuditRow[] }).data;
  return rows.filter((r) => r.actor === actor).map((r) => ({ ...r, details: typeof r.details === 'string' ? JSON.parse(r.details) as Record<string, unknown> : r.details }));
}

interface Person { id: string; email: string; role: string; teams: string[]; auth_source: string; disabled: boolean }
async function personByEmail(email: string): Promise<Person | undefined> {
  return ((await (await admin('GET', '/admin/users')).json()) as { data: Person[] }).data.find((p) => p.email === email);
}

/** A person at the provider, in `groups`; returns the login typed into its form. */
function idpPerson(name: string, groups: string[]): { login: string; email: string } {
  const login = `${name}-${tag}`;
  const email = `${login}@example.com`;
  idp.people.set(login, { email, groups });
  return { login, email };
}

/** Clicks "Sign in with Example IdP" on /login and signs in at the provider's own form. */
const ssoSignIn = (login: string, next = ''): Promise<Page> => ssoSignInAt(browser, gl.url, idp.issuer, login, next);

beforeAll(async () => {
  idp = await listenIdp();
  [browser, gl] = await startTogether(
    [chromium.launch({ executablePath: CHROMIUM, args: ['--headless', '--no-sandbox', '--disable-gpu', '--disable-background-networking'] }), (b) => b.close()],
    [startGatelog({
      env: { GATELOG_MASTER_KEY: MASTER, TEST_OIDC_SECRET: idp.clientSecret },
      config: {
        ingest: { batch_ms: 50 },
        providers: { mock: { kind: 'mock' } },
        models: [{ name: 'mock-chat', deployments: [{ provider: 'mock', model: 'mock-chat' }] }],
        sso: { oidc: {
          issuer: idp.issuer, client_id: idp.clientId, client_secret: '${TEST_OIDC_SECRET}', display_name: 'Example IdP',
          scopes: ['openid', 'email', 'profile', 'groups'],
          roles: { 'gatelog-admins': 'admin', 'gatelog-analysts': 'analyst' },
          teams: { 'team-red': 'red', 'team-blue': 'blue' }, unscoped_groups: ['gatelog-admins'],
          allowed_email_domains: ['example.com'], password_sign_in: false,
        } },
      },
      timeoutMs: 60_000,
    }), (g) => g.stop()],
  );
  idp.start([`${gl.url}/login/sso/callback`]);
  // A call in each team, through a key of that team.
  for (const team of ['red', 'blue'] as const) {
    const k = (await (await admin('POST', '/admin/keys', { name: `${team}-${tag}`, team })).json()) as { secret: string };
    const r = await fetch(`${gl.url}/v1/chat/completions`, {
      method: 'POST', headers: { authorization: `Bearer ${k.secret}`, 'content-type': 'application/json' },
      body: JSON.stringify({ model: 'mock-chat', messages: [{ role: 'user', content: `about ${CANARY[team]}` }] }),
    });
    expect(r.status).toBe(200);
    const id = r.headers.get('x-gatelog-request-id')!;
    for (let i = 0; i < 200 && (await admin('GET', `/admin/calls/${id}`)).status !== 200; i++) await new Promise((res) => setTimeout(res, 100));
  }
}, 90_000);

afterAll(async () => {
  await browser?.close();
  await gl?.stop();
  await idp?.close();
});

describe('single sign-on through an OpenID Connect provider', () => {
  it('a member of the admins group signs in as an unscoped admin, audited as oidc, and lands on next', async () => {
    const { login, email } = idpPerson('ada', ['gatelog-admins', 'team-red', 'unmapped-group']);
    const page = await ssoSignIn(login, '/keys');
    try {
      expect(new URL(page.url()).pathname).toBe('/keys');
      expect(await page.getByTestId('who').textContent()).toContain('admin');
      const person = await personByEmail(email);
      expect(person).toMatchObject({ role: 'admin', teams: [], auth_source: 'oidc', disabled: false });
      expect((await audit('signin.success', email)).at(-1)?.details).toMatchObject({ method: 'oidc', role: 'admin' });
      expect((await audit('person.create', email)).at(-1)?.details).toMatchObject({ via: 'oidc', change: 'created' });
      // The People page says how each person signs in.
      await page.goto(`${gl.url}/people`);
      const row = page.locator('[data-testid=person]', { hasText: email });
      expect(await row.getByTestId('auth-source').textContent()).toBe('single sign-on');
    } finally {
      await page.context().close();
    }
  }, 45_000);

  it('a member of a team-mapped group sees only that team\'s calls; the provider\'s groups are re-read at every sign-in', async () => {
    const { login, email } = idpPerson('rae', ['gatelog-analysts', 'team-red']);
    let page = await ssoSignIn(login);
    try {
      expect(await personByEmail(email)).toMatchObject({ role: 'analyst', teams: ['red'] });
      await page.goto(`${gl.url}/requests`);
      const html = await page.content();
      expect(html).toContain(CANARY.red);
      expect(html).not.toContain(CANARY.blue);
    } finally {
      await page.context().close();
    }
    idp.people.set(login, { email, groups: ['gatelog-analysts', 'team-blue'] });
    page = await ssoSignIn(login);
    try {
      expect(await personByEmail(email)).toMatchObject({ role: 'analyst', teams: ['blue'] });
      await page.goto(`${gl.url}/requests`);
      const html = await page.content();
      expect(html).toContain(CANARY.blue);
      expect(html).not.toContain(CANARY.red);
    } finally {
      await page.context().close();
    }
  }, 45_000);

  it('a person whose groups map to no role is refused with a clear page, audited, and not created', async () => {
    const { login, email } = idpPerson('nor', ['team-red', 'everyone']);
    const page = await ssoSignIn(login);
    try {
      expect(new URL(page.url()).pathname).toBe('/login');
      expect(await page.getByTestId('sso-error').textContent()).toContain('none of your groups gives you a role');
      expect(page.url()).not.toMatch(/code=|token/);
      expect((await audit('signin.failure', email)).at(-1)?.details).toMatchObject({ method: 'oidc', reason: 'no_role' });
      expect(await personByEmail(email)).toBeUndefined();
    } finally {
      await page.context().close();
    }
  }, 45_000);

  it('a person disabled in gatelog stays refused whatever the provider says', async () => {
    const { login, email } = idpPerson('dis', ['gatelog-analysts', 'team-red']);
    await (await ssoSignIn(login)).context().close();
    const person = await personByEmail(email);
    expect((await admin('PATCH', `/admin/users/${person!.id}`, { disabled: true })).status).toBe(200);
    const page = await ssoSignIn(login);
    try {
      expect(new URL(page.url()).pathname).toBe('/login');
      expect(await page.getByTestId('sso-error').textContent()).toContain('disabled');
      expect((await audit('signin.failure', email)).at(-1)?.details).toMatchObject({ method: 'oidc', reason: 'disabled' });
      expect(await personByEmail(email)).toMatchObject({ disabled: true });
    } finally {
      await page.context().close();
    }
  }, 45_000);

  it('a forged or missing state is refused and audited', async () => {
    const page = await (await browser.newContext()).newPage();
    try {
      // No state cookie at all.
      await page.goto(`${gl.url}/login/sso/callback?code=forged&state=forged`);
      expect(new URL(page.url()).pathname).toBe('/login');
      expect(await page.getByTestId('sso-error').textContent()).toContain('could not be matched');
      // A real flow started here, answered with another state.
      await Promise.all([page.waitForURL((u) => u.origin === idp.issuer), page.click('#sso')]);
      await page.goto(`${gl.url}/login/sso/callback?code=forged&state=${randomUUID()}`);
      expect(new URL(page.url()).pathname).toBe('/login');
      expect(await page.getByTestId('sso-error').textContent()).toContain('could not be matched');
      const rows = (await audit('signin.failure', 'sso')).filter((r) => r.details['reason'] === 'bad_state');
      expect(rows.length).toBeGreaterThanOrEqual(2);
      expect(await page.context().cookies(gl.url)).not.toContainEqual(expect.objectContaining({ name: 'gatelog_session' }));
    } finally {
      await page.context().close();
    }
  }, 45_000);

  it('the people API sends no sign-in link to, and changes no role of, a person the provider manages', async () => {
    const { login, email } = idpPerson('api', ['gatelog-analysts', 'team-blue']);
    await (await ssoSignIn(login)).context().close();
    const person = (await personByEmail(email))!;
    for (const patch of [{ new_link: true }, { role: 'owner' }, { teams: [] }]) {
      const r = await admin('PATCH', `/admin/users/${person.id}`, patch);
      expect(r.status, JSON.stringify(patch)).toBe(409);
      expect(((await r.json()) as { error: { code: string } }).error.code).toBe('sso_managed');
    }
    expect(await personByEmail(email)).toMatchObject({ role: 'analyst', teams: ['blue'] });
  }, 45_000);

  it('password_sign_in: false refuses a password (and hides its form); the master key still signs in', async () => {
    const page = await (await browser.newContext()).newPage();
    try {
      await page.goto(`${gl.url}/login`);
      expect(await page.locator('#password').count()).toBe(0);
      const refused = await page.request.post(`${gl.url}/login`, { form: { email: `x-${tag}@example.com`, password: 'whatever', next: '/requests' }, headers: { origin: gl.url }, maxRedirects: 0 });
      expect(refused.status()).toBe(403);
      expect((await audit('signin.failure', `x-${tag}@example.com`)).at(-1)?.details).toMatchObject({ reason: 'password_sign_in_disabled' });
      await page.fill('#key', MASTER);
      await Promise.all([page.waitForURL((u) => u.pathname === '/requests'), page.click('form:has(#key) button[type=submit]')]);
    } finally {
      await page.context().close();
    }
  }, 45_000);
});
