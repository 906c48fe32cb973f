// Team scope in the UI, in a real browser against a real gatelog: an admin scoped to team red,
// signed in, creates keys in red only (a key for blue, or without a team, is a form error and no
// key is made) and cannot revoke blue's key even by posting its id; an auditor scoped to red
// reads the audit rows of red's people on the Audit page and in its export, never a blue
// person's or an unscoped person's search text.
import { randomUUID } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { chromium, type Browser, type Page } from 'playwright-core';
import { startGatelog, type GatelogProcess } from '../support/gatelog-process.ts';
import { startTogether } from '../support/start-together.ts';

const CHROMIUM = process.env['CHROMIUM_PATH'] ?? '/usr/bin/chromium';
const MASTER = `mk-${randomUUID()}`;
const PASSWORD = 'correct horse battery staple';
const tag = randomUUID().slice(0, 8);

let browser: Browser;
let gl: GatelogProcess;

interface KeyView {
  id: string;
  name: string;
  team: string;
  revoked: boolean;
}

const admin = (method: string, path: string, body?: unknown): Promise<Response> =>
  fetch(`${gl.url}${path}`, { method, headers: { authorization: `Bearer ${MASTER}`, 'content-type': 'application/json' }, ...(body !== undefined ? { body: JSON.stringify(body) } : {}) });

async function keys(): Promise<KeyView[]> {
  return ((await (await admin('GET', '/admin/keys')).json()) as { data: KeyView[] }).data;
}

/** A person with a role and teams, signed in through their one-time link. */
async function signedIn(role: string, teams: string[]): Promise<{ page: Page; email: string }> {
  const email = `${role}-${teams.join('-') || 'all'}-${tag}@example.com`;
  const r = await admin('POST', '/admin/users', { email, role, teams });
  expect(r.status, await r.clone().text()).toBe(201);
  const { sign_in_path } = (await r.json()) as { sign_in_path: string };
  const page = await (await browser.newContext()).newPage();
  page.setDefaultTimeout(15_000);
  await page.goto(`${gl.url}${sign_in_path}`);
  await page.fill('#password', PASSWORD);
  await page.fill('#confirm', PASSWORD);
  await Promise.all([page.waitForURL((u) => u.pathname === '/requests'), page.click('button[type=submit]')]);
  return { page, email };
}

beforeAll(async () => {
  [browser, gl] = await startTogether(
    [chromium.launch({ executablePath: CHROMIUM, args: ['--headless', '--no-sandbox', '--disable-gpu', '--disable-background-networking'] }), (b) => b.close()],
    [startGatelog({ env: { GATELOG_MASTER_KEY: MASTER }, timeoutMs: 60_000 }), (g) => g.stop()],
  );
}, 90_000);

afterAll(async () => {
  await browser?.close();
  await gl?.stop();
});

describe('a team-scoped admin on the Keys page', () => {
  it('creates keys in its own team only and cannot revoke another team\'s key', async () => {
    const r = await admin('POST', '/admin/keys', { name: `blue-${tag}`, team: 'blue' });
    expect(r.status).toBe(201);
    const blue = ((await r.json()) as { key: KeyView }).key;
    const { page, email } = await signedIn('admin', ['red']);
    try {
      await page.goto(`${gl.url}/keys`);
      for (const team of ['blue', '']) {
        const name = `ui-${team || 'none'}-${tag}`;
        await page.click('.key-new summary');
        await page.fill('input[name=name]', name);
        await page.fill('input[name=team]', team);
        // An empty team is refused by the form itself for a scoped person; post it as a browser without that check would.
        if (team === '') await page.locator('input[name=team]').evaluate((el) => el.removeAttribute('required'));
        const [res] = await Promise.all([page.waitForResponse((x) => x.url().includes('/keys?/create')), page.click('[data-testid=key-create] button[type=submit]')]);
        expect(res.status(), team).toBe(403);
        expect(await page.textContent('[data-testid=key-error]')).toContain('own teams');
        expect((await keys()).some((k) => k.name === name), team).toBe(false);
        await page.goto(`${gl.url}/keys`);
      }

      await page.click('.key-new summary');
      await page.fill('input[name=name]', `ui-red-${tag}`);
      await page.fill('input[name=team]', 'red');
      await Promise.all([page.waitForLoadState('load'), page.click('[data-testid=key-create] button[type=submit]')]);
      expect(await page.inputValue('[data-testid=key-secret]')).toMatch(/^gl-/);
      const made = (await keys()).find((k) => k.name === `ui-red-${tag}`);
      expect(made?.team).toBe('red');
      // The Keys page calls the admin API with the master key, for the person: audited as them.
      const rows = ((await (await admin('GET', '/admin/audit?action=key.create&limit=1000')).json()) as { data: { target: string; actor: string; role: string }[] }).data;
      expect(rows.filter((a) => a.target === made?.id)).toEqual([expect.objectContaining({ actor: email, role: 'admin' })]);

      // Blue's key is not listed for them, and posting its id is refused at both steps.
      await page.goto(`${gl.url}/keys`);
      expect(await page.content()).not.toContain(blue.id);
      for (const confirm of ['', 'yes']) {
        const res = await page.request.post(`${gl.url}/keys?/revoke`, { form: { id: blue.id, name: blue.name, confirm }, headers: { origin: gl.url }, maxRedirects: 0 });
        expect(res.status(), confirm).toBe(404);
      }
      expect((await keys()).find((k) => k.id === blue.id)?.revoked).toBe(false);
    } finally {
      await page.context().close();
    }
  }, 90_000);
});

describe('a team-scoped auditor on the Audit page', () => {
  it('reads red people\'s actions, not blue\'s or an unscoped person\'s searches, on the page and in its export', async () => {
    const { page } = await signedIn('auditor', ['red']);
    try {
      const people = { red: await signedIn('analyst', ['red']), blue: await signedIn('analyst', ['blue']), all: await signedIn('analyst', []) };
      const texts = { red: `red-search-${tag}`, blue: `blue-search-${tag}`, all: `all-search-${tag}` };
      for (const who of ['red', 'blue', 'all'] as const) {
        const p = people[who].page;
        expect((await p.goto(`${gl.url}/requests?q=${texts[who]}`))?.status()).toBe(200);
        await p.context().close();
      }
      const res = await page.goto(`${gl.url}/audit?action=calls.search`);
      expect(res?.status()).toBe(200);
      const html = await page.content();
      expect(html).toContain(texts.red);
      expect(html).not.toContain(texts.blue);
      expect(html).not.toContain(texts.all);
      // No audit sink configured: no "Streaming to SIEM" panel, and no error in its place.
      expect(await page.getByTestId('sinks-panel').count()).toBe(0);
      expect(await page.getByTestId('sinks-error').count()).toBe(0);
      const exported = await page.request.get(`${gl.url}/audit/export?format=jsonl`);
      expect(exported.status()).toBe(200);
      const body = await exported.text();
      expect(body).toContain(texts.red);
      expect(body).not.toContain(texts.blue);
      expect(body).not.toContain(texts.all);
    } finally {
      await page.context().close();
    }
  }, 120_000);
});
