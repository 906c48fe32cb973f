// The built UI handler (ui/build/handler.js) against a chDB store this test seeds itself:
// list, filters, keyset paging, request page, 404, text-only rendering and master-key sign-in.
// Needs `pnpm --filter @gatelog/ui run build` (the bootstrap runs it before the tests).
import { randomUUID } from 'node:crypto';
import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { migrate, newRequestId, openStore, StorageConfig, type LlmCallEvent, type Store } from '@gatelog/core';
import { provideUiContext } from '@gatelog/core/ui-context';

const ROOT = join(import.meta.dirname, '..', '..');
const HANDLER = join(ROOT, 'ui', 'build', 'handler.js');
const MASTER = `mk-${randomUUID()}`;

type NodeHandler = (req: IncomingMessage, res: ServerResponse) => void;

function event(over: Partial<LlmCallEvent>): LlmCallEvent {
  return {
    schema_version: 1, gatelog_version: 'test', request_id: newRequestId(), started_at: new Date().toISOString(),
    trace_id: '', session_id: '', user: '', tags: {}, key_id: '', key_name: '', team: '',
    endpoint: '/v1/chat/completions', client_api: 'openai.chat', upstream_api: 'openai.chat',
    requested_model: 'mock-chat', provider: 'mock', deployment_model: 'mock-chat', upstream_model: 'mock-chat',
    stream: false, status: 200, outcome: 'success', error_type: '', error_message: '', finish_reason: 'stop',
    input_tokens: 10, output_tokens: 5, cached_tokens: 0, cache_creation_tokens: 0, reasoning_tokens: 0,
    tokens_estimated: false, cost_usd: null, cache_hit: false, ttft_ms: null, latency_ms: 12.5, overhead_ms: 0.4,
    attempts: [], request_body: '{}', response_body: '{}', request_bytes: 2, response_bytes: 2, truncated: false,
    ...over,
  };
}

function chat(prompt: string): string {
  return JSON.stringify({ model: 'mock-chat', messages: [{ role: 'system', content: 'be brief' }, { role: 'user', content: prompt }] });
}

let dir: string;
let store: Store;
let server: Server;
let base: string;
let masterKey: string | undefined;

const tag = randomUUID().slice(0, 8);
const evil = `hello-${tag} <script>alert(1)</script> <img src=x onerror=alert(2)> & "quotes"`;
const seeded = {
  evil: event({ request_id: newRequestId(), started_at: '2026-01-02T03:04:05.678Z', request_body: chat(evil), response_body: JSON.stringify({ id: 'x', object: 'chat.completion', choices: [{ index: 0, message: { role: 'assistant', content: `answer-${tag} <b>bold</b>` }, finish_reason: 'stop' }] }), cost_usd: 0.00042, key_name: 'team-a', tags: { env: 'test' }, trace_id: `trace-${tag}` }),
  error: event({ started_at: '2026-01-02T03:04:04.000Z', status: 502, outcome: 'error', error_type: 'upstream_error', error_message: 'boom', requested_model: 'other-model', request_body: chat(`failing-${tag}`), response_body: 'not json at all' }),
};

async function get(path: string, headers: Record<string, string> = {}): Promise<{ status: number; text: string; headers: Headers }> {
  const r = await fetch(base + path, { redirect: 'manual', headers: { 'x-forwarded-proto': 'http', ...headers } });
  return { status: r.status, text: await r.text(), headers: r.headers };
}

beforeAll(async () => {
  if (!existsSync(HANDLER)) throw new Error(`UI build missing at ${HANDLER}: run pnpm --filter @gatelog/ui run build`);
  dir = mkdtempSync(join(tmpdir(), 'gatelog-ui-'));
  store = await openStore(StorageConfig.parse({}), dir);
  await migrate(store);
  // 60 filler rows older than the seeded ones, so paging has something to page through.
  const filler = Array.from({ length: 60 }, (_, i) =>
    event({ started_at: new Date(Date.UTC(2026, 0, 1, 0, 0, i)).toISOString(), request_body: chat(`filler-${i}`), key_name: 'team-b' }));
  const rows = [seeded.evil, seeded.error, ...filler].map((e) => JSON.stringify(e)).join('\n');
  await store.insertRaw('llm_calls', Buffer.from(rows));
  // The launcher's contract: the context provided (core's ui-context) before the handler is
  // imported, and the request protocol told through a header the launcher itself sets.
  process.env['PROTOCOL_HEADER'] = 'x-forwarded-proto';
  provideUiContext({ store, get masterKey() { return masterKey; } });
  const { handler } = (await import(pathToFileURL(HANDLER).href)) as { handler: NodeHandler };
  server = createServer((req, res) => handler(req, res));
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const addr = server.address();
  base = `http://127.0.0.1:${typeof addr === 'object' && addr ? addr.port : 0}`;
});

afterAll(async () => {
  await new Promise<void>((resolve) => server?.close(() => resolve()));
  await store?.close();
  if (dir) rmSync(dir, { recursive: true, force: true });
});

describe('ui handler (open, no master key)', () => {
  it('redirects / to /requests and lists newest first', async () => {
    const root = await get('/');
    expect(root.status).toBe(307);
    expect(root.headers.get('location')).toBe('/requests');
    const list = await get('/requests');
    expect(list.status).toBe(200);
    expect(list.headers.get('content-security-policy')).toMatch(/default-src 'self'/);
    expect(list.headers.get('content-security-policy')).not.toMatch(/unsafe-inline/);
    const iEvil = list.text.indexOf(`hello-${tag}`);
    const iErr = list.text.indexOf(`failing-${tag}`);
    expect(iEvil).toBeGreaterThan(0);
    expect(iErr).toBeGreaterThan(iEvil);
    expect(list.text).toContain('2026-01-02T03:04:05.678Z');
    expect(list.text).toContain('$0.00042');
    expect(list.text).not.toContain('<script>alert(1)');
    expect(list.text).toContain('&lt;script>alert(1)&lt;/script>');
  });

  it('filters by status, model and key via the query string', async () => {
    const errors = await get('/requests?status=error');
    expect(errors.text).toContain(`failing-${tag}`);
    expect(errors.text).not.toContain(`hello-${tag}`);
    const model = await get('/requests?model=other-model');
    expect(model.text).toContain(`failing-${tag}`);
    expect(model.text).not.toContain('filler-');
    const key = await get('/requests?key=team-a');
    expect(key.text).toContain(`hello-${tag}`);
    expect(key.text).not.toContain('filler-');
  });

  it('pages with a keyset cursor in the URL', async () => {
    const first = await get('/requests?key=team-b');
    expect(first.text).toContain('filler-59');
    expect(first.text).not.toContain('filler-9<');
    const older = /href="(\/requests\?key=team-b&amp;before=[^"]+)"/.exec(first.text)?.[1];
    expect(older).toBeDefined();
    const second = await get(older!.replaceAll('&amp;', '&'));
    expect(second.text).toContain('filler-9<');
    expect(second.text).toContain('filler-0<');
    expect(second.text).not.toContain('filler-59');
    expect(second.text).not.toMatch(/rel="next"/);
  });

  it('shows the exact prompt and response of a request as text', async () => {
    const page = await get(`/requests/${seeded.evil.request_id}`);
    expect(page.status).toBe(200);
    const escaped = evil.replaceAll('&', '&amp;').replaceAll('<', '&lt;');
    expect(page.text).toContain(`<pre class="content">${escaped}</pre>`);
    expect(page.text).toContain(`answer-${tag} &lt;b>bold&lt;/b>`);
    expect(page.text).toContain(`trace-${tag}`);
    expect(page.text).toContain('env=test');
    expect(page.text).not.toMatch(/<script>alert|<img src=x/);
  });

  it('shows a non-chat response raw, and 404s unknown ids', async () => {
    const page = await get(`/requests/${seeded.error.request_id}`);
    expect(page.text).toContain('not json at all');
    expect(page.text).toContain('upstream_error: boom');
    expect((await get(`/requests/${randomUUID()}`)).status).toBe(404);
    expect((await get('/requests/not-a-uuid')).status).toBe(404);
  });
});

describe('ui handler (master key set)', () => {
  beforeAll(() => {
    masterKey = MASTER;
  });
  afterAll(() => {
    masterKey = undefined;
  });

  async function login(key: string, origin = base): Promise<Response> {
    return fetch(`${base}/login`, {
      method: 'POST',
      redirect: 'manual',
      headers: { 'content-type': 'application/x-www-form-urlencoded', accept: 'text/html', origin, 'x-forwarded-proto': 'http' },
      body: new URLSearchParams({ key, next: '/requests?status=ok' }).toString(),
    });
  }

  it('redirects unauthenticated pages to /login', async () => {
    const r = await get(`/requests/${seeded.evil.request_id}`);
    expect(r.status).toBe(303);
    expect(r.headers.get('location')).toBe(`/login?next=${encodeURIComponent(`/requests/${seeded.evil.request_id}`)}`);
    expect((await get('/login')).status).toBe(200);
  });

  it('rejects a wrong key and a cross-site post, accepts the master key', async () => {
    expect((await login('wrong')).status).toBe(401);
    expect((await login(MASTER, 'http://evil.example')).status).toBe(403);
    const ok = await login(MASTER);
    expect(ok.status).toBe(303);
    expect(ok.headers.get('location')).toBe('/requests?status=ok');
    const cookie = ok.headers.getSetCookie()[0] ?? '';
    expect(cookie).toMatch(/^gatelog_session=[A-Za-z0-9_-]{43};/);
    expect(cookie).toMatch(/HttpOnly/i);
    expect(cookie).toMatch(/SameSite=Strict/i);
    expect(cookie).not.toMatch(/Secure/i);
    expect(cookie).not.toContain(MASTER);
    const session = cookie.split(';')[0]!;
    const page = await get('/requests', { cookie: session });
    expect(page.status).toBe(200);
    expect(page.text).toContain(`hello-${tag}`);
    const forged = await get('/requests', { cookie: `${session.slice(0, -2)}xx` });
    expect(forged.status).toBe(303);
  });
});
