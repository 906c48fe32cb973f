// `teams:` model lists and shared rate limits through a real gatelog and the OpenAI SDK: a
// team's keys together get the team's requests per minute (each key on its own has none), a
// model outside the team's list is refused whatever the key allows, `/v1/models` lists what
// the key may really call, and another team is not touched by any of it.
import OpenAI from 'openai';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { newKeyWith, newVirtualKey, recordedCall } from '../support/admin-setup.ts';
import { startGatelog, type GatelogProcess } from '../support/gatelog-process.ts';

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
  it("a model outside the team's list is refused, even when the key's own list names it", async () => {
    const k = client(await newKeyWith(gl.url, MASTER, { name: 'search-huge', team: 'search', models: ['fast', 'huge'] }));
    const r = await chat(k, 'huge');
    expect(r).toMatchObject({ status: 403, code: 'model_not_allowed' });
    expect(r.message).toContain('Team "search"');
    const rec = await recordedCall<{ status: number; error_type: string; team: string }>(gl, MASTER, r.id);
    expect(rec).toMatchObject({ status: 403, error_type: 'model_not_allowed', team: 'search' });
    // What the key lists is what it may call: its own list within the team's.
    const listed = (await k.models.list()).data.map((m) => m.id);
    expect(listed).toEqual(['fast']);
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
