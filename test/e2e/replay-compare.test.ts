// Replay and compare, end to end: a call made with the real openai SDK (streamed) and one made
// with the real @anthropic-ai/sdk are replayed against another alias through the UI (a real
// browser) and POST /admin/replay; each replay is a new recorded call with replay_of, sent to
// the other alias's upstream without streaming, audited; the compare page shows both outputs
// and their diff. A viewer (token or person) gets 403.
import { execFile } from 'node:child_process';
import { randomUUID } from 'node:crypto';
import { mkdirSync } from 'node:fs';
import { join } from 'node:path';
import { promisify } from 'node:util';
import Anthropic from '@anthropic-ai/sdk';
import OpenAI from 'openai';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { chromium, type Browser, type Page } from 'playwright-core';
import { ACTING_FOR_HEADER, actingForValue } from '@gatelog/core/acting-for';
import { ROOT, startGatelog, type GatelogProcess } from '../support/gatelog-process.ts';
import { startTogether } from '../support/start-together.ts';
import { startFakeOpenAi, type FakeOpenAi } from '../support/fake-openai.ts';
import { startFakeAnthropic, type FakeAnthropic } from '../support/fake-anthropic.ts';
import { recordedCall } from '../support/admin-setup.ts';

const run = promisify(execFile);
const SHOTS = join(ROOT, 'test-results');
const CHROMIUM = process.env['CHROMIUM_PATH'] ?? '/usr/bin/chromium';
const MASTER = `mk-${randomUUID()}`;
const PASSWORD = 'correct horse battery staple';

let browser: Browser;
let oai: FakeOpenAi;
let ant: FakeAnthropic;
let gl: GatelogProcess;

beforeAll(async () => {
  mkdirSync(SHOTS, { recursive: true });
  [oai, ant] = await Promise.all([startFakeOpenAi(), startFakeAnthropic()]);
  [browser, gl] = await startTogether(
    [chromium.launch({ executablePath: CHROMIUM, args: ['--headless', '--no-sandbox', '--disable-gpu', '--disable-background-networking'] }), (b) => b.close()],
    [startGatelog({
      env: { GATELOG_MASTER_KEY: MASTER, OAI_KEY: 'sk-oai', ANT_KEY: 'sk-ant' },
      config: {
        providers: { oai: { kind: 'openai', base_url: oai.baseUrl, api_key: '${OAI_KEY}' }, ant: { kind: 'anthropic', base_url: ant.url, api_key: '${ANT_KEY}' } },
        models: [
          { name: 'chat-a', deployments: [{ provider: 'oai', model: 'gpt-a' }] },
          { name: 'chat-b', deployments: [{ provider: 'oai', model: 'gpt-b' }] },
          { name: 'claude-a', deployments: [{ provider: 'ant', model: 'claude-x' }] },
          { name: 'claude-b', deployments: [{ provider: 'ant', model: 'claude-y' }] },
        ],
        ingest: { batch_ms: 50 },
      },
      timeoutMs: 60_000,
    }), (g) => g.stop()],
  );
}, 90_000);

afterAll(async () => {
  await browser?.close();
  await gl?.stop();
  await oai?.close();
  await ant?.close();
});

const admin = (path: string, init: RequestInit = {}, token = MASTER): Promise<Response> =>
  fetch(`${gl.url}${path}`, { ...init, headers: { authorization: `Bearer ${token}`, 'content-type': 'application/json', ...init.headers } });

async function cli(...args: string[]): Promise<string> {
  const r = await run(process.execPath, ['--disable-warning=ExperimentalWarning', join(ROOT, 'src', 'cli.ts'), ...args, '--url', gl.url], { env: { ...process.env, GATELOG_MASTER_KEY: MASTER } });
  return r.stdout;
}

interface Recorded {
  request_id: string;
  requested_model: string;
  deployment_model: string;
  stream: boolean;
  status: number;
  replay_of: string;
  request_body: string;
  team: string;
}

const recorded = (id: string): Promise<Recorded> => recordedCall(gl, MASTER, id);

async function signedIn(): Promise<Page> {
  const page = await (await browser.newContext()).newPage();
  page.setDefaultTimeout(20_000);
  await page.goto(`${gl.url}/requests`);
  await page.fill('#key', MASTER);
  await Promise.all([page.waitForURL((u) => u.pathname === '/requests'), page.click('button[type=submit]')]);
  return page;
}

/** The compare page once the replay is stored (it may still be on its way when first shown). */
async function compareShown(page: Page): Promise<void> {
  for (let i = 0; i < 80; i++) {
    if ((await page.locator('[data-testid="side-replay"]').count()) > 0) return;
    await new Promise((res) => setTimeout(res, 250));
    await page.reload();
  }
  throw new Error(`the replay never appeared on the compare page:\n${gl.logs()}`);
}

describe('replay and compare', () => {
  it('replays a streamed OpenAI chat call against another alias from the request page, and compares', { timeout: 90_000 }, async () => {
    oai.reset();
    oai.behave({ reply: 'The capital of France is Paris.' });
    const client = new OpenAI({ baseURL: `${gl.url}/v1`, apiKey: MASTER, maxRetries: 0 });
    const { response } = await client.chat.completions.create({ model: 'chat-a', stream: true, messages: [{ role: 'user', content: 'Capital of France?' }] }).withResponse();
    const originalId = response.headers.get('x-gatelog-request-id')!;
    const original = await recorded(originalId);
    expect(original.stream).toBe(true);

    oai.behave({ reply: 'The capital of France is Lyon, probably.' });
    let replayId = '';
    const page = await signedIn();
    try {
      await page.goto(`${gl.url}/requests/${originalId}`);
      await page.click('[data-testid="replay-link"]');
      await page.waitForURL((u) => u.pathname === `/requests/${originalId}/replay`);
      expect(JSON.parse((await page.locator('[data-testid="replay-body"]').inputValue()) || '{}')).toMatchObject({ model: 'chat-a', stream: true });
      await page.fill('[data-testid="replay-model"]', 'chat-b');
      await Promise.all([page.waitForURL((u) => u.pathname === `/requests/${originalId}/compare`), page.click('[data-testid="replay-submit"]')]);
      replayId = new URL(page.url()).searchParams.get('with')!;
      await compareShown(page);

      const replay = await recorded(replayId);
      expect(replay).toMatchObject({ replay_of: originalId, requested_model: 'chat-b', deployment_model: 'gpt-b', stream: false, status: 200 });
      // The upstream got the original messages, for gpt-b, not streamed.
      const sent = oai.requests.at(-1)!.body as { model: string; stream?: boolean; messages: unknown };
      expect(sent).toMatchObject({ model: 'gpt-b', messages: [{ role: 'user', content: 'Capital of France?' }] });
      expect(sent.stream ?? false).toBe(false);

      expect(await page.locator('[data-testid="side-original"] [data-testid="output"]').textContent()).toBe('The capital of France is Paris.');
      expect(await page.locator('[data-testid="side-replay"] [data-testid="output"]').textContent()).toBe('The capital of France is Lyon, probably.');
      expect(await page.locator('[data-testid="side-replay"] [data-testid="model"]').textContent()).toContain('chat-b');
      expect(await page.locator('[data-testid="side-replay"] [data-testid="tokens"]').textContent()).toMatch(/\d+ \/ \d+/);
      // A word diff: words and punctuation are tokens of their own.
      expect(await page.locator('[data-testid="diff"] del').allTextContents()).toEqual(['Paris']);
      expect((await page.locator('[data-testid="diff"] ins').allTextContents()).join('')).toBe('Lyon, probably');
      await page.screenshot({ path: join(SHOTS, 'replay-compare-openai.png'), fullPage: true });

      // The explorer flags replays and filters them in or out.
      await page.goto(`${gl.url}/requests?replay=yes`);
      expect(await page.locator('[data-testid="replay-flag"]').count()).toBe(await page.locator('table.calls tbody tr').count());
      expect(await page.locator(`table.calls tbody tr a[href="/requests/${replayId}"]`).count()).toBe(1);
      await page.goto(`${gl.url}/requests?replay=no`);
      expect(await page.locator(`table.calls tbody tr a[href="/requests/${replayId}"]`).count()).toBe(0);
      expect(await page.locator(`table.calls tbody tr a[href="/requests/${originalId}"]`).count()).toBe(1);

      // The spend page links to its range's replays.
      await page.goto(`${gl.url}/spend`);
      await Promise.all([page.waitForURL((u) => u.pathname === '/requests' && u.searchParams.get('replay') === 'yes'), page.click('[data-testid="replays-note"] a')]);
      expect(await page.locator(`table.calls tbody tr a[href="/requests/${replayId}"]`).count()).toBe(1);

      // The replay's own page says what it replays.
      await page.goto(`${gl.url}/requests/${replayId}`);
      expect(await page.locator('[data-testid="replay-of"]').textContent()).toBe(originalId);
    } finally {
      await page.close();
    }
    // Audited as the signed-in person (the master key's sign-in is `master`), naming the new call.
    const audit = (await (await admin('/admin/audit?action=call.replay')).json()) as { data: { target: string; actor: string; details: unknown }[] };
    const row = audit.data.find((r) => r.target === originalId);
    expect(row?.actor).toBe('master');
    expect(typeof row?.details === 'string' ? JSON.parse(row.details) : row?.details).toMatchObject({ replay_request_id: replayId, model: 'chat-b', edited: false });
  });

  it('replays an Anthropic messages call against another alias with an edited body through the admin API', { timeout: 90_000 }, async () => {
    ant.reset();
    ant.behave({ reply: 'Bonjour.' });
    // Made with a virtual key of team red: the replay belongs to red as well.
    const made = await admin('/admin/keys', { method: 'POST', body: JSON.stringify({ name: `red-${randomUUID().slice(0, 6)}`, team: 'red' }) });
    expect(made.status).toBe(201);
    const client = new Anthropic({ baseURL: gl.url, apiKey: ((await made.json()) as { secret: string }).secret, maxRetries: 0 });
    const { response } = await client.messages.create({ model: 'claude-a', max_tokens: 64, messages: [{ role: 'user', content: 'Say hello in French.' }] }).withResponse();
    const originalId = response.headers.get('x-gatelog-request-id')!;
    await recorded(originalId);

    ant.behave({ reply: 'Hola.' });
    const edited = JSON.stringify({ model: 'claude-a', max_tokens: 64, messages: [{ role: 'user', content: 'Say hello in Spanish.' }] });
    const r = await admin('/admin/replay', { method: 'POST', body: JSON.stringify({ request_id: originalId, model: 'claude-b', body: edited }) });
    expect(r.status).toBe(200);
    const out = (await r.json()) as { request_id: string; replay_of: string; status: number; response: { content: { text: string }[] } };
    expect(out).toMatchObject({ replay_of: originalId, status: 200 });
    expect(out.response.content[0]!.text).toBe('Hola.');
    expect(ant.requests.at(-1)!.body).toMatchObject({ model: 'claude-y', messages: [{ role: 'user', content: 'Say hello in Spanish.' }] });
    const replay = await recorded(out.request_id);
    expect(replay).toMatchObject({ replay_of: originalId, requested_model: 'claude-b', deployment_model: 'claude-y', team: 'red' });
    // A person scoped to another team cannot replay red's call: it does not exist for them.
    const scoped = await admin('/admin/replay', { method: 'POST', body: JSON.stringify({ request_id: originalId, model: 'claude-b' }), headers: { [ACTING_FOR_HEADER]: actingForValue({ name: 'b@example.com', role: 'analyst', teams: ['blue'] }) } });
    expect(scoped.status).toBe(404);

    const page = await signedIn();
    try {
      await page.goto(`${gl.url}/requests/${originalId}/compare`);
      await compareShown(page);
      expect(await page.locator('[data-testid="side-original"] [data-testid="output"]').textContent()).toBe('Bonjour.');
      expect(await page.locator('[data-testid="side-replay"] [data-testid="output"]').textContent()).toBe('Hola.');
      expect(await page.locator('[data-testid="diff"] del').allTextContents()).toEqual(['Bonjour']);
      expect(await page.locator('[data-testid="diff"] ins').allTextContents()).toEqual(['Hola']);
      await page.screenshot({ path: join(SHOTS, 'replay-compare-anthropic.png'), fullPage: true });
    } finally {
      await page.close();
    }
    // An unedited replay of a call made as messages works as well (the recorded body, another model).
    const plain = await admin('/admin/replay', { method: 'POST', body: JSON.stringify({ request_id: originalId, model: 'claude-b' }) });
    expect(plain.status).toBe(200);
    expect(ant.requests.at(-1)!.body).toMatchObject({ model: 'claude-y', messages: [{ role: 'user', content: 'Say hello in French.' }] });

    // Bad input is a 4xx in the admin API's shape, never a 500.
    const bad = await admin('/admin/replay', { method: 'POST', body: JSON.stringify({ request_id: originalId, body: '{not json' }) });
    expect(bad.status).toBe(400);
    expect(((await bad.json()) as { error: { code: string } }).error.code).toBe('invalid_json');
    expect((await admin('/admin/replay', { method: 'POST', body: JSON.stringify({ request_id: randomUUID() }) })).status).toBe(404);
    expect((await admin('/admin/replay', { method: 'POST', body: JSON.stringify({ request_id: 'nope' }) })).status).toBe(400);
  });

  it('a viewer may not replay: 403 from the admin API (token) and from the UI (person)', async () => {
    oai.reset();
    const res = await admin('/v1/chat/completions', { method: 'POST', body: JSON.stringify({ model: 'chat-a', messages: [{ role: 'user', content: 'viewer test' }] }) });
    const id = res.headers.get('x-gatelog-request-id')!;
    await res.arrayBuffer();
    await recorded(id);
    const before = oai.requests.length;

    const token = /(glt-[A-Za-z0-9_-]{43})/.exec(await cli('tokens', 'create', '--name', `viewer-${randomUUID().slice(0, 6)}`, '--role', 'viewer'))![1]!;
    const denied = await admin('/admin/replay', { method: 'POST', body: JSON.stringify({ request_id: id, model: 'chat-b' }) }, token);
    expect(denied.status).toBe(403);
    // The master-key caller acting for a viewer is refused too.
    const asViewer = await admin('/admin/replay', { method: 'POST', body: JSON.stringify({ request_id: id, model: 'chat-b' }), headers: { [ACTING_FOR_HEADER]: actingForValue({ name: 'v@example.com', role: 'viewer', teams: [] }) } });
    expect(asViewer.status).toBe(403);

    const out = await cli('users', 'create', '--email', `viewer-${randomUUID().slice(0, 6)}@example.com`, '--role', 'viewer');
    const link = /(http:\/\/\S+\/login\/invite\?token=gli-[A-Za-z0-9_-]{43})/.exec(out)![1]!;
    const page = await (await browser.newContext()).newPage();
    page.setDefaultTimeout(20_000);
    try {
      await page.goto(link);
      if ((await page.locator('#confirm').count()) === 0) throw new Error(`invite page not shown: ${page.url()} ${link}\n${(await page.content()).slice(0, 3000)}`);
      await page.fill('#password', PASSWORD);
      await page.fill('#confirm', PASSWORD);
      await Promise.all([page.waitForURL((u) => u.pathname === '/requests'), page.click('button[type=submit]')]);
      expect((await page.goto(`${gl.url}/requests/${id}/replay`))?.status()).toBe(403);
      expect((await page.request.post(`${gl.url}/requests/${id}/replay`, { form: { model: 'chat-b', body: '{}' }, headers: { origin: gl.url }, maxRedirects: 0 })).status()).toBe(403);
      expect((await page.goto(`${gl.url}/requests/${id}/compare`))?.status()).toBe(403);
      await page.goto(`${gl.url}/requests/${id}`);
      expect(await page.locator('[data-testid="replay-link"]').count()).toBe(0);
    } finally {
      await page.close();
    }
    expect(oai.requests.length).toBe(before);
  }, 90_000);
});

