// People and roles in a real browser against a real gatelog: `gatelog users create` prints a
// one-time sign-in link for each role, the person sets a password there, and each role sees
// and may do exactly what the permission table says (a viewer sees "hidden for your role"
// where a body would be). Machine tokens made by `gatelog tokens create` get the same answers
// from the admin API (403 for a viewer reading a body). Disabling a person ends their session;
// a disabled person can then be deleted on the People page.
import { execFile } from 'node:child_process';
import { randomUUID } from 'node:crypto';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { chromium, type Browser, type Page } from 'playwright-core';
import { ROOT, startGatelog, type GatelogProcess } from '../support/gatelog-process.ts';
import { startTogether } from '../support/start-together.ts';
import { signInByLink } from '../support/ui-signin.ts';

const run = promisify(execFile);
const CHROMIUM = process.env['CHROMIUM_PATH'] ?? '/usr/bin/chromium';
const MASTER = `mk-${randomUUID()}`;
const CANARY = `role-canary-${randomUUID().slice(0, 8)}`;
const PASSWORD = 'correct horse battery staple';
const ROLES = ['owner', 'admin', 'analyst', 'auditor', 'viewer'] as const;
type Role = (typeof ROLES)[number];

let browser: Browser;
let gl: GatelogProcess;
let callId: string;
const links = new Map<Role, string>();
const emails = new Map<Role, string>();
const ids = new Map<Role, string>();

async function cli(...args: string[]): Promise<string> {
  const r = await run(process.execPath, ['--disable-warning=ExperimentalWarning', join(ROOT, 'src', 'cli.ts'), ...args, '--url', gl.url], {
    env: { ...process.env, GATELOG_MASTER_KEY: MASTER },
  });
  return r.stdout;
}

const admin = (path: string, token = MASTER, init: RequestInit = {}): Promise<Response> =>
  fetch(`${gl.url}${path}`, { ...init, headers: { authorization: `Bearer ${token}`, 'content-type': 'application/json', ...init.headers } });

beforeAll(async () => {
  [browser, gl] = await startTogether(
    [chromium.launch({ executablePath: CHROMIUM, args: ['--headless', '--no-sandbox', '--disable-gpu', '--disable-background-networking'] }), (b) => b.close()],
    [startGatelog({ env: { GATELOG_MASTER_KEY: MASTER }, config: { ingest: { batch_ms: 50 }, providers: { mock: { kind: 'mock' } }, models: [{ name: 'mock-chat', deployments: [{ provider: 'mock', model: 'mock-chat' }] }] }, timeoutMs: 60_000 }), (g) => g.stop()],
  );
  const r = await admin('/v1/chat/completions', MASTER, { method: 'POST', body: JSON.stringify({ model: 'mock-chat', messages: [{ role: 'user', content: `tell me about ${CANARY}` }] }) });
  expect(r.status).toBe(200);
  callId = r.headers.get('x-gatelog-request-id')!;
  for (let i = 0; i < 200; i++) {
    if ((await admin(`/admin/calls/${callId}`)).status === 200) break;
    await new Promise((res) => setTimeout(res, 100));
  }
  for (const role of ROLES) {
    const email = `${role}-${randomUUID().slice(0, 6)}@example.com`;
    const out = await cli('users', 'create', '--email', email, '--role', role);
    const link = /(http:\/\/\S+\/login\/invite\?token=gli-[A-Za-z0-9_-]{43})/.exec(out)?.[1];
    expect(link, out).toBeDefined();
    links.set(role, link!);
    emails.set(role, email);
    ids.set(role, out.split(/\s+/)[0]!);
  }
}, 120_000);

afterAll(async () => {
  await browser?.close();
  await gl?.stop();
});

const signedIn = (role: Role): Promise<Page> => signInByLink(browser, links.get(role)!, PASSWORD);

const status = async (page: Page, path: string): Promise<number> => (await page.goto(`${gl.url}${path}`))?.status() ?? 0;

describe('each role in the browser', () => {
  it.each(ROLES)('%s sees and may do what its role allows', async (role) => {
    const page = await signedIn(role);
    try {
      expect(await page.getByTestId('who').textContent()).toContain(role);
      const bodies = role !== 'viewer';
      // Call metadata everywhere; bodies only for roles with bodies.read.
      await page.goto(`${gl.url}/requests`);
      expect((await page.content()).includes(CANARY)).toBe(bodies);
      expect(await status(page, `/requests/${callId}`)).toBe(200);
      const html = await page.content();
      expect(html.includes(CANARY)).toBe(bodies);
      expect(html.includes('hidden for your role')).toBe(!bodies);
      expect(await status(page, `/requests?q=${CANARY}`)).toBe(bodies ? 200 : 403);
      expect(await status(page, '/spend')).toBe(200);
      expect((await page.request.get(`${gl.url}/export?format=jsonl`, { maxRedirects: 0 })).status()).toBe(role === 'viewer' ? 403 : 200);
      expect(await status(page, '/keys')).toBe(200);
      const people = ['owner', 'admin', 'auditor'].includes(role);
      expect(await status(page, '/people')).toBe(people ? 200 : 403);
      await page.goto(`${gl.url}/requests`);
      expect(await page.locator('nav a[href="/people"]').count()).toBe(people ? 1 : 0);
      // A write the role lacks is refused before any action runs.
      const create = await page.request.post(`${gl.url}/keys?/create`, { form: { name: `k-${role}` }, headers: { origin: gl.url }, maxRedirects: 0 });
      expect(create.status() === 403).toBe(!['owner', 'admin'].includes(role));
    } finally {
      await page.context().close();
    }
  }, 90_000);

  it('a person signs in with email and password; wrong passwords are refused; disabling ends the session', async () => {
    const page = await (await browser.newContext()).newPage();
    try {
      await page.goto(`${gl.url}/login`);
      await page.fill('#email', emails.get('analyst')!);
      await page.fill('#password', 'not the password at all');
      await page.click('#account-submit');
      await page.locator('[role="alert"]').waitFor();
      expect(await page.locator('[role="alert"]').textContent()).toMatch(/do not match/);
      await page.fill('#email', emails.get('analyst')!);
      await page.fill('#password', PASSWORD);
      await Promise.all([page.waitForURL((u) => u.pathname === '/requests'), page.click('#account-submit')]);
      expect(await status(page, `/requests/${callId}`)).toBe(200);

      await cli('users', 'disable', ids.get('analyst')!);
      // Other processes' session caches honour a revocation within CACHE_MS (3 s).
      for (let deadline = Date.now() + 10_000; ; await new Promise((r) => setTimeout(r, 500))) {
        await page.goto(`${gl.url}/requests`);
        if (new URL(page.url()).pathname === '/login' || Date.now() > deadline) break;
      }
      expect(new URL(page.url()).pathname).toBe('/login');
      await page.fill('#email', emails.get('analyst')!);
      await page.fill('#password', PASSWORD);
      await page.click('#account-submit');
      await page.locator('[role="alert"]').waitFor();
      expect(new URL(page.url()).pathname).toBe('/login');

      // Disabled, the person can be deleted on the People page: their record goes.
      const owner = await (await browser.newContext()).newPage();
      try {
        await owner.goto(`${gl.url}/login`);
        await owner.fill('#email', emails.get('owner')!);
        await owner.fill('#password', PASSWORD);
        await Promise.all([owner.waitForURL((u) => u.pathname === '/requests'), owner.click('#account-submit')]);
        await owner.goto(`${gl.url}/people`);
        // Only a disabled person is offered for deletion.
        expect(await owner.locator('button[aria-label^="Delete "]').count()).toBe(1);
        await owner.click(`button[aria-label="Delete ${emails.get('analyst')!}"]`);
        const done = owner.locator('p.created[role="status"]');
        await done.waitFor();
        expect(await done.textContent()).toContain(emails.get('analyst')!);
        expect(await owner.locator('[data-testid="person"]', { hasText: emails.get('analyst')! }).count()).toBe(0);
      } finally {
        await owner.context().close();
      }
      expect(await cli('users', 'list')).not.toContain(emails.get('analyst')!);
    } finally {
      await page.context().close();
    }
  }, 90_000);
});

describe('machine tokens and the admin API', () => {
  it('answers by the token\'s role, and the audit trail names people and roles', async () => {
    const token = async (role: Role): Promise<string> => {
      const out = await cli('tokens', 'create', '--name', `bot-${role}`, '--role', role);
      return /(glt-[A-Za-z0-9_-]{43})/.exec(out)![1]!;
    };
    const viewer = await token('viewer');
    const auditor = await token('auditor');
    expect((await admin('/admin/calls', viewer)).status).toBe(200);
    const body = await admin(`/admin/calls/${callId}`, viewer);
    expect(body.status).toBe(403);
    expect(((await body.json()) as { error: { code: string } }).error.code).toBe('role_forbidden');
    expect((await admin('/admin/audit', viewer)).status).toBe(403);
    expect((await admin('/admin/keys', viewer, { method: 'POST', body: JSON.stringify({ name: 'x' }) })).status).toBe(403);
    expect((await admin(`/admin/calls/${callId}`, auditor)).status).toBe(200);
    expect((await admin('/admin/audit', auditor)).status).toBe(200);
    expect((await admin('/admin/users', auditor)).status).toBe(200);
    expect((await admin('/admin/users', auditor, { method: 'POST', body: JSON.stringify({ email: 'x@example.com', role: 'viewer' }) })).status).toBe(403);
    expect((await admin('/admin/keys', `glt-${'A'.repeat(43)}`)).status).toBe(401);

    const list = await cli('tokens', 'list');
    const id = list.split('\n').find((l) => l.includes('bot-auditor'))!.split(/\s+/)[0]!;
    await cli('tokens', 'revoke', id);
    await new Promise((res) => setTimeout(res, 3200));
    expect((await admin('/admin/audit', auditor)).status).toBe(401);

    const rows = ((await (await admin('/admin/audit?limit=1000')).json()) as { data: { actor: string; role: string; action: string }[] }).data;
    for (const role of ROLES) {
      expect(rows.some((r) => r.action === 'signin.success' && r.actor === emails.get(role) && r.role === role), role).toBe(true);
      expect(rows.filter((r) => r.action === 'person.create' && r.actor === 'master').length).toBe(ROLES.length);
    }
    expect(rows.some((r) => r.action === 'signin.failure' && r.actor === emails.get('analyst'))).toBe(true);
    expect(rows.some((r) => r.action === 'person.disable')).toBe(true);
    expect(rows.some((r) => r.action === 'call.view' && r.actor === 'token:bot-auditor' && r.role === 'auditor')).toBe(true);
    expect(rows.filter((r) => r.action === 'token.create').length).toBe(2);
  }, 90_000);
});

describe('team scope', () => {
  it('a person or token scoped to a team sees that team\'s calls, keys and spend only — pages, search, trace, API and export', async () => {
    const tag = randomUUID().slice(0, 6);
    const red = `red-${tag}`;
    const blue = `blue-${tag}`;
    const call = async (team: string): Promise<string> => {
      const k = await admin('/admin/keys', MASTER, { method: 'POST', body: JSON.stringify({ name: `key-${team}`, team }) });
      const { secret } = (await k.json()) as { secret: string };
      const r = await admin('/v1/chat/completions', secret, {
        method: 'POST',
        headers: { 'x-gatelog-trace-id': `trace-${tag}` },
        body: JSON.stringify({ model: 'mock-chat', messages: [{ role: 'user', content: `scope-${team}` }] }),
      });
      expect(r.status).toBe(200);
      return r.headers.get('x-gatelog-request-id')!;
    };
    const redId = await call(red);
    const blueId = await call(blue);
    for (let i = 0; i < 200 && (await admin(`/admin/calls/${blueId}`)).status !== 200; i++) await new Promise((res) => setTimeout(res, 100));

    const email = `scoped-${tag}@example.com`;
    const out = await cli('users', 'create', '--email', email, '--role', 'analyst', '--team', red);
    links.set('analyst', /(http:\/\/\S+\/login\/invite\?token=gli-[A-Za-z0-9_-]{43})/.exec(out)![1]!);
    const page = await signedIn('analyst');
    try {
      await page.goto(`${gl.url}/requests?q=scope`);
      let html = await page.content();
      expect(html).toContain(`scope-${red}`);
      expect(html).not.toContain(`scope-${blue}`);
      expect(await status(page, `/requests/${blueId}`)).toBe(404);
      expect(await status(page, `/requests/${redId}`)).toBe(200);
      expect(await status(page, `/traces/trace-${tag}`)).toBe(200);
      html = await page.content();
      expect(html).toContain(redId);
      expect(html).not.toContain(blueId);
      expect(await status(page, '/spend?by=team')).toBe(200);
      html = await page.content();
      expect(html).toContain(red);
      expect(html).not.toContain(blue);
      await page.goto(`${gl.url}/keys`);
      html = await page.content();
      expect(html).toContain(`key-${red}`);
      expect(html).not.toContain(`key-${blue}`);
      const exported = await (await page.request.get(`${gl.url}/export?format=jsonl&q=scope`)).text();
      expect(exported).toContain(`scope-${red}`);
      expect(exported).not.toContain(`scope-${blue}`);
    } finally {
      await page.context().close();
    }

    const token = /(glt-[A-Za-z0-9_-]{43})/.exec(await cli('tokens', 'create', '--name', `bot-${tag}`, '--role', 'auditor', '--team', red))![1]!;
    const calls = ((await (await admin('/admin/calls?limit=500', token)).json()) as { data: { request_id: string }[] }).data.map((c) => c.request_id);
    expect(calls).toContain(redId);
    expect(calls).not.toContain(blueId);
    expect((await admin(`/admin/calls/${blueId}`, token)).status).toBe(404);
    expect((await admin(`/admin/calls/${redId}`, token)).status).toBe(200);
    const keys = JSON.stringify(await (await admin('/admin/keys', token)).json());
    expect(keys).toContain(`key-${red}`);
    expect(keys).not.toContain(`key-${blue}`);
    const exported = await (await admin(`/admin/export?format=jsonl&q=scope`, token)).text();
    expect(exported).toContain(`scope-${red}`);
    expect(exported).not.toContain(`scope-${blue}`);
  }, 120_000);
});
