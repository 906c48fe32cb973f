// The UI as a person finds it, in a real browser against a real gatelog and a fake OpenAI
// upstream: the sign-in page offers no navigation; a failed call shows no time to first
// token, only the upstream wait until its error; the wait before a retry is drawn where it
// happened; the explorer shows (and sorts and filters by) key and user; trace ids are shown
// whole, so two traces sharing a prefix never look alike.
import { randomUUID } from 'node:crypto';
import { mkdirSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { chromium, type Browser, type Page } from 'playwright-core';
import { ROOT, startGatelog, type GatelogProcess } from '../support/gatelog-process.ts';
import { startTogether } from '../support/start-together.ts';
import { startFakeOpenAi, type FakeOpenAi } from '../support/fake-openai.ts';
import { recordedCall } from '../support/admin-setup.ts';

const SHOTS = join(ROOT, 'test-results');
const CHROMIUM = process.env['CHROMIUM_PATH'] ?? '/usr/bin/chromium';
const MASTER = `mk-${randomUUID()}`;
/** What the upstream asks the proxy to wait before the retry (retry-after-ms). */
const RETRY_AFTER_MS = 600;

let browser: Browser;
let fake: FakeOpenAi;
let gl: GatelogProcess;

beforeAll(async () => {
  mkdirSync(SHOTS, { recursive: true });
  fake = await startFakeOpenAi();
  [browser, gl] = await startTogether(
    [chromium.launch({ executablePath: CHROMIUM, args: ['--headless', '--no-sandbox', '--disable-gpu', '--disable-background-networking'] }), (b) => b.close()],
    [startGatelog({
      env: { GATELOG_MASTER_KEY: MASTER, UP_KEY: 'sk-upstream' },
      config: {
        providers: { up: { kind: 'openai', base_url: fake.baseUrl, api_key: '${UP_KEY}' } },
        models: [{ name: 'polish-chat', deployments: [{ provider: 'up', model: 'gpt-polish' }] }],
        router: { retries: 2, backoff: { base_ms: 5, max_ms: 10 }, cooldown: { failures: 0 } },
        ingest: { batch_ms: 50 },
      },
      timeoutMs: 60_000,
    }), (g) => g.stop()],
  );
}, 90_000);

afterAll(async () => {
  await browser?.close();
  await gl?.stop();
  await fake?.close();
});

const admin = (path: string, init: RequestInit = {}): Promise<Response> =>
  fetch(`${gl.url}${path}`, { ...init, headers: { authorization: `Bearer ${MASTER}`, 'content-type': 'application/json', ...init.headers } });

async function chat(headers: Record<string, string> = {}, key = MASTER): Promise<{ status: number; id: string }> {
  const res = await fetch(`${gl.url}/v1/chat/completions`, {
    method: 'POST',
    headers: { authorization: `Bearer ${key}`, 'content-type': 'application/json', ...headers },
    body: JSON.stringify({ model: 'polish-chat', messages: [{ role: 'user', content: `polish ${randomUUID()}` }] }),
  });
  await res.arrayBuffer();
  return { status: res.status, id: res.headers.get('x-gatelog-request-id') ?? '' };
}

interface Recorded {
  status: number;
  ttft_ms: number | null;
  attempts: { status: number; latency_ms: number }[];
  attempt_starts: number[];
}

/** The call's record once ingest stored it (bounded poll). */
const recorded = (id: string): Promise<Recorded> => recordedCall(gl, MASTER, id);

async function signedIn(): Promise<Page> {
  const page = await (await browser.newContext()).newPage();
  page.setDefaultTimeout(15_000);
  await page.goto(`${gl.url}/requests`);
  await page.fill('#key', MASTER);
  await Promise.all([page.waitForURL((u) => u.pathname === '/requests'), page.click('button[type=submit]')]);
  return page;
}

const labels = async (page: Page, list: string): Promise<string[]> =>
  (await page.locator(`ol[aria-label="${list}"] li > span`).allTextContents()).map((s) => s.trim());

describe('UI polish', () => {
  it('the sign-in page shows no navigation; signed in, it is there', async () => {
    const page = await (await browser.newContext()).newPage();
    try {
      await page.goto(`${gl.url}/requests`);
      expect(new URL(page.url()).pathname).toBe('/login');
      expect(await page.locator('nav[aria-label="Main"]').count()).toBe(0);
      expect(await page.locator('header a[href="/spend"]').count()).toBe(0);
      await page.screenshot({ path: join(SHOTS, 'ui-polish-login.png'), fullPage: true });
      await page.fill('#key', MASTER);
      await Promise.all([page.waitForURL((u) => u.pathname === '/requests'), page.click('button[type=submit]')]);
      expect(await page.locator('nav[aria-label="Main"] a[href="/spend"]').count()).toBe(1);
    } finally {
      await page.close();
    }
  });

  it('a failed call shows no time to first token: its bar is the upstream wait until the error', async () => {
    fake.reset();
    fake.behave({ error: { status: 500, body: { error: { message: 'boom', type: 'server_error', code: null } } }, delayHeadersMs: 150 });
    const sent = await chat({ 'x-gatelog-retries': '0' });
    fake.reset();
    expect(sent.status).toBe(500);
    const rec = await recorded(sent.id);
    // The error body is the first byte the client got: the record has a ttft the page must not call a token.
    expect(rec.status).toBe(500);
    const page = await signedIn();
    try {
      await page.goto(`${gl.url}/requests/${sent.id}`);
      const phases = await labels(page, 'Latency breakdown');
      expect(phases).not.toContain('time to first token');
      expect(phases).toEqual(['proxy overhead', 'upstream, until the error', 'total']);
      expect(await page.locator('ol[aria-label="Latency breakdown"] li[data-kind="error"]').count()).toBe(2);
      expect(await page.locator('dd', { hasText: 'TTFT' }).textContent()).toMatch(/^TTFT — · total/);
      await page.screenshot({ path: join(SHOTS, 'ui-polish-failed-call.png'), fullPage: true });
    } finally {
      await page.close();
    }
  });

  it('the wait before a retry is recorded and drawn between the attempts', async () => {
    fake.reset();
    fake.queue({ error: { status: 429, headers: { 'retry-after-ms': String(RETRY_AFTER_MS) } } });
    const sent = await chat();
    expect(sent.status).toBe(200);
    const rec = await recorded(sent.id);
    expect(rec.attempts.map((a) => a.status)).toEqual([429, 200]);
    expect(rec.attempt_starts).toHaveLength(2);
    const [s0, s1] = rec.attempt_starts as [number, number];
    const gap = s1 - (s0 + rec.attempts[0]!.latency_ms);
    expect(gap).toBeGreaterThanOrEqual(RETRY_AFTER_MS - 5);
    const page = await signedIn();
    try {
      await page.goto(`${gl.url}/requests/${sent.id}`);
      expect(await labels(page, 'Attempts timeline')).toEqual(['#1 up/gpt-polish → 429', 'wait before #2', '#2 up/gpt-polish → 200']);
      const wait = page.locator('ol[aria-label="Attempts timeline"] li[data-kind="wait"] svg');
      const aria = (await wait.getAttribute('aria-label')) ?? '';
      const takes = /takes (\d+) ms/.exec(aria);
      expect(Number(takes?.[1])).toBeGreaterThanOrEqual(RETRY_AFTER_MS - 5);
      // The second attempt's bar starts after the wait: its x is right of the wait's.
      const xs = await page.locator('ol[aria-label="Attempts timeline"] rect').evaluateAll((rs) => rs.map((r) => Number(r.getAttribute('x'))));
      expect(xs[2]!).toBeGreaterThan(xs[1]!);
      expect(await page.locator('[data-testid="retry-waits"]').textContent()).toMatch(/Waited \d+ ms between attempts/);
      await page.screenshot({ path: join(SHOTS, 'ui-polish-retry-wait.png'), fullPage: true });
    } finally {
      await page.close();
    }
  });

  it('the explorer shows key and user, sorts and filters by them, and shows trace ids whole', async () => {
    fake.reset();
    const tag = randomUUID().slice(0, 8);
    const made = await admin('/admin/keys', { method: 'POST', body: JSON.stringify({ name: `polish-key-${tag}` }) });
    expect(made.status).toBe(201);
    const { secret } = (await made.json()) as { secret: string };
    // Two traces whose first 12+ characters are the same.
    const prefix = `trace-${tag}-shared-`;
    const ids = [
      (await chat({ 'x-gatelog-user': `bob-${tag}`, 'x-gatelog-trace-id': `${prefix}one` }, secret)).id,
      (await chat({ 'x-gatelog-user': `alice-${tag}`, 'x-gatelog-trace-id': `${prefix}two` }, secret)).id,
    ];
    for (const id of ids) await recorded(id);
    const page = await signedIn();
    try {
      await page.goto(`${gl.url}/requests?key=${encodeURIComponent(`polish-key-${tag}`)}`);
      const rows = page.locator('table.calls tbody tr');
      expect(await rows.count()).toBe(2);
      expect(await page.locator('table.calls thead th').allTextContents()).toEqual(expect.arrayContaining(['Key', 'User', 'Trace']));
      expect(await page.locator('[data-testid="cell-key"]').allTextContents()).toEqual([`polish-key-${tag}`, `polish-key-${tag}`]);
      expect((await page.locator('[data-testid="cell-trace"]').allTextContents()).sort()).toEqual([`${prefix}one`, `${prefix}two`]);
      await page.screenshot({ path: join(SHOTS, 'ui-polish-explorer.png'), fullPage: true });

      // Sort by user (ascending, then descending).
      await page.click('[data-testid="sort-user"]');
      await page.waitForURL((u) => u.searchParams.get('sort') === 'user');
      expect(await page.locator('[data-testid="cell-user"]').allTextContents()).toEqual([`alice-${tag}`, `bob-${tag}`]);
      await page.click('[data-testid="sort-user"]');
      // Descending is the default, so the link leaves `dir` out.
      await page.waitForURL((u) => u.searchParams.get('sort') === 'user' && !u.searchParams.has('dir'));
      expect(await page.locator('[data-testid="cell-user"]').allTextContents()).toEqual([`bob-${tag}`, `alice-${tag}`]);
      // Sorting by key keeps the filter and lists both calls.
      await page.click('[data-testid="sort-key"]');
      await page.waitForURL((u) => u.searchParams.get('sort') === 'key');
      expect(await rows.count()).toBe(2);

      // A user's cell filters by that user.
      await page.locator('[data-testid="cell-user"] a', { hasText: `alice-${tag}` }).click();
      await page.waitForURL((u) => u.searchParams.get('user') === `alice-${tag}`);
      expect(await page.locator('[data-testid="cell-user"]').allTextContents()).toEqual([`alice-${tag}`]);
    } finally {
      await page.close();
    }
  });
});
