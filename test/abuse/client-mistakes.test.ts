// Client mistakes get a 4xx in the surface's error shape, never a 500/503 or a database
// message, and no URL can make one page do unbounded work:
// - 100k-deep JSON on a call translated between API shapes (an OpenAI-kind deployment behind
//   /v1/messages, an Anthropic-kind one behind /v1/chat/completions) overflowed the stack: 500;
// - /admin/calls?limit=1.5 answered 500 with ClickHouse's text, /admin/audit?limit=1.5 too;
// - explorer costMin=1e32, before=-1e308_<id>, before=0000-01-01…_<id> reached the engine: 503;
// - /login?next=/%09/evil.example put a tab in the Location header: 500;
// - /spend?from=1900-01-01&to=2299-12-31 built 146k buckets: 47 s, a 207 MB page, /healthz
//   blocked. Ranges now have a maximum span and charts a maximum number of buckets.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startAbuseGatelog, startUpstream, wellBehaved, type AbuseGatelog, type Upstream } from './harness.ts';

let gl: AbuseGatelog;
let up: Upstream;
let secret = '';
let cookie = '';
const ID = '019ad000-0000-7000-8000-000000000000';
const DB_WORDS = /ClickHouse|DB::Exception|UInt32|Float64|DateTime64|Code: \d+/;

beforeAll(async () => {
  up = await startUpstream(wellBehaved());
  gl = await startAbuseGatelog({
    config: {
      providers: {
        oa: { kind: 'openai', base_url: up.baseUrl, api_key: 'sk-upstream-oa' },
        an: { kind: 'anthropic', base_url: up.url, api_key: 'sk-ant-upstream' },
      },
      models: [
        { name: 'fast', deployments: [{ provider: 'oa', model: 'gpt-4o-mini' }] },
        { name: 'claude', deployments: [{ provider: 'an', model: 'claude-haiku' }] },
      ],
    },
  });
  secret = (await gl.createKey({ name: 'tenant' })).secret;
  const login = await fetch(`${gl.url}/login`, {
    method: 'POST',
    redirect: 'manual',
    headers: { 'content-type': 'application/x-www-form-urlencoded', origin: gl.url },
    body: new URLSearchParams({ key: gl.master, next: '/requests' }).toString(),
  });
  cookie = (login.headers.get('set-cookie') ?? '').split(';')[0]!;
}, 90_000);

afterAll(async () => {
  await gl?.stop();
  await up?.close();
});

async function ui(path: string): Promise<{ status: number; text: string; ms: number; location: string | null }> {
  const t0 = performance.now();
  const r = await fetch(`${gl.url}${path}`, { redirect: 'manual', headers: { cookie }, signal: AbortSignal.timeout(30_000) });
  const text = await r.text();
  return { status: r.status, text, ms: performance.now() - t0, location: r.headers.get('location') };
}

describe('client mistakes', () => {
  it('100k-deep JSON on translated calls: 400 in each surface shape, nothing sent upstream', async () => {
    const deep = `${'['.repeat(100_000)}${']'.repeat(100_000)}`;
    const before = up.requests.length;
    const messages = await fetch(`${gl.url}/v1/messages`, {
      method: 'POST',
      headers: { 'x-api-key': secret, 'content-type': 'application/json', 'anthropic-version': '2023-06-01' },
      body: `{"model":"fast","max_tokens":16,"messages":[{"role":"user","content":"hi"}],"metadata":{"x":${deep}}}`,
    });
    expect(messages.status).toBe(400);
    expect(await messages.json()).toMatchObject({ type: 'error', error: { type: 'invalid_request_error', message: expect.stringMatching(/deeper than/) } });
    const chat = await fetch(`${gl.url}/v1/chat/completions`, {
      method: 'POST',
      headers: { authorization: `Bearer ${secret}`, 'content-type': 'application/json' },
      body: `{"model":"claude","messages":[{"role":"user","content":"hi"}],"tools":${deep}}`,
    });
    expect(chat.status).toBe(400);
    expect(await chat.json()).toMatchObject({ error: { type: 'invalid_request_error', code: 'json_too_deep' } });
    expect(up.requests.length).toBe(before);
    // An ordinary translated call still works.
    const ok = await fetch(`${gl.url}/v1/chat/completions`, {
      method: 'POST',
      headers: { authorization: `Bearer ${secret}`, 'content-type': 'application/json' },
      body: JSON.stringify({ model: 'claude', messages: [{ role: 'user', content: 'hi' }] }),
    });
    expect(ok.status).toBe(200);
  });

  it('admin list parameters: 400 naming the parameter, never a database message', async () => {
    for (const q of ['limit=1.5', 'limit=0', 'limit=abc', 'limit=-5', 'limit=1e3', 'status=maybe', `model=${'m'.repeat(300)}`]) {
      const r = await gl.admin('GET', `/admin/calls?${q}`);
      const text = await r.text();
      expect(r.status, `/admin/calls?${q}: ${text}`).toBe(400);
      expect(JSON.parse(text)).toMatchObject({ error: { type: 'invalid_request_error', message: expect.any(String) } });
      expect(text).not.toMatch(DB_WORDS);
    }
    const audit = await gl.admin('GET', '/admin/audit?limit=1.5');
    const text = await audit.text();
    expect(audit.status, text).toBe(400);
    expect(text).not.toMatch(DB_WORDS);
    expect((await gl.admin('GET', '/admin/calls?limit=5&status=ok')).status).toBe(200);
    expect((await gl.admin('GET', '/admin/calls?limit=100000')).status).toBe(200);
  });

  it('explorer and export filters out of range: 400, not 503', async () => {
    const bad = [
      '/requests?costMin=1e32',
      '/requests?costMin=100000000000000000000000000000000',
      `/requests?sort=cost&before=-1e308_${ID}`,
      `/requests?sort=latency&before=1e308_${ID}`,
      `/requests?before=0000-01-01T00:00:00.000Z_${ID}`,
      '/requests?from=0000-01-01T00:00',
      `/requests?q=${'x'.repeat(500)}`,
      '/export?format=jsonl&costMax=1e400',
      '/export?format=csv&from=9999-01-01T00:00',
    ];
    for (const path of bad) {
      const r = await ui(path);
      expect(r.status, `${path}: ${r.text.slice(0, 300)}`).toBe(400);
      expect(r.text).not.toMatch(/ClickHouse|DB::Exception|Code: \d+/);
    }
    expect((await ui(`/requests?costMin=0.5&sort=cost&before=0.25_${ID}`)).status).toBe(200);
    expect((await ui(`/requests?before=2026-01-01T00:00:00.000Z_${ID}`)).status).toBe(200);
  });

  it('the login redirect stays on this origin', async () => {
    for (const next of ['/\t/evil.example', '/\n/evil.example', '/\\evil.example', '//evil.example', '/ /evil.example', 'https://evil.example/']) {
      const r = await fetch(`${gl.url}/login`, {
        method: 'POST',
        redirect: 'manual',
        headers: { 'content-type': 'application/x-www-form-urlencoded', accept: 'text/html', origin: gl.url },
        body: new URLSearchParams({ key: gl.master, next }).toString(),
      });
      expect(r.status, JSON.stringify(next)).toBe(303);
      expect(r.headers.get('location'), JSON.stringify(next)).toBe('/requests');
    }
    const signedIn = await ui('/login?next=/%09/evil.example');
    expect(signedIn.status).toBe(303);
    expect(signedIn.location).toBe('/requests');
    expect((await ui('/login?next=%2Fspend%3Frange%3D7d')).location).toBe('/spend?range=7d');
  });
});

describe('time ranges and buckets have maximums', () => {
  it('an absurd range is a fast 400 and /healthz never waits; the longest allowed range renders a bounded page', async () => {
    const health = async (): Promise<number> => {
      const t0 = performance.now();
      const r = await fetch(`${gl.url}/healthz`, { signal: AbortSignal.timeout(30_000) });
      await r.arrayBuffer();
      return performance.now() - t0;
    };
    // The pages' code is loaded on first use; that one-off cost is not what is measured here.
    for (const path of ['/spend', '/latency']) expect((await ui(path)).status).toBe(200);
    for (const path of [
      '/spend?from=1900-01-01&to=2299-12-31',
      '/spend?from=1900-01-01T00:00&to=2299-12-31T00:00',
      '/spend?from=2001-01-01T00:00&to=2099-12-31T00:00',
      '/latency?from=2020-01-01&to=2026-01-01',
      '/spend?from=2026-02-01&to=2026-01-01',
      '/latency?from=soon&to=later',
    ]) {
      const [r, healthMs] = await Promise.all([ui(path), health()]);
      expect(r.status, `${path}: ${r.text.slice(0, 300)}`).toBe(400);
      expect(r.ms, path).toBeLessThan(2_000);
      expect(healthMs, path).toBeLessThan(1_000);
    }
    for (const path of ['/spend?from=2025-01-01&to=2026-02-04', '/latency?from=2025-01-01&to=2026-02-04']) {
      const [r, healthMs] = await Promise.all([ui(path), health()]);
      expect(r.status, path).toBe(200);
      expect(r.text.length, path).toBeLessThan(2_000_000);
      expect(r.ms, path).toBeLessThan(15_000);
      expect(healthMs, path).toBeLessThan(2_000);
    }
  }, 60_000);
});
