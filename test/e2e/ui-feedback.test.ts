// Feedback on the request page in a real browser against a real gatelog: an analyst clicks
// thumbs down with a comment and sees it listed (who, value, comment), the explorer's feedback
// filter finds the call, and a viewer sees the value with "hidden for your role" in place of
// the comment and no control to mark calls. On a call an erasure took, marking it is refused
// with the reason shown, and nothing is listed.
import { randomUUID } from 'node:crypto';
import { mkdirSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import OpenAI from 'openai';
import { chromium, type Browser, type Page } from 'playwright-core';
import { ROOT, startGatelog, type GatelogProcess } from '../support/gatelog-process.ts';
import { startTogether } from '../support/start-together.ts';
import { personLink, signInByLink } from '../support/ui-signin.ts';

const CHROMIUM = process.env['CHROMIUM_PATH'] ?? '/usr/bin/chromium';
const MASTER = `mk-${randomUUID()}`;
const COMMENT = `quoted the wrong price ${randomUUID().slice(0, 8)}`;

let browser: Browser;
let gl: GatelogProcess;
let callId: string;
const links = new Map<string, string>();

const admin = (path: string, body?: unknown): Promise<Response> =>
  fetch(`${gl.url}${path}`, { headers: { authorization: `Bearer ${MASTER}`, 'content-type': 'application/json' }, ...(body === undefined ? {} : { method: 'POST', body: JSON.stringify(body) }) });

/** One call through the OpenAI SDK, once the request log has it; its id. */
async function recordedCallId(headers: Record<string, string> = {}): Promise<string> {
  const openai = new OpenAI({ apiKey: MASTER, baseURL: `${gl.url}/v1`, maxRetries: 0, defaultHeaders: headers });
  const r = await openai.chat.completions.create({ model: 'mock-chat', messages: [{ role: 'user', content: 'what does the pro plan cost?' }] }).withResponse();
  const id = r.response.headers.get('x-gatelog-request-id')!;
  for (let i = 0; i < 200 && (await admin(`/admin/calls/${id}`)).status !== 200; i++) await new Promise((res) => setTimeout(res, 100));
  return id;
}

beforeAll(async () => {
  [browser, gl] = await startTogether(
    [chromium.launch({ executablePath: CHROMIUM, args: ['--headless', '--no-sandbox', '--disable-gpu', '--disable-background-networking'] }), (b) => b.close()],
    [startGatelog({ env: { GATELOG_MASTER_KEY: MASTER }, config: { ingest: { batch_ms: 50 }, providers: { mock: { kind: 'mock' } }, models: [{ name: 'mock-chat', deployments: [{ provider: 'mock', model: 'mock-chat' }] }] }, timeoutMs: 60_000 }), (g) => g.stop()],
  );
  callId = await recordedCallId();
  for (const role of ['analyst', 'viewer']) links.set(role, await personLink(gl.url, MASTER, `${role}-${randomUUID().slice(0, 6)}@example.com`, role));
}, 120_000);

afterAll(async () => {
  await browser?.close();
  await gl?.stop();
});

const signedIn = (role: string): Promise<Page> => signInByLink(browser, links.get(role)!);

describe('feedback on the request page', () => {
  it('an analyst marks a response bad with a comment and sees it listed; the explorer filters on it', async () => {
    const page = await signedIn('analyst');
    try {
      await page.goto(`${gl.url}/requests/${callId}`);
      expect(await page.getByTestId('feedback-empty').isVisible()).toBe(true);
      await page.getByTestId('feedback-comment-input').fill(COMMENT);
      await Promise.all([page.waitForLoadState('load'), page.getByTestId('thumbs-down').click()]);
      await page.getByTestId('feedback-saved').waitFor();
      await page.goto(`${gl.url}/requests/${callId}`);
      const row = page.getByTestId('feedback-row');
      expect(await row.count()).toBe(1);
      expect(await row.getByTestId('feedback-comment').textContent()).toBe(COMMENT);
      expect(await row.getByTestId('feedback-value').textContent()).toContain('-1');
      expect(await row.textContent()).toMatch(/person:analyst-/);
      mkdirSync(join(ROOT, 'test-results'), { recursive: true });
      await page.getByTestId('feedback').screenshot({ path: join(ROOT, 'test-results', 'ui-feedback.png') });

      await page.goto(`${gl.url}/requests?feedback=negative`);
      expect(await page.locator(`a[href="/requests/${callId}"]`).count()).toBe(1);
      expect(await page.getByTestId('cell-feedback').first().textContent()).toContain('▼');
      await page.goto(`${gl.url}/requests?feedback=positive`);
      expect(await page.locator(`a[href="/requests/${callId}"]`).count()).toBe(0);
    } finally {
      await page.context().close();
    }
    const audit = (await (await admin('/admin/audit?action=calls.feedback')).json()) as { data: { target: string; actor: string }[] };
    expect(audit.data.filter((r) => r.target === callId).map((r) => r.actor)).toEqual([expect.stringMatching(/^analyst-/)]);
  }, 90_000);

  it('a viewer sees the value, not the comment, and cannot mark calls', async () => {
    const page = await signedIn('viewer');
    try {
      await page.goto(`${gl.url}/requests/${callId}`);
      const row = page.getByTestId('feedback-row');
      expect(await row.count()).toBe(1);
      expect(await row.getByTestId('feedback-value').textContent()).toContain('-1');
      expect(await row.getByTestId('feedback-comment').textContent()).toBe('hidden for your role');
      expect(await page.content()).not.toContain(COMMENT);
      expect(await page.getByTestId('thumbs-down').count()).toBe(0);
      // The form action refuses the role too.
      const forged = await page.request.post(`${gl.url}/requests/${callId}?/feedback`, { form: { value: '1' }, headers: { origin: gl.url }, maxRedirects: 0 });
      expect(forged.status()).toBe(403);
    } finally {
      await page.context().close();
    }
  }, 90_000);

  it('on a call an erasure took, the page says feedback is not kept and offers no control; a form sent anyway is refused with the reason', async () => {
    const user = `erased-${randomUUID()}`;
    const id = await recordedCallId({ 'x-gatelog-user': user });
    // A sign-in link is good once: another analyst.
    const page = await signInByLink(browser, await personLink(gl.url, MASTER, `reviewer-${randomUUID().slice(0, 6)}@example.com`, 'analyst'));
    try {
      // The page as it was before the erasure: the controls are there.
      await page.goto(`${gl.url}/requests/${id}`);
      expect(await page.getByTestId('thumbs-down').count()).toBe(1);
      expect((await admin('/admin/erase', { user })).status).toBe(200);
      // Clicked on the stale page: the proxy refuses, and the page shows why.
      await Promise.all([page.waitForLoadState('load'), page.getByTestId('thumbs-down').click()]);
      const alert = page.getByTestId('feedback').getByRole('alert');
      await alert.waitFor();
      expect(await alert.textContent()).toContain('This call was erased');
      expect(await page.getByTestId('feedback-saved').count()).toBe(0);
      // Loaded afresh: no controls, the reason instead, and nothing listed.
      await page.goto(`${gl.url}/requests/${id}`);
      expect(await page.getByTestId('feedback-erased').textContent()).toContain('feedback on it is not kept');
      expect(await page.getByTestId('thumbs-down').count()).toBe(0);
      expect(await page.getByTestId('feedback-empty').isVisible()).toBe(true);
    } finally {
      await page.context().close();
    }
  }, 90_000);
});
