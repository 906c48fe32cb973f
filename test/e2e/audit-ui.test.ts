// The built UI handler on a store this test seeds (real chDB): every view of a body (request,
// trace and session pages), every search text and every export leaves exactly one audit row
// with person, role, ip and user agent; a body is not shown when its view cannot be recorded;
// the Audit page filters and exports the trail, and the chain still verifies at the end.
// Needs `pnpm --filter @gatelog/ui run build`.
import { createHash, randomUUID } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { listAudit, migrate, newRequestId, openStore, verifyAudit, type AuditRow, type Store } from '@gatelog/core';
import { startUiServer, type UiServer } from '../support/ui-server.ts';

const UA = 'Mozilla/5.0 (audit-ui-test)';
const tag = randomUUID().slice(0, 8);
const TRACE = `trace-${tag}`;
const SESSION = `sess-${tag}`;
const N = 6;

let dir: string;
let store: Store;
let ui: UiServer | undefined;
let base: string;
const ids: string[] = [];

function row(i: number): string {
  const id = newRequestId();
  ids.push(id);
  return JSON.stringify({
    schema_version: 1, gatelog_version: 'test', request_id: id, started_at: new Date(Date.now() - (N - i) * 60_000).toISOString(),
    trace_id: TRACE, session_id: SESSION, user: 'u', key_id: '', key_name: '', team: 't', requested_model: 'm', provider: 'p', status: 200,
    outcome: 'success', input_tokens: 3, output_tokens: 2, cost_usd: 0.001, latency_ms: 5, attempts: [], tags: { run: tag },
    request_body: JSON.stringify({ model: 'm', messages: [{ role: 'user', content: `confidential-${tag} order ${i}` }] }),
    response_body: JSON.stringify({ choices: [{ message: { role: 'assistant', content: `answer ${i}` } }] }),
  });
}

async function get(path: string): Promise<{ status: number; text: string; body: Buffer }> {
  const r = await fetch(base + path, { redirect: 'manual', headers: { 'x-forwarded-proto': 'http', 'user-agent': UA } });
  const body = Buffer.from(await r.arrayBuffer());
  return { status: r.status, text: body.toString('utf8'), body };
}

async function rows(action: string, match: (r: AuditRow) => boolean = () => true): Promise<AuditRow[]> {
  return (await listAudit(store, { action, limit: 1000 })).filter(match);
}

/** The export's audit row is written as its stream ends, a moment after the last byte. */
async function eventually<T>(f: () => Promise<T[]>): Promise<T[]> {
  for (let i = 0; i < 50; i++) {
    const r = await f();
    if (r.length) return r;
    await new Promise((res) => setTimeout(res, 100));
  }
  return f();
}

beforeAll(async () => {
  dir = mkdtempSync(join(tmpdir(), 'gatelog-audit-ui-'));
  store = await openStore({ clickhouse: 'embedded', database: 'gatelog' }, dir);
  await migrate(store);
  await store.insertRaw('llm_calls', Buffer.from(Array.from({ length: N }, (_, i) => row(i)).join('\n')));
  ui = await startUiServer(store);
  base = ui.base;
}, 60_000);

afterAll(async () => {
  await ui?.close();
  await store?.close();
  if (dir) rmSync(dir, { recursive: true, force: true });
});

describe('audited UI actions', () => {
  it('a request page view is one call.view row with person, role, ip and user agent', async () => {
    const page = await get(`/requests/${ids[0]}`);
    expect(page.status).toBe(200);
    expect(page.text).toContain(`confidential-${tag} order 0`);
    const r = await rows('call.view', (x) => x.target === ids[0]);
    expect(r).toHaveLength(1);
    expect(r[0]).toMatchObject({ actor: 'open-ui', role: 'owner', source_ip: '127.0.0.1', user_agent: UA, target_type: 'call' });
    expect(JSON.parse(r[0]!.details)).toMatchObject({ via: 'ui', page: 'request' });
  });

  it('trace and session pages are one row each, naming the calls shown', async () => {
    expect((await get(`/traces/${TRACE}`)).status).toBe(200);
    expect((await get(`/sessions/${SESSION}`)).status).toBe(200);
    for (const [action, target] of [['trace.view', TRACE], ['session.view', SESSION]] as const) {
      const r = await rows(action, (x) => x.target === target);
      expect(r, action).toHaveLength(1);
      const d = JSON.parse(r[0]!.details) as { calls: string[]; bodies: boolean };
      expect([...d.calls].sort()).toEqual([...ids].sort());
      expect(d.bodies).toBe(true);
      expect(r[0]).toMatchObject({ actor: 'open-ui', user_agent: UA });
    }
  });

  it('a search text is one calls.search row; a list without one is none', async () => {
    const before = (await rows('calls.search')).length;
    expect((await get('/requests?range=24h')).status).toBe(200);
    expect(await rows('calls.search')).toHaveLength(before);
    const text = `confidential-${tag}`;
    const page = await get(`/requests?q=${encodeURIComponent(text)}`);
    expect(page.status).toBe(200);
    const r = await rows('calls.search', (x) => x.details.includes(text));
    expect(r).toHaveLength(1);
    expect(JSON.parse(r[0]!.details)).toMatchObject({ text });
  });

  it('an export is one export.run row with filter, format, rows, bytes and sha256', async () => {
    const res = await get(`/export?format=jsonl&tags=run%3D${tag}`);
    expect(res.status).toBe(200);
    expect(res.text.trim().split('\n')).toHaveLength(N);
    const r = await eventually(() => rows('export.run', (x) => x.details.includes(`run%3D${tag}`)));
    expect(r).toHaveLength(1);
    expect(JSON.parse(r[0]!.details)).toMatchObject({
      via: 'ui', format: 'jsonl', rows: N, bytes: res.body.length, sha256: createHash('sha256').update(res.body).digest('hex'), completed: true,
    });
    expect(r[0]).toMatchObject({ actor: 'open-ui', role: 'owner', user_agent: UA });
  });

  it('shows no body when its view cannot be recorded', async () => {
    // The trail refuses every insert while this constraint stands.
    await store.client.command({ query: `ALTER TABLE gatelog.admin_audit ADD CONSTRAINT audit_down CHECK action = 'never'` });
    try {
      const page = await get(`/requests/${ids[1]}`);
      expect(page.status).toBe(503);
      expect(page.text).not.toContain(`order 1`);
    } finally {
      await store.client.command({ query: `ALTER TABLE gatelog.admin_audit DROP CONSTRAINT audit_down` });
    }
    expect(await rows('call.view', (x) => x.target === ids[1])).toHaveLength(0);
  });
});

describe('Audit page', () => {
  it('lists the trail filtered by action and person, and exports it (audited too)', async () => {
    const page = await get('/audit?action=call.view&actor=open-ui');
    expect(page.status).toBe(200);
    expect(page.text).toContain(ids[0]!.slice(0, 20));
    // One call.view row so far (the failed one was never written); nothing else passes the filter.
    expect(page.text.match(/data-testid="audit-row"/g)).toHaveLength(1);
    expect(page.text).not.toContain('<td class="mono">calls.search</td>');
    const none = await get('/audit?actor=nobody-at-all');
    expect(none.text).toContain('No audit rows match');

    const csv = await get('/audit/export?format=csv&action=trace.view');
    expect(csv.status).toBe(200);
    const lines = csv.text.trim().split('\r\n');
    expect(lines[0]).toBe('id,at,chain_id,seq,prev_hash,row_hash,actor,role,action,target_type,target,details,source_ip,user_agent');
    expect(lines).toHaveLength(2);
    expect(lines[1]).toContain(TRACE);
    const r = await eventually(() => rows('audit.export'));
    expect(r).toHaveLength(1);
    expect(JSON.parse(r[0]!.details)).toMatchObject({ format: 'csv', rows: 1, bytes: csv.body.length, completed: true, filter: '?action=trace.view' });
    expect((await get('/audit/export?format=xml')).status).toBe(400);
  });

  it('the chain of everything above verifies', async () => {
    const v = await verifyAudit(store);
    expect(v.problem).toBeUndefined();
    expect(v.ok).toBe(true);
    expect(v.chains).toHaveLength(1);
  });
});
