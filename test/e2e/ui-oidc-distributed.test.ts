// Single sign-on in the UI running as its own service (adminUrl set, as in distributed mode,
// where it reads ClickHouse read-only): the person the provider vouches for, their session and
// the audit rows are written through the proxy's admin API; `sso.oidc.redirect_url` names the
// callback. Logout both ways works there too: the provider's back-channel logout revokes the
// session through the admin API, and signing out goes on to the provider and back. While the
// provider cannot be reached, the SSO button answers a clear page and the other ways in still
// work. Needs `pnpm --filter @gatelog/ui run build`.
import { createHash } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Registry } from 'prom-client';
import type { FastifyInstance } from 'fastify';
import { chromium, type Browser, type BrowserContext } from 'playwright-core';
import { buildProxy } from '@gatelog/proxy';
import { createLogger, listAudit, migrate, openStore, parseConfig, type Store } from '@gatelog/core';
import { OidcConfig } from '@gatelog/core/auth/oidc-config';
import { provideUiContext } from '@gatelog/core/ui-context';
import { listUsers } from '@gatelog/core/store/users';
import { sessionByHash } from '@gatelog/core/store/sessions';
import { ssoSignInOn } from '../support/ui-signin.ts';
import { startUiServer, type UiServer } from '../support/ui-server.ts';
import { startTogether } from '../support/start-together.ts';
import { listenIdp, type Idp } from '../support/oidc-idp.ts';

const CHROMIUM = process.env['CHROMIUM_PATH'] ?? '/usr/bin/chromium';
const MASTER = 'master-key-for-distributed-ui-sso';
let store: Store;
let dir: string;
let proxy: FastifyInstance;
let ui: UiServer;
let idp: Idp;
let browser: Browser;
let adminUrl: string;

/** The browser as a plain-http client of the test server tells the UI its scheme, as the launcher does. */
const context = (): Promise<BrowserContext> => browser.newContext({ extraHTTPHeaders: { 'x-forwarded-proto': 'http' } });

beforeAll(async () => {
  dir = mkdtempSync(join(tmpdir(), 'gatelog-sso-dui-'));
  store = await openStore({ clickhouse: 'embedded', database: 'gatelog' }, dir);
  await migrate(store);
  proxy = await buildProxy({ config: parseConfig({}, 'test', {}), publish: () => undefined, logger: createLogger('silent'), registry: new Registry(), masterKey: MASTER, store });
  adminUrl = await proxy.listen({ port: 0, host: '127.0.0.1' });
  [idp, ui, browser] = await startTogether(
    [listenIdp(), (i) => i.close()],
    [startUiServer(store, MASTER, adminUrl), (u) => u.close()],
    [chromium.launch({ executablePath: CHROMIUM, args: ['--headless', '--no-sandbox', '--disable-gpu', '--disable-background-networking'] }), (b) => b.close()],
  );
  const redirect = `${ui.base}/login/sso/callback`;
  idp.start([redirect], { postLogoutRedirectUris: [`${ui.base}/login`], backchannelLogoutUri: `${ui.base}/login/sso/backchannel-logout` });
  provideUiContext({
    store, masterKey: MASTER, adminUrl,
    oidc: OidcConfig.parse({ issuer: idp.issuer, client_id: idp.clientId, client_secret: idp.clientSecret, scopes: ['openid', 'email', 'groups'], roles: { eng: 'analyst' }, redirect_url: redirect, logout: { end_provider_session: true } }),
  });
}, 60_000);

afterAll(async () => {
  await browser?.close();
  await ui?.close();
  await proxy?.close();
  await idp?.close();
  await store?.close();
  if (dir) rmSync(dir, { recursive: true, force: true });
});

describe('single sign-on from a UI that writes through the admin API', () => {
  it('creates the person, opens the session and audits the sign-in through the proxy', async () => {
    idp.people.set('eve', { email: 'eve@example.com', groups: ['eng'] });
    const page = await (await context()).newPage();
    page.setDefaultTimeout(15_000);
    try {
      await page.goto(`${ui.base}/login?next=%2Fspend`);
      await Promise.all([page.waitForURL((u) => u.origin === idp.issuer), page.click('#sso')]);
      await page.fill('input[name=login]', 'eve');
      await page.fill('input[name=password]', 'any');
      await Promise.all([page.waitForURL((u) => u.origin === ui.base && u.pathname === '/spend'), page.click('button[type=submit]')]);
      expect(await page.getByTestId('who').textContent()).toContain('analyst');
      const [eve] = (await listUsers(store)).filter((u) => u.email === 'eve@example.com');
      expect(eve).toMatchObject({ auth_source: 'oidc', role: 'analyst', teams: [], oidc_subject: `${idp.issuer} eve`, password_hash: '' });
      const signin = (await listAudit(store, { action: 'signin.success' })).find((r) => r.actor === 'eve@example.com');
      expect(JSON.parse(signin!.details)).toMatchObject({ method: 'oidc', recorded_via: 'master' });
    } finally {
      await page.context().close();
    }
  }, 45_000);

  it('logout both ways: the provider\'s back-channel logout revokes through the proxy; signing out goes on to the provider', async () => {
    idp.people.set('bo', { email: 'bo@example.com', groups: ['eng'] });
    const page = await (await context()).newPage();
    page.setDefaultTimeout(15_000);
    try {
      await ssoSignInOn(page, ui.base, idp.issuer, 'bo');
      const cookie = (await page.context().cookies(ui.base)).find((c) => c.name === 'gatelog_session')!.value;
      const idHash = createHash('sha256').update(cookie).digest('hex');
      expect(await sessionByHash(store, idHash)).toMatchObject({ oidc_subject: `${idp.issuer} bo`, oidc_sid_hash: expect.stringMatching(/^[0-9a-f]{64}$/) });
      // Out at the provider (its own end-session page): its logout token ends the gatelog session.
      const other = await page.context().newPage();
      await other.goto(`${idp.issuer}/session/end`);
      await Promise.all([other.waitForURL((u) => u.pathname !== '/session/end'), other.click('button[name=logout]')]);
      await other.close();
      expect(await sessionByHash(store, idHash)).toMatchObject({ revoked: true, revoked_reason: 'provider_logout' });
      await page.goto(`${ui.base}/requests`);
      expect(new URL(page.url()).pathname).toBe('/login');
      const row = (await listAudit(store, { action: 'signout' })).find((r) => r.actor === 'bo@example.com');
      expect(JSON.parse(row!.details)).toMatchObject({ via: 'backchannel', by: 'sid', sessions_ended: 1, recorded_via: 'master' });
      // Signing out of gatelog: on to the provider, and back to this UI's /login.
      await ssoSignInOn(page, ui.base, idp.issuer, 'bo');
      await Promise.all([page.waitForURL((u) => u.origin === idp.issuer), page.click('form[action="/logout"] button')]);
      expect(new URL(page.url()).searchParams.get('post_logout_redirect_uri')).toBe(`${ui.base}/login`);
      await Promise.all([page.waitForURL((u) => u.origin === ui.base && u.pathname === '/login'), page.click('button[name=logout]')]);
      await page.goto(`${ui.base}/requests`);
      expect(new URL(page.url()).pathname).toBe('/login');
    } finally {
      await page.context().close();
    }
  }, 60_000);

  it('with logout.end_provider_session: false, signing out ends gatelog\'s session only', async () => {
    const redirect = `${ui.base}/login/sso/callback`;
    provideUiContext({
      store, masterKey: MASTER, adminUrl,
      oidc: OidcConfig.parse({ issuer: idp.issuer, client_id: idp.clientId, client_secret: idp.clientSecret, scopes: ['openid', 'email', 'groups'], roles: { eng: 'analyst' }, redirect_url: redirect, logout: { end_provider_session: false } }),
    });
    const page = await (await context()).newPage();
    page.setDefaultTimeout(15_000);
    try {
      await ssoSignInOn(page, ui.base, idp.issuer, 'bo');
      await Promise.all([page.waitForURL((u) => u.origin === ui.base && u.pathname === '/login'), page.click('form[action="/logout"] button')]);
      // The provider's session lives on: "Sign in with …" comes straight back without its form.
      await Promise.all([page.waitForURL((u) => u.origin === ui.base && u.pathname === '/requests'), page.click('#sso')]);
    } finally {
      await page.context().close();
    }
  }, 45_000);

  it('with the provider unreachable, the button answers a clear page and the master key still signs in', async () => {
    const down = OidcConfig.parse({ issuer: 'http://127.0.0.1:9/', client_id: 'c', client_secret: 's', roles: { eng: 'analyst' } });
    provideUiContext({ store, masterKey: MASTER, adminUrl, oidc: down });
    const page = await (await context()).newPage();
    page.setDefaultTimeout(15_000);
    try {
      await page.goto(`${ui.base}/login`);
      await page.click('#sso');
      await page.getByTestId('sso-error').waitFor();
      expect(await page.getByTestId('sso-error').textContent()).toContain('cannot reach the identity provider');
      await page.fill('#key', MASTER);
      await Promise.all([page.waitForURL((u) => u.pathname === '/requests'), page.click('form:has(#key) button[type=submit]')]);
    } finally {
      await page.context().close();
    }
  }, 45_000);
});
