// Spend that explains itself, in a real browser against the built UI and a chDB store seeded
// with two spikes of known cause (test/support/spend-scenario.ts): each spike's page names its
// factor and its contributor (key-x / model mix, looper / call volume) with the calls one click
// away; spend by user and by a tag's value drill to the explorer; month-to-date and forecast
// against key and team budgets; the spend chart fills its box (its links still on the bars);
// a latency series with traffic in one bucket only is drawn as a visible point; a viewer
// scoped to one team sees only that team. Needs `pnpm --filter @gatelog/ui run build`.
import { createHash, randomUUID } from 'node:crypto';
import { existsSync, mkdirSync, mkdtempSync, rmSync } from 'node:fs';
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { chromium, type Browser, type BrowserContext, type Page } from 'playwright-core';
import { insertKeyVersion, migrate, openStore, StorageConfig, type KeyRecord, type Store } from '@gatelog/core';
import { provideUiContext } from '@gatelog/core/ui-context';
import { insertUserVersion } from '@gatelog/core/store/users';
import { hashPassword } from '@gatelog/core/auth/passwords';
import { forecastMonthEnd, monthWindow } from '@gatelog/core/spend-forecast';
import { GRID } from '../../ui/src/lib/server/charts.server.ts';
import { BUCKETS, LONELY_BUCKET, LOOP_BUCKET, spendEvent, spendScenario, STEP_MS, SWITCH_BUCKET } from '../support/spend-scenario.ts';

const ROOT = join(import.meta.dirname, '..', '..');
const HANDLER = join(ROOT, 'ui', 'build', 'handler.js');
const CHROMIUM = process.env['CHROMIUM_PATH'] ?? '/usr/bin/chromium';
const SHOTS = join(ROOT, 'test-results');
const MASTER = `mk-${randomUUID()}`;
const tag = randomUUID().slice(0, 8);
const A = Date.UTC(2026, 4, 1, 0, 0, 0);
const sc = spendScenario(A, tag);
const RANGE = `from=${new Date(sc.a).toISOString()}&to=${new Date(sc.b).toISOString()}`;
const iso = (ms: number): string => new Date(ms).toISOString();
const ALPHA = `alpha-${tag}`;
const BETA = `beta-${tag}`;
const VIEWER = { email: `viewer-${tag}@example.com`, password: `pw-${randomUUID()}` };

// This month's spend for the budgets: never before the month began.
const NOW = Date.now();
const RECENT = Math.max(NOW - 30 * 60_000, monthWindow(NOW).monthStart);
const OVER_KEY = `over-${tag}`;
const OK_KEY = `ok-${tag}`;

function key(id: string, team: string, over: Partial<KeyRecord>): KeyRecord {
  const now = new Date().toISOString();
  return {
    id, version: 1, key_hash: createHash('sha256').update(`secret-${id}`).digest('hex'), key_prefix: `gl-${id}`, previous_key_hash: '', previous_key_prefix: '', previous_valid_until: null, rotated_at: null, counter_salt: '', name: `name-${id}`,
    team, owner: '', models: [], budget_usd: null, budget_period: 'none', rpm: null, tpm: null, max_parallel: null,
    user_rpm: null, user_tpm: null, user_budget_usd: null, user_budget_period: 'none', require_user: false,
    expires_at: null, metadata: {}, revoked: false, created_at: now, updated_at: now, updated_by: 'test', ...over,
  };
}

type NodeHandler = (req: IncomingMessage, res: ServerResponse) => void;
let dir: string;
let store: Store;
let server: Server;
let base: string;
let browser: Browser;
let admin: BrowserContext;
let viewer: BrowserContext;

async function open(ctx: BrowserContext, path: string): Promise<Page> {
  const page = await ctx.newPage();
  page.setDefaultTimeout(15_000);
  const res = await page.goto(base + path);
  expect(res?.status(), path).toBe(200);
  return page;
}

beforeAll(async () => {
  if (!existsSync(HANDLER)) throw new Error(`UI build missing at ${HANDLER}: run pnpm --filter @gatelog/ui run build`);
  mkdirSync(SHOTS, { recursive: true });
  dir = mkdtempSync(join(tmpdir(), 'gatelog-ui-spend-'));
  store = await openStore(StorageConfig.parse({}), dir);
  await migrate(store);
  const month = [
    spendEvent({ started_at: iso(RECENT), key_id: OVER_KEY, key_name: `name-${OVER_KEY}`, team: ALPHA, cost_usd: 3 }),
    spendEvent({ started_at: iso(RECENT + 1), key_id: OK_KEY, key_name: `name-${OK_KEY}`, team: BETA, cost_usd: 1 }),
  ];
  await store.insertRaw('llm_calls', Buffer.from([...sc.events, ...month].map((e) => JSON.stringify(e)).join('\n')));
  await insertKeyVersion(store, key(OVER_KEY, ALPHA, { budget_usd: 2, budget_period: 'monthly' }));
  await insertKeyVersion(store, key(OK_KEY, BETA, { budget_usd: 10_000, budget_period: 'weekly' }));
  const at = new Date().toISOString();
  await insertUserVersion(store, {
    id: `usr_${tag}`, version: 1, email: VIEWER.email, name: 'Viewer', role: 'viewer', teams: [BETA], auth_source: 'local',
    password_hash: await hashPassword(VIEWER.password), invite_hash: '', invite_expires_at: null, disabled: false, created_at: at, updated_at: at, updated_by: 'test',
  });
  process.env['PROTOCOL_HEADER'] = 'x-gatelog-proto';
  provideUiContext({ store, masterKey: MASTER, teamBudgets: { [ALPHA]: { budget_usd: 50, period: 'monthly' } } });
  const { handler } = (await import(pathToFileURL(HANDLER).href)) as { handler: NodeHandler };
  server = createServer((req, res) => {
    req.headers['x-gatelog-proto'] = 'http';
    handler(req, res);
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const addr = server.address();
  base = `http://127.0.0.1:${typeof addr === 'object' && addr ? addr.port : 0}`;
  browser = await chromium.launch({ executablePath: CHROMIUM, args: ['--headless', '--no-sandbox', '--disable-gpu', '--disable-background-networking'] });
  admin = await browser.newContext({ viewport: { width: 1366, height: 900 } });
  viewer = await browser.newContext({ viewport: { width: 1366, height: 900 } });
  const a = await open(admin, '/login');
  await a.fill('#key', MASTER);
  await a.click('form:has(#key) button[type="submit"]');
  await a.waitForURL((u) => u.pathname !== '/login');
  await a.close();
  const v = await open(viewer, '/login');
  await v.fill('#email', VIEWER.email);
  await v.fill('#password', VIEWER.password);
  await v.click('#account-submit');
  await v.waitForURL((u) => u.pathname !== '/login');
  await v.close();
}, 120_000);

afterAll(async () => {
  await browser?.close();
  await new Promise<void>((resolve) => server?.close(() => resolve()));
  await store?.close();
  if (dir) rmSync(dir, { recursive: true, force: true });
});

const svgOf = (src: string | null): string => Buffer.from((src ?? '').replace(/^data:image\/svg\+xml;base64,/, ''), 'base64').toString();

/** Opens the spike of `bucket` from the spend page's spike table (by key). */
async function explainSpike(bucket: number): Promise<Page> {
  const page = await open(admin, `/spend?${RANGE}&by=key`);
  const row = page.locator('[data-testid="spikes"] tbody tr', { hasText: iso(A + bucket * STEP_MS) });
  await row.locator('[data-testid="explain"]').click();
  await page.waitForURL((u) => u.pathname === '/spend/spike');
  expect(new URL(page.url()).searchParams.get('at')).toBe(iso(A + bucket * STEP_MS));
  expect(new URL(page.url()).searchParams.get('dim')).toBe('key');
  return page;
}

describe('spike explained', () => {
  it('names model mix and key-x for a key switching to a pricier model, with its top calls one click away', async () => {
    const page = await explainSpike(SWITCH_BUCKET);
    expect(await page.locator('[data-testid="factors"] tbody tr').first().getAttribute('data-factor')).toBe('model_mix');
    expect(await page.locator('[data-testid="spike-why"] [data-factor]').getAttribute('data-factor')).toBe('model_mix');
    const topKey = page.locator('[data-testid="contrib-key"] tbody tr').first();
    expect(await topKey.getAttribute('data-value')).toBe(sc.keyX);
    expect(await topKey.getAttribute('data-driver')).toBe('model_mix');
    expect(await page.locator('[data-testid="contrib-model"] tbody tr').first().getAttribute('data-value')).toBe(sc.large);
    await page.screenshot({ path: join(SHOTS, 'ui-spend-spike.png'), fullPage: true });
    await page.click('[data-testid="top-calls"]');
    await page.waitForURL((u) => u.pathname === '/requests');
    const url = new URL(page.url());
    expect(url.searchParams.get('sort')).toBe('cost');
    expect(url.searchParams.get('from')).toBe(iso(A + SWITCH_BUCKET * STEP_MS));
    // The spike was key-x's series: its calls of that bucket.
    expect(url.searchParams.get('key')).toBe(sc.keyX);
    expect(await page.locator('table.calls tbody tr').count()).toBe(2);
    expect(await page.locator('table.calls tbody tr').first().textContent()).toContain(sc.large);
    await page.close();
  });

  it('names call volume and user looper for a looping user; the contributor links to its calls', async () => {
    const page = await explainSpike(LOOP_BUCKET);
    expect(await page.locator('[data-testid="factors"] tbody tr').first().getAttribute('data-factor')).toBe('volume');
    const topUser = page.locator('[data-testid="contrib-user"] tbody tr').first();
    expect(await topUser.getAttribute('data-value')).toBe(sc.looper);
    expect(await topUser.getAttribute('data-driver')).toBe('volume');
    expect(await page.locator('[data-testid="contrib-tag"] tbody tr').first().getAttribute('data-value')).toBe('agent');
    // key-a's series: 62 calls, 12 of them retried; the whole bucket: 68.
    expect(await page.locator('[data-testid="spike-series"]').textContent()).toContain(`key-a-${tag}`);
    expect(await page.locator('[data-signal="retries"]').textContent()).toContain('19.4%');
    await page.locator('[data-testid="spike-series"] a').click();
    await page.waitForURL((u) => u.pathname === '/spend/spike' && !u.searchParams.has('dim'));
    expect(await page.locator('[data-signal="retries"]').textContent()).toContain('17.6%');
    await topUser.locator('a').click();
    await page.waitForURL((u) => u.pathname === '/requests');
    expect(new URL(page.url()).searchParams.get('user')).toBe(sc.looper);
    expect(await page.locator('table.calls tbody tr').count()).toBeGreaterThanOrEqual(50);
    await page.close();
  });
});

describe('spend by dimension', () => {
  it('groups by user and by a tag\'s value, each value linked to its calls', async () => {
    const page = await open(admin, `/spend?${RANGE}&by=user`);
    const looper = page.locator(`[data-testid="top"] tr[data-group="${sc.looper}"] a`);
    expect(new URL(base + ((await looper.getAttribute('href')) ?? '')).searchParams.get('user')).toBe(sc.looper);
    await page.goto(`${base}/spend?${RANGE}&by=tag&tag=app`);
    expect((await page.locator('[data-testid="top"] tbody tr').evaluateAll((trs) => trs.map((tr) => tr.getAttribute('data-group')))).sort()).toEqual(['', 'agent', 'batch', 'web']);
    await page.locator('[data-testid="top"] tr[data-group="agent"] a').click();
    await page.waitForURL((u) => u.pathname === '/requests');
    expect(new URL(page.url()).searchParams.get('tags')).toBe('app=agent');
    expect(await page.locator('table.calls tbody tr').count()).toBeGreaterThanOrEqual(50);
    await page.close();
  });

  it('draws the spend chart across its whole box, its spike link still on the spike', async () => {
    const page = await open(admin, `/spend?${RANGE}&by=model`);
    const img = page.locator('[data-testid="spend-chart"]');
    const box = (await img.boundingBox())!;
    const inner = await page.locator('.charts figure').first().evaluate((f) => {
      const s = getComputedStyle(f);
      return f.clientWidth - parseFloat(s.paddingLeft) - parseFloat(s.paddingRight);
    });
    expect(Math.abs(box.width - inner) / inner).toBeLessThan(0.03);
    await page.screenshot({ path: join(SHOTS, 'ui-spend-by-model.png'), fullPage: true });
    // The plot inside the image spans it too: the first and last bars sit at the grid's edges.
    const natural = Number(await img.getAttribute('width'));
    const cols = (await page.locator('[data-testid="spend-links"] a[href*="from="]:not([href*="model="])').evaluateAll((as) => as.map((a) => (a.getAttribute('data-coords') ?? '').split(',').map(Number))))
      .sort((p, q) => p[0]! - q[0]!);
    expect(cols.length).toBe(BUCKETS);
    expect(cols[0]![0]!).toBeLessThan(GRID.left + 0.03 * natural);
    expect(cols[cols.length - 1]![2]!).toBeGreaterThan(natural - GRID.right - 0.03 * natural);
    // The pin of the switch spike, in the image's pixels, scaled to the drawn size: a click there opens its calls.
    const svg = svgOf(await img.getAttribute('src'));
    const pins = [...svg.matchAll(/<path [^>]*transform="matrix\([\d.]+,0,0,[\d.]+,([\d.]+),([\d.]+)\)" fill="#b3261e"/g)].map((m) => [Number(m[1]), Number(m[2])] as const);
    expect(pins.length).toBeGreaterThanOrEqual(1);
    const scale = box.width / natural;
    const [x, y] = pins.sort((p, q) => q[0] - p[0])[0]!;
    // A person's click at that spot (it lands on the link laid over the image).
    await page.mouse.click(box.x + x * scale, box.y + (y - 12) * scale);
    await page.waitForURL((u) => u.pathname === '/requests');
    expect(new URL(page.url()).searchParams.get('from')).toBe(iso(A + SWITCH_BUCKET * STEP_MS));
    await page.close();
  });
});

describe('budgets', () => {
  it('shows month-to-date spend and the month-end forecast against key and team budgets', async () => {
    const page = await open(admin, '/spend');
    const over = page.locator(`[data-testid="budget-keys"] tr[data-id="${OVER_KEY}"]`);
    expect(await over.getAttribute('data-state')).toBe('over');
    expect(Number(await over.getAttribute('data-mtd'))).toBeCloseTo(3, 9);
    const ok = page.locator(`[data-testid="budget-keys"] tr[data-id="${OK_KEY}"]`);
    const expected = forecastMonthEnd(monthWindow(Date.now()), 1, 1).forecast;
    expect(Math.abs(Number(await ok.getAttribute('data-forecast')) - expected) / expected).toBeLessThan(0.01);
    expect(await ok.getAttribute('data-state')).toBe('ok');
    const team = page.locator(`[data-testid="budget-teams"] tr[data-id="${ALPHA}"]`);
    expect(Number(await team.getAttribute('data-mtd'))).toBeCloseTo(3, 9);
    expect(await team.locator('td').nth(1).textContent()).toContain('$50');
    await page.close();
  });
});

describe('latency with sparse data', () => {
  it('draws a series with traffic in one bucket as a point where that bucket is', async () => {
    const page = await open(admin, `/latency?${RANGE}&by=model&q=p50`);
    for (const id of ['latency-chart', 'ttft-chart']) {
      const img = page.locator(`[data-testid="${id}"]`);
      const svg = svgOf(await img.getAttribute('src'));
      const width = Number(/<svg[^>]* width="(\d+)"/.exec(svg)?.[1]);
      const marker = new RegExp(`<path [^>]*transform="matrix\\([\\d.]+,0,0,[\\d.]+,([\\d.]+),([\\d.]+)\\)"[^>]*ecmeta_data_index="${LONELY_BUCKET}"`).exec(svg);
      expect(marker, id).not.toBeNull();
      // The x axis spans the range's first to last bucket exactly.
      const x = GRID.left + (LONELY_BUCKET / (BUCKETS - 1)) * (width - GRID.left - GRID.right);
      expect(Math.abs(Number(marker![1]) - x), id).toBeLessThan(2);
      expect(Number(marker![2]), id).toBeGreaterThan(GRID.top - 1);
      expect((await img.boundingBox())!.width, id).toBeGreaterThan(100);
    }
    // Each model in the table opens its calls of the range.
    const link = new URL(base + ((await page.locator(`tr[data-group="${sc.lonely}"] a`).getAttribute('href')) ?? ''));
    expect(link.searchParams.get('model')).toBe(sc.lonely);
    expect(link.searchParams.get('from')).toBe(iso(sc.a));
    await page.close();
  });
});

describe('team scope', () => {
  it('a viewer of one team sees only that team\'s spend, spikes, budgets and latency', async () => {
    const page = await open(viewer, `/spend?${RANGE}&by=team`);
    expect(await page.locator('[data-testid="top"] tbody tr').evaluateAll((trs) => trs.map((tr) => tr.getAttribute('data-group')))).toEqual([BETA]);
    expect(await page.locator(`[data-testid="budget-keys"] tr[data-id="${OVER_KEY}"]`).count()).toBe(0);
    expect(await page.locator(`[data-testid="budget-keys"] tr[data-id="${OK_KEY}"]`).count()).toBe(1);
    expect(await page.locator(`[data-testid="budget-teams"] tr[data-id="${ALPHA}"]`).count()).toBe(0);
    await page.goto(`${base}/spend/spike?at=${iso(A + LOOP_BUCKET * STEP_MS)}&bucket=300&base=6`);
    expect(await page.locator('[data-testid="contrib-user"] tbody tr').evaluateAll((trs) => trs.map((tr) => tr.getAttribute('data-value')))).not.toContain(sc.looper);
    expect(await page.locator('[data-testid="contrib-team"] tbody tr').evaluateAll((trs) => trs.map((tr) => tr.getAttribute('data-value')))).toEqual([BETA]);
    const lat = await page.goto(`${base}/latency?${RANGE}&by=model`);
    expect(lat?.status()).toBe(200);
    // The lonely model's one call is team beta's; the switched model's calls are alpha's.
    expect(await page.locator(`tr[data-group="${sc.lonely}"]`).count()).toBe(1);
    expect(await page.locator(`tr[data-group="${sc.large}"]`).count()).toBe(0);
    await page.close();
  });

  it('answers a malformed spike or spend parameter with 400', async () => {
    for (const q of ['at=yesterday&bucket=300', `at=${iso(A)}&bucket=301`, `at=${iso(A)}&bucket=300&base=999`, `at=${iso(A)}&bucket=0`]) {
      const r = await admin.request.get(`${base}/spend/spike?${q}`);
      expect(r.status(), q).toBe(400);
      expect(await r.text(), q).not.toMatch(/DB::Exception|ClickHouse/);
    }
    for (const q of ['min=abc', `tag=${'x'.repeat(201)}`, 'from=2026-05-02T00:00:00Z&to=2026-05-01T00:00:00Z']) {
      expect((await admin.request.get(`${base}/spend?${q}`)).status(), q).toBe(400);
    }
  });
});
