// The UI as its own service (adminUrl set, as in distributed mode where it reads ClickHouse
// read-only): its audited actions reach the trail through the proxy's POST /admin/audit with
// the person's name, role, ip and user agent, one row each; with the admin API unreachable a
// body is not shown. Needs `pnpm --filter @gatelog/ui run build`.
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Registry } from 'prom-client';
import type { FastifyInstance } from 'fastify';
import { buildProxy } from '@gatelog/proxy';
import { createLogger, listAudit, migrate, newRequestId, openStore, parseConfig, verifyAudit, type Store } from '@gatelog/core';
import { startUiServer, type UiServer } from '../support/ui-server.ts';

const MASTER = 'master-key-for-distributed-ui-audit';
const UA = 'Mozilla/5.0 (distributed-ui-audit)';
const id = newRequestId();
let store: Store;
let dir: string;
let proxy: FastifyInstance;
let ui: UiServer;
let cookie = '';

beforeAll(async () => {
  dir = mkdtempSync(join(tmpdir(), 'gatelog-audit-dui-'));
  store = await openStore({ clickhouse: 'embedded', database: 'gatelog' }, dir);
  await migrate(store);
  await store.insertRaw('llm_calls', Buffer.from(JSON.stringify({
    schema_version: 1, gatelog_version: 'test', request_id: id, started_at: new Date().toISOString(), user: 'u', key_id: '', key_name: '', team: 't',
    requested_model: 'm', provider: 'p', status: 200, outcome: 'success', input_tokens: 1, output_tokens: 1, cost_usd: 0, latency_ms: 1, attempts: [],
    tags: {}, request_body: '{"messages":[{"role":"user","content":"the distributed secret"}]}', response_body: '{"a":1}',
  })));
  proxy = await buildProxy({ config: parseConfig({}, 'test', {}), publish: () => undefined, logger: createLogger('silent'), registry: new Registry(), masterKey: MASTER, store });
  const adminUrl = await proxy.listen({ port: 0, host: '127.0.0.1' });
  ui = await startUiServer(store, MASTER, adminUrl);
}, 60_000);

afterAll(async () => {
  await ui?.close();
  await proxy?.close();
  await store?.close();
  if (dir) rmSync(dir, { recursive: true, force: true });
});

function get(path: string): Promise<Response> {
  return fetch(ui.base + path, { redirect: 'manual', headers: { cookie, 'user-agent': UA, 'x-forwarded-proto': 'http' } });
}

describe('audit from a UI that writes through the admin API', () => {
  it('signs in, views a body: one row each, recorded through the proxy with the person, ip and user agent', async () => {
    const login = await fetch(`${ui.base}/login`, {
      method: 'POST', redirect: 'manual',
      headers: { 'content-type': 'application/x-www-form-urlencoded', accept: 'text/html', origin: ui.base, 'user-agent': UA, 'x-forwarded-proto': 'http' },
      body: new URLSearchParams({ key: MASTER, next: '/requests' }).toString(),
    });
    expect(login.status).toBe(303);
    cookie = (login.headers.get('set-cookie') ?? '').split(';')[0]!;
    expect(cookie).toMatch(/^gatelog_session=/);

    const page = await get(`/requests/${id}`);
    expect(page.status).toBe(200);
    expect(await page.text()).toContain('the distributed secret');
    const views = (await listAudit(store, { action: 'call.view' })).filter((r) => r.target === id);
    expect(views).toHaveLength(1);
    expect(views[0]).toMatchObject({ actor: 'master', role: 'owner', source_ip: '127.0.0.1', user_agent: UA });
    expect(JSON.parse(views[0]!.details)).toMatchObject({ via: 'ui', recorded_via: 'master' });
    const signins = await listAudit(store, { action: 'signin.success' });
    expect(signins).toHaveLength(1);
    expect(JSON.parse(signins[0]!.details)).toMatchObject({ recorded_via: 'master' });
    expect((await verifyAudit(store)).ok).toBe(true);
  });

  it('does not show a body while the admin API cannot record its view', async () => {
    await proxy.close();
    const page = await get(`/requests/${id}`);
    expect(page.status).toBe(503);
    expect(await page.text()).not.toContain('the distributed secret');
    expect((await listAudit(store, { action: 'call.view' })).filter((r) => r.target === id)).toHaveLength(1);
  });
});
