// `teams:` model lists and shared rate limits through a real gatelog and the OpenAI SDK: a
// team's keys together get the team's requests per minute (each key on its own has none), a
// model outside the team's list is refused whatever the key allows, `/v1/models` lists what
// the key may really call, and another team is not touched by any of it. A key's own model list
// must lie within its team's: the admin API (and the CLI over it) refuses one that reaches past it.
import OpenAI from 'openai';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { newVirtualKey, recordedCall } from '../support/admin-setup.ts';
import { startGatelog, type GatelogProcess } from '../support/gatelog-process.ts';
import { runCli } from '../support/cli.ts';

const MASTER = 'master-team-policy-0123456789';
let gl: GatelogProcess;

const client = (secret: string): OpenAI => new OpenAI({ baseURL: `${gl.url}/v1`, apiKey: secret, maxRetries: 0 });

/** The status and code of a chat call (200 and '' when it passed). */
async function chat(c: OpenAI, model: string): Promise<{ status: number; code: string; message: string; id: string }> {
  try {
    const { response } = await c.chat.completions.create({ model, messages: [{ role: 'user', content: 'hi' }] }).withResponse();
    return { status: 200, code: '', message: '', id: response.headers.get('x-gatelog-request-id') ?? '' };
  } catch (err) {
    if (!(err instanceof OpenAI.APIError)) throw err;
    const e = err.error as { code?: string; message?: string };
    return { status: err.status ?? 0, code: e.code ?? '', message: e.message ?? '', id: err.headers?.get('x-gatelog-request-id') ?? '' };
  }
}

beforeAll(async () => {
  gl = await startGatelog({
    env: { GATELOG_MASTER_KEY: MASTER },
    config: {
      ingest: { batch_ms: 50 },
      providers: { mock: { kind: 'mock' } },
      models: ['fast', 'smart', 'huge'].map((name) => ({ name, deployments: [{ provider: 'mock', model: 'mock-chat' }] })),
      teams: { search: { models: ['fast', 'smart'], rpm: 3 }, ads: { budget_usd: 100 } },
    },
  });
}, 60_000);

afterAll(async () => {
  await gl?.stop();
});

describe('team policies', () => {
  it("a model outside the team's list is refused, even when the key's own list allows any", async () => {
    const k = client(await newVirtualKey(gl.url, MASTER, 'search-any', 'search'));
    const r = await chat(k, 'huge');
    expect(r).toMatchObject({ status: 403, code: 'model_not_allowed' });
    expect(r.message).toContain('Team "search"');
    const rec = await recordedCall<{ status: number; error_type: string; team: string }>(gl, MASTER, r.id);
    expect(rec).toMatchObject({ status: 403, error_type: 'model_not_allowed', team: 'search' });
    // What the key lists is what it may call: the team's list.
    const listed = (await k.models.list()).data.map((m) => m.id).sort();
    expect(listed).toEqual(['fast', 'smart']);
  });

  it("the team's requests per minute are shared by all its keys; another team is not limited", async () => {
    const a = client(await newVirtualKey(gl.url, MASTER, 'search-a', 'search'));
    const b = client(await newVirtualKey(gl.url, MASTER, 'search-b', 'search'));
    const other = client(await newVirtualKey(gl.url, MASTER, 'ads-a', 'ads'));
    // The refused call above used none of the team's minute (a refusal before the limits).
    const results = [await chat(a, 'fast'), await chat(b, 'smart'), await chat(a, 'fast'), await chat(b, 'fast')];
    expect(results.map((r) => r.status)).toEqual([200, 200, 200, 429]);
    expect(results[3]).toMatchObject({ code: 'team_rate_limit_exceeded' });
    expect(results[3]!.message).toContain("this key's team");
    // A key made now for the team finds its minute used up too.
    const r = await fetch(`${gl.url}/v1/chat/completions`, {
      method: 'POST',
      headers: { authorization: `Bearer ${await newVirtualKey(gl.url, MASTER, 'search-c', 'search')}`, 'content-type': 'application/json' },
      body: JSON.stringify({ model: 'fast', messages: [{ role: 'user', content: 'hi' }] }),
    });
    await r.arrayBuffer();
    expect(r.status).toBe(429);
    expect(r.headers.get('retry-after')).toMatch(/^\d+$/);
    for (let i = 0; i < 5; i++) expect((await chat(other, 'huge')).status).toBe(200);
  });
});

describe("a key's models within its team's", () => {
  const admin = (method: string, path: string, body: object): Promise<Response> =>
    fetch(`${gl.url}/admin${path}`, { method, headers: { authorization: `Bearer ${MASTER}`, 'content-type': 'application/json' }, body: JSON.stringify(body) });

  async function outsideTeam(res: Response): Promise<string> {
    const text = await res.text();
    expect(res.status, text).toBe(400);
    const e = (JSON.parse(text) as { error: { code: string; type: string; param: string; message: string } }).error;
    expect(e).toMatchObject({ code: 'models_outside_team', type: 'invalid_request_error', param: 'models' });
    return e.message;
  }

  it('create: 400 naming the models outside the team\'s list; nothing is created', async () => {
    const message = await outsideTeam(await admin('POST', '/keys', { name: 'search-wide', team: 'search', models: ['fast', 'huge', 'giant'] }));
    expect(message).toContain('"huge", "giant"');
    expect(message).toContain('team "search"');
    const keys = ((await (await fetch(`${gl.url}/admin/keys`, { headers: { authorization: `Bearer ${MASTER}` } })).json()) as { data: { name: string }[] }).data;
    expect(keys.map((k) => k.name)).not.toContain('search-wide');
  });

  it('a key within the list is created, and one of a team without a list may name any model', async () => {
    expect((await admin('POST', '/keys', { name: 'search-narrow', team: 'search', models: ['smart'] })).status).toBe(201);
    expect((await admin('POST', '/keys', { name: 'ads-huge', team: 'ads', models: ['huge'] })).status).toBe(201);
  });

  it('update: adding a model outside the list, or moving a key to a team whose list leaves its models out, is 400', async () => {
    const created = (await (await admin('POST', '/keys', { name: 'search-upd', team: 'search', models: ['fast'] })).json()) as { key: { id: string } };
    expect(await outsideTeam(await admin('PATCH', `/keys/${created.key.id}`, { models: ['fast', 'huge'] }))).toContain('"huge"');
    const ads = (await (await admin('POST', '/keys', { name: 'ads-move', team: 'ads', models: ['smart', 'huge'] })).json()) as { key: { id: string } };
    expect(await outsideTeam(await admin('PATCH', `/keys/${ads.key.id}`, { team: 'search' }))).toContain('"huge"');
    // Other changes go through.
    expect((await admin('PATCH', `/keys/${created.key.id}`, { rpm: 10 })).status).toBe(200);
  });

  it('gatelog keys create prints the refusal and exits non-zero; within the list it prints the secret', async () => {
    const env = { GATELOG_MASTER_KEY: MASTER };
    const bad = await runCli(['keys', 'create', '--name', 'search-cli', '--team', 'search', '--models', 'fast,huge', '--url', gl.url], env);
    expect(bad.code).not.toBe(0);
    expect(bad.stderr).toContain('400');
    expect(bad.stderr).toContain('"huge"');
    expect(bad.stdout).not.toContain('gl-');
    const ok = await runCli(['keys', 'create', '--name', 'search-cli', '--team', 'search', '--models', 'fast,smart', '--url', gl.url], env);
    expect(ok.code, ok.stderr).toBe(0);
    expect(ok.stdout).toContain('gl-');
  });
});
