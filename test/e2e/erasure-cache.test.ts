// Erasure and the response cache: an answer cached from an erased user's call is no longer
// served (it would hand the erased response out again and record it as a new call); other
// users' cached answers stay. The OpenAI SDK against a real gatelog process.
import OpenAI from 'openai';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startFakeOpenAi, type FakeOpenAi } from '../support/fake-openai.ts';
import { startGatelog, type GatelogProcess } from '../support/gatelog-process.ts';

const MASTER = 'gl-master-erasure-cache-0123456789';
const auth = { authorization: `Bearer ${MASTER}`, 'content-type': 'application/json' };

let up: FakeOpenAi;
let gl: GatelogProcess;
let oa: OpenAI;

beforeAll(async () => {
  up = await startFakeOpenAi();
  gl = await startGatelog({
    config: {
      providers: { up: { kind: 'openai', base_url: up.baseUrl, api_key: 'upstream' } },
      models: [{ name: 'chat', cache: true, deployments: [{ provider: 'up', model: 'gpt-4o-mini' }] }],
      ingest: { batch_rows: 100, batch_ms: 100 },
    },
    env: { GATELOG_MASTER_KEY: MASTER },
  });
  oa = new OpenAI({ baseURL: `${gl.url}/v1`, apiKey: MASTER, maxRetries: 0 });
}, 90_000);

afterAll(async () => {
  await gl?.stop();
  await up?.close();
});

const ask = async (user: string, content: string): Promise<string | null> =>
  (await oa.chat.completions.create({ model: 'chat', messages: [{ role: 'user', content }] }, { headers: { 'x-gatelog-user': user } }).withResponse()).response.headers.get('x-gatelog-cache');

describe('erasure and the response cache', () => {
  it('drops the cached answers of the erased calls; other answers stay cached', async () => {
    const [gone, kept] = [`gone-${crypto.randomUUID()}`, `kept-${crypto.randomUUID()}`];
    expect(await ask(gone, 'my plan for the merger')).toBe('miss');
    expect(await ask(gone, 'my plan for the merger')).toBe('hit');
    expect(await ask(kept, 'the weather in Lyon')).toBe('miss');
    const res = await fetch(`${gl.url}/admin/erase`, { method: 'POST', headers: auth, body: JSON.stringify({ user: gone }) });
    expect(res.status).toBe(200);
    expect(await res.json()).toMatchObject({ object: 'erase.receipt', cache_entries: 1 });
    const upstreamCalls = up.requests.length;
    expect(await ask(`someone-${crypto.randomUUID()}`, 'my plan for the merger')).toBe('miss');
    expect(await ask(kept, 'the weather in Lyon')).toBe('hit');
    expect(up.requests.length).toBe(upstreamCalls + 1);
    // What was cached after the erasure (that other user's answer) is served as usual.
    expect(await ask(gone, 'my plan for the merger')).toBe('hit');
  }, 60_000);
});
