// Signing a person in to the UI in a real browser for e2e tests: their one-time sign-in link
// (printed by `gatelog users create`, or `sign_in_path` from POST /admin/users) opened in a
// fresh browser context, a password set there, and the page left on /requests.
import type { Browser, Page } from 'playwright-core';

export const TEST_PASSWORD = 'correct horse battery staple';

/** A new context's page, signed in through `link`. */
export async function signInByLink(browser: Browser, link: string, password = TEST_PASSWORD): Promise<Page> {
  const page = await (await browser.newContext()).newPage();
  page.setDefaultTimeout(15_000);
  await page.goto(link);
  await page.fill('#password', password);
  await page.fill('#confirm', password);
  await Promise.all([page.waitForURL((u) => u.pathname === '/requests'), page.click('button[type=submit]')]);
  return page;
}

/** A person made through the admin API (POST /admin/users with the master key): their sign-in link. */
export async function personLink(baseUrl: string, masterKey: string, email: string, role: string, teams: string[] = []): Promise<string> {
  const r = await fetch(`${baseUrl}/admin/users`, {
    method: 'POST',
    headers: { authorization: `Bearer ${masterKey}`, 'content-type': 'application/json' },
    body: JSON.stringify({ email, role, teams }),
  });
  if (r.status !== 201) throw new Error(`POST /admin/users answered ${r.status}: ${await r.text()}`);
  return `${baseUrl}${((await r.json()) as { sign_in_path: string }).sign_in_path}`;
}

/**
 * Single sign-on on `page`: "Sign in with …" on `base`/login, then the provider's own form
 * (test/support/oidc-idp.ts) as `login`; returns once the callback's page has moved on.
 */
export async function ssoSignInOn(page: Page, base: string, issuer: string, login: string, next = ''): Promise<void> {
  await page.goto(`${base}/login${next ? `?next=${encodeURIComponent(next)}` : ''}`);
  await Promise.all([page.waitForURL((u) => u.origin === issuer), page.click('#sso')]);
  await page.fill('input[name=login]', login);
  await page.fill('input[name=password]', 'any');
  await Promise.all([page.waitForURL((u) => u.origin === base), page.click('button[type=submit]')]);
  // The callback's page moves on by itself (a same-origin refresh).
  await page.waitForURL((u) => !u.pathname.startsWith('/login/sso'));
}

/** A new context's page, signed in through the provider as `login`. */
export async function ssoSignIn(browser: Browser, base: string, issuer: string, login: string, next = ''): Promise<Page> {
  const page = await (await browser.newContext()).newPage();
  page.setDefaultTimeout(15_000);
  await ssoSignInOn(page, base, issuer, login, next);
  return page;
}
