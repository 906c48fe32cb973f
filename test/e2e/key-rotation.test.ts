// Rotating a virtual key's secret through a real gatelog: the key keeps its id, team and history,
// the new secret works at once, the replaced one for the grace period given and then is refused
// with 401 `key_rotated` (OpenAI SDK: AuthenticationError), calls with either secret are the same
// key's, the audit trail names the rotation without a secret or hash, and scope and state rules
// hold (another team's key does not exist for a team-scoped token; a revoked key is not rotated).
import OpenAI from 'openai';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { runKeysCli } from '../../src/keys-cli.ts';
import { newMachineToken, recordedCall } from '../support/admin-setup.ts';
import { startGatelog, type GatelogProcess } from '../support/gatelog-process.ts';

const MASTER = 'master-key-rotation-0123456789';
let gl: GatelogProcess;

const admin = async (method: string, path: string, body?: unknown, bearer = MASTER): Promise<{ status: number; json: Record<string, unknown> }> => {
  const r = await fetch(`${gl.url}${path}`, { method, headers: { authorization: `Bearer ${bearer}`, ...(body === undefined ? {} : { 'content-type': 'application/json' }) }, ...(body === undefined ? {} : { body: JSON.stringify(body) }) });
  return { status: r.status, json: (await r.json()) as Record<string, unknown> };
};

async function newKey(name: string, team: string): Promise<{ id: string; secret: string; prefix: string }> {
  const r = await admin('POST', '/admin/keys', { name, team, rpm: 600 });
  expect(r.status).toBe(201);
  const key = r.json['key'] as { id: string; key_prefix: string };
  return { id: key.id, secret: r.json['secret'] as string, prefix: key.key_prefix };
}

/** One chat call with `secret`: the request id, or the refusal's status and code. */
async function callWith(secret: string): Promise<{ id: string } | { status: number; code: string; message: string }> {
  const oa = new OpenAI({ baseURL: `${gl.url}/v1`, apiKey: secret, maxRetries: 0 });
  try {
    const { response } = await oa.chat.completions.create({ model: 'mock-chat', messages: [{ role: 'user', content: 'hi' }] }).withResponse();
    return { id: response.headers.get('x-gatelog-request-id') ?? '' };
  } catch (err) {
    if (!(err instanceof OpenAI.AuthenticationError)) throw err;
    const e = err.error as { code: string; message: string };
    return { status: err.status, code: e.code, message: e.message };
  }
}

beforeAll(async () => {
  gl = await startGatelog({ env: { GATELOG_MASTER_KEY: MASTER }, config: { ingest: { batch_ms: 50 }, providers: { mock: { kind: 'mock' } }, models: [{ name: 'mock-chat', deployments: [{ provider: 'mock', model: 'mock-chat' }] }] } });
}, 60_000);

afterAll(async () => {
  await gl?.stop();
});

describe('key rotation', () => {
  it('with a grace period: both secrets work, then only the new one; one key throughout', async () => {
    const k = await newKey('rotating-app', 'search');
    const before = await callWith(k.secret);
    expect(before).toHaveProperty('id');
    const r = await admin('POST', `/admin/keys/${k.id}/rotate`, { grace: '4s' });
    expect(r.status).toBe(201);
    const fresh = r.json['secret'] as string;
    const view = r.json['key'] as Record<string, unknown>;
    expect(fresh).toMatch(/^gl-/);
    expect(view).toMatchObject({ id: k.id, team: 'search', rpm: 600, previous_key_prefix: k.prefix, revoked: false });
    expect(Date.parse(view['previous_valid_until'] as string)).toBeGreaterThan(Date.now());
    expect(JSON.stringify(view)).not.toMatch(/key_hash/);

    const old = await callWith(k.secret);
    const now = await callWith(fresh);
    expect(old).toHaveProperty('id');
    expect(now).toHaveProperty('id');
    for (const c of [before, old, now]) {
      const rec = await recordedCall<{ key_id: string; team: string }>(gl, MASTER, (c as { id: string }).id);
      expect(rec).toMatchObject({ key_id: k.id, team: 'search' });
    }

    await new Promise((res) => setTimeout(res, 4_200));
    const late = await callWith(k.secret);
    expect(late).toMatchObject({ status: 401, code: 'key_rotated' });
    expect((late as { message: string }).message).toContain(k.prefix);
    expect(await callWith(fresh)).toHaveProperty('id');

    const audit = await admin('GET', '/admin/audit?action=key.rotate');
    const rows = (audit.json['data'] as { target: string; details: string }[]).filter((a) => a.target === k.id);
    expect(rows).toHaveLength(1);
    expect(rows[0]!.details).toContain(k.prefix);
    for (const secret of [k.secret, fresh]) expect(JSON.stringify(audit.json)).not.toContain(secret.slice(3));
  }, 30_000);

  it('without a grace, from the CLI: the replaced secret stops at once', async () => {
    const k = await newKey('cli-rotated', 'search');
    let out = '';
    const io = { out: (s: string) => void (out += s), env: { GATELOG_MASTER_KEY: MASTER }, fetch };
    expect(await runKeysCli(['rotate', k.id, '--url', gl.url], io)).toBe(0);
    expect(out).toContain('The previous secret stopped working now.');
    const fresh = /\n(gl-[A-Za-z0-9_-]+)\s*$/.exec(out)?.[1] ?? '';
    expect(fresh).not.toBe('');
    expect(await callWith(k.secret)).toMatchObject({ status: 401, code: 'invalid_api_key' });
    expect(await callWith(fresh)).toHaveProperty('id');
  });

  it('scope and state: another team gets 404, a revoked key 409, a bad grace 400', async () => {
    const k = await newKey('blue-app', 'blue');
    const redAdmin = await newMachineToken(gl.url, MASTER, 'admin', ['red']);
    const analyst = await newMachineToken(gl.url, MASTER, 'analyst');
    expect((await admin('POST', `/admin/keys/${k.id}/rotate`, {}, redAdmin)).status).toBe(404);
    expect((await admin('POST', `/admin/keys/${k.id}/rotate`, {}, analyst)).status).toBe(403);
    const bad = await admin('POST', `/admin/keys/${k.id}/rotate`, { grace: 'forever' });
    expect(bad.status).toBe(400);
    expect((bad.json['error'] as { code: string }).code).toBe('invalid_rotation');
    expect(await callWith(k.secret)).toHaveProperty('id');
    expect((await admin('DELETE', `/admin/keys/${k.id}`)).status).toBe(200);
    expect((await admin('POST', `/admin/keys/${k.id}/rotate`, {})).status).toBe(409);
  });
});
