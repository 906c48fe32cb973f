// The alerts pages in a real browser against a real `gatelog start` (master key set) with a
// webhook receiver: the config rule is listed read-only and the channel's URL is masked (its
// token and signing secret never reach a page); a rule created through the form fires on a real
// call (the receiver gets a signed message), shows "firing" and its history (firing and
// delivery); it can be edited, disabled and deleted; bad input shows the API's message. An
// analyst sees the rules but no form, and its writes are refused.
import { execFile } from 'node:child_process';
import { randomUUID } from 'node:crypto';
import { mkdirSync } from 'node:fs';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { chromium, type Browser, type Page } from 'playwright-core';
import { ROOT, startGatelog, type GatelogProcess } from '../support/gatelog-process.ts';
import { startTogether } from '../support/start-together.ts';
import { startWebhookReceiver, verifySignature, type WebhookReceiver } from '../support/webhook-receiver.ts';

const SHOTS = join(ROOT, 'test-results');
const CHROMIUM = process.env['CHROMIUM_PATH'] ?? '/usr/bin/chromium';
const masterKey = `mk-${randomUUID()}`;
const SECRET = `whsec-${randomUUID()}`;
const TOKEN = `tok${randomUUID().replaceAll('-', '')}`;

let browser: Browser;
let gl: GatelogProcess;
let rx: WebhookReceiver;

beforeAll(async () => {
  mkdirSync(SHOTS, { recursive: true });
  rx = await startWebhookReceiver();
  [browser, gl] = await startTogether(
    [chromium.launch({ executablePath: CHROMIUM, args: ['--headless', '--no-sandbox', '--disable-gpu', '--disable-background-networking'] }), (b) => b.close()],
    [startGatelog({
      env: { GATELOG_MASTER_KEY: masterKey },
      config: {
        providers: { mock: { kind: 'mock' } },
        models: [{ name: 'mock-chat', deployments: [{ provider: 'mock', model: 'mock-chat' }] }],
        ingest: { batch_ms: 200 },
        alerts: {
          interval_s: 0.5,
          channels: { ops: { kind: 'webhook', url: `${rx.url}/hooks/${TOKEN}`, secret: SECRET } },
          rules: [{ id: 'cfg-errors', name: 'Errors from config', kind: 'error_rate', threshold: 0.5, window_s: 300, channels: ['ops'] }],
        },
      },
    }), (g) => g.stop()],
  );
}, 90_000);

afterAll(async () => {
  await browser?.close();
  await gl?.stop();
  await rx?.close();
});

async function submit(page: Page, selector: string): Promise<void> {
  await Promise.all([page.waitForLoadState('load'), page.click(selector)]);
}

describe('/alerts', () => {
  it('an analyst sees the rules without forms and cannot write', async () => {
    const out = await promisify(execFile)(process.execPath, ['--disable-warning=ExperimentalWarning', join(ROOT, 'src', 'cli.ts'), 'users', 'create', '--email', `an-${randomUUID().slice(0, 6)}@example.com`, '--role', 'analyst', '--url', gl.url], {
      env: { ...process.env, GATELOG_MASTER_KEY: masterKey },
    });
    const link = /(http:\/\/\S+\/login\/invite\?token=gli-[A-Za-z0-9_-]{43})/.exec(out.stdout)?.[1];
    expect(link, out.stdout).toBeDefined();
    const page = await (await browser.newContext()).newPage();
    page.setDefaultTimeout(15_000);
    try {
      await page.goto(link!);
      await page.fill('#password', 'correct horse battery staple');
      await page.fill('#confirm', 'correct horse battery staple');
      await Promise.all([page.waitForURL((u) => u.pathname === '/requests'), page.click('button[type=submit]')]);
      expect((await page.goto(`${gl.url}/alerts`))?.status()).toBe(200);
      expect(await page.locator('[data-testid=alert-rule][data-rule=cfg-errors]').count()).toBe(1);
      expect(await page.locator('[data-testid=alert-form]').count()).toBe(0);
      const post = await page.request.post(`${gl.url}/alerts?/save`, { form: { kind: 'error_rate', threshold: '0.1' }, headers: { origin: gl.url }, maxRedirects: 0 });
      expect(post.status()).toBe(403);
    } finally {
      await page.close();
    }
  }, 60_000);

  it('creates a rule that fires on a real call, shows it firing and in the history, then edits, disables and deletes it', async () => {
    const page = await browser.newPage();
    page.setDefaultTimeout(15_000);
    try {
      await page.goto(`${gl.url}/alerts`);
      await page.fill('#key', masterKey);
      await Promise.all([page.waitForURL(`${gl.url}/alerts`), page.click('button[type=submit]')]);

      const cfgRow = page.locator('[data-testid=alert-rule][data-rule=cfg-errors]');
      expect(await cfgRow.textContent()).toContain('gatelog.yaml');
      expect(await cfgRow.locator('[data-testid=alert-delete]').count()).toBe(0);
      let html = await page.content();
      expect(html).toContain('http://127.0.0.1:'); // the channel, masked
      expect(html).not.toContain(TOKEN);
      expect(html).not.toContain(SECRET);

      // Bad input: the API's message, shown as text.
      await page.click('.key-new summary');
      await page.fill('[data-testid=alert-form] input[name=id]', 'latency-ui');
      await page.selectOption('[data-testid=alert-form] select[name=kind]', 'p95_latency');
      await page.fill('[data-testid=alert-form] input[name=threshold]', '-1');
      await submit(page, '[data-testid=alert-form] button[type=submit]');
      expect(await page.textContent('[data-testid=alert-error]')).toMatch(/threshold/);

      // p95 ≥ 0 ms over at least one call of mock-chat: the first call makes it fire.
      await page.fill('[data-testid=alert-form] input[name=id]', 'latency-ui');
      await page.fill('[data-testid=alert-form] input[name=name]', 'Any latency on mock-chat');
      await page.selectOption('[data-testid=alert-form] select[name=kind]', 'p95_latency');
      await page.fill('[data-testid=alert-form] input[name=threshold]', '0');
      await page.fill('[data-testid=alert-form] input[name=window_s]', '600');
      await page.fill('[data-testid=alert-form] input[name=min_calls]', '1');
      await page.fill('[data-testid=alert-form] input[name=scope_model]', 'mock-chat');
      await page.check('[data-testid=alert-form] input[name=channels][value=ops]');
      await submit(page, '[data-testid=alert-form] button[type=submit]');
      expect(await page.textContent('[data-testid=alert-saved]')).toContain('latency-ui');
      const row = page.locator('[data-testid=alert-rule][data-rule=latency-ui]');
      expect(await row.locator('[data-testid=alert-state]').textContent()).toContain('ok');

      const r = await fetch(`${gl.url}/v1/chat/completions`, {
        method: 'POST',
        headers: { 'content-type': 'application/json', authorization: `Bearer ${masterKey}` },
        body: JSON.stringify({ model: 'mock-chat', messages: [{ role: 'user', content: 'hi' }] }),
      });
      expect(r.status).toBe(200);
      await r.arrayBuffer();

      const deadline = Date.now() + 60_000;
      while (!rx.received.some((x) => x.body.includes('"latency-ui"')) && Date.now() < deadline) await new Promise((res) => setTimeout(res, 100));
      const fired = rx.received.filter((x) => x.body.includes('"latency-ui"'));
      expect(fired).toHaveLength(1);
      expect(verifySignature(SECRET, fired[0]!.headers['x-gatelog-signature'] as string, fired[0]!.body, Math.floor(Date.now() / 1000))).toBe(true);
      expect(JSON.parse(fired[0]!.body)).toMatchObject({ type: 'alert.fired', subject: 'model=mock-chat', rule: { id: 'latency-ui', kind: 'p95_latency' } });

      await page.goto(`${gl.url}/alerts`);
      expect(await row.locator('[data-testid=alert-state]').textContent()).toContain('firing');
      expect(await page.textContent('[data-testid=alert-recent]')).toContain('Any latency on mock-chat');
      await page.screenshot({ path: join(SHOTS, 'ui-alerts-firing.png'), fullPage: true });

      await page.goto(`${gl.url}/alerts/history?rule=latency-ui`);
      const kinds = await page.locator('[data-testid=alert-event]').evaluateAll((els) => els.map((e) => e.getAttribute('data-kind')));
      expect(kinds).toContain('fired');
      expect(kinds).toContain('delivery');
      expect(await page.textContent('[data-testid=alert-history]')).toContain('delivered (200)');
      html = await page.content();
      expect(html).not.toContain(TOKEN);
      expect(html).not.toContain(SECRET);
      await page.screenshot({ path: join(SHOTS, 'ui-alerts-history.png'), fullPage: true });

      // Edit: the form comes back filled; the new threshold is listed.
      await page.goto(`${gl.url}/alerts`);
      await Promise.all([page.waitForLoadState('load'), row.locator('[data-testid=alert-edit]').click()]);
      expect(await page.inputValue('[data-testid=alert-form] input[name=scope_model]')).toBe('mock-chat');
      await page.fill('[data-testid=alert-form] input[name=threshold]', '250000');
      await submit(page, '[data-testid=alert-form] button[type=submit]');
      expect(await row.locator('td').nth(2).textContent()).toBe('250000');

      await submit(page, '[data-testid=alert-rule][data-rule=latency-ui] [data-testid=alert-toggle]');
      expect(await row.locator('[data-testid=alert-state]').textContent()).toContain('disabled');
      expect(await row.locator('[data-testid=alert-toggle]').textContent()).toBe('Enable');

      await submit(page, '[data-testid=alert-rule][data-rule=latency-ui] [data-testid=alert-delete]');
      expect(await page.textContent('[data-testid=alert-deleted]')).toContain('latency-ui');
      expect(await page.locator('[data-testid=alert-rule][data-rule=latency-ui]').count()).toBe(0);
      expect(await page.locator('[data-testid=alert-rule][data-rule=cfg-errors]').count()).toBe(1);
    } finally {
      await page.close();
    }
  }, 150_000);

  it('the admin API answers bad rules with 4xx in the error shape, masks channels and refuses a caller without the master key', async () => {
    const auth = { authorization: `Bearer ${masterKey}`, 'content-type': 'application/json' };
    const bad = await fetch(`${gl.url}/admin/alerts/rules`, { method: 'POST', headers: auth, body: JSON.stringify({ kind: 'nope', threshold: 1 }) });
    expect(bad.status).toBe(400);
    expect(((await bad.json()) as { error: { code: string } }).error.code).toBe('invalid_alert_rule');
    const unknownChannel = await fetch(`${gl.url}/admin/alerts/rules`, { method: 'POST', headers: auth, body: JSON.stringify({ kind: 'error_rate', threshold: 0.1, channels: ['nowhere'] }) });
    expect(unknownChannel.status).toBe(400);
    const cfg = await fetch(`${gl.url}/admin/alerts/rules/cfg-errors`, { method: 'PATCH', headers: auth, body: JSON.stringify({ enabled: false }) });
    expect(cfg.status).toBe(409);
    const missing = await fetch(`${gl.url}/admin/alerts/rules/nope`, { method: 'DELETE', headers: { authorization: auth.authorization } });
    expect(missing.status).toBe(404);
    const list = await fetch(`${gl.url}/admin/alerts/rules`, { headers: auth });
    const text = await list.text();
    expect(list.status).toBe(200);
    expect(text).not.toContain(TOKEN);
    expect(text).not.toContain(SECRET);
    const anon = await fetch(`${gl.url}/admin/alerts/rules`);
    expect(anon.status).toBe(401);
    // The firing of the first test, counted for Prometheus.
    const metrics = await (await fetch(`${gl.url}/metrics`, { headers: { authorization: auth.authorization } })).text();
    expect(metrics).toContain('gatelog_alert_transitions_total{transition="fired",kind="p95_latency"} 1');
    expect(metrics).toMatch(/gatelog_alert_deliveries_total\{result="ok"\} [1-9]/);
  });
});
