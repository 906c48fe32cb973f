// Virtual keys end to end against a real gatelog process (startGatelog): the key lifecycle
// through the admin API and the `gatelog keys` CLI, refusals (revoked, expired, unknown,
// malformed, wrong header, model allow-list, admin with a virtual key), and a secret canary:
// key strings sent through every error path never show up in the process output, the event
// log, ClickHouse (/admin/calls) or an export.
import { execFile } from 'node:child_process';
import { readFileSync, readdirSync, statSync } from 'node:fs';
import { connect } from 'node:net';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ROOT, startGatelog, type GatelogProcess } from '../support/gatelog-process.ts';

const run = promisify(execFile);
const MASTER = 'master-key-governance-e2e';
const CANARIES = [
  'gl-CANARYunknownKEY0000000000000000000000000001',
  'gl-CANARYwrongHEADER00000000000000000000000002',
  "gl-CANARY' OR '1'='1; DROP TABLE keys; --",
  'CANARY-not-a-gatelog-key-3',
];
/** Every real secret issued in this file: they must never appear anywhere either. */
const issued: string[] = [];

let gl: GatelogProcess;

interface KeyView {
  id: string;
  version: number;
  key_prefix: string;
  name: string;
  team: string;
  models: string[];
  rpm: number | null;
  revoked: boolean;
}

async function admin(method: string, path: string, body?: unknown, key = MASTER): Promise<Response> {
  return fetch(`${gl.url}${path}`, {
    method,
    headers: { authorization: `Bearer ${key}`, ...(body !== undefined ? { 'content-type': 'application/json' } : {}) },
    ...(body !== undefined ? { body: JSON.stringify(body) } : {}),
  });
}

async function create(fields: Record<string, unknown>): Promise<{ key: KeyView; secret: string }> {
  const res = await admin('POST', '/admin/keys', fields);
  expect(res.status).toBe(201);
  const r = (await res.json()) as { key: KeyView; secret: string };
  issued.push(r.secret);
  return r;
}

function chat(headers: Record<string, string>, model = 'fast'): Promise<Response> {
  return fetch(`${gl.url}/v1/chat/completions`, {
    method: 'POST',
    headers: { 'content-type': 'application/json', ...headers },
    body: JSON.stringify({ model, messages: [{ role: 'user', content: 'hi' }] }),
  });
}

async function expectError(res: Response, status: number, code: string, type: string): Promise<string> {
  const text = await res.text();
  expect(res.status, text).toBe(status);
  const body = JSON.parse(text) as { error: { code: string; type: string } };
  expect(body.error).toMatchObject({ code, type });
  return text;
}

function cli(args: string[], env: Record<string, string> = { GATELOG_MASTER_KEY: MASTER }): Promise<{ stdout: string; stderr: string; code: number }> {
  return run(process.execPath, ['--disable-warning=ExperimentalWarning', join(ROOT, 'src', 'cli.ts'), 'keys', ...args, '--url', gl.url], {
    cwd: ROOT,
    env: { PATH: process.env['PATH'] ?? '', ...env },
    timeout: 20_000,
  }).then(
    (r) => ({ ...r, code: 0 }),
    (e: { stdout: string; stderr: string; code: number }) => ({ stdout: e.stdout, stderr: e.stderr, code: e.code }),
  );
}

/** Raw HTTP (fetch refuses NUL bytes in headers before sending). */
function rawRequest(lines: string[]): Promise<string> {
  const port = Number(new URL(gl.url).port);
  return new Promise((resolve, reject) => {
    const s = connect(port, '127.0.0.1', () => s.write(`${lines.join('\r\n')}\r\n\r\n`));
    let out = '';
    s.on('data', (d: Buffer) => (out += d.toString('latin1')));
    s.on('close', () => resolve(out));
    s.on('error', reject);
    s.setTimeout(5000, () => s.destroy());
  });
}

beforeAll(async () => {
  gl = await startGatelog({
    env: { GATELOG_MASTER_KEY: MASTER },
    config: {
      providers: { mock: { kind: 'mock' } },
      models: [
        { name: 'fast', deployments: [{ provider: 'mock', model: 'mock-chat' }] },
        { name: 'smart', deployments: [{ provider: 'mock', model: 'mock-chat' }] },
      ],
      pricing: [{ provider: 'mock', model: 'mock-chat', input: 1000, output: 1000 }],
      ingest: { batch_ms: 50 },
      keys: { refresh_ms: 500 },
    },
  });
}, 60_000);

afterAll(async () => {
  await gl?.stop();
});

describe('key lifecycle through the admin API', () => {
  it('create → use → update → revoke, each version recorded and audited', async () => {
    const { key, secret } = await create({ name: 'api-app', team: 'search', models: ['fast'], rpm: 100 });
    expect(secret).toMatch(/^gl-[A-Za-z0-9_-]{43}$/);
    expect(key).toMatchObject({ name: 'api-app', team: 'search', models: ['fast'], version: 1, revoked: false });
    expect(key.key_prefix).toBe(`gl-${secret.slice(3, 7)}…${secret.slice(-4)}`);
    expect(JSON.stringify(key)).not.toContain(secret.slice(3));
    expect(key).not.toHaveProperty('key_hash');

    const ok = await chat({ authorization: `Bearer ${secret}` });
    expect(ok.status).toBe(200);
    // The Anthropic SDKs' header works too.
    expect((await chat({ 'x-api-key': secret })).status).toBe(200);

    const list = (await (await admin('GET', '/admin/keys')).json()) as { data: KeyView[] };
    expect(list.data.find((k) => k.id === key.id)).toMatchObject({ name: 'api-app' });

    const upd = await admin('PATCH', `/admin/keys/${key.id}`, { models: ['fast', 'smart'], rpm: 50 });
    expect(upd.status).toBe(200);
    expect(((await upd.json()) as { key: KeyView }).key).toMatchObject({ version: 2, models: ['fast', 'smart'], rpm: 50 });
    expect((await chat({ authorization: `Bearer ${secret}` }, 'smart')).status).toBe(200);

    const bad = await admin('PATCH', `/admin/keys/${key.id}`, { rpm: -1 });
    await expectError(bad, 400, 'invalid_key_fields', 'invalid_request_error');

    const del = await admin('DELETE', `/admin/keys/${key.id}`);
    expect(((await del.json()) as { key: KeyView }).key).toMatchObject({ version: 3, revoked: true });
    await expectError(await chat({ authorization: `Bearer ${secret}` }), 401, 'key_revoked', 'authentication_error');

    const audit = (await (await admin('GET', '/admin/audit?limit=50')).json()) as {
      data: { action: string; actor: string; target: string; source_ip: string; details: string }[];
    };
    const mine = audit.data.filter((a) => a.target === key.id);
    // The refused PATCH changed nothing and is not an admin action.
    expect(mine.map((a) => a.action).sort()).toEqual(['key.create', 'key.revoke', 'key.update']);
    for (const a of mine) {
      expect(a.actor).toBe('master');
      expect(a.source_ip).toMatch(/127\.0\.0\.1/);
      expect(a.details).not.toContain(secret.slice(3));
    }
  });

  it('unknown ids are 404; admin calls with a virtual key are 403, without a key 401', async () => {
    await expectError(await admin('GET', '/admin/keys/key_does-not-exist'), 404, 'key_not_found', 'not_found_error');
    const { secret } = await create({ name: 'not-an-admin' });
    const text = await expectError(await admin('GET', '/admin/keys', undefined, secret), 403, 'admin_only', 'permission_error');
    expect(text).not.toContain(secret);
    await expectError(await admin('POST', '/admin/keys', { name: 'x' }, secret), 403, 'admin_only', 'permission_error');
    const anon = await fetch(`${gl.url}/admin/audit`);
    await expectError(anon, 401, 'invalid_api_key', 'authentication_error');
  });
});

describe('key lifecycle through the CLI', () => {
  it('gatelog keys create / list / update / revoke', async () => {
    const c = await cli(['create', '--name', 'app-x', '--team', 'search', '--models', 'fast,smart', '--budget', '50', '--period', 'monthly', '--rpm', '60', '--tpm', '100000', '--expires', '30d', '--json']);
    expect(c.code, c.stderr).toBe(0);
    const created = JSON.parse(c.stdout) as { key: KeyView & { budget_usd: number; budget_period: string; tpm: number; expires_at: string }; secret: string };
    issued.push(created.secret);
    expect(created.key).toMatchObject({ name: 'app-x', team: 'search', models: ['fast', 'smart'], budget_usd: 50, budget_period: 'monthly', rpm: 60, tpm: 100000 });
    expect(Date.parse(created.key.expires_at) - Date.now()).toBeGreaterThan(29 * 86_400_000);
    expect((await chat({ authorization: `Bearer ${created.secret}` })).status).toBe(200);

    const human = await cli(['list']);
    expect(human.code).toBe(0);
    expect(human.stdout).toContain(created.key.id);
    expect(human.stdout).toContain(created.key.key_prefix);
    expect(human.stdout).not.toContain(created.secret);

    const u = await cli(['update', created.key.id, '--rpm', '5', '--json']);
    expect(u.code, u.stderr).toBe(0);
    expect((JSON.parse(u.stdout) as { key: KeyView }).key).toMatchObject({ rpm: 5, version: 2 });

    const r = await cli(['revoke', created.key.id]);
    expect(r.code, r.stderr).toBe(0);
    expect(r.stdout).toContain('REVOKED');
    await expectError(await chat({ authorization: `Bearer ${created.secret}` }), 401, 'key_revoked', 'authentication_error');
  });

  it('fails clearly: no master key, bad flags, unknown id', async () => {
    const noKey = await cli(['list'], {});
    expect(noKey.code).toBe(1);
    expect(noKey.stderr).toContain('HTTP 401');
    expect(noKey.stderr).toContain('GATELOG_MASTER_KEY');
    const badBudget = await cli(['create', '--name', 'x', '--budget', 'lots']);
    expect(badBudget.code).toBe(1);
    expect(badBudget.stderr).toContain('budget_usd');
    const missing = await cli(['revoke', 'key_nope']);
    expect(missing.code).toBe(1);
    expect(missing.stderr).toContain('HTTP 404');
  });
});

describe('refusals', () => {
  it('model allow-list → 403 permission_error, recorded as a refused call', async () => {
    const { key, secret } = await create({ name: 'only-fast', models: ['fast'] });
    const text = await expectError(await chat({ authorization: `Bearer ${secret}` }, 'smart'), 403, 'model_not_allowed', 'permission_error');
    expect((JSON.parse(text) as { error: { message: string } }).error.message).toContain('not allowed to use model "smart"');
    let calls: { key_name: string; outcome: string; status: number; cost_usd: number }[] = [];
    for (let i = 0; i < 100 && calls.length === 0; i++) {
      const r = (await (await admin('GET', `/admin/calls?key=${key.id}`)).json()) as { data: typeof calls };
      calls = r.data;
      if (calls.length === 0) await new Promise((res) => setTimeout(res, 100));
    }
    expect(calls[0]).toMatchObject({ key_name: 'only-fast', outcome: 'refused', status: 403, cost_usd: 0 });
  });

  it('GET /v1/models lists what a key may call: its allow-list, or everything without one', async () => {
    const ids = async (key: string): Promise<string[]> => {
      const r = await fetch(`${gl.url}/v1/models`, { headers: { authorization: `Bearer ${key}` } });
      expect(r.status).toBe(200);
      return ((await r.json()) as { object: string; data: { id: string }[] }).data.map((m) => m.id);
    };
    const { secret: onlyFast } = await create({ name: 'models-only-fast', models: ['fast'] });
    const { secret: open } = await create({ name: 'models-open' });
    expect(await ids(onlyFast)).toEqual(['fast']);
    const everything = await ids(open);
    expect(everything).toEqual(expect.arrayContaining(['fast', 'smart']));
    expect(await ids(MASTER)).toEqual(everything);
  });

  it('unknown, expired, malformed and misplaced keys → 401, nothing echoed', async () => {
    const t0 = Date.now();
    const expiring = await create({ name: 'short-lived', expires: '3s' });
    expect((await chat({ authorization: `Bearer ${expiring.secret}` })).status).toBe(200);
    await new Promise((r) => setTimeout(r, Math.max(0, t0 + 3100 - Date.now())));
    await expectError(await chat({ authorization: `Bearer ${expiring.secret}` }), 401, 'key_expired', 'authentication_error');

    const unknown = await expectError(await chat({ authorization: `Bearer ${CANARIES[0]!}` }), 401, 'invalid_api_key', 'authentication_error');
    expect(unknown).not.toContain('CANARY');
    // A real key in a header gatelog does not read is no key at all.
    const { secret } = await create({ name: 'misplaced' });
    const misplaced: Record<string, string>[] = [{ 'api-key': secret }, { authorization: secret }, { authorization: `Basic ${secret}` }, { 'x-api-key': CANARIES[1]! }];
    for (const h of misplaced) {
      const text = await expectError(await chat(h), 401, 'invalid_api_key', 'authentication_error');
      expect(text).not.toContain(secret);
      expect(text).not.toContain('CANARY');
    }
    for (const bad of [CANARIES[2]!, CANARIES[3]!, `${secret}' OR 1=1 --`]) {
      const text = await expectError(await chat({ authorization: `Bearer ${bad}` }), 401, 'invalid_api_key', 'authentication_error');
      expect(text).not.toContain('CANARY');
      expect(text).not.toContain(secret);
    }
  });

  it('NUL bytes in Authorization → 401, nothing echoed', async () => {
    const body = '{"model":"fast","messages":[{"role":"user","content":"hi"}]}';
    const res = await rawRequest([
      'POST /v1/chat/completions HTTP/1.1',
      'Host: 127.0.0.1',
      'Content-Type: application/json',
      `Content-Length: ${body.length}`,
      'Authorization: Bearer gl-CANARYnul\u0000\u0000bytes000000000000000000000000000',
      '',
      body,
    ]);
    expect(res).toMatch(/^HTTP\/1\.1 401 /);
    expect(res).toContain('"code":"invalid_api_key"');
    expect(res).not.toContain('CANARY');
  });
});

function filesUnder(dir: string): string[] {
  return readdirSync(dir).flatMap((f) => {
    const p = join(dir, f);
    return statSync(p).isDirectory() ? filesUnder(p) : [p];
  });
}

describe('secret canary', () => {
  it('no canary or issued secret in stdout/stderr, the event log, ClickHouse or an export', async () => {
    // Budget and rate-limit refusals too, with a real key.
    const limited = await create({ name: 'canary-limited', budget_usd: 0.000001, rpm: 1 });
    await chat({ authorization: `Bearer ${limited.secret}` });
    await chat({ authorization: `Bearer ${limited.secret}` });
    for (const c of CANARIES) {
      await chat({ authorization: `Bearer ${c}` });
      await chat({ 'x-api-key': c });
      await admin('GET', '/admin/keys', undefined, c);
    }
    // Everything so far is in ClickHouse once the last refused calls are readable.
    for (let i = 0; i < 100; i++) {
      const r = (await (await admin('GET', '/admin/calls?key=canary-limited')).json()) as { data: unknown[] };
      if (r.data.length >= 2) break;
      await new Promise((res) => setTimeout(res, 100));
    }
    const list = (await (await admin('GET', '/admin/calls?limit=1000')).json()) as { data: { request_id: string }[] };
    expect(list.data.length).toBeGreaterThan(5);
    let clickhouse = JSON.stringify(list);
    for (const c of list.data) clickhouse += await (await admin('GET', `/admin/calls/${c.request_id}`)).text();
    clickhouse += await (await admin('GET', '/admin/keys')).text();
    clickhouse += await (await admin('GET', '/admin/audit?limit=1000')).text();

    const eventLog = filesUnder(join(gl.dataDir, 'events')).map((f) => readFileSync(f, 'latin1')).join('\n');
    expect(eventLog).toContain('canary-limited');

    const signin = await fetch(`${gl.url}/login`, {
      method: 'POST',
      redirect: 'manual',
      headers: { 'content-type': 'application/x-www-form-urlencoded', origin: gl.url },
      body: new URLSearchParams({ key: MASTER, next: '/requests' }).toString(),
    });
    const session = (signin.headers.getSetCookie()[0] ?? '').split(';')[0]!;
    const exp = await fetch(`${gl.url}/export?format=jsonl`, { headers: { cookie: session } });
    expect(exp.status).toBe(200);
    const exported = await exp.text();
    expect(exported).toContain('canary-limited');

    const places = { stdout: gl.logs(), eventLog, clickhouse, exported };
    for (const [where, text] of Object.entries(places)) {
      expect(text, where).not.toContain('CANARY');
      for (const s of issued) expect(text.includes(s.slice(3)), `${where} holds an issued secret`).toBe(false);
      expect(text.includes(MASTER), `${where} holds the master key`).toBe(false);
    }
  });
});
