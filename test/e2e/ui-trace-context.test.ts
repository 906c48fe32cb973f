// In a real browser: a call sent with a W3C traceparent/tracestate shows the caller's trace,
// parent span and tracestate on its request page, and pasting the traceparent into the
// explorer's trace filter finds the call.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { chromium, type Browser } from 'playwright-core';
import { startGatelog, type GatelogProcess } from '../support/gatelog-process.ts';
import { startTogether } from '../support/start-together.ts';

const CHROMIUM = process.env['CHROMIUM_PATH'] ?? '/usr/bin/chromium';

let browser: Browser;
let gl: GatelogProcess;

beforeAll(async () => {
  [browser, gl] = await startTogether(
    [chromium.launch({ executablePath: CHROMIUM, args: ['--headless', '--no-sandbox', '--disable-gpu', '--disable-background-networking'] }), (b) => b.close()],
    [startGatelog({ timeoutMs: 90_000 }), (g) => g.stop()],
  );
}, 120_000);

afterAll(async () => {
  await browser?.close();
  await gl?.stop();
});

const hex = (n: number): string => Array.from(crypto.getRandomValues(new Uint8Array(n)), (b) => b.toString(16).padStart(2, '0')).join('');

describe('UI: W3C trace context', () => {
  it('shows the caller\'s trace on the request page, and a pasted traceparent finds the call', { timeout: 60_000 }, async () => {
    const traceId = hex(16);
    const parent = hex(8);
    const traceparent = `00-${traceId}-${parent}-01`;
    const res = await fetch(`${gl.url}/v1/chat/completions`, {
      method: 'POST',
      headers: { 'content-type': 'application/json', traceparent, tracestate: 'acme=t61rcWkgMzE' },
      body: JSON.stringify({ model: 'mock-chat', messages: [{ role: 'user', content: 'traced' }] }),
    });
    expect(res.status).toBe(200);
    await res.arrayBuffer();
    const id = res.headers.get('x-gatelog-request-id') ?? '';

    const page = await browser.newPage();
    page.setDefaultTimeout(10_000);
    try {
      const deadline = Date.now() + 20_000;
      for (;;) {
        const r = await page.goto(`${gl.url}/requests/${id}`);
        if (r?.status() === 200) break;
        if (Date.now() > deadline) throw new Error(`call ${id} never appeared:\n${gl.logs()}`);
        await new Promise((r) => setTimeout(r, 250));
      }
      expect(await page.getByTestId('trace-link').textContent()).toBe(traceId);
      expect(await page.getByTestId('w3c-trace').textContent()).toContain(traceId);
      expect(await page.getByTestId('w3c-parent').textContent()).toBe(`${parent} · sampled`);
      expect(await page.getByTestId('w3c-tracestate').textContent()).toBe('acme=t61rcWkgMzE');

      await page.goto(`${gl.url}/requests?${new URLSearchParams({ trace: traceparent })}`);
      const rows = page.locator('table.calls tbody tr');
      expect(await rows.count()).toBe(1);
      expect(await rows.first().innerHTML()).toContain(id);
    } finally {
      await page.close();
    }
  });
});
