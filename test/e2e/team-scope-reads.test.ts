// Team scope and body access on the reads and replays a scoped person or token reaches, against
// a real `gatelog start` (master key set) with two teams' keys sharing trace and session ids:
// GET /admin/calls gives prompt previews only to roles that may read bodies (audited as
// calls.list); alerts show a scoped person only their teams' rules and events, and a scoped
// admin changes only their teams' rules (API and UI); a trace's or session's totals count only
// the calls the person sees; a replay is admitted as the original call's key (allow-list, rate
// limits) and refused once that key is revoked.
import { execFile } from 'node:child_process';
import { randomUUID } from 'node:crypto';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { chromium, type Browser, type Page } from 'playwright-core';
import { ROOT, startGatelog, type GatelogProcess } from '../support/gatelog-process.ts';
import { startTogether } from '../support/start-together.ts';
import { recordedCall } from '../support/admin-setup.ts';

const run = promisify(execFile);
const CHROMIUM = process.env['CHROMIUM_PATH'] ?? '/usr/bin/chromium';
const MASTER = `mk-${randomUUID()}`;
const PASSWORD = 'correct horse battery staple';
const tag = randomUUID().slice(0, 6);
const RED = `red-${tag}`;
const BLUE = `blue-${tag}`;
const CANARY = `preview-canary-${tag}`;
const TRACE = `shared-trace-${tag}`;
const SESSION = `shared-session-${tag}`;

let browser: Browser;
let gl: GatelogProcess;
const keys: Record<string, { id: string; secret: string }> = {};
const calls: Record<string, string> = {};

const admin = (path: string, token = MASTER, init: RequestInit = {}): Promise<Response> =>
  fetch(`${gl.url}${path}`, { ...init, headers: { authorization: `Bearer ${token}`, ...(init.body ? { 'content-type': 'application/json' } : {}), ...init.headers } });

async function cli(...args: string[]): Promise<string> {
  const r = await run(process.execPath, ['--disable-warning=ExperimentalWarning', join(ROOT, 'src', 'cli.ts'), ...args, '--url', gl.url], { env: { ...process.env, GATELOG_MASTER_KEY: MASTER } });
  return r.stdout;
}

async function token(role: string, teams: string[] = []): Promise<string> {
  const r = await admin('/admin/tokens', MASTER, { method: 'POST', body: JSON.stringify({ name: `bot-${role}-${randomUUID().slice(0, 6)}`, role, teams }) });
  expect(r.status).toBe(201);
  return ((await r.json()) as { secret: string }).secret;
}

async function key(name: string, body: object): Promise<void> {
  const r = await admin('/admin/keys', MASTER, { method: 'POST', body: JSON.stringify({ name: `${name}-${tag}`, ...body }) });
  expect(r.status).toBe(201);
  const j = (await r.json()) as { secret: string; key: { id: string } };
  keys[name] = { id: j.key.id, secret: j.secret };
}

async function chat(name: string, keyName: string, o: { content?: string; model?: string; status?: number } = {}): Promise<void> {
  const r = await admin('/v1/chat/completions', keys[keyName]!.secret, {
    method: 'POST',
    headers: { 'x-gatelog-trace-id': TRACE, 'x-gatelog-session-id': SESSION },
    body: JSON.stringify({ model: o.model ?? 'mock-chat', messages: [{ role: 'user', content: o.content ?? `hello from ${name}` }] }),
  });
  if (o.status === undefined) expect(r.status, await r.clone().text()).toBe(200);
  else expect(r.status).toBeGreaterThanOrEqual(o.status);
  calls[name] = r.headers.get('x-gatelog-request-id')!;
}

const recorded = (id: string): Promise<{ key_id: string; team: string; replay_of: string; status: number }> => recordedCall(gl, MASTER, id);

async function person(role: string, teams: string[]): Promise<Page> {
  const out = await cli('users', 'create', '--email', `${role}-${randomUUID().slice(0, 6)}@example.com`, '--role', role, ...teams.flatMap((t) => ['--team', t]));
  const link = /(http:\/\/\S+\/login\/invite\?token=gli-[A-Za-z0-9_-]{43})/.exec(out)?.[1];
  expect(link, out).toBeDefined();
  const page = await (await browser.newContext()).newPage();
  page.setDefaultTimeout(15_000);
  await page.goto(link!);
  await page.fill('#password', PASSWORD);
  await page.fill('#confirm', PASSWORD);
  await Promise.all([page.waitForURL((u) => u.pathname === '/requests'), page.click('button[type=submit]')]);
  return page;
}

const rule = (id: string, scope: object): object => ({ id, name: id, kind: 'error_rate', threshold: 0, min_calls: 1, window_s: 600, cooldown_s: 0, scope });
const RULES = { red: `r-red-${tag}`, blue: `r-blue-${tag}`, blueKey: `r-bluekey-${tag}`, global: `r-all-${tag}` };

beforeAll(async () => {
  [browser, gl] = await startTogether(
    [chromium.launch({ executablePath: CHROMIUM, args: ['--headless', '--no-sandbox', '--disable-gpu', '--disable-background-networking'] }), (b) => b.close()],
    [startGatelog({
      env: { GATELOG_MASTER_KEY: MASTER },
      config: {
        ingest: { batch_ms: 50 },
        providers: { mock: { kind: 'mock' } },
        models: [{ name: 'mock-chat', deployments: [{ provider: 'mock', model: 'mock-chat' }] }, { name: 'mock-other', deployments: [{ provider: 'mock', model: 'mock-other' }] }],
        alerts: { interval_s: 0.3 },
      },
      timeoutMs: 60_000,
    }), (g) => g.stop()],
  );
  await key('red', { team: RED, models: ['mock-chat'] });
  await key('redLimited', { team: RED, rpm: 1 });
  await key('blue', { team: BLUE });
  // One red call in the shared trace and session, three blue ones (one refused: an error).
  await chat('red', 'red', { content: `tell me about ${CANARY}` });
  await chat('blue1', 'blue');
  await chat('blue2', 'blue');
  await chat('blue3', 'blue', { model: 'no-such-model', status: 400 });
  for (const id of [calls['red']!, calls['blue2']!]) await recorded(id);
  for (const [id, scope] of [[RULES.red, { team: RED }], [RULES.blue, { team: BLUE }], [RULES.blueKey, { key: keys['blue']!.id }], [RULES.global, {}]] as const) {
    expect((await admin('/admin/alerts/rules', MASTER, { method: 'POST', body: JSON.stringify(rule(id, scope)) })).status).toBe(201);
  }
  // Every rule has fired once the evaluator has seen the calls.
  for (let i = 0; i < 200; i++) {
    const fired = ((await (await admin('/admin/alerts/events?kind=fired&limit=1000')).json()) as { data: { rule_id: string }[] }).data.map((e) => e.rule_id);
    if (Object.values(RULES).every((r) => fired.includes(r))) break;
    await new Promise((res) => setTimeout(res, 100));
  }
}, 120_000);

afterAll(async () => {
  await browser?.close();
  await gl?.stop();
});

describe('GET /admin/calls', () => {
  it('gives prompt previews only to roles that may read bodies, and audits each list that carries them', async () => {
    const list = async (t: string): Promise<{ request_id: string; preview: string }[]> => {
      const r = await admin(`/admin/calls?limit=500`, t);
      expect(r.status).toBe(200);
      return ((await r.json()) as { data: { request_id: string; preview: string }[] }).data;
    };
    const viewer = await list(await token('viewer'));
    expect(viewer.map((c) => c.request_id)).toContain(calls['red']);
    expect(JSON.stringify(viewer)).not.toContain(CANARY);
    expect(viewer.every((c) => c.preview === '')).toBe(true);

    const analyst = await list(await token('analyst', [RED]));
    expect(analyst.find((c) => c.request_id === calls['red'])?.preview).toContain(CANARY);
    const rows = ((await (await admin('/admin/audit?action=calls.list&limit=1000')).json()) as { data: { actor: string; role: string; details: string }[] }).data;
    const row = rows.find((r) => r.role === 'analyst' && r.actor.startsWith('token:bot-analyst'));
    expect(row).toBeDefined();
    expect(JSON.parse(row!.details)).toMatchObject({ via: 'api', bodies: true, calls: expect.arrayContaining([calls['red']]) as unknown });
    expect(rows.some((r) => r.role === 'viewer')).toBe(false);
  }, 60_000);
});

describe('alerts', () => {
  it('a team-scoped admin token reads and changes only its teams\' rules and events', async () => {
    const t = await token('admin', [RED]);
    const ruleIds = ((await (await admin('/admin/alerts/rules', t)).json()) as { data: { rule: { id: string } }[] }).data.map((r) => r.rule.id);
    expect(ruleIds).toContain(RULES.red);
    for (const other of [RULES.blue, RULES.blueKey, RULES.global]) expect(ruleIds).not.toContain(other);
    const events = ((await (await admin('/admin/alerts/events?limit=1000', t)).json()) as { data: { rule_id: string }[] }).data.map((e) => e.rule_id);
    expect(events).toContain(RULES.red);
    for (const other of [RULES.blue, RULES.blueKey, RULES.global]) expect(events).not.toContain(other);

    const refused = async (r: Promise<Response>): Promise<void> => {
      const res = await r;
      expect(res.status).toBe(403);
      expect(((await res.json()) as { error: { type: string; code: string } }).error).toMatchObject({ type: 'permission_error', code: 'team_out_of_scope' });
    };
    await refused(admin(`/admin/alerts/rules/${RULES.blue}`, t, { method: 'PATCH', body: JSON.stringify({ enabled: false }) }));
    await refused(admin(`/admin/alerts/rules/${RULES.blueKey}`, t, { method: 'DELETE' }));
    await refused(admin(`/admin/alerts/rules/${RULES.global}`, t, { method: 'PATCH', body: JSON.stringify({ threshold: 1 }) }));
    await refused(admin(`/admin/alerts/rules/${RULES.red}`, t, { method: 'PATCH', body: JSON.stringify({ scope: { team: BLUE } }) }));
    await refused(admin('/admin/alerts/rules', t, { method: 'POST', body: JSON.stringify(rule(`r-new-${tag}`, {})) }));
    await refused(admin('/admin/alerts/rules', t, { method: 'POST', body: JSON.stringify(rule(`r-new-${tag}`, { key: keys['blue']!.id })) }));
    expect((await admin('/admin/alerts/rules', t, { method: 'POST', body: JSON.stringify(rule(`r-new-${tag}`, { key: keys['red']!.id })) })).status).toBe(201);
    expect((await admin(`/admin/alerts/rules/${RULES.red}`, t, { method: 'PATCH', body: JSON.stringify({ threshold: 0.01 }) })).status).toBe(200);
    // An unscoped admin changes global rules.
    expect((await admin(`/admin/alerts/rules/${RULES.global}`, await token('admin'), { method: 'PATCH', body: JSON.stringify({ threshold: 0 }) })).status).toBe(200);
  }, 60_000);

  it('a team-scoped viewer sees only their teams\' rules and events in the UI; a scoped admin\'s form cannot touch another team\'s rule', async () => {
    const viewer = await person('viewer', [RED]);
    try {
      expect((await viewer.goto(`${gl.url}/alerts`))?.status()).toBe(200);
      expect(await viewer.locator(`[data-testid=alert-rule][data-rule="${RULES.red}"]`).count()).toBe(1);
      for (const other of [RULES.blue, RULES.blueKey, RULES.global]) expect(await viewer.locator(`[data-testid=alert-rule][data-rule="${other}"]`).count(), other).toBe(0);
      let html = await viewer.content();
      for (const other of [RULES.blue, RULES.blueKey, RULES.global]) expect(html).not.toContain(other);
      expect((await viewer.goto(`${gl.url}/alerts/history`))?.status()).toBe(200);
      html = await viewer.content();
      expect(html).toContain(RULES.red);
      for (const other of [RULES.blue, RULES.blueKey, RULES.global]) expect(html).not.toContain(other);
    } finally {
      await viewer.context().close();
    }

    const scopedAdmin = await person('admin', [RED]);
    try {
      for (const action of ['delete', 'toggle']) {
        const r = await scopedAdmin.request.post(`${gl.url}/alerts?/${action}`, { form: { id: RULES.blue, enabled: 'false' }, headers: { origin: gl.url }, maxRedirects: 0 });
        expect(r.status(), action).toBe(403);
      }
      const save = await scopedAdmin.request.post(`${gl.url}/alerts?/save`, { form: { id: `r-ui-${tag}`, kind: 'error_rate', threshold: '0.5' }, headers: { origin: gl.url }, maxRedirects: 0 });
      expect(save.status()).toBe(403);
      const rules = ((await (await admin('/admin/alerts/rules')).json()) as { data: { rule: { id: string; enabled: boolean } }[] }).data;
      expect(rules.find((r) => r.rule.id === RULES.blue)?.rule.enabled).toBe(true);
      expect(rules.some((r) => r.rule.id === `r-ui-${tag}`)).toBe(false);
    } finally {
      await scopedAdmin.context().close();
    }
  }, 90_000);
});

describe('traces and sessions', () => {
  it('count, cost and errors cover only the calls a team-scoped person sees', async () => {
    await recorded(calls['blue3']!);
    const page = await person('viewer', [RED]);
    try {
      for (const path of [`/traces/${TRACE}`, `/sessions/${SESSION}`]) {
        expect((await page.goto(`${gl.url}${path}`))?.status(), path).toBe(200);
        expect(await page.getByTestId('thread-calls').textContent(), path).toBe('1');
        expect(await page.locator('section[aria-label=Totals] dt:text-is("Errors") + dd').textContent(), path).toBe('0');
        const html = await page.content();
        expect(html).toContain(calls['red']);
        expect(html).not.toContain(calls['blue1']);
      }
    } finally {
      await page.context().close();
    }
    // An unscoped person sees every call of it.
    const all = await person('viewer', []);
    try {
      expect((await all.goto(`${gl.url}/traces/${TRACE}`))?.status()).toBe(200);
      expect(await all.getByTestId('thread-calls').textContent()).toBe('4');
      expect(await all.locator('section[aria-label=Totals] dt:text-is("Errors") + dd').textContent()).toBe('1');
    } finally {
      await all.context().close();
    }
  }, 90_000);
});

describe('POST /admin/replay', () => {
  const replay = async (t: string, body: object): Promise<{ status: number; json: { status?: number; request_id?: string; response?: { error?: { code?: string } }; error?: { code?: string; type?: string } } }> => {
    const r = await admin('/admin/replay', t, { method: 'POST', body: JSON.stringify(body) });
    return { status: r.status, json: (await r.json()) as never };
  };

  it('is admitted as the original call\'s key: its model allow-list and rate limits apply, and it is recorded with that key', async () => {
    const analyst = await token('analyst', [RED]);
    // The key allows mock-chat only.
    const denied = await replay(analyst, { request_id: calls['red'], model: 'mock-other' });
    expect(denied.status).toBe(200);
    expect(denied.json.status).toBe(403);
    expect(denied.json.response?.error?.code).toBe('model_not_allowed');

    const ok = await replay(analyst, { request_id: calls['red'] });
    expect(ok.json.status).toBe(200);
    const rec = await recorded(ok.json.request_id!);
    expect(rec).toMatchObject({ key_id: keys['red']!.id, team: RED, replay_of: calls['red'] });

    // One request a minute: the original used it, so its replay is refused.
    await chat('limited', 'redLimited');
    await recorded(calls['limited']!);
    const limited = await replay(analyst, { request_id: calls['limited'] });
    expect(limited.json.status).toBe(429);
  }, 60_000);

  it('is refused with a clear error once the original\'s key is revoked', async () => {
    expect((await admin(`/admin/keys/${keys['red']!.id}`, MASTER, { method: 'DELETE' })).status).toBe(200);
    const r = await replay(await token('analyst', [RED]), { request_id: calls['red'] });
    expect(r.status).toBe(403);
    expect(r.json.error).toMatchObject({ type: 'permission_error', code: 'key_revoked' });
  }, 60_000);
});
