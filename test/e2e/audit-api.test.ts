// The audit trail and compliance exports through the admin API (buildProxy on 127.0.0.1:0, real
// chDB) and the real CLI as a separate process: each audited action leaves exactly one row with
// person, role, ip and user agent; GET /admin/export streams the UI's bytes and records rows,
// bytes and SHA-256; `gatelog export` writes a file and manifest that `export verify` checks
// (and catches an edited file); `gatelog audit verify --url` passes, then names a row edited in
// ClickHouse.
import { execFile } from 'node:child_process';
import { createHash, randomUUID } from 'node:crypto';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Registry } from 'prom-client';
import type { FastifyInstance } from 'fastify';
import { buildProxy } from '@gatelog/proxy';
import { createLogger, listAudit, migrate, newRequestId, openStore, parseConfig, type AuditRow, type Store } from '@gatelog/core';
import { ROOT } from '../support/gatelog-process.ts';

const MASTER = 'master-key-for-audit-api-tests';
const UA = 'audit-test/1.0';
const N = 40;
const tag = randomUUID().slice(0, 8);
const T0 = Date.UTC(2026, 10, 3, 12);

let app: FastifyInstance;
let store: Store;
let dir: string;
let url: string;
const ids: string[] = [];

function row(i: number): string {
  const id = newRequestId();
  ids.push(id);
  return JSON.stringify({
    schema_version: 1, gatelog_version: 'test', request_id: id, started_at: new Date(T0 + i * 1000).toISOString(),
    user: `u-${i % 3}`, key_id: '', key_name: '', team: i % 2 ? 'odd' : 'even', requested_model: 'm', provider: 'p', status: 200, outcome: 'success',
    input_tokens: 3, output_tokens: 2, cost_usd: 0.001, latency_ms: 5, attempts: [], tags: { run: tag },
    request_body: JSON.stringify({ messages: [{ role: 'user', content: `secret plan ${i} "q"` }] }), response_body: `{"i":${i}}`,
  });
}

function api(path: string, init: RequestInit & { key?: string | null } = {}): Promise<Response> {
  const { key = MASTER, ...rest } = init;
  return fetch(`${url}${path}`, {
    ...rest,
    headers: { 'user-agent': UA, ...(key ? { authorization: `Bearer ${key}` } : {}), ...(rest.body ? { 'content-type': 'application/json' } : {}), ...(rest.headers as Record<string, string> | undefined) },
  });
}

async function rowsFor(action: string, match: (r: AuditRow) => boolean): Promise<AuditRow[]> {
  return (await listAudit(store, { action, limit: 1000 })).filter(match);
}

function cli(args: string[], env: Record<string, string> = { GATELOG_MASTER_KEY: MASTER }): Promise<{ stdout: string; stderr: string; code: number }> {
  return new Promise((resolve) => {
    execFile(process.execPath, ['--disable-warning=ExperimentalWarning', join(ROOT, 'src', 'cli.ts'), ...args], { cwd: ROOT, env: { PATH: process.env['PATH'] ?? '', ...env }, timeout: 90_000 }, (err, stdout, stderr) => {
      resolve({ stdout, stderr, code: err ? ((err as { code?: number }).code ?? 1) : 0 });
    });
  });
}

beforeAll(async () => {
  dir = mkdtempSync(join(tmpdir(), 'gatelog-audit-api-'));
  store = await openStore({ clickhouse: 'embedded', database: 'gatelog' }, dir);
  await migrate(store);
  await store.insertRaw('llm_calls', Buffer.from(Array.from({ length: N }, (_, i) => row(i)).join('\n')));
  const config = parseConfig({}, 'test', {});
  app = await buildProxy({ config, publish: () => undefined, logger: createLogger('silent'), registry: new Registry(), masterKey: MASTER, store });
  url = await app.listen({ port: 0, host: '127.0.0.1' });
});

afterAll(async () => {
  await app.close();
  await store.close();
  rmSync(dir, { recursive: true, force: true });
});

describe('audited admin API actions', () => {
  it('a call read through the API is one call.view row with person, role, ip and user agent', async () => {
    const id = ids[3]!;
    const res = await api(`/admin/calls/${id}`);
    expect(res.status).toBe(200);
    expect(((await res.json()) as { request_body: string }).request_body).toContain('secret plan 3');
    const rows = await rowsFor('call.view', (r) => r.target === id);
    expect(rows).toHaveLength(1);
    expect(rows[0]).toMatchObject({ actor: 'master', role: 'owner', source_ip: '127.0.0.1', user_agent: UA, target_type: 'call' });
    expect(Date.now() - Date.parse(rows[0]!.at)).toBeLessThan(60_000);
    // Unknown id: nothing was shown, nothing recorded.
    expect((await api(`/admin/calls/${randomUUID()}`)).status).toBe(404);
    expect(await rowsFor('call.view', (r) => !ids.includes(r.target))).toHaveLength(0);
  });

  it('key create, update and revoke are one row each', async () => {
    const created = await api('/admin/keys', { method: 'POST', body: JSON.stringify({ name: `k-${tag}` }) });
    expect(created.status).toBe(201);
    const { key, secret } = (await created.json()) as { key: { id: string }; secret: string };
    expect((await api(`/admin/keys/${key.id}`, { method: 'PATCH', body: JSON.stringify({ rpm: 5 }) })).status).toBe(200);
    expect((await api(`/admin/keys/${key.id}`, { method: 'DELETE' })).status).toBe(200);
    for (const action of ['key.create', 'key.update', 'key.revoke']) {
      const rows = await rowsFor(action, (r) => r.target === key.id);
      expect(rows, action).toHaveLength(1);
      expect(rows[0]).toMatchObject({ actor: 'master', role: 'owner', user_agent: UA });
      expect(rows[0]!.details).not.toContain(secret);
    }
  });

  it('POST /admin/audit records a row for a read-only UI, refusing reserved actions and bad fields', async () => {
    const ok = await api('/admin/audit', { method: 'POST', body: JSON.stringify({ action: 'trace.view', actor: 'ana@example.com', role: 'analyst', target_type: 'trace', target: `t-${tag}`, source_ip: '10.1.2.3', user_agent: 'Firefox' }) });
    expect(ok.status).toBe(201);
    const rows = await rowsFor('trace.view', (r) => r.target === `t-${tag}`);
    expect(rows).toHaveLength(1);
    expect(rows[0]).toMatchObject({ actor: 'ana@example.com', role: 'analyst', source_ip: '10.1.2.3', user_agent: 'Firefox' });
    expect(JSON.parse(rows[0]!.details)).toMatchObject({ recorded_via: 'master' });
    for (const bad of [{ action: 'audit.chain.open', actor: 'x' }, { action: 'audit.expire', actor: 'gatelog' }, { action: 'Bad Action', actor: 'x' }, { action: 'a.b', actor: '' }, { action: 'a.b', actor: 'x', extra: 1 }]) {
      const r = await api('/admin/audit', { method: 'POST', body: JSON.stringify(bad) });
      expect(r.status, JSON.stringify(bad)).toBe(400);
      expect(((await r.json()) as { error: { type: string } }).error.type).toBe('invalid_request_error');
    }
    expect((await api('/admin/audit', { method: 'POST', key: null, body: JSON.stringify({ action: 'a.b', actor: 'x' }) })).status).toBe(401);
  });

  it('GET /admin/audit/sinks with no sink configured: an empty list', async () => {
    const r = await api('/admin/audit/sinks');
    expect(r.status).toBe(200);
    expect(await r.json()).toEqual({ object: 'list', data: [] });
    expect((await api('/admin/audit/sinks', { key: null })).status).toBe(401);
  });
});

describe('GET /admin/export', () => {
  it('streams the filtered calls and records format, filter, rows, bytes and sha256 once', async () => {
    const res = await api(`/admin/export?format=jsonl&tags=run%3D${tag}&team=odd`);
    expect(res.status).toBe(200);
    const exportId = res.headers.get('x-gatelog-export-id')!;
    const body = Buffer.from(await res.arrayBuffer());
    const lines = body.toString('utf8').trim().split('\n');
    expect(lines).toHaveLength(N / 2);
    expect(lines.every((l) => (JSON.parse(l) as { team: string }).team === 'odd')).toBe(true);
    let rows: AuditRow[] = [];
    for (let i = 0; i < 50 && rows.length === 0; i++) {
      rows = await listAudit(store, { action: 'export.run', exportId });
      if (!rows.length) await new Promise((r) => setTimeout(r, 100));
    }
    expect(rows).toHaveLength(1);
    expect(rows[0]).toMatchObject({ actor: 'master', role: 'owner', user_agent: UA, target: 'jsonl' });
    expect(JSON.parse(rows[0]!.details)).toMatchObject({
      export_id: exportId, via: 'api', format: 'jsonl', rows: N / 2, bytes: body.length, completed: true,
      sha256: createHash('sha256').update(body).digest('hex'), filter: `?team=odd&tags=run%3D${tag}`,
    });
  });

  it('counts what an export would hold (the CLI progress bar), without recording a view', async () => {
    const r = await api(`/admin/export/count?tags=run%3D${tag}&team=even`);
    expect(r.status).toBe(200);
    expect(await r.json()).toEqual({ rows: N / 2 });
  });

  it('machine tokens: an auditor scoped to a team exports that team only, under its own name; a viewer cannot export', async () => {
    const token = async (role: string, teams: string[]): Promise<string> => {
      const r = await api('/admin/tokens', { method: 'POST', body: JSON.stringify({ name: `${role}-${tag}`, role, teams }) });
      expect(r.status).toBe(201);
      return ((await r.json()) as { secret: string }).secret;
    };
    const auditor = await token('auditor', ['odd']);
    const res = await api(`/admin/export?format=jsonl&tags=run%3D${tag}`, { key: auditor });
    expect(res.status, res.status === 200 ? '' : await res.clone().text()).toBe(200);
    const exportId = res.headers.get('x-gatelog-export-id')!;
    const lines = (await res.text()).trim().split('\n').map((l) => JSON.parse(l) as { team: string });
    expect(lines).toHaveLength(N / 2);
    expect(new Set(lines.map((l) => l.team))).toEqual(new Set(['odd']));
    expect(await (await api(`/admin/export/count?tags=run%3D${tag}`, { key: auditor })).json()).toEqual({ rows: N / 2 });
    let rows: AuditRow[] = [];
    for (let i = 0; i < 50 && rows.length === 0; i++) {
      rows = await listAudit(store, { action: 'export.run', exportId });
      if (!rows.length) await new Promise((r) => setTimeout(r, 100));
    }
    expect(rows).toHaveLength(1);
    expect(rows[0]).toMatchObject({ actor: `token:auditor-${tag}`, role: 'auditor' });
    expect(JSON.parse(rows[0]!.details)).toMatchObject({ rows: N / 2, resolved: { teams: ['odd'] } });
    // The whole chain is for auditors of every team (it holds every team's rows); only the
    // master key writes rows for a UI.
    expect((await api('/admin/audit/chain', { key: auditor })).status).toBe(403);
    expect((await api('/admin/audit/chain', { key: await token('auditor', []) })).status).toBe(200);
    expect((await api('/admin/audit', { method: 'POST', key: auditor, body: JSON.stringify({ action: 'a.b', actor: 'x' }) })).status).toBe(403);
    const viewer = await token('viewer', []);
    expect((await api('/admin/export?format=csv', { key: viewer })).status).toBe(403);
    expect((await api('/admin/audit/chain', { key: viewer })).status).toBe(403);
  });

  it('answers bad requests with 4xx in the OpenAI error shape', async () => {
    for (const [path, status, code] of [
      ['/admin/export?format=xml', 400, 'invalid_format'],
      ['/admin/export', 400, 'invalid_format'],
    ] as const) {
      const r = await api(path);
      expect(r.status, path).toBe(status);
      expect(((await r.json()) as { error: { code: string } }).error.code).toBe(code);
    }
    expect((await api('/admin/export?format=csv', { key: null })).status).toBe(401);
    expect((await api('/admin/export?format=csv', { key: 'wrong-key-1234' })).status).toBe(401);
  });
});

// Each CLI run is a fresh Node process: seconds each on a busy machine, hence the long time boxes.
describe('gatelog export and gatelog audit verify (CLI)', () => {
  it('writes a file and manifest that verify against the file and the audit trail, and catches an edit', async () => {
    const out = join(dir, 'calls.csv');
    const r = await cli(['export', '--from', '2026-11-03', '--to', '2026-11-04', '--format', 'csv', '--tag', `run=${tag}`, '-o', out, '--url', url]);
    expect(r.code, r.stderr).toBe(0);
    // stderr is not a terminal here: no progress line.
    expect(r.stderr).toBe('');
    const file = readFileSync(out);
    const manifest = JSON.parse(readFileSync(`${out}.manifest.json`, 'utf8')) as Record<string, unknown>;
    expect(manifest).toMatchObject({ format: 'csv', rows: N, bytes: file.length, sha256: createHash('sha256').update(file).digest('hex'), by: { actor: 'master', role: 'owner' }, source: url });
    const audit = await listAudit(store, { action: 'export.run', exportId: manifest['export_id'] as string });
    expect(audit.map((a) => a.id)).toEqual([manifest['audit_id']]);

    expect((await cli(['export', 'verify', out])).code).toBe(0);
    const online = await cli(['export', 'verify', out, '--url', url]);
    expect(online.code, online.stdout + online.stderr).toBe(0);
    expect(online.stdout).toContain('matches the audit trail');

    writeFileSync(out, file.toString('utf8').replace('secret plan 7', 'secret plan 8'));
    const edited = await cli(['export', 'verify', out]);
    expect(edited.code).toBe(1);
    expect(edited.stdout).toMatch(/DOES NOT VERIFY[\s\S]*sha256/);

    const usage = await cli(['export', '--format', 'csv', '-o', out, '--url', url]);
    expect(usage.code).toBe(2);
    expect(usage.stderr).toContain('--from and --to are required');
  }, 300_000);

  it('shows a progress bar of the expected rows when stderr is a terminal', async () => {
    const out = join(dir, 'tty.jsonl');
    const cmd = [process.execPath, '--disable-warning=ExperimentalWarning', join(ROOT, 'src', 'cli.ts'), 'export', '--from', '2026-11-03', '--to', '2026-11-04', '--format', 'jsonl', '--tag', `run=${tag}`, '-o', out, '--url', url].join(' ');
    // `script` runs the CLI on a pseudo-terminal, as a person at a shell would.
    const r = await new Promise<{ code: number; out: string }>((resolve) => {
      execFile('script', ['-qec', cmd, '/dev/null'], { cwd: ROOT, env: { PATH: process.env['PATH'] ?? '', GATELOG_MASTER_KEY: MASTER }, timeout: 90_000 }, (err, stdout) => resolve({ code: err ? 1 : 0, out: stdout }));
    });
    expect(r.code, r.out).toBe(0);
    expect(r.out).toMatch(/\[[#.]{30}\] +\d+% +\d+\/40 rows/);
    expect(JSON.parse(readFileSync(`${out}.manifest.json`, 'utf8'))).toMatchObject({ rows: N });
  }, 200_000);

  it('audit verify passes on the untouched trail, then names a row edited in ClickHouse', async () => {
    expect((await api(`/admin/calls/${ids[5]}`)).status).toBe(200);
    const clean = await cli(['audit', 'verify', '--url', url]);
    expect(clean.code, clean.stdout + clean.stderr).toBe(0);
    expect(clean.stdout).toMatch(/audit trail verified: \d+ rows in 1 chain/);

    const victim = (await rowsFor('call.view', (r) => r.target === ids[5]))[0]!;
    await store.client.command({ query: `ALTER TABLE gatelog.admin_audit UPDATE actor = 'nobody' WHERE id = {id:UUID} SETTINGS mutations_sync = 2`, query_params: { id: victim.id } });
    const altered = await cli(['audit', 'verify', '--url', url]);
    expect(altered.code).toBe(1);
    expect(altered.stdout).toContain('audit trail ALTERED');
    expect(altered.stdout).toContain(`first altered row: ${victim.id}`);
    expect((await cli(['audit', 'verify', '--url', url, '--json'])).stdout).toContain(`"kind":"changed"`);
  }, 200_000);
});
