// Keys page writes in a real browser against a real gatelog (master key set): create a key
// through the form, call the model API with the secret shown once, rotate it (both secrets work
// during the grace period chosen), revoke it with the
// two-step confirmation, and the key is refused from then on. The page never shows a hash,
// and the secret appears on the create result only.
import { randomUUID } from 'node:crypto';
import { mkdirSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { chromium, type Browser } from 'playwright-core';
import { ROOT, startGatelog, type GatelogProcess } from '../support/gatelog-process.ts';
import { startTogether } from '../support/start-together.ts';

const SHOTS = join(ROOT, 'test-results');
const CHROMIUM = process.env['CHROMIUM_PATH'] ?? '/usr/bin/chromium';
const masterKey = `mk-${randomUUID()}`;

let browser: Browser;
let gl: GatelogProcess;

beforeAll(async () => {
  mkdirSync(SHOTS, { recursive: true });
  [browser, gl] = await startTogether(
    [chromium.launch({ executablePath: CHROMIUM, args: ['--headless', '--no-sandbox', '--disable-gpu', '--disable-background-networking'] }), (b) => b.close()],
    [startGatelog({ env: { GATELOG_MASTER_KEY: masterKey } }), (g) => g.stop()],
  );
}, 60_000);

afterAll(async () => {
  await browser?.close();
  await gl?.stop();
});

async function chat(secret: string): Promise<number> {
  const r = await fetch(`${gl.url}/v1/chat/completions`, {
    method: 'POST',
    headers: { 'content-type': 'application/json', authorization: `Bearer ${secret}` },
    body: JSON.stringify({ model: 'mock-chat', messages: [{ role: 'user', content: 'hi' }] }),
  });
  await r.arrayBuffer();
  return r.status;
}

describe('/keys create and revoke', () => {
  it('creates a key whose secret works, then revokes it so the key is refused', async () => {
    const page = await browser.newPage();
    page.setDefaultTimeout(10_000);
    try {
      await page.goto(`${gl.url}/keys`);
      await page.fill('#key', masterKey);
      await Promise.all([page.waitForURL(`${gl.url}/keys`), page.click('button[type=submit]')]);

      // A rejected create shows the API's own message as text.
      const name = `ui-key-${randomUUID().slice(0, 8)}`;
      await page.click('.key-new summary');
      await page.fill('input[name=name]', name);
      await page.fill('input[name=budget_usd]', '-5');
      await Promise.all([page.waitForLoadState('load'), page.click('[data-testid=key-create] button[type=submit]')]);
      expect(await page.textContent('[data-testid=key-error]')).toMatch(/budget_usd/);

      await page.fill('input[name=budget_usd]', '');
      await page.fill('input[name=team]', 'team-ui');
      await page.fill('input[name=user_rpm]', '30');
      await Promise.all([page.waitForLoadState('load'), page.click('[data-testid=key-create] button[type=submit]')]);
      const secret = await page.inputValue('[data-testid=key-secret]');
      expect(secret).toMatch(/^gl-[A-Za-z0-9_-]{32,}$/);
      const createdHtml = await page.content();
      expect(new URL(page.url()).search).not.toContain(secret);
      expect((await page.context().cookies()).some((c) => c.value.includes(secret))).toBe(false);
      await page.screenshot({ path: join(SHOTS, 'ui-keys-created.png'), fullPage: true });

      expect(await chat(secret)).toBe(200);

      // The list never holds the secret or any hash, before or after a reload.
      await page.goto(`${gl.url}/keys`);
      const listHtml = await page.content();
      expect(listHtml).not.toContain(secret);
      expect(listHtml).not.toMatch(/[0-9a-f]{64}/);
      expect(createdHtml).not.toMatch(/[0-9a-f]{64}/);
      const row = page.locator('tr', { hasText: name });
      expect(await row.locator('td', { hasText: 'active' }).count()).toBe(1);
      expect(await row.locator('[data-testid=per-user]').textContent()).toBe('30 rpm');

      // Rotate: first POST asks how long the old secret keeps working, second shows the new one once.
      await Promise.all([page.waitForLoadState('load'), row.locator('button', { hasText: 'Rotate' }).click()]);
      expect(await page.textContent('[data-testid=rotate-confirm]')).toContain(name);
      await page.selectOption('[data-testid=rotate-confirm] select[name=grace]', '1h');
      await Promise.all([page.waitForLoadState('load'), page.click('[data-testid=rotate-confirm] button[type=submit]')]);
      const rotated = await page.inputValue('[data-testid=key-secret]');
      expect(rotated).toMatch(/^gl-[A-Za-z0-9_-]{32,}$/);
      expect(rotated).not.toBe(secret);
      expect(await page.textContent('[data-testid=key-rotated]')).toMatch(/previous secret keeps working until \d{4}-/);
      expect(await chat(rotated)).toBe(200);
      expect(await chat(secret)).toBe(200);
      await page.goto(`${gl.url}/keys`);
      expect(await row.locator('[data-testid=previous-secret]').textContent()).toMatch(/^old secret gl-/);
      const rotatedListHtml = await page.content();
      expect(rotatedListHtml).not.toContain(rotated);
      expect(rotatedListHtml).not.toMatch(/[0-9a-f]{64}/);

      // Revoke: first POST asks, second (confirmed) revokes.
      await Promise.all([page.waitForLoadState('load'), row.locator('button', { hasText: 'Revoke' }).click()]);
      expect(await page.textContent('[data-testid=revoke-confirm]')).toContain(name);
      expect(await chat(secret)).toBe(200);
      await page.screenshot({ path: join(SHOTS, 'ui-keys-revoke-confirm.png'), fullPage: true });
      await Promise.all([page.waitForLoadState('load'), page.click('[data-testid=revoke-confirm] button[type=submit]')]);
      expect(await page.textContent('[data-testid=key-revoked]')).toContain(name);
      expect(await page.locator('tr', { hasText: name }).locator('td', { hasText: 'revoked' }).count()).toBe(1);
      expect(await page.content()).not.toContain(secret);

      const deadline = Date.now() + 5000;
      let status = await chat(secret);
      while (status !== 401 && Date.now() < deadline) {
        await new Promise((r) => setTimeout(r, 100));
        status = await chat(secret);
      }
      expect(status).toBe(401);
      expect(await chat(rotated)).toBe(401);
    } finally {
      await page.close();
    }
  }, 60_000);

  it('refuses key writes without a session', async () => {
    const r = await fetch(`${gl.url}/keys?/create`, {
      method: 'POST',
      headers: { 'content-type': 'application/x-www-form-urlencoded', origin: gl.url },
      body: 'name=nope',
      redirect: 'manual',
    });
    expect(r.status).toBe(303);
    expect(r.headers.get('location')).toMatch(/^\/login/);
  });
});
