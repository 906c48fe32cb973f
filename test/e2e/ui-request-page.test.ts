// The whole path in a real browser: a chat call through the proxy shows up in the UI's
// request list, and its page renders the exact prompt as text (hostile markup included)
// without running any of it. Plus sign-in when a master key is set.
import { randomUUID } from 'node:crypto';
import { mkdirSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { chromium, type Browser, type Page } from 'playwright-core';
import { ROOT, startGatelog, type GatelogProcess } from '../support/gatelog-process.ts';

const SHOTS = join(ROOT, 'test-results');
const CHROMIUM = process.env['CHROMIUM_PATH'] ?? '/usr/bin/chromium';

let browser: Browser;

beforeAll(async () => {
  mkdirSync(SHOTS, { recursive: true });
  browser = await chromium.launch({
    executablePath: CHROMIUM,
    args: ['--headless', '--no-sandbox', '--disable-gpu', '--disable-background-networking'],
  });
});

afterAll(async () => {
  await browser?.close();
});

/** Records what must never happen on a page: dialogs (injected script ran) and CSP refusals. */
function watch(page: Page): { dialogs: string[]; cspErrors: string[] } {
  const seen = { dialogs: [] as string[], cspErrors: [] as string[] };
  page.setDefaultTimeout(10_000);
  page.on('dialog', (d) => {
    seen.dialogs.push(d.message());
    void d.dismiss();
  });
  page.on('console', (m) => {
    if (m.type() === 'error' && /Content Security Policy/i.test(m.text())) seen.cspErrors.push(m.text());
  });
  return seen;
}

describe('UI request page (no master key)', () => {
  let gl: GatelogProcess;
  beforeAll(async () => {
    gl = await startGatelog();
  });
  afterAll(async () => {
    await gl?.stop();
  });

  it('lists a proxied call and shows its exact prompt as text', async () => {
    const marker = randomUUID();
    const prompt = `ui-e2e ${marker}\n<script>alert(1)</script><img src=x onerror="alert(2)"> & 'quotes' "too"`;
    const res = await fetch(`${gl.url}/v1/chat/completions`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ model: 'mock-chat', messages: [{ role: 'user', content: prompt }] }),
    });
    expect(res.status).toBe(200);
    await res.arrayBuffer();

    const page = await browser.newPage();
    const seen = watch(page);
    try {
      // Ingest is asynchronous: poll the list, bounded.
      const deadline = Date.now() + 20_000;
      let row = page.locator('table.calls tbody tr', { hasText: marker });
      for (;;) {
        await page.goto(`${gl.url}/requests`);
        row = page.locator('table.calls tbody tr', { hasText: marker });
        if ((await row.count()) > 0) break;
        if (Date.now() > deadline) throw new Error(`call ${marker} never appeared in /requests:\n${gl.logs()}`);
        await new Promise((r) => setTimeout(r, 250));
      }
      expect(await row.locator('td').nth(1).textContent()).toBe('mock-chat');
      await page.screenshot({ path: join(SHOTS, 'ui-requests-list.png'), fullPage: true });

      await row.locator('a').first().click();
      await page.waitForURL(/\/requests\/[0-9a-f-]{36}$/);
      const shown = page.locator('ol[aria-label="Prompt messages"] pre.content');
      expect(await shown.count()).toBe(1);
      expect(await shown.first().textContent()).toBe(prompt);
      expect(await page.locator('ol[aria-label="Prompt messages"] img').count()).toBe(0);

      // The raw toggle shows the request body verbatim.
      await page.locator('summary', { hasText: 'Request body' }).click();
      const raw = await page.locator('[data-testid="raw-request"]').textContent();
      expect(JSON.parse(raw ?? '')).toEqual({ model: 'mock-chat', messages: [{ role: 'user', content: prompt }] });
      await page.screenshot({ path: join(SHOTS, 'ui-request-page.png'), fullPage: true });

      const missing = await page.goto(`${gl.url}/requests/${randomUUID()}`);
      expect(missing?.status()).toBe(404);

      expect(seen.dialogs).toEqual([]);
      expect(seen.cspErrors).toEqual([]);
    } finally {
      await page.close();
    }
  });
});

describe('UI sign-in (master key set)', () => {
  const masterKey = `mk-${randomUUID()}`;
  let gl: GatelogProcess;
  beforeAll(async () => {
    // Plain http with no reverse proxy, exactly as `npm start` serves it.
    gl = await startGatelog({ env: { GATELOG_MASTER_KEY: masterKey } });
  });
  afterAll(async () => {
    await gl?.stop();
  });

  it('redirects to /login and signs in with the master key', async () => {
    const page = await browser.newPage();
    const seen = watch(page);
    try {
      await page.goto(`${gl.url}/requests?status=ok`);
      expect(new URL(page.url()).pathname).toBe('/login');
      await page.screenshot({ path: join(SHOTS, 'ui-login.png'), fullPage: true });

      await page.fill('#key', 'not-the-key');
      await page.click('button[type="submit"]');
      await page.locator('[role="alert"]').waitFor();
      expect(new URL(page.url()).pathname).toBe('/login');

      await page.fill('#key', masterKey);
      await page.click('button[type="submit"]');
      await page.waitForURL((u) => u.pathname === '/requests');
      expect(new URL(page.url()).search).toBe('?status=ok');
      expect(await page.locator('h1').textContent()).toBe('Requests');
      const cookies = await page.context().cookies();
      const session = cookies.find((c) => c.name === 'gatelog_session');
      expect(session?.httpOnly).toBe(true);
      expect(session?.sameSite).toBe('Strict');
      expect(session?.value).not.toContain(masterKey);

      await page.click('text=Sign out');
      await page.waitForURL((u) => u.pathname === '/login');
      await page.goto(`${gl.url}/requests`);
      expect(new URL(page.url()).pathname).toBe('/login');
      expect(seen.dialogs).toEqual([]);
      expect(seen.cspErrors).toEqual([]);
    } finally {
      await page.close();
    }
  });
});
