// Single sign-on logout, end to end: a real provider (oidc-provider, with RP-initiated and
// back-channel logout), a real `gatelog start` and a real browser.
// - Signing out of gatelog after single sign-on goes on to the provider's end-session page and
//   back to /login, so the next "Sign in with …" asks for credentials again; a local account and
//   the master key sign out as before.
// - Signing out at the provider (its own end-session page) makes it POST a logout token to
//   gatelog, which ends that provider session's gatelog session at once (not the person's other
//   ones); a token naming only the person ends all of theirs opened before it was issued; every
//   one is audited.
// - A bad logout token (wrong audience, another key, no event, a nonce, a replayed jti, garbage,
//   not a form) is a 400 with an OAuth error, and ends nothing.
import { randomUUID } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { chromium, type Browser, type Page } from 'playwright-core';
import { startGatelog, type GatelogProcess } from '../support/gatelog-process.ts';
import { startTogether } from '../support/start-together.ts';
import { listenIdp, type Idp } from '../support/oidc-idp.ts';
import { personLink, signInByLink, ssoSignIn as ssoSignInAt } from '../support/ui-signin.ts';

const CHROMIUM = process.env['CHROMIUM_PATH'] ?? '/usr/bin/chromium';
const MASTER = `mk-${randomUUID()}`;
const tag = randomUUID().slice(0, 8);
const EVENT = 'http://schemas.openid.net/event/backchannel-logout';

let browser: Browser;
let idp: Idp;
let gl: GatelogProcess;

const admin = (method: string, path: string): Promise<Response> => fetch(`${gl.url}${path}`, { method, headers: { authorization: `Bearer ${MASTER}` } });

interface AuditRow { actor: string; action: string; target: string; details: Record<string, unknown> }
async function signouts(actor: string): Promise<AuditRow[]> {
  const rows = ((await (await admin('GET', '/admin/audit?action=signout&limit=1000')).json()) as { data: AuditRow[] }).data;
  return rows.filter((r) => r.actor === actor).map((r) => ({ ...r, details: typeof r.details === 'string' ? JSON.parse(r.details) as Record<string, unknown> : r.details }));
}

async function personId(email: string): Promise<string> {
  return ((await (await admin('GET', '/admin/users')).json()) as { data: { id: string; email: string }[] }).data.find((p) => p.email === email)!.id;
}

function idpPerson(name: string): { login: string; email: string } {
  const login = `${name}-${tag}`;
  const email = `${login}@example.com`;
  idp.people.set(login, { email, groups: ['gatelog-analysts'] });
  return { login, email };
}

const ssoSignIn = (login: string): Promise<Page> => ssoSignInAt(browser, gl.url, idp.issuer, login);

/** Whether `page`'s gatelog session still opens a page (else the UI sends it to /login). */
async function signedIn(page: Page): Promise<boolean> {
  await page.goto(`${gl.url}/requests`);
  return new URL(page.url()).pathname === '/requests';
}

const post = (body: string, type = 'application/x-www-form-urlencoded'): Promise<Response> =>
  fetch(`${gl.url}/login/sso/backchannel-logout`, { method: 'POST', headers: { 'content-type': type }, body });
const postToken = (token: string): Promise<Response> => post(new URLSearchParams({ logout_token: token }).toString());

/** A logout token as the provider would sign it, for `sub`. */
const logoutClaims = (sub: string, extra: Record<string, unknown> = {}): Record<string, unknown> => ({
  iss: idp.issuer, aud: idp.clientId, iat: Math.floor(Date.now() / 1000), exp: Math.floor(Date.now() / 1000) + 120, jti: randomUUID(), sub, events: { [EVENT]: {} }, ...extra,
});

/** Signs out at the provider's own end-session page, in the context (and so the provider session) of `page`. */
async function signOutAtProvider(page: Page): Promise<void> {
  const other = await page.context().newPage();
  try {
    await other.goto(`${idp.issuer}/session/end`);
    await Promise.all([other.waitForURL((u) => u.pathname !== '/session/end'), other.click('button[name=logout]')]);
  } finally {
    await other.close();
  }
}

beforeAll(async () => {
  idp = await listenIdp();
  [browser, gl] = await startTogether(
    [chromium.launch({ executablePath: CHROMIUM, args: ['--headless', '--no-sandbox', '--disable-gpu', '--disable-background-networking'] }), (b) => b.close()],
    [startGatelog({
      env: { GATELOG_MASTER_KEY: MASTER, TEST_OIDC_SECRET: idp.clientSecret },
      config: {
        ingest: { batch_ms: 50 },
        sso: { oidc: {
          issuer: idp.issuer, client_id: idp.clientId, client_secret: '${TEST_OIDC_SECRET}', display_name: 'Example IdP',
          scopes: ['openid', 'email', 'profile', 'groups'], roles: { 'gatelog-analysts': 'analyst' },
          logout: { end_provider_session: true },
        } },
      },
      timeoutMs: 60_000,
    }), (g) => g.stop()],
  );
  idp.start([`${gl.url}/login/sso/callback`], { postLogoutRedirectUris: [`${gl.url}/login`], backchannelLogoutUri: `${gl.url}/login/sso/backchannel-logout` });
}, 90_000);

afterAll(async () => {
  await browser?.close();
  await gl?.stop();
  await idp?.close();
});

describe('signing out of gatelog after single sign-on (RP-initiated logout)', () => {
  it('goes on to the provider\'s end-session page and back to /login; the next sign-in asks for credentials', async () => {
    const { login, email } = idpPerson('rp');
    const page = await ssoSignIn(login);
    try {
      const toProvider = page.waitForURL((u) => u.origin === idp.issuer);
      await page.click('form[action="/logout"] button');
      await toProvider;
      const end = new URL(page.url());
      expect(end.pathname).toBe('/session/end');
      expect(end.searchParams.get('client_id')).toBe(idp.clientId);
      expect(end.searchParams.get('post_logout_redirect_uri')).toBe(`${gl.url}/login`);
      expect(end.searchParams.has('id_token_hint')).toBe(false);
      // The provider asks (no id_token_hint: gatelog keeps no ID token), then sends the browser back.
      await Promise.all([page.waitForURL((u) => u.origin === gl.url && u.pathname === '/login'), page.click('button[name=logout]')]);
      expect(await page.context().cookies(gl.url)).not.toContainEqual(expect.objectContaining({ name: 'gatelog_session' }));
      expect((await signouts(email)).some((r) => r.details['provider_logout'] === true)).toBe(true);
      // The provider's session ended too: "Sign in with …" shows its login form again.
      await page.goto(`${gl.url}/login`);
      await Promise.all([page.waitForURL((u) => u.origin === idp.issuer), page.click('#sso')]);
      await page.locator('input[name=login]').waitFor();
      // And signing in there works as ever.
      await page.fill('input[name=login]', login);
      await page.fill('input[name=password]', 'any');
      await Promise.all([page.waitForURL((u) => u.origin === gl.url && u.pathname === '/requests'), page.click('button[type=submit]')]);
    } finally {
      await page.context().close();
    }
  }, 60_000);

  it('a local account and the master key sign out to /login as before', async () => {
    const email = `local-${tag}@example.com`;
    const local = await signInByLink(browser, await personLink(gl.url, MASTER, email, 'analyst'));
    try {
      await Promise.all([local.waitForURL((u) => u.pathname === '/login'), local.click('form[action="/logout"] button')]);
      expect(new URL(local.url()).origin).toBe(gl.url);
      expect((await signouts(email)).at(-1)?.details ?? {}).not.toHaveProperty('provider_logout');
      expect(await signedIn(local)).toBe(false);
    } finally {
      await local.context().close();
    }
    const master = await (await browser.newContext()).newPage();
    try {
      await master.goto(`${gl.url}/login`);
      await master.fill('#key', MASTER);
      await Promise.all([master.waitForURL((u) => u.pathname === '/requests'), master.click('form:has(#key) button[type=submit]')]);
      await Promise.all([master.waitForURL((u) => u.pathname === '/login'), master.click('form[action="/logout"] button')]);
      expect(new URL(master.url()).origin).toBe(gl.url);
    } finally {
      await master.context().close();
    }
  }, 60_000);

  it('a cross-site form POST is still refused (the same-origin check now lives in the hooks)', async () => {
    const r = await fetch(`${gl.url}/logout`, { method: 'POST', headers: { origin: 'https://evil.example', 'content-type': 'application/x-www-form-urlencoded' }, body: '', redirect: 'manual' });
    expect(r.status).toBe(403);
    const login = await fetch(`${gl.url}/login`, { method: 'POST', headers: { 'content-type': 'application/x-www-form-urlencoded' }, body: 'key=x', redirect: 'manual' });
    expect(login.status).toBe(403);
  });
});

describe('signing out at the provider (back-channel logout)', () => {
  it('ends the gatelog session of that provider session at once, not the person\'s other ones, audited', async () => {
    const { login, email } = idpPerson('bc');
    const [laptop, phone] = [await ssoSignIn(login), await ssoSignIn(login)];
    try {
      await signOutAtProvider(laptop);
      expect(await signedIn(laptop)).toBe(false);
      expect(await signedIn(phone)).toBe(true);
      const row = (await signouts(email)).find((r) => r.details['via'] === 'backchannel');
      expect(row).toMatchObject({ target: await personId(email), details: { via: 'backchannel', by: 'sid', sessions_ended: 1 } });
    } finally {
      await laptop.context().close();
      await phone.context().close();
    }
  }, 60_000);

  it('a token naming only the person ends every single sign-on session of theirs', async () => {
    const { login, email } = idpPerson('sub');
    const [a, b] = [await ssoSignIn(login), await ssoSignIn(login)];
    try {
      const r = await postToken(idp.sign(logoutClaims(login)));
      expect(r.status).toBe(200);
      expect(await signedIn(a)).toBe(false);
      expect(await signedIn(b)).toBe(false);
      expect((await signouts(email)).find((x) => x.details['by'] === 'sub')?.details).toMatchObject({ via: 'backchannel', sessions_ended: 2 });
      // A logout issued before a sign-in does not undo it (a token the provider sent two minutes ago, arriving late).
      const later = await ssoSignIn(login);
      try {
        const late = await postToken(idp.sign(logoutClaims(login, { iat: Math.floor(Date.now() / 1000) - 120 })));
        expect(late.status).toBe(200);
        expect(await signedIn(later)).toBe(true);
      } finally {
        await later.context().close();
      }
    } finally {
      await a.context().close();
      await b.context().close();
    }
  }, 60_000);

  it('refuses bad logout tokens with 400 and an OAuth error, ending nothing', async () => {
    const { login } = idpPerson('bad');
    const page = await ssoSignIn(login);
    try {
      const { events: _events, ...noEvents } = logoutClaims(login);
      const bad: [string, Promise<Response>][] = [
        ['wrong audience', postToken(idp.sign(logoutClaims(login, { aud: 'someone-else' })))],
        ['wrong issuer', postToken(idp.sign(logoutClaims(login, { iss: 'http://127.0.0.1:9' })))],
        ['another key', postToken(idp.sign(logoutClaims(login), { foreign: true }))],
        ['no events', postToken(idp.sign(noEvents))],
        ['a nonce', postToken(idp.sign(logoutClaims(login, { nonce: 'n' })))],
        ['stale', postToken(idp.sign(logoutClaims(login, { iat: Math.floor(Date.now() / 1000) - 3600, exp: undefined })))],
        ['garbage', postToken('garbage')],
        ['no logout_token', post('something=else')],
        ['json', post(JSON.stringify({ logout_token: idp.sign(logoutClaims(login)) }), 'application/json')],
      ];
      for (const [name, pending] of bad) {
        const r = await pending;
        expect(r.status, name).toBe(400);
        expect(await r.json(), name).toMatchObject({ error: 'invalid_request' });
      }
      expect(await signedIn(page)).toBe(true);
      // A token already spent is refused if sent again, even to end a newer session.
      const token = idp.sign(logoutClaims(login));
      expect((await postToken(token)).status).toBe(200);
      expect(await signedIn(page)).toBe(false);
      const again = await ssoSignIn(login);
      try {
        const replay = await postToken(token);
        expect(replay.status).toBe(400);
        expect(((await replay.json()) as { error_description: string }).error_description).toContain('replayed');
        expect(await signedIn(again)).toBe(true);
      } finally {
        await again.context().close();
      }
    } finally {
      await page.context().close();
    }
  }, 60_000);
});
