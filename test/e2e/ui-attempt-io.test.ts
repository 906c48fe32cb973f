// The request page in a real browser shows what each attempt sent upstream and got back: a
// fallen-back streamed call (a 500 from the first deployment, then the built-in mock) has two
// attempt sections, with the upstream's request id, its raw error answer, the rewritten request
// of the second attempt (its model, the injected stream_options) and the raw SSE it streamed.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { chromium, type Browser } from 'playwright-core';
import { startFakeOpenAi, type FakeOpenAi } from '../support/fake-openai.ts';
import { startGatelog, type GatelogProcess } from '../support/gatelog-process.ts';

const CHROMIUM = process.env['CHROMIUM_PATH'] ?? '/usr/bin/chromium';

let browser: Browser;
let down: FakeOpenAi;
let gl: GatelogProcess;

beforeAll(async () => {
  browser = await chromium.launch({ executablePath: CHROMIUM, args: ['--headless', '--no-sandbox', '--disable-gpu', '--disable-background-networking'] });
  down = await startFakeOpenAi();
  down.behave({ error: { status: 500 } });
  gl = await startGatelog({
    config: {
      providers: { down: { kind: 'openai', base_url: down.baseUrl, api_key: 'sk-test-down-000000000000000' }, mk: { kind: 'mock' } },
      models: [
        { name: 'falls-back', deployments: [{ provider: 'down', model: 'gpt-down' }], fallbacks: ['m'] },
        { name: 'm', deployments: [{ provider: 'mk', model: 'mock-chat' }] },
      ],
      router: { retries: 0, cooldown: { failures: 0 } },
      redaction: { mode: 'off' },
      ingest: { batch_rows: 100, batch_ms: 100 },
    },
    timeoutMs: 75_000,
  });
}, 90_000);

afterAll(async () => {
  await gl?.stop();
  await down?.close();
  await browser?.close();
});

describe('request page: sent upstream, per attempt', () => {
  it('shows each attempt\'s provider request id, upstream request and raw response', async () => {
    const res = await fetch(`${gl.url}/v1/chat/completions`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ model: 'falls-back', stream: true, messages: [{ role: 'user', content: 'attempt io in the browser' }] }),
    });
    expect(res.status).toBe(200);
    await res.text();
    const id = res.headers.get('x-gatelog-request-id')!;

    const page = await browser.newPage();
    page.setDefaultTimeout(15_000);
    try {
      const deadline = Date.now() + 20_000;
      for (;;) {
        const r = await page.goto(`${gl.url}/requests/${id}`);
        if (r?.status() === 200) break;
        if (Date.now() > deadline) throw new Error(`call ${id} never appeared:\n${gl.logs()}`);
        await new Promise((x) => setTimeout(x, 250));
      }
      const first = page.locator('[data-testid="attempt-io-0"]');
      const second = page.locator('[data-testid="attempt-io-1"]');
      expect(await page.locator('[data-testid^="attempt-io-"]').count()).toBe(2);
      expect(await first.locator('h3').textContent()).toContain('down');
      expect(await first.locator('[data-testid="provider-request-id"]').textContent()).toBe('req_fake');

      await first.locator('summary', { hasText: 'Upstream request' }).click();
      expect(JSON.parse((await first.locator('[data-testid="upstream-request"]').textContent()) ?? '')).toMatchObject({ model: 'gpt-down', stream_options: { include_usage: true } });
      await first.locator('summary', { hasText: 'Raw upstream response' }).click();
      expect(await first.locator('[data-testid="upstream-response"]').textContent()).toContain('fake upstream error');

      expect(await second.locator('h3').textContent()).toContain('mk');
      await second.locator('summary', { hasText: 'Upstream request' }).click();
      expect(JSON.parse((await second.locator('[data-testid="upstream-request"]').textContent()) ?? '')).toMatchObject({ model: 'mock-chat' });
      await second.locator('summary', { hasText: 'Raw upstream response' }).click();
      const raw = (await second.locator('[data-testid="upstream-response"]').textContent()) ?? '';
      expect(raw.startsWith('data: {')).toBe(true);
      expect(raw).toContain('data: [DONE]');
    } finally {
      await page.close();
    }
  });
});
