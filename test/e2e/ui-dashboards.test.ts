// The investigation UI in a real browser against the built handler and a chDB store this
// test seeds itself: explorer filters → request → trace; the spend chart's seeded spike →
// the calls behind it; latency percentiles vs values computed here from the seeded rows;
// an export that downloads, parses and neutralizes formula cells (and is audited); an XSS
// payload that never runs; every page and endpoint refused without a session.
// Needs `pnpm --filter @gatelog/ui run build` (the bootstrap runs it before the tests).
import { randomUUID } from 'node:crypto';
import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { chromium, type Browser, type BrowserContext, type Page } from 'playwright-core';
import { listAudit, migrate, newRequestId, openStore, StorageConfig, type LlmCallEvent, type Store } from '@gatelog/core';
import { provideUiContext } from '@gatelog/core/ui-context';

const ROOT = join(import.meta.dirname, '..', '..');
const HANDLER = join(ROOT, 'ui', 'build', 'handler.js');
const SHOTS = join(ROOT, 'test-results');
const CHROMIUM = process.env['CHROMIUM_PATH'] ?? '/usr/bin/chromium';
const MASTER = `mk-${randomUUID()}`;
const tag = randomUUID().slice(0, 8);

// A fixed two-hour window in the past: the dashboards get it as an absolute range, which
// gives 5-minute buckets (24 of them).
const A = Date.UTC(2026, 4, 1, 0, 0, 0);
const B = A + 2 * 3600_000;
const STEP = 5 * 60_000;
const SPIKE_BUCKET = 18;
const RANGE = `from=${new Date(A).toISOString()}&to=${new Date(B).toISOString()}`;

function event(over: Partial<LlmCallEvent>): LlmCallEvent {
  return {
    schema_version: 1, gatelog_version: 'test', request_id: newRequestId(), started_at: new Date(A).toISOString(),
    trace_id: '', session_id: '', user: '', tags: {}, key_id: 'key_1', key_name: 'team-key', team: 'core',
    endpoint: '/v1/chat/completions', client_api: 'openai.chat', upstream_api: 'openai.chat',
    requested_model: 'steady', provider: 'mock', deployment_model: 'steady', upstream_model: 'steady',
    stream: false, status: 200, outcome: 'success', error_type: '', error_message: '', finish_reason: 'stop',
    input_tokens: 10, output_tokens: 5, cached_tokens: 0, cache_creation_tokens: 0, reasoning_tokens: 0,
    tokens_estimated: false, cost_usd: 0.5, cache_hit: false, ttft_ms: null, latency_ms: 100, overhead_ms: 0.4,
    attempts: [], request_body: '{}', response_body: '{}', request_bytes: 2, response_bytes: 2, truncated: false,
    ...over,
  };
}

const chat = (prompt: string): string => JSON.stringify({ model: 'm', messages: [{ role: 'user', content: prompt }] });
const at = (ms: number): string => new Date(ms).toISOString();

const SPIKY = `spiky-${tag}`;
const LAT = `lat-${tag}`;
const EVIL_MODEL = `evil-${tag}<img src=x onerror=alert(3)>`;
const evilPrompt = `xss-${tag} <script>alert(1)</script><img src=x onerror="alert(2)"> <a href="javascript:alert(4)">x</a>`;
const tracePrompt = `trace-prompt-${tag} the exact words`;
const TRACE = `trace-${tag}`;

const seeded: LlmCallEvent[] = [];
// Steady and spiky spend, one call per bucket; the spike bucket has five $4 calls instead.
for (let b = 0; b < 24; b++) {
  seeded.push(event({ started_at: at(A + b * STEP + 1000) }));
  if (b !== SPIKE_BUCKET) seeded.push(event({ requested_model: SPIKY, cost_usd: 0.4, started_at: at(A + b * STEP + 2000) }));
}
const spikeCalls = Array.from({ length: 5 }, (_, i) =>
  event({ requested_model: SPIKY, cost_usd: 4, started_at: at(A + SPIKE_BUCKET * STEP + 10_000 + i * 1000), request_body: chat(`spike-call-${tag}-${i}`) }));
seeded.push(...spikeCalls);
// Latency: 200 calls with spread latencies, every other one streamed with a TTFT.
const latencies = Array.from({ length: 200 }, (_, i) => 20 + ((i * 7919) % 1000));
latencies.forEach((ms, i) => seeded.push(event({
  requested_model: LAT, provider: 'lat-provider', cost_usd: 0.001, latency_ms: ms, stream: i % 2 === 0,
  ttft_ms: i % 2 === 0 ? ms / 4 : null, status: i % 10 === 0 ? 500 : 200, outcome: i % 10 === 0 ? 'error' : 'success',
  started_at: at(A + (i % 100) * 60_000 + 3000),
})));
// A three-call trace; the first carries the prompt to find; a formula-like user for CSV.
const traceCalls = [0, 1, 2].map((i) => event({
  requested_model: `tracer-${tag}`, trace_id: TRACE, session_id: `sess-${tag}`, cost_usd: 0.05 * (i + 1), latency_ms: 300 + i,
  started_at: at(A + 3600_000 + i * 2000), request_body: chat(i === 0 ? tracePrompt : `follow-up ${i}`),
  user: i === 1 ? '=HYPERLINK("http://evil.example","x")' : 'alice', tags: { app: `app-${tag}` },
  attempts: [{ provider: 'p1', model: 'x', status: 429, error_class: 'rate_limited', latency_ms: 40 }, { provider: 'p2', model: 'y', status: 200, error_class: '', latency_ms: 250 }],
}));
seeded.push(...traceCalls);
seeded.push(event({ requested_model: EVIL_MODEL, request_body: chat(evilPrompt), started_at: at(A + 60_000), cost_usd: 0.01 }));

type NodeHandler = (req: IncomingMessage, res: ServerResponse) => void;
let dir: string;
let store: Store;
let server: Server;
let base: string;
let browser: Browser;
let context: BrowserContext;
const dialogs: string[] = [];
const cspErrors: string[] = [];

async function open(path: string): Promise<Page> {
  const page = await context.newPage();
  page.setDefaultTimeout(10_000);
  page.on('dialog', (d) => {
    dialogs.push(d.message());
    void d.dismiss();
  });
  page.on('console', (m) => {
    if (m.type() === 'error' && /Content Security Policy/i.test(m.text())) cspErrors.push(m.text());
  });
  const res = await page.goto(base + path);
  expect(res?.status()).toBe(200);
  return page;
}

beforeAll(async () => {
  if (!existsSync(HANDLER)) throw new Error(`UI build missing at ${HANDLER}: run pnpm --filter @gatelog/ui run build`);
  mkdirSync(SHOTS, { recursive: true });
  dir = mkdtempSync(join(tmpdir(), 'gatelog-ui-dash-'));
  store = await openStore(StorageConfig.parse({}), dir);
  await migrate(store);
  await store.insertRaw('llm_calls', Buffer.from(seeded.map((e) => JSON.stringify(e)).join('\n')));
  process.env['PROTOCOL_HEADER'] = 'x-gatelog-proto';
  provideUiContext({ store, masterKey: MASTER });
  const { handler } = (await import(pathToFileURL(HANDLER).href)) as { handler: NodeHandler };
  server = createServer((req, res) => {
    req.headers['x-gatelog-proto'] = 'http';
    handler(req, res);
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const addr = server.address();
  base = `http://127.0.0.1:${typeof addr === 'object' && addr ? addr.port : 0}`;
  browser = await chromium.launch({ executablePath: CHROMIUM, args: ['--headless', '--no-sandbox', '--disable-gpu', '--disable-background-networking'] });
  context = await browser.newContext({ acceptDownloads: true, viewport: { width: 1366, height: 900 } });
});

afterAll(async () => {
  await browser?.close();
  await new Promise<void>((resolve) => server?.close(() => resolve()));
  await store?.close();
  if (dir) rmSync(dir, { recursive: true, force: true });
});

/** A minimal RFC 4180 reader, independent of the UI's writer. */
function parseCsv(text: string): string[][] {
  const rows: string[][] = [];
  let row: string[] = [];
  let cell = '';
  let quoted = false;
  for (let i = 0; i < text.length; i++) {
    const c = text[i]!;
    if (quoted) {
      if (c === '"' && text[i + 1] === '"') {
        cell += '"';
        i++;
      } else if (c === '"') quoted = false;
      else cell += c;
    } else if (c === '"') quoted = true;
    else if (c === ',') {
      row.push(cell);
      cell = '';
    } else if (c === '\n') {
      row.push(cell);
      rows.push(row);
      row = [];
      cell = '';
    } else if (c !== '\r') cell += c;
  }
  return rows;
}

describe('investigation UI (master key set)', () => {
  it('refuses every page and endpoint without a session', async () => {
    const paths = ['/requests', `/requests/${traceCalls[0]!.request_id}`, `/traces/${TRACE}`, `/sessions/sess-${tag}`, '/spend', '/latency', '/export?format=csv', '/export?format=jsonl'];
    for (const p of paths) {
      const r = await fetch(base + p, { redirect: 'manual' });
      expect(r.status, p).toBe(303);
      expect(r.headers.get('location'), p).toMatch(/^\/login\?next=/);
      expect(await r.text(), p).toBe('');
    }
  });

  it('signs in, filters the explorer, opens a request with its exact prompt, follows its trace', async () => {
    const page = await open('/login');
    await page.fill('#key', MASTER);
    await page.click('button[type="submit"]');
    await page.waitForURL((u) => u.pathname === '/requests');

    await page.goto(`${base}/requests?${RANGE}`);
    await page.fill('input[name="model"]', `tracer-${tag}`);
    await page.fill('input[name="tags"]', `app=app-${tag}`);
    await page.fill('input[name="q"]', 'the exact words');
    await page.click('button:has-text("Apply")');
    await page.waitForURL((u) => u.searchParams.get('q') === 'the exact words');
    const url = new URL(page.url());
    expect(url.searchParams.get('model')).toBe(`tracer-${tag}`);
    expect(url.searchParams.get('tags')).toBe(`app=app-${tag}`);
    const rows = page.locator('table.calls tbody tr');
    expect(await rows.count()).toBe(1);
    await page.screenshot({ path: join(SHOTS, 'ui-explorer.png'), fullPage: true });

    await rows.first().locator('a').first().click();
    await page.waitForURL(new RegExp(`/requests/${traceCalls[0]!.request_id}$`));
    expect(await page.locator('ol[aria-label="Prompt messages"] pre.content').first().textContent()).toBe(tracePrompt);
    const curl = (await page.locator('[data-testid="curl"]').textContent()) ?? '';
    expect(curl).toContain('$GATELOG_KEY');
    expect(curl).not.toContain(MASTER);
    expect(await page.locator('ol[aria-label="Attempts timeline"] li').count()).toBe(2);
    await page.screenshot({ path: join(SHOTS, 'ui-request-detail.png'), fullPage: true });

    await page.click('[data-testid="trace-link"]');
    await page.waitForURL(new RegExp(`/traces/${TRACE}$`));
    expect(await page.locator('[data-testid="thread-calls"]').textContent()).toBe('3');
    expect(await page.locator('[data-testid="thread-cost"]').textContent()).toBe('$0.3000');
    expect(await page.locator('ol[aria-label="Trace timeline"] li').count()).toBe(3);
    await page.screenshot({ path: join(SHOTS, 'ui-trace.png'), fullPage: true });
    await page.close();
  });

  it('flags the seeded spend spike; its link lands on exactly the calls behind it', async () => {
    const page = await open(`/spend?${RANGE}&by=model`);
    const chart = await page.locator('[data-testid="spend-chart"]').getAttribute('src');
    const svg = Buffer.from((chart ?? '').replace(/^data:image\/svg\+xml;base64,/, ''), 'base64').toString();
    expect(svg).toMatch(/^<svg/);
    expect(svg).toContain(SPIKY);
    const spikes = page.locator('[data-testid="spikes"] tbody tr');
    expect(await spikes.count()).toBe(1);
    expect(await spikes.first().locator('td').nth(0).textContent()).toBe(at(A + SPIKE_BUCKET * STEP));
    expect(await spikes.first().locator('td').nth(1).textContent()).toBe(SPIKY);
    expect(await spikes.first().locator('td').nth(2).textContent()).toBe('$20.0000');
    await page.screenshot({ path: join(SHOTS, 'ui-spend.png'), fullPage: true });

    await spikes.first().locator('a', { hasText: 'Open these calls' }).click();
    await page.waitForURL((u) => u.pathname === '/requests');
    const shown = await page.locator('table.calls tbody tr td:first-child a').allTextContents();
    expect(shown.sort()).toEqual(spikeCalls.map((c) => c.started_at).sort());
    await page.close();
  });

  it('opens the calls behind the spike when the spike itself is clicked on the chart', async () => {
    const page = await open(`/spend?${RANGE}&by=model`);
    const img = page.locator('[data-testid="spend-chart"]');
    const svg = Buffer.from(((await img.getAttribute('src')) ?? '').replace(/^data:image\/svg\+xml;base64,/, ''), 'base64').toString();
    // Where the image draws the spike's pin (ECharts places the symbol with a matrix transform
    // whose translation is the pin's tip); the click goes to the pin's head, just above it.
    const pins = [...svg.matchAll(/<path [^>]*transform="matrix\([\d.]+,0,0,[\d.]+,([\d.]+),([\d.]+)\)" fill="#b3261e"/g)];
    expect(pins.length).toBe(1);
    const [x, y] = [Number(pins[0]![1]), Number(pins[0]![2])];
    // The image is scaled to its box, its links with it: image pixels × scale, clicked where a person would.
    const box = (await img.boundingBox())!;
    const scale = box.width / Number(await img.getAttribute('width'));
    await page.mouse.click(box.x + x * scale, box.y + (y - 12) * scale);
    await page.waitForURL((u) => u.pathname === '/requests');
    const url = new URL(page.url());
    expect(url.searchParams.get('model')).toBe(SPIKY);
    expect(url.searchParams.get('from')).toBe(at(A + SPIKE_BUCKET * STEP));
    expect(url.searchParams.get('to')).toBe(at(A + (SPIKE_BUCKET + 1) * STEP));
    const shown = await page.locator('table.calls tbody tr td:first-child a').allTextContents();
    expect(shown.sort()).toEqual(spikeCalls.map((c) => c.started_at).sort());

    // Any other bucket's column opens that bucket's calls, all models: two columns left of
    // the spike's is the bucket two steps earlier.
    await page.goBack();
    const columns = (await page.locator('[data-testid="spend-links"] a[data-shape="rect"]').evaluateAll((as) =>
      as.map((a) => ({ coords: (a.getAttribute('data-coords') ?? '').split(',').map(Number), href: a.getAttribute('href') ?? '' }))))
      .filter((a) => !a.href.includes('model='))
      .sort((a, b) => a.coords[0]! - b.coords[0]!);
    expect(columns.length).toBe(24);
    const spikeCol = columns.findIndex((c) => c.coords[0]! <= x && x <= c.coords[2]!);
    const left = columns[spikeCol - 2]!.coords;
    await page.mouse.click(box.x + ((left[0]! + left[2]!) / 2) * scale, box.y + (left[3]! - 3) * scale);
    await page.waitForURL((u) => u.pathname === '/requests' && u.searchParams.get('model') === null);
    const bucket = new URL(page.url());
    expect(bucket.searchParams.get('from')).toBe(at(A + (SPIKE_BUCKET - 2) * STEP));
    expect(await page.locator('table.calls tbody tr').count()).toBeGreaterThan(0);
    await page.close();
  });

  it('shows latency percentiles that match the seeded data', async () => {
    const page = await open(`/latency?${RANGE}&by=model`);
    const row = page.locator(`tr[data-group="${LAT}"]`);
    const lat = (await row.locator('td[data-latency]').evaluateAll((tds) => tds.map((td) => Number(td.getAttribute('data-latency')))));
    const ttft = (await row.locator('td[data-ttft]').evaluateAll((tds) => tds.map((td) => Number(td.getAttribute('data-ttft')))));
    const sorted = [...latencies].sort((a, b) => a - b);
    const sortedTtft = latencies.filter((_, i) => i % 2 === 0).map((ms) => ms / 4).sort((a, b) => a - b);
    // Linear-interpolated quantile; t-digest is approximate, so allow 2% of the value range.
    const q = (xs: number[], p: number): number => {
      const h = (xs.length - 1) * p;
      const lo = Math.floor(h);
      return xs[lo]! + (h - lo) * ((xs[Math.min(lo + 1, xs.length - 1)] ?? 0) - xs[lo]!);
    };
    [0.5, 0.95, 0.99].forEach((p, i) => {
      expect(Math.abs(lat[i]! - q(sorted, p))).toBeLessThanOrEqual(20);
      expect(Math.abs(ttft[i]! - q(sortedTtft, p))).toBeLessThanOrEqual(5);
    });
    expect(await row.locator('td').nth(2).textContent()).toBe('10.00%');
    await page.screenshot({ path: join(SHOTS, 'ui-latency.png'), fullPage: true });
    await page.close();
  });

  it('exports the current filter as CSV with neutralized formula cells, and audits it', async () => {
    const page = await open(`/requests?${RANGE}&session=sess-${tag}`);
    const [download] = await Promise.all([page.waitForEvent('download'), page.click('[data-testid="export-csv"]')]);
    const text = readFileSync((await download.path())!, 'utf8');
    const [header, ...rows] = parseCsv(text);
    expect(rows.length).toBe(3);
    const col = (name: string): number => header!.indexOf(name);
    expect(rows.map((r) => r[col('request_id')])).toEqual(traceCalls.map((c) => c.request_id));
    expect(rows[1]![col('user')]).toBe(`'${traceCalls[1]!.user}`);
    expect(rows[0]![col('request_body')]).toBe(traceCalls[0]!.request_body);
    expect(rows[0]![col('started_at')]).toBe(traceCalls[0]!.started_at);
    expect(rows[0]![col('key_name')]).toBe('team-key');
    expect(text).not.toContain(MASTER);

    const jsonl = await page.evaluate(async (href) => (await fetch(href)).text(), (await page.locator('[data-testid="export-jsonl"]').getAttribute('href'))!);
    const parsed = jsonl.trim().split('\n').map((l) => JSON.parse(l) as { user: string });
    expect(parsed.map((r) => r.user)).toEqual(traceCalls.map((c) => c.user));

    const audit = (await listAudit(store, { action: 'export.run' })).filter((a) => a.details.includes(`sess-${tag}`));
    expect(audit.length).toBe(2);
    expect(audit.map((a) => JSON.parse(a.details) as { rows: number; completed: boolean }).every((d) => d.rows === 3 && d.completed)).toBe(true);
    expect(audit.every((a) => a.actor === 'master')).toBe(true);
    await page.close();
  });

  it('renders an XSS payload in a prompt and a model name as text, running nothing', async () => {
    const page = await open(`/requests?${RANGE}&q=${encodeURIComponent(`xss-${tag}`)}`);
    expect(await page.locator('table.calls tbody tr').count()).toBe(1);
    await page.locator('table.calls tbody tr a').first().click();
    await page.waitForURL(/\/requests\/[0-9a-f-]{36}$/);
    expect(await page.locator('ol[aria-label="Prompt messages"] pre.content').first().textContent()).toBe(evilPrompt);
    expect(await page.locator('main img, main script, main a[href^="javascript"]').count()).toBe(0);
    await open(`/spend?${RANGE}&by=model`).then((p) => p.close());
    await open(`/latency?${RANGE}`).then((p) => p.close());
    await page.close();
    expect(dialogs).toEqual([]);
    expect(cspErrors).toEqual([]);
  });
});
