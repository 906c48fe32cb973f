// Audit streaming through a real `gatelog start` process to a local webhook receiver (a SIEM's
// HTTP intake) and a local OTLP/HTTP logs receiver: admin actions (a key created, a call's body
// viewed, a sign-in) arrive signed, in seq order, with chain fields that pass `audit verify`'s
// checks; both sinks down for a while → the rows wait (loudly, no secrets in the log) and then
// all arrive, no gap; gatelog killed while a batch is in flight and started again on the same
// data dir → it goes on from the durable cursor, the batch resent with the same idempotency ids.
// GET /admin/audit/sinks follows it (failing with the error's code and reason, then ok with
// nothing behind), answers auditors and refuses viewers and analysts, and neither it nor the
// audit page's "Streaming to SIEM" panel (a real browser) shows a token, header value, query
// string or user info of a sink's address.
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { chromium, type Browser } from 'playwright-core';
import { AuditVerifier, type AuditRow } from '@gatelog/core';
import type { SinkStatus } from '@gatelog/core/audit-stream/status';
import { startGatelog, type GatelogProcess } from '../support/gatelog-process.ts';
import { startTogether } from '../support/start-together.ts';
import { startFakeOpenAi, type FakeOpenAi } from '../support/fake-openai.ts';
import { startWebhookReceiver, verifySignature, type Received, type WebhookReceiver } from '../support/webhook-receiver.ts';
import { startOtlpReceiver, type OtlpReceiver } from '../support/otlp-receiver.ts';

const MASTER = 'gl-master-audit-stream-0123456789';
const SECRET = 'audit-sink-signing-secret-0123';
const HEC_TOKEN = 'hec-token-4b1d-never-logged';
const OTLP_TOKEN = 'otlp-token-9f2e-never-logged';
const USERINFO = 'userinfo-pw-77c1-never-shown';
const DD_KEY = 'dd-api-key-31aa-never-shown';
const SECRETS = [HEC_TOKEN, OTLP_TOKEN, SECRET, USERINFO, DD_KEY];
const CHROMIUM = process.env['CHROMIUM_PATH'] ?? '/usr/bin/chromium';

type Streamed = AuditRow & { idempotency_id: string };

let fake: FakeOpenAi;
let hook: WebhookReceiver;
let otlp: OtlpReceiver;
let gl: GatelogProcess | undefined;
let browser: Browser;
const tokens: Record<'viewer' | 'analyst' | 'auditor', string> = { viewer: '', analyst: '', auditor: '' };
const dataDir = mkdtempSync(join(tmpdir(), 'gatelog-audit-stream-'));

function config(): object {
  return {
    providers: { fake: { kind: 'openai', base_url: fake.baseUrl, api_key: 'sk-upstream-audit-stream' } },
    models: [{ name: 'fast', deployments: [{ provider: 'fake', model: 'gpt-4o-mini' }] }],
    ingest: { batch_rows: 1000, batch_ms: 100 },
    audit: {
      sinks: [
        { kind: 'webhook', name: 'siem', url: `${hook.url}/services/collector?token=${HEC_TOKEN}`, secret: SECRET, headers: { authorization: `Splunk ${HEC_TOKEN}` }, batch_rows: 4 },
        { kind: 'otlp', name: 'collector', endpoint: otlp.logsUrl, protocol: 'http/protobuf', headers: { authorization: `Bearer ${OTLP_TOKEN}` } },
        // Never reachable (fetch refuses an address with user info): a sink that stays failing.
        { kind: 'webhook', name: 'datadog', format: 'datadog', url: `http://ops:${USERINFO}@127.0.0.1:9/api/v2/logs?dd-api-key=${DD_KEY}`, headers: { 'DD-API-KEY': DD_KEY } },
      ],
      stream: { poll_ms: 100, attempts: 2, base_ms: 50, max_ms: 300 },
    },
  };
}

/** Requests the webhook sink answered 2xx. */
const accepted = new Set<Received>();
function answer(status: (r: Received) => number): void {
  hook.respond = (r) => {
    const s = status(r);
    if (s >= 200 && s < 300) accepted.add(r);
    return s;
  };
}

const start = async (): Promise<GatelogProcess> => (gl = await startGatelog({ config: config(), dataDir, env: { GATELOG_MASTER_KEY: MASTER }, timeoutMs: 90_000 }));

beforeAll(async () => {
  [fake, hook, otlp] = await Promise.all([startFakeOpenAi(), startWebhookReceiver(), startOtlpReceiver()]);
  answer(() => 200);
  // start() assigns gl itself, for afterAll to stop.
  [browser] = await startTogether(
    [chromium.launch({ executablePath: CHROMIUM, args: ['--headless', '--no-sandbox', '--disable-gpu', '--disable-background-networking'] }), (b) => b.close()],
    [start()],
  );
  for (const role of ['viewer', 'analyst', 'auditor'] as const) {
    const r = await fetch(`${gl!.url}/admin/tokens`, { method: 'POST', headers: auth, body: JSON.stringify({ name: `${role}-sinks`, role }) });
    expect(r.status).toBe(201);
    tokens[role] = ((await r.json()) as { secret: string }).secret;
  }
}, 120_000);

afterAll(async () => {
  await browser?.close();
  await gl?.stop();
  await Promise.all([fake?.close(), hook?.close(), otlp?.close()]);
});

const auth = { authorization: `Bearer ${MASTER}`, 'content-type': 'application/json' };

async function createKey(name: string): Promise<void> {
  const r = await fetch(`${gl!.url}/admin/keys`, { method: 'POST', headers: auth, body: JSON.stringify({ name }) });
  expect(r.status).toBe(201);
}

/** Every row the webhook sink accepted (2xx answers only), signatures checked, in arrival order. */
function webhookRows(): Streamed[] {
  const out: Streamed[] = [];
  for (const r of hook.received) {
    if (!r.path.startsWith('/services/collector?') || !accepted.has(r)) continue;
    const t = Number(/t=(\d+)/.exec(String(r.headers['x-gatelog-signature']))?.[1]);
    expect(verifySignature(SECRET, r.headers['x-gatelog-signature'] as string, r.body, t)).toBe(true);
    expect(r.headers.authorization).toBe(`Splunk ${HEC_TOKEN}`);
    out.push(...(JSON.parse(r.body) as { rows: Streamed[] }).rows);
  }
  return out;
}

/** GET /admin/audit/sinks as the auditor: the list's raw text and the sinks by name. */
async function sinkStatus(): Promise<{ text: string; by: Map<string, SinkStatus> }> {
  const r = await fetch(`${gl!.url}/admin/audit/sinks`, { headers: { authorization: `Bearer ${tokens.auditor}` } });
  expect(r.status).toBe(200);
  const text = await r.text();
  const body = JSON.parse(text) as { object: string; data: SinkStatus[] };
  expect(body.object).toBe('list');
  return { text, by: new Map(body.data.map((s) => [s.name, s])) };
}

async function sinkUntil(what: string, pred: (s: Map<string, SinkStatus>) => boolean, ms = 30_000): Promise<Map<string, SinkStatus>> {
  const t0 = Date.now();
  for (;;) {
    const { by } = await sinkStatus();
    if (pred(by)) return by;
    if (Date.now() - t0 > ms) throw new Error(`${what}: not within ${ms} ms\n${JSON.stringify([...by.values()])}`);
    await new Promise((r) => setTimeout(r, 200));
  }
}

function otlpIds(): string[] {
  return otlp.logs.map((l) => String(l.attributes['gatelog.audit.idempotency_id']));
}

async function until(what: string, pred: () => boolean, ms = 30_000): Promise<void> {
  const t0 = Date.now();
  while (!pred()) {
    if (Date.now() - t0 > ms) throw new Error(`${what}: not within ${ms} ms\n${gl?.logs().slice(-4000) ?? ''}`);
    await new Promise((r) => setTimeout(r, 50));
  }
}

/** One copy per idempotency id (a resent batch repeats rows exactly), chains in first-seen order, seq order within. */
function deduped(rows: Streamed[]): Streamed[] {
  const byId = new Map<string, Streamed>();
  for (const r of rows) {
    const seen = byId.get(r.idempotency_id);
    if (seen) expect(seen.row_hash).toBe(r.row_hash);
    else byId.set(r.idempotency_id, r);
  }
  const chains = [...new Set(rows.map((r) => r.chain_id))];
  return chains.flatMap((c) => [...byId.values()].filter((r) => r.chain_id === c).sort((a, b) => a.seq - b.seq));
}

function verify(rows: Streamed[]): ReturnType<AuditVerifier['result']> {
  const v = new AuditVerifier({ full: true });
  v.feed(rows.map(({ idempotency_id: _i, ...r }) => r));
  return v.result();
}

/** Each chain's rows arrived in seq order (a resend may step back to the batch's start, never skip). */
function inOrderPerChain(rows: Streamed[]): void {
  const last = new Map<string, number>();
  for (const r of rows) {
    const prev = last.get(r.chain_id) ?? 0;
    expect(r.seq, `${r.idempotency_id} after seq ${prev}`).toBeLessThanOrEqual(prev + 1);
    last.set(r.chain_id, r.seq);
  }
}

describe('audit streaming from a gatelog process', () => {
  it('sends a key creation, a body view and a sign-in to both sinks, signed, in order, verifiable', async () => {
    await createKey('stream-a');
    const chat = await fetch(`${gl!.url}/v1/chat/completions`, { method: 'POST', headers: auth, body: JSON.stringify({ model: 'fast', messages: [{ role: 'user', content: 'hello' }] }) });
    expect(chat.status).toBe(200);
    const id = chat.headers.get('x-gatelog-request-id')!;
    for (let i = 0; i < 200; i++) {
      if ((await fetch(`${gl!.url}/admin/calls/${id}`, { headers: auth })).status === 200) break;
      await new Promise((r) => setTimeout(r, 100));
    }
    const signIn = await fetch(`${gl!.url}/login`, {
      method: 'POST', redirect: 'manual', headers: { origin: gl!.url, 'content-type': 'application/x-www-form-urlencoded' },
      body: new URLSearchParams({ key: MASTER, next: '/requests' }).toString(),
    });
    // A form action answered to a non-browser client: the session cookie says it signed in.
    expect(signIn.headers.getSetCookie().join(';')).toContain('=');

    const wanted = ['audit.chain.open', 'key.create', 'call.view', 'signin.success'];
    await until('rows at the webhook', () => wanted.every((a) => webhookRows().some((r) => r.action === a)));
    const rows = webhookRows();
    inOrderPerChain(rows);
    expect(rows.find((r) => r.action === 'call.view')?.target).toBe(id);
    const check = verify(deduped(rows));
    expect(check.ok, JSON.stringify(check.problem)).toBe(true);
    await until('rows at the collector', () => rows.every((r) => otlpIds().includes(r.idempotency_id)));
    const log = otlp.logs.find((l) => l.attributes['gatelog.audit.action'] === 'key.create')!;
    expect(log.attributes['gatelog.audit.seq']).toBeTypeOf('number');
    expect(log.attributes['gatelog.audit.row_hash']).toBe(rows.find((r) => r.action === 'key.create')!.row_hash);
    expect(otlp.requests.some((r) => r.headers['authorization'] === `Bearer ${OTLP_TOKEN}` && r.contentType === 'application/x-protobuf')).toBe(true);
  }, 120_000);

  it('keeps the rows while both sinks are down, says so without secrets, and sends them all once they are back', async () => {
    answer((r) => (r.path.startsWith('/services/collector?') ? 503 : 200));
    otlp.fail = 503;
    for (const n of ['down-1', 'down-2', 'down-3']) await createKey(n);
    const logged = (msg: string, sink: string): boolean => gl!.logs().split('\n').some((l) => l.includes(msg) && l.includes(`"sink":"${sink}"`));
    await until('failing logged', () => logged('audit sink failing', 'siem') && logged('audit sink failing', 'collector'));
    const down = (await sinkUntil('siem failing in the status', (by) => by.get('siem')?.status === 'failing')).get('siem')!;
    expect(down).toMatchObject({ kind: 'webhook', format: 'json', last_error: { http_status: 503, code: 'http_503', reason: 'the sink failed (HTTP 503)' } });
    expect(down.rows_behind).toBeGreaterThan(0);
    expect(down.consecutive_failures).toBeGreaterThanOrEqual(2);
    expect(Date.parse(down.failing_since!)).toBeLessThanOrEqual(Date.now());
    const metrics = await (await fetch(`${gl!.url}/metrics`, { headers: auth })).text();
    expect(metrics).toMatch(/gatelog_audit_stream_failing\{sink="siem"\} 1/);
    expect(metrics).toMatch(/gatelog_audit_stream_rows_total\{sink="siem",result="failed"\} [1-9]/);
    expect(metrics).toMatch(/gatelog_audit_stream_lag_seconds\{sink="siem"\} [0-9.]+/);
    answer(() => 200);
    otlp.fail = 0;
    await until('rows after the outage', () => ['down-1', 'down-2', 'down-3'].every((n) => webhookRows().some((r) => r.action === 'key.create' && r.details.includes(n))));
    const rows = webhookRows();
    inOrderPerChain(rows);
    expect(verify(deduped(rows)).ok).toBe(true);
    await until('collector caught up', () => rows.every((r) => otlpIds().includes(r.idempotency_id)));
    await until('recovery logged', () => logged('audit sink recovered', 'siem') && logged('audit sink recovered', 'collector'));
    const up = (await sinkUntil('siem ok with nothing behind', (by) => by.get('siem')?.status === 'ok' && by.get('siem')?.rows_behind === 0)).get('siem')!;
    expect(up).toMatchObject({ failing_since: null, consecutive_failures: 0, last_error: { code: 'http_503' }, lag_s: 0 });
    expect(up.chains.every((c) => c.rows_behind === 0 && c.delivered_seq === c.head_seq)).toBe(true);
    const after = await (await fetch(`${gl!.url}/metrics`, { headers: auth })).text();
    expect(after).toMatch(/gatelog_audit_stream_failing\{sink="siem"\} 0/);
    expect(after).toMatch(/gatelog_audit_stream_rows_total\{sink="siem",result="forwarded"\} [1-9]/);
    for (const secret of [HEC_TOKEN, OTLP_TOKEN, SECRET]) expect(gl!.logs()).not.toContain(secret);
  }, 120_000);

  it('killed with a batch in flight, goes on from the cursor after a restart: no gap, duplicates only with the same ids', async () => {
    // The webhook receiver stops answering: the next batch hangs in flight.
    answer((r) => (r.path.startsWith('/services/collector?') ? 0 : 200));
    const before = hook.received.length;
    for (const n of ['inflight-1', 'inflight-2']) await createKey(n);
    await until('a batch in flight', () => hook.received.slice(before).some((r) => r.body.includes('inflight-1')));
    const firstChain = webhookRows()[0]!.chain_id;
    await gl!.kill9();
    answer(() => 200);
    await start();
    await createKey('after-restart');
    await until('rows after the restart', () => ['inflight-1', 'inflight-2', 'after-restart'].every((n) => webhookRows().some((r) => r.details.includes(n))), 60_000);
    const rows = webhookRows();
    inOrderPerChain(rows);
    const unique = deduped(rows);
    const check = verify(unique);
    expect(check.ok, JSON.stringify(check.problem)).toBe(true);
    // The first run's chain(s) and the restarted process's own, each whole from seq 1.
    expect(check.chains.length).toBeGreaterThanOrEqual(2);
    for (const c of check.chains) expect([c.first_seq, c.rows]).toEqual([1, c.last_seq]);
    expect(unique.some((r) => r.chain_id === firstChain && r.details.includes('inflight-2'))).toBe(true);
    expect(unique.some((r) => r.chain_id !== firstChain && r.details.includes('after-restart'))).toBe(true);
    await until('collector has every row', () => unique.every((r) => otlpIds().includes(r.idempotency_id)));
  }, 180_000);

  it('GET /admin/audit/sinks: auditors and owners read it, viewers and analysts are refused; no secret in it', async () => {
    for (const role of ['viewer', 'analyst'] as const) {
      const r = await fetch(`${gl!.url}/admin/audit/sinks`, { headers: { authorization: `Bearer ${tokens[role]}` } });
      expect(r.status).toBe(403);
      expect(await r.json()).toMatchObject({ error: { type: 'permission_error', code: 'role_forbidden' } });
    }
    expect((await fetch(`${gl!.url}/admin/audit/sinks`, { headers: auth })).status).toBe(200);
    // The sinks carry every team's rows: an auditor scoped to a team is refused too.
    const scoped = await fetch(`${gl!.url}/admin/tokens`, { method: 'POST', headers: auth, body: JSON.stringify({ name: 'team-auditor-sinks', role: 'auditor', teams: ['red'] }) });
    expect(scoped.status).toBe(201);
    const r = await fetch(`${gl!.url}/admin/audit/sinks`, { headers: { authorization: `Bearer ${((await scoped.json()) as { secret: string }).secret}` } });
    expect(r.status).toBe(403);
    expect(await r.json()).toMatchObject({ error: { type: 'permission_error', code: 'team_out_of_scope' } });
    const by = await sinkUntil('the unreachable sink failing', (m) => m.get('datadog')?.status === 'failing');
    const { text } = await sinkStatus();
    for (const secret of SECRETS) expect(text).not.toContain(secret);
    expect(text).not.toContain('ops:');
    expect(by.get('siem')?.destination).toBe(`${hook.url}/services/collector`);
    expect(by.get('collector')).toMatchObject({ kind: 'otlp', format: 'http/protobuf', destination: otlp.logsUrl });
    expect(by.get('datadog')).toMatchObject({ format: 'datadog', destination: 'http://127.0.0.1:9/api/v2/logs', last_error: { http_status: 0 } });
    // One process, no lease to hold.
    expect(by.get('siem')?.lease).toBeNull();
  }, 60_000);

  it('the audit page shows each sink with its status, rows behind and last error, without secrets', async () => {
    await sinkUntil('siem caught up', (m) => m.get('siem')?.status === 'ok' && m.get('datadog')?.status === 'failing');
    const page = await (await browser.newContext()).newPage();
    page.setDefaultTimeout(15_000);
    try {
      await page.goto(`${gl!.url}/audit`);
      await page.fill('#key', MASTER);
      await Promise.all([page.waitForURL(`${gl!.url}/audit`), page.click('form:has(#key) button[type=submit]')]);
      const panel = page.getByTestId('sinks-panel');
      expect(await panel.locator('h2').textContent()).toBe('Streaming to SIEM');
      const row = (name: string) => panel.locator(`[data-testid=sink-row][data-sink=${name}]`);
      expect(await panel.getByTestId('sink-row').count()).toBe(3);
      expect((await row('siem').getByTestId('sink-status').textContent())?.trim()).toBe('ok');
      // The sign-in itself is a row or two on their way.
      expect((await row('siem').getByTestId('sink-behind').textContent())?.trim()).toMatch(/^\d$/);
      expect(await row('siem').getByTestId('sink-error').textContent()).toContain('HTTP 503');
      expect((await row('datadog').getByTestId('sink-status').textContent())?.trim()).toBe('failing');
      expect(await row('datadog').getByTestId('sink-status').getAttribute('class')).toContain('badge-failing');
      expect(await row('datadog').textContent()).toContain('http://127.0.0.1:9/api/v2/logs');
      const html = await page.content();
      for (const secret of SECRETS) expect(html).not.toContain(secret);
    } finally {
      await page.context().close();
    }
  }, 60_000);
});
