// The Files and Batches API under a key's and its team's rate limits, with the real `openai` SDK
// against a real gatelog and a fake OpenAI Files/Batches upstream: each request counts as one
// against rpm (429 rate_limit_exceeded / team_rate_limit_exceeded with Retry-After and
// x-ratelimit-*, as a chat call), and holds a max_parallel slot while it runs — given back when
// it ends, when it is cut off mid-body, and when the client aborted it once gatelog's work on it ends.
import { randomUUID } from 'node:crypto';
import { request } from 'node:http';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import OpenAI, { toFile } from 'openai';
import { startGatelog, type GatelogProcess } from '../support/gatelog-process.ts';
import { newKeyWith } from '../support/admin-setup.ts';
import { startFakeBatches, type FakeBatches } from '../support/fake-openai-batches.ts';

const MASTER = `mk-${randomUUID()}`;
const tag = randomUUID().slice(0, 6);
const TEAM = `team-rl-${tag}`;

let up: FakeBatches;
let gl: GatelogProcess;

const client = (apiKey: string): OpenAI => new OpenAI({ apiKey, baseURL: `${gl.url}/v1`, maxRetries: 0 });

const LINE = JSON.stringify({ custom_id: 'r1', method: 'POST', url: '/v1/chat/completions', body: { model: 'cheap', messages: [{ role: 'user', content: 'hi' }] } });

const upload = async (apiKey: string, name: string, signal?: AbortSignal) =>
  client(apiKey).files.create({ file: await toFile(Buffer.from(`${LINE}\n`), name, { type: 'application/jsonl' }), purpose: 'batch' }, { signal });

/** The SDK's error: status, code and headers. */
async function refused(p: Promise<unknown>): Promise<{ status: number; code: string; headers: Headers }> {
  const e = await p.then(() => null, (err: unknown) => err);
  expect(e).toBeInstanceOf(OpenAI.APIError);
  const a = e as InstanceType<typeof OpenAI.APIError>;
  return { status: a.status ?? 0, code: String(a.code), headers: a.headers ?? new Headers() };
}

async function until(what: string, ok: () => boolean | Promise<boolean>): Promise<void> {
  for (let i = 0; i < 100; i++) {
    if (await ok()) return;
    await new Promise((r) => setTimeout(r, 50));
  }
  throw new Error(`never: ${what}\n${gl.logs().slice(-3000)}`);
}

const upstreamGot = (name: string): boolean => up.requests.some((r) => r.upload?.filename === name);

/** True once the key's files.list is admitted. */
const listed = (apiKey: string): Promise<boolean> => client(apiKey).files.list().then(() => true, () => false);

beforeAll(async () => {
  up = await startFakeBatches();
  gl = await startGatelog({
    env: { GATELOG_MASTER_KEY: MASTER },
    config: {
      providers: { oai: { kind: 'openai', base_url: up.baseUrl, api_key: 'sk-test-batches-000000000000000' } },
      models: [{ name: 'cheap', deployments: [{ provider: 'oai', model: 'gpt-4o-mini' }] }],
      teams: { [TEAM]: { rpm: 3 } },
    },
    timeoutMs: 60_000,
  });
}, 90_000);

afterAll(async () => {
  await gl?.stop();
  await up?.close();
});

describe('Files and Batches requests under rate limits', () => {
  it("count against the key's rpm: the third request of a key with rpm 2 is 429 with Retry-After; another key is unaffected", async () => {
    const limited = await newKeyWith(gl.url, MASTER, { name: `rpm-${tag}`, rpm: 2 });
    const other = await newKeyWith(gl.url, MASTER, { name: `other-${tag}`, rpm: 2 });
    const c = client(limited);
    const first = await c.files.list().withResponse();
    expect(first.response.headers.get('x-ratelimit-limit-requests')).toBe('2');
    expect(first.response.headers.get('x-ratelimit-remaining-requests')).toBe('1');
    await c.batches.list();
    const r = await refused(c.files.list());
    expect(r).toMatchObject({ status: 429, code: 'rate_limit_exceeded' });
    expect(Number(r.headers.get('retry-after'))).toBeGreaterThanOrEqual(1);
    expect(r.headers.get('x-ratelimit-remaining-requests')).toBe('0');
    expect((await client(other).files.list()).data).toEqual([]);
  });

  it("count against the team's rpm, shared by its keys: 429 team_rate_limit_exceeded", async () => {
    const t1 = await newKeyWith(gl.url, MASTER, { name: `t1-${tag}`, team: TEAM });
    const t2 = await newKeyWith(gl.url, MASTER, { name: `t2-${tag}`, team: TEAM });
    await client(t1).files.list();
    await client(t1).batches.list();
    await client(t2).files.list();
    const r = await refused(client(t2).files.list());
    expect(r).toMatchObject({ status: 429, code: 'team_rate_limit_exceeded' });
    expect(Number(r.headers.get('retry-after'))).toBeGreaterThanOrEqual(1);
  });

  it('hold a max_parallel slot while an upload runs: a second one is 429 until the first finishes', async () => {
    const key = await newKeyWith(gl.url, MASTER, { name: `par-${tag}`, max_parallel: 1 });
    const resume = up.holdUploads();
    const first = upload(key, `slow-${tag}.jsonl`);
    try {
      await until('the first upload reached the upstream', () => upstreamGot(`slow-${tag}.jsonl`));
      const r = await refused(upload(key, `second-${tag}.jsonl`));
      expect(r).toMatchObject({ status: 429, code: 'parallel_limit_exceeded' });
      expect(r.headers.get('retry-after')).toBe('1');
      expect(upstreamGot(`second-${tag}.jsonl`)).toBe(false);
    } finally {
      resume();
    }
    expect(await first).toMatchObject({ object: 'file', purpose: 'batch' });
    expect(await upload(key, `third-${tag}.jsonl`)).toMatchObject({ object: 'file' });
  });

  it('keep the slot of an upload the client aborted until its work ends, then give it back', async () => {
    const key = await newKeyWith(gl.url, MASTER, { name: `abort-${tag}`, max_parallel: 1 });
    const resume = up.holdUploads();
    try {
      const ac = new AbortController();
      const first = upload(key, `aborted-${tag}.jsonl`, ac.signal).catch((err: unknown) => err);
      await until('the upload reached the upstream', () => upstreamGot(`aborted-${tag}.jsonl`));
      ac.abort();
      expect(await first).toBeInstanceOf(OpenAI.APIUserAbortError);
      // The client is gone but gatelog is still sending its file: leaving and retrying must not
      // run more uploads at once than max_parallel.
      await new Promise((r) => setTimeout(r, 200));
      expect((await refused(client(key).files.list())).code).toBe('parallel_limit_exceeded');
    } finally {
      resume();
    }
    await until('the slot was given back', () => listed(key));
  });

  it('give the slot back when an upload is cut off mid-body', async () => {
    const key = await newKeyWith(gl.url, MASTER, { name: `cut-${tag}`, max_parallel: 1 });
    const { hostname, port } = new URL(gl.url);
    const req = request({ host: hostname, port, method: 'POST', path: '/v1/files', headers: { authorization: `Bearer ${key}`, 'content-type': 'multipart/form-data; boundary=xyz', 'content-length': String(1 << 20) } });
    let answered = 0;
    req.on('error', () => undefined);
    req.on('response', (r) => (answered = r.statusCode ?? -1));
    req.write('--xyz\r\nContent-Disposition: form-data; name="purpose"\r\n\r\nbatch\r\n');
    // Given time to be admitted before the probe (a probe first would take the slot itself).
    await new Promise((r) => setTimeout(r, 300));
    // While its body is still coming, the upload holds the key's one slot.
    expect((await refused(client(key).files.list())).code).toBe('parallel_limit_exceeded');
    expect(answered).toBe(0);
    req.destroy();
    await until('the slot was given back', () => listed(key));
  });
});
